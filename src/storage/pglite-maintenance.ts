// What autovacuum and the checkpointer do on a PostgreSQL server, for the embedded store. PGlite
// runs PostgreSQL in single-user mode, which has neither: every update left its old row version
// and index entries behind for good, and the WAL was never checkpointed, so never recycled: the
// data directory grew with every change (bench/README.md, "Disk"). On a timer, and only when data
// has changed since it last looked, this job reads pg_stat_user_tables and runs a plain VACUUM of
// each table past autovacuum's dead-row (or inserted-row) threshold, one table at a time, then a
// CHECKPOINT once enough WAL has been written since the last one. Each statement holds the event
// loop while it runs (PGlite is synchronous); the driver's queue lets requests in between them.
//
// It does not ANALYZE, as autovacuum would: the driver keeps one generic plan per statement, and
// with column statistics the planner costs `status = $1` as one status in three, so listing QUEUED
// tasks walked the seq index past every finished row, and the claim sorted every queued task
// instead of reading the ready index in order. Without statistics, plans use the indexes the
// statements were written for; VACUUM's row counts and visibility map only add index-only scans.
import type { Logger } from '../support/logger';
import type { MaintenanceStats, SqlParam } from './sql';

/**
 * PostgreSQL's own autovacuum thresholds (autovacuum_vacuum_threshold and _scale_factor, and the
 * insert ones): a table is vacuumed once its dead rows pass 50 + 20 % of its rows, so it holds
 * about a fifth more than its live rows, and the work per dead row stays the same as the table
 * grows (a VACUUM reads every index of the table whole).
 */
const VACUUM_BASE = 50;
const VACUUM_SCALE = 0.2;
/** Rows only inserted (history) are vacuumed too: it marks their pages all-visible and freezes them. */
const INSERT_BASE = 1000;
const INSERT_SCALE = 0.2;
/**
 * WAL written since the last checkpoint that calls for the next one. Nothing else checkpoints in
 * single-user mode (max_wal_size only caps the segments a checkpoint keeps for reuse), and WAL
 * before the last checkpoint is what gets recycled; it also bounds replay after a crash.
 */
export const CHECKPOINT_WAL_BYTES = 32 * 1024 ** 2;
/** A backend reports its row counts at most once a second: changes take that long to show. */
const STATS_DELAY_MS = 2000;

/** One of our tables as pg_stat_user_tables and pg_class see it. */
export interface TableActivity {
  table: string;
  /** Schema-qualified and quoted, for the statement. */
  qualified: string;
  /** Rows as of the last VACUUM (pg_class.reltuples: statistics are not kept across restarts, this is). */
  rows: number;
  dead: number;
  insertedSinceVacuum: number;
}

/** Whether PostgreSQL's autovacuum would vacuum this table now. */
export function vacuumDue(t: TableActivity): boolean {
  return t.dead > VACUUM_BASE + VACUUM_SCALE * t.rows || t.insertedSinceVacuum > INSERT_BASE + INSERT_SCALE * t.rows;
}

const ACTIVITY_SQL = `
  SELECT s.relname AS "table", quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS qualified,
         GREATEST(c.reltuples, 0)::float8 AS rows, s.n_dead_tup::float8 AS dead,
         s.n_ins_since_vacuum::float8 AS "insertedSinceVacuum"
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
   WHERE s.schemaname = ANY (current_schemas(false))
   ORDER BY s.relname`;

const WAL_SQL = `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), redo_lsn)::float8 AS bytes FROM pg_control_checkpoint()`;

/** The driver as this job uses it. */
export interface MaintainedDatabase {
  query<R>(sql: string, params?: SqlParam[]): Promise<R[]>;
  /**
   * Runs a statement that changes no data (VACUUM, CHECKPOINT) in the driver's queue;
   * resolves with how long it ran, in ms, not counting its wait in the queue.
   */
  command(sql: string): Promise<number>;
  changeCount(): number;
}

interface TableCounters {
  vacuums: number;
  lastVacuumSeconds: number;
  deadRows: number;
}

export class PgliteMaintenance {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private lastCount = -1;
  private changedAt = 0;
  /** The change count of a pass whose statistics included every change: nothing to do until it moves. */
  private settledCount = -1;
  private readonly tables = new Map<string, TableCounters>();
  private checkpoints = 0;
  private lastCheckpointSeconds = 0;

  constructor(
    private readonly db: MaintainedDatabase,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Runs a pass every intervalMs; 0 never does. */
  start(): void {
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; overlapping calls share the pass in progress. */
  tick(): Promise<void> {
    this.running ??= this.pass()
      .catch((err) => this.log.warn('storage maintenance failed', { err }))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  stats(): MaintenanceStats {
    return {
      tables: [...this.tables].map(([table, c]) => ({ table, ...c })),
      checkpoints: this.checkpoints,
      lastCheckpointSeconds: this.lastCheckpointSeconds,
    };
  }

  private async pass(): Promise<void> {
    const count = this.db.changeCount();
    if (count !== this.lastCount) {
      this.lastCount = count;
      this.changedAt = Date.now();
    }
    if (count === this.settledCount) return;
    const caughtUp = Date.now() - this.changedAt >= STATS_DELAY_MS;
    for (const t of await this.db.query<TableActivity>(ACTIVITY_SQL)) {
      const counters = this.counters(t.table);
      counters.deadRows = t.dead;
      if (vacuumDue(t) && !this.stopped) {
        const seconds = await this.timed(`VACUUM ${t.qualified}`);
        counters.vacuums++;
        counters.lastVacuumSeconds = seconds;
        counters.deadRows = 0;
        this.log.debug('storage vacuumed', { table: t.table, ms: seconds * 1000, deadRows: t.dead, rows: t.rows });
      }
    }
    const [wal] = await this.db.query<{ bytes: number }>(WAL_SQL);
    if (wal && wal.bytes >= CHECKPOINT_WAL_BYTES && !this.stopped) {
      this.lastCheckpointSeconds = await this.timed('CHECKPOINT');
      this.checkpoints++;
      this.log.debug('storage checkpointed', { ms: this.lastCheckpointSeconds * 1000, walBytes: wal.bytes });
    }
    if (caughtUp) this.settledCount = count;
  }

  private async timed(sql: string): Promise<number> {
    return (await this.db.command(sql)) / 1000;
  }

  private counters(table: string): TableCounters {
    let c = this.tables.get(table);
    if (!c) this.tables.set(table, (c = { vacuums: 0, lastVacuumSeconds: 0, deadRows: 0 }));
    return c;
  }
}
