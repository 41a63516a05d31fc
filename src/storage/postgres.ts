// SqlDriver on a PostgreSQL server through a pg pool: the same SQL as on PGlite, many connections.
import { Pool, type PoolClient } from 'pg';
import { unavailable } from '../domain/errors';
import type { Logger } from '../support/logger';
import { classifyPostgresError } from './errors';
import type { Queryable, SqlDriver, SqlParam } from './sql';

export interface PostgresOptions {
  url: string;
  poolSize: number;
  /** A schema to work in (created when missing); null for the server's default search_path. */
  schema: string | null;
  log: Logger;
}

/** Connection trouble (server down, restarting, network) as opposed to a bad statement. */
function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | null;
  const code = err?.code ?? '';
  return (
    code.startsWith('08') ||
    ['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(err?.message ?? '')
  );
}

/** A driver error as the layers above see it: unavailable storage, a StorageError, or a bad statement as it is. */
function translate(e: unknown): unknown {
  return isConnectionError(e) ? unavailable('storage (PostgreSQL)', (e as Error).message) : classifyPostgresError(e);
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

export class PostgresDriver implements SqlDriver {
  readonly kind = 'postgres' as const;

  /** Other instances and processes write the same database: this one cannot count changes. */
  changeCount(): null {
    return null;
  }

  /** PostgreSQL vacuums and checkpoints by itself (autovacuum, the checkpointer). */
  maintenanceStats(): null {
    return null;
  }

  private constructor(private readonly pool: Pool) {}

  static async open(o: PostgresOptions): Promise<PostgresDriver> {
    if (o.schema) {
      const setup = new Pool({ connectionString: o.url, max: 1 });
      try {
        await setup.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(o.schema)}`).catch((e: { code?: string }) => {
          // IF NOT EXISTS is not safe against a concurrent create: another instance starting at
          // the same moment made it first, which is all we wanted.
          if (e.code !== '23505' && e.code !== '42P06') throw e;
        });
      } finally {
        await setup.end();
      }
    }
    const pool = new Pool({
      connectionString: o.url,
      max: o.poolSize,
      connectionTimeoutMillis: 5000,
      options: o.schema ? `-c search_path=${quoteIdent(o.schema)}` : undefined,
    });
    // An idle client losing its connection must not take the process down; the pool replaces it.
    pool.on('error', (err) => o.log.warn('idle PostgreSQL connection failed', { err }));
    return new PostgresDriver(pool);
  }

  async query<R>(sql: string, params: SqlParam[] = []): Promise<R[]> {
    try {
      return (await this.pool.query(sql, params)).rows as R[];
    } catch (e) {
      throw translate(e);
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw translate(e);
    }
    let broken: unknown = null;
    // A checked-out client reports a lost connection as an 'error' event; unheard, it would
    // crash the process. The failing query rejects too, which is what the caller sees.
    const onError = (e: unknown) => (broken = e);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn({
        query: async <R>(sql: string, params: SqlParam[] = []) => {
          try {
            return (await client.query(sql, params)).rows as R[];
          } catch (e) {
            // Classified here already, for code inside the transaction that catches it; connection
            // trouble is left for the transaction to see (it must not roll back on a broken client).
            throw classifyPostgresError(e);
          }
        },
      });
      await client.query('COMMIT');
      return result;
    } catch (e) {
      if (isConnectionError(e)) broken = e;
      else await client.query('ROLLBACK').catch((r: unknown) => (broken = r));
      throw translate(e);
    } finally {
      client.off('error', onError);
      // A client whose connection broke is destroyed instead of going back to the pool.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async exec(sql: string): Promise<void> {
    await this.query(sql);
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
