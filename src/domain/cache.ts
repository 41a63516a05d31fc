// Cache entries: shared JSON values with an optional time to live.
import { invalid } from './errors';

export interface CacheEntry {
  key: string;
  value: unknown;
  expiresAt: Date | null;
  updatedAt: Date;
}

export const CACHE_KEY_MAX = 512;
/** Ten years: a longer TTL is almost certainly a unit mistake. */
export const CACHE_TTL_MAX_SECONDS = 10 * 365 * 24 * 3600;

export function checkCacheKey(key: string, field = 'key'): string {
  if (!key) throw invalid('cache key must not be empty', { field });
  if (key.length > CACHE_KEY_MAX) throw invalid(`cache key is longer than ${CACHE_KEY_MAX} characters`, { field });
  return key;
}

/** ttlSeconds: null, undefined or 0 keep the entry until it is deleted; negative is refused. */
export function cacheExpiry(ttlSeconds: number | null | undefined, now: Date): Date | null {
  if (ttlSeconds == null || ttlSeconds === 0) return null;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > CACHE_TTL_MAX_SECONDS) {
    throw invalid(`ttlSeconds must be an integer from 0 to ${CACHE_TTL_MAX_SECONDS}`, { field: 'ttlSeconds' });
  }
  return new Date(now.getTime() + ttlSeconds * 1000);
}
