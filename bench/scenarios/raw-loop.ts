// The storage limit: a raw SQL loop on the same kind of store that claims batches of 50 QUEUED rows
// with FOR UPDATE SKIP LOCKED, marks them done and appends a history row for each.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/engine/logger';
import { PgliteDriver } from '../../src/storage/pglite';
import { PostgresDriver } from '../../src/storage/postgres';
import type { SqlDriver } from '../../src/storage/sql';

export async function rawLoopTasksPerSecond(tasks: number, databaseUrl: string | null = null): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-raw-'));
  const schema = `bench_raw_${process.pid}_${Date.now()}`;
  const driver: SqlDriver = databaseUrl
    ? await PostgresDriver.open({ url: databaseUrl, poolSize: 4, schema, log: silentLogger })
    : await PgliteDriver.open(dir);
  try {
    await driver.exec(`
      CREATE TABLE raw_tasks (id text PRIMARY KEY, seq bigserial, status text NOT NULL, priority int NOT NULL DEFAULT 0,
                              capability text NOT NULL, output jsonb);
      CREATE INDEX raw_ready ON raw_tasks (capability, priority DESC, seq) WHERE status = 'QUEUED';
      CREATE TABLE raw_history (seq bigserial PRIMARY KEY, task_id text, type text, at timestamptz NOT NULL DEFAULT now())`);
    await driver.query(
      `INSERT INTO raw_tasks (id, status, capability) SELECT 't' || g, 'QUEUED', 'noop' FROM generate_series(1, $1) g`,
      [tasks],
    );
    const started = performance.now();
    let done = 0;
    for (;;) {
      const n = await driver.transaction(async (tx) => {
        const rows = await tx.query<{ id: string }>(
          `WITH c AS (SELECT id FROM raw_tasks WHERE status = 'QUEUED' AND capability = 'noop'
                       ORDER BY priority DESC, seq LIMIT 50 FOR UPDATE SKIP LOCKED)
           UPDATE raw_tasks t SET status = 'DONE', output = '{}'::jsonb FROM c WHERE t.id = c.id RETURNING t.id`,
        );
        if (rows.length) {
          await tx.query(`INSERT INTO raw_history (task_id, type) SELECT unnest($1::text[]), 'TASK_FINISHED'`, [rows.map((r) => r.id)]);
        }
        return rows.length;
      });
      if (n === 0) break;
      done += n;
    }
    if (done !== tasks) throw new Error(`raw loop finished ${done} of ${tasks}`);
    return tasks / ((performance.now() - started) / 1000);
  } finally {
    if (databaseUrl) await driver.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
