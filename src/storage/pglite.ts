// SqlDriver on PGlite: the embedded PostgreSQL, one connection, so every call is serialised.
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Queryable, SqlDriver, SqlParam } from './sql';

/** How long the statement queue may run without letting the event loop take a turn. */
const YIELD_MS = 5;

export class PgliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private turnStart = 0;
  private awaitingTurn = false;

  private constructor(private readonly db: PGlite) {}

  /** Opens (or creates) the database in `dataDir`; `memory://` keeps it in memory. */
  static async open(dataDir: string): Promise<PgliteDriver> {
    if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
    const db = await PGlite.create(dataDir);
    return new PgliteDriver(db);
  }

  /**
   * PGlite has one session: a transaction must not interleave with other statements. Calls run
   * one after another, and every YIELD_MS of back-to-back work the queue gives the event loop a
   * turn first: PGlite runs each statement synchronously and resolves it with a promise, so a
   * backlog of statements would otherwise run as one unbroken chain of microtasks, and no socket
   * is read or written until it is gone (under load, requests stalled for seconds).
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    const step = async (): Promise<T> => {
      this.watchTurn();
      if (performance.now() - this.turnStart >= YIELD_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.watchTurn();
      }
      if (this.closed) throw new Error('storage is closed');
      return fn();
    };
    const run = this.tail.then(step, step);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Notes when statements began to run without the event loop taking a turn since. */
  private watchTurn(): void {
    if (this.awaitingTurn) return;
    this.awaitingTurn = true;
    this.turnStart = performance.now();
    setImmediate(() => (this.awaitingTurn = false));
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
    // Statements queued while earlier ones finish still run; only then is the database closed.
    for (let tail = this.tail; ; tail = this.tail) {
      await tail;
      if (tail === this.tail) break;
    }
    this.closed = true;
    await this.db.close();
  }
}
