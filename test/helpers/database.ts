// Which backends this run tests against: PostgreSQL and Redis when DATABASE_URL / REDIS_URL are
// set (CI sets them), PGlite and in-process events otherwise. Each server gets its own schema.
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';

export const databaseUrl = process.env.DATABASE_URL || null;
export const redisUrl = process.env.REDIS_URL || null;

export function uniqueSchema(prefix = 'test'): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Environment for a server of this run: PostgreSQL in a fresh schema and Redis when configured. */
export function backendEnv(schema = uniqueSchema()): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl ?? '',
    DATABASE_SCHEMA: databaseUrl ? schema : '',
    REDIS_URL: redisUrl ?? '',
  };
}

/** Environment for a server on PGlite with in-process events, whatever this run tests against. */
export const PGLITE_ONLY: Record<string, string> = { DATABASE_URL: '', REDIS_URL: '' };

export async function dropSchema(env: Record<string, string>): Promise<void> {
  if (!env.DATABASE_URL || !env.DATABASE_SCHEMA) return;
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 1 });
  try {
    await pool.query(`DROP SCHEMA IF EXISTS "${env.DATABASE_SCHEMA}" CASCADE`);
  } finally {
    await pool.end();
  }
}
