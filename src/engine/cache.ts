// The shared cache: JSON values by key, with optional expiry. Expired entries are never returned
// and are purged from storage periodically.
import { type CacheEntry, cacheExpiry, checkCacheKey } from '../domain/cache';
import { HistoryEventType } from '../domain/enums';
import type { EngineContext } from './context';
import { checkJsonSize } from './json-limit';

export class CacheService {
  constructor(private readonly ctx: EngineContext) {}

  async set(key: string, value: unknown, ttlSeconds: number | null | undefined): Promise<CacheEntry> {
    checkCacheKey(key);
    const now = this.ctx.now();
    const expiresAt = cacheExpiry(ttlSeconds, now);
    checkJsonSize(value, this.ctx.options.maxJsonBytes, 'value');
    return this.ctx.store.setCache({ key, value, expiresAt, updatedAt: now });
  }

  get(key: string): Promise<CacheEntry | null> {
    return this.ctx.store.getCache(checkCacheKey(key), this.ctx.now());
  }

  list(prefix: string | null | undefined): Promise<CacheEntry[]> {
    return this.ctx.store.listCache(prefix ?? null, this.ctx.now());
  }

  /** True when a live entry was deleted. */
  async delete(key: string): Promise<boolean> {
    checkCacheKey(key);
    return this.ctx.writer.write(async (tx, changes) => {
      const deleted = await tx.deleteCache(key, this.ctx.now());
      if (deleted) changes.record({ type: HistoryEventType.CACHE_CLEARED, data: { key, count: 1 } });
      return deleted;
    });
  }

  /** Deletes every live entry under the prefix (all when none) and returns how many. */
  async clear(prefix: string | null | undefined): Promise<number> {
    return this.ctx.writer.write(async (tx, changes) => {
      const count = await tx.clearCache(prefix ?? null, this.ctx.now());
      changes.record({ type: HistoryEventType.CACHE_CLEARED, data: { prefix: prefix ?? null, count } });
      return count;
    });
  }

  purgeExpired(): Promise<number> {
    return this.ctx.store.purgeExpiredCache(this.ctx.now());
  }
}
