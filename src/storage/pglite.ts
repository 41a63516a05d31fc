// SqlDriver on PGlite: the embedded PostgreSQL, one connection, so every call is serialised.
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Queryable, SqlDriver, SqlParam } from './sql';

export class PgliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly db: PGlite) {}

  /** Opens (or creates) the database in `dataDir`; `memory://` keeps it in memory. */
  static async open(dataDir: string): Promise<PgliteDriver> {
    if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
    const db = await PGlite.create(dataDir);
    return new PgliteDriver(db);
  }

  /** PGlite has one session: a transaction must not interleave with other statements. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  async query<R>(sql: string, params: SqlParam[] = []): Promise<R[]> {
    return this.serial(async () => (await this.db.query<R>(sql, params)).rows);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.serial(() =>
      this.db.transaction(async (tx) =>
        fn({ query: async <R>(sql: string, params: SqlParam[] = []) => (await tx.query<R>(sql, params)).rows }),
      ),
    );
  }

  exec(sql: string): Promise<void> {
    return this.serial(async () => {
      await this.db.exec(sql);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.tail;
    this.closed = true;
    await this.db.close();
  }
}
