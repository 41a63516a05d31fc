// Server instances in SQL: liveness rows, and advisory locks for work one instance does at a time.
import type { InstanceStore } from '../store';
import { iso } from './rows';
import { SqlRole } from './sql-role';

export class SqlInstances extends SqlRole implements InstanceStore {
  async instanceSeen(id: string, at: Date): Promise<void> {
    await this.rows(
      `INSERT INTO instances (id, started_at, seen_at) VALUES ($1, $2::timestamptz, $2::timestamptz)
       ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at`,
      [id, iso(at)],
    );
  }

  async forgetInstances(q: { unseenSince: Date | null; except: string } | { id: string }): Promise<number> {
    return 'id' in q
      ? this.count(`WITH d AS (DELETE FROM instances WHERE id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d`, [q.id])
      : this.count(
          `WITH d AS (DELETE FROM instances WHERE ($1::timestamptz IS NULL OR seen_at < $1::timestamptz) AND id <> $2 RETURNING 1)
           SELECT count(*)::int AS n FROM d`,
          [iso(q.unseenSince), q.except],
        );
  }

  async tryLock(key: number): Promise<boolean> {
    const [r] = await this.rows(`SELECT pg_try_advisory_xact_lock($1) AS ok`, [key]);
    return r?.ok === true;
  }
}
