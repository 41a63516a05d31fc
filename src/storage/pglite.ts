// SqlDriver on PGlite: the embedded PostgreSQL, one connection, so every call is serialised.
import { mkdirSync } from 'node:fs';
import { PGlite, parse, protocol } from '@electric-sql/pglite';
import type { Logger } from '../support/logger';
import { classifyPostgresError } from './errors';
import { PgliteMaintenance } from './pglite-maintenance';
import type { MaintenanceStats, Queryable, SqlDriver, SqlParam } from './sql';

const { serialize } = protocol;

/** How long the statement queue may run without letting the event loop take a turn. */
const YIELD_MS = 5;
/** Prepared statements kept per database; the least recently used is closed beyond this. */
const MAX_PREPARED = 500;

export interface PgliteOptions {
  /** How often to vacuum and checkpoint what needs it (see PgliteMaintenance); 0 never does. */
  maintenanceIntervalMs: number;
  log: Logger;
}

/**
 * Caps on the WAL segments a checkpoint keeps for reuse (defaults 80 MB and 1 GB). In single-user
 * mode nothing checkpoints on max_wal_size; PgliteMaintenance checkpoints every
 * CHECKPOINT_WAL_BYTES, and a segment past these is removed instead of kept.
 */
const WAL_SETTINGS = ['-c', 'min_wal_size=32MB', '-c', 'max_wal_size=64MB'];

/** A statement parsed once, by name: its parameter types and the shape of its rows. */
interface Prepared {
  name: string;
  paramTypes: number[];
  rowDescription: BackendMessage | undefined;
  /** How the statement can change data (see writes()). */
  writes: Writes;
}

/**
 * How a statement's text can change data: `none` for a plain read (SELECT or WITH ... SELECT naming
 * no writing keyword, no INTO, no sequence or setting change), `counted` for a single plain
 * INSERT, UPDATE or DELETE (its command tag says how many rows it changed, 0 meaning none),
 * `always` for anything else (a write inside a WITH, an upsert, DDL, scripts). When unsure it is
 * `always`: a needless change count only costs a cache miss.
 */
type Writes = 'none' | 'counted' | 'always';

const WRITING = /\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|COPY|CREATE|DROP|ALTER|CALL|DO|INTO|REFRESH|NEXTVAL|SETVAL|SET_CONFIG|LO_\w+)\b/gi;

export function writes(sql: string): Writes {
  const text = sql.replace(/--[^\n]*/g, ' ').replace(/\bFOR\s+(NO\s+KEY\s+)?UPDATE\b/gi, ' ').trim();
  const found = text.match(WRITING) ?? [];
  if (/^(SELECT|WITH)\b/i.test(text) && found.length === 0) return 'none';
  if (/^(INSERT|UPDATE|DELETE|WITH)\b/i.test(text) && found.length === 1 && /^(INSERT|UPDATE|DELETE)$/i.test(found[0] as string)) return 'counted';
  // INSERT ... SELECT and INSERT ... RETURNING name one writing keyword plus INTO.
  if (/^INSERT\s+INTO\b/i.test(text) && found.length === 2) return 'counted';
  return 'always';
}

/** Command tags that report their rows: with 0 rows the statement changed nothing. */
const COUNTED = new Set(['INSERT', 'UPDATE', 'DELETE']);

type Serializer = (value: unknown) => string;
type Parsers = Parameters<typeof parse.parseResults>[1];
type BackendMessage = Parameters<typeof parse.parseResults>[0][number];

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class PgliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private turnStart = 0;
  private awaitingTurn = false;
  private readonly prepared = new Map<string, Prepared>();
  private preparedCount = 0;
  /** Committed changes so far (see SqlDriver.changeCount); `changing` marks the running call as one. */
  private changes = 0;
  private changing = false;
  private maintenance: PgliteMaintenance | null = null;

  private constructor(private readonly db: PGlite) {}

  /**
   * Opens (or creates) the database in `dataDir`; `memory://` keeps it in memory. With `options`
   * it also maintains it (vacuum, checkpoint), as a server must; without, nothing does.
   */
  static async open(dataDir: string, options?: PgliteOptions): Promise<PgliteDriver> {
    if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
    const db = await PGlite.create(dataDir, { startParams: [...PGlite.defaultStartParams, ...WAL_SETTINGS] });
    // Each statement is planned once, when first prepared, and that plan is reused. Under the
    // default ('auto') PostgreSQL kept re-planning the claim for every call (its generic plan's
    // estimate never beat the custom plans'), and planning was half its cost: a one-task claim
    // took 1.46 ms re-planned and 0.73 ms on the stored plan. The statements are written for
    // stable plans (literal statuses where partial indexes apply, equality per capability).
    await db.exec('SET plan_cache_mode = force_generic_plan');
    // A new 16 MB WAL segment is not zero-filled first: through PGlite's emulated filesystem that
    // stalled the transaction crossing into it (10 ms instead of 1.5 here; 3 ms without). Zeroing
    // only pre-allocates space; what is written and when it is flushed do not change.
    await db.exec('SET wal_init_zero = off');
    const driver = new PgliteDriver(db);
    if (options) {
      driver.maintenance = new PgliteMaintenance(driver, options.maintenanceIntervalMs, options.log);
      driver.maintenance.start();
    }
    return driver;
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

  changeCount(): number {
    return this.changes;
  }

  maintenanceStats(): MaintenanceStats | null {
    return this.maintenance?.stats() ?? null;
  }

  /**
   * Runs a statement that changes no data (VACUUM, CHECKPOINT) in its turn, outside any
   * transaction and without counting a change (answers cached for queries stay valid); resolves
   * with how long it ran, in ms.
   */
  command(sql: string): Promise<number> {
    return this.serial(async () => {
      const started = performance.now();
      await this.db.exec(sql);
      return performance.now() - started;
    });
  }

  /**
   * Runs one call (a statement, a transaction, a script) and counts it as a change when it wrote,
   * before the next call can run: a reader that sees the old count has not seen the change.
   */
  private async counted<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      if (this.changing) this.changes++;
      this.changing = false;
    }
  }

  async query<R>(sql: string, params: SqlParam[] = []): Promise<R[]> {
    return this.serial(() => this.counted(() => this.run<R>(sql, params, true)));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.serial(() =>
      this.counted(() =>
        this.db.transaction(async () => {
          // Statements through this handle after the transaction ended would run outside it.
          let open = true;
          try {
            return await fn({
              query: <R>(sql: string, params: SqlParam[] = []) =>
                open ? this.run<R>(sql, params, false) : Promise.reject(new Error('transaction already ended')),
            });
          } finally {
            open = false;
          }
        }),
      ),
    );
  }

  /**
   * Runs one statement as a named prepared statement: parsed (and, as PostgreSQL decides, planned)
   * once per text, then each call is one Bind/Execute/Sync exchange. PGlite's own query() sends
   * six messages and parses and plans the text every time, which cost 2-5x more than the work of
   * a short statement.
   */
  private async run<R>(sql: string, params: SqlParam[], syncToFs: boolean): Promise<R[]> {
    const p = this.prepared.get(sql) ?? (await this.prepare(sql));
    // Most recently used last, so the first entry is the one to close when there are too many.
    this.prepared.delete(sql);
    this.prepared.set(sql, p);
    const serializers = (this.db as unknown as { serializers: Record<number, Serializer> }).serializers;
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const serializer = serializers[p.paramTypes[i] as number];
      return serializer ? serializer(v) : String(v);
    });
    let messages: BackendMessage[];
    try {
      ({ messages } = await this.db.execProtocol(
        concat([serialize.bind({ statement: p.name, values }), serialize.execute({}), serialize.sync()]),
        { syncToFs },
      ));
    } catch (e) {
      throw classifyPostgresError(e);
    }
    const parsers = (this.db as unknown as { parsers: Parsers }).parsers;
    const [result] = parse.parseResults(p.rowDescription ? [p.rowDescription, ...messages] : messages, parsers);
    if (p.writes === 'always' || (p.writes === 'counted' && !(result && COUNTED.has(result.command ?? '') && result.affectedRows === 0))) {
      this.changing = true;
    }
    return (result?.rows ?? []) as R[];
  }

  private async prepare(sql: string): Promise<Prepared> {
    const name = `orchestrator_${++this.preparedCount}`;
    const { messages } = await this.db.execProtocol(
      concat([serialize.parse({ name, text: sql }), serialize.describe({ type: 'S', name }), serialize.sync()]),
      { syncToFs: false },
    );
    const prepared: Prepared = {
      name,
      paramTypes: parse.parseDescribeStatementResults(messages),
      rowDescription: messages.find((m) => m.name === 'rowDescription'),
      writes: writes(sql),
    };
    this.prepared.set(sql, prepared);
    if (this.prepared.size > MAX_PREPARED) {
      const [oldestSql, oldest] = this.prepared.entries().next().value as [string, Prepared];
      this.prepared.delete(oldestSql);
      await this.db.execProtocol(concat([serialize.close({ type: 'S', name: oldest.name }), serialize.sync()]), { syncToFs: false });
    }
    return prepared;
  }

  exec(sql: string): Promise<void> {
    return this.serial(() =>
      this.counted(async () => {
        this.changing = true;
        await this.db.exec(sql);
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.maintenance?.stop();
    // Statements queued while earlier ones finish still run; only then is the database closed.
    for (let tail = this.tail; ; tail = this.tail) {
      await tail;
      if (tail === this.tail) break;
    }
    this.closed = true;
    await this.db.close();
  }
}
