// The narrow SQL surface the store is written against, so one SqlStore runs on PGlite and PostgreSQL.

export type SqlParam = string | number | boolean | null | string[];

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: SqlParam[]): Promise<R[]>;
}

export interface SqlDriver extends Queryable {
  /** Runs fn in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  readonly kind: 'pglite' | 'postgres';
  /**
   * How many times data has changed through this driver (a committed transaction or statement
   * that wrote something), when this driver sees every write to its database: PGlite, whose
   * process owns the data directory. Null where others may write too (PostgreSQL). Equal counts at
   * two moments mean no data changed between them.
   */
  changeCount(): number | null;
  /** What this driver did to maintain the database; null where the database maintains itself (PostgreSQL's autovacuum). */
  maintenanceStats(): MaintenanceStats | null;
}

/** What a driver did to keep an embedded database in shape (see PgliteMaintenance). */
export interface MaintenanceStats {
  tables: { table: string; vacuums: number; lastVacuumSeconds: number; deadRows: number }[];
  checkpoints: number;
  lastCheckpointSeconds: number;
}
