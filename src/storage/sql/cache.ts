// The key-value cache in SQL: entries with an optional expiry; expired ones are never returned.
import type { CacheEntry } from '../../domain/cache';
import type { CacheStore } from '../store';
import { iso, type Row, toCache } from './rows';
import { SqlRole } from './sql-role';

export class SqlCache extends SqlRole implements CacheStore {
  async setCache(e: CacheEntry): Promise<CacheEntry> {
    const [r] = await this.rows(
      `INSERT INTO cache_entries (key, value, expires_at, updated_at) VALUES ($1, $2::jsonb, $3::timestamptz, $4::timestamptz)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at
       RETURNING key, value, expires_at, updated_at`,
      [e.key, JSON.stringify(e.value), iso(e.expiresAt), iso(e.updatedAt)],
    );
    return toCache(r as Row);
  }

  async getCache(key: string, now: Date): Promise<CacheEntry | null> {
    const [r] = await this.rows(
      `SELECT key, value, expires_at, updated_at FROM cache_entries
        WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2::timestamptz)`,
      [key, iso(now)],
    );
    return r ? toCache(r) : null;
  }

  async listCache(prefix: string | null, now: Date): Promise<CacheEntry[]> {
    const rows = await this.rows(
      `SELECT key, value, expires_at, updated_at FROM cache_entries
        WHERE ($1::text IS NULL OR starts_with(key, $1::text)) AND (expires_at IS NULL OR expires_at > $2::timestamptz)
        ORDER BY key`,
      [prefix, iso(now)],
    );
    return rows.map(toCache);
  }

  async deleteCache(key: string, now: Date): Promise<boolean> {
    const rows = await this.rows(
      'DELETE FROM cache_entries WHERE key = $1 RETURNING (expires_at IS NULL OR expires_at > $2::timestamptz) AS live',
      [key, iso(now)],
    );
    return rows.some((r) => r.live === true);
  }

  async clearCache(prefix: string | null, now: Date): Promise<number> {
    return this.count(
      `WITH d AS (DELETE FROM cache_entries WHERE $1::text IS NULL OR starts_with(key, $1::text)
                  RETURNING (expires_at IS NULL OR expires_at > $2::timestamptz) AS live)
       SELECT count(*)::int AS n FROM d WHERE live`,
      [prefix, iso(now)],
    );
  }

  async purgeExpiredCache(now: Date): Promise<number> {
    // A plain DELETE: when nothing has expired (most runs) the driver sees that nothing changed.
    return (await this.rows(`DELETE FROM cache_entries WHERE expires_at <= $1::timestamptz RETURNING 1`, [iso(now)])).length;
  }
}
