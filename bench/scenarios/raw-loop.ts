// The storage limit: a raw SQL loop on the same kind of store that claims batches of 50 QUEUED rows
// with FOR UPDATE SKIP LOCKED, marks them done and appends a history row for each.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/support/logger';
import { migrate } from '../../src/storage/migrate';
import { PgliteDriver } from '../../src/storage/pglite';
import { PostgresDriver } from '../../src/storage/postgres';
import type { SqlDriver } from '../../src/storage/sql';

/** A fresh store: a PGlite data directory, or a PostgreSQL schema of its own. */
async function withStore<T>(databaseUrl: string | null, fn: (driver: SqlDriver) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-raw-'));
  const schema = `bench_raw_${process.pid}_${Date.now()}`;
  const driver: SqlDriver = databaseUrl
    ? await PostgresDriver.open({ url: databaseUrl, poolSize: 4, schema, log: silentLogger })
    : await PgliteDriver.open(dir);
  try {
    return await fn(driver);
  } finally {
    if (databaseUrl) await driver.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Claims 50 QUEUED rows of `tasks` (FOR UPDATE SKIP LOCKED, dispatch order), marks them done and
 * appends one `history` row each, one transaction per batch, until none is left; the milliseconds.
 */
async function skipLockedLoop(driver: SqlDriver, tables: { tasks: string; done: string; history: string }, expected: number): Promise<number> {
  const started = performance.now();
  let done = 0;
  for (;;) {
    const n = await driver.transaction(async (tx) => {
      const rows = await tx.query<{ id: string }>(
        `WITH c AS (SELECT id FROM ${tables.tasks} WHERE status = 'QUEUED' AND capability = 'noop'
                     ORDER BY priority DESC, seq LIMIT 50 FOR UPDATE SKIP LOCKED)
         UPDATE ${tables.tasks} t SET status = '${tables.done}', output = '{}'::jsonb FROM c WHERE t.id = c.id RETURNING t.id`,
      );
      if (rows.length) await tx.query(tables.history, [rows.map((r) => r.id)]);
      return rows.length;
    });
    if (n === 0) break;
    done += n;
  }
  if (done !== expected) throw new Error(`loop on ${tables.tasks} finished ${done} of ${expected}`);
  return performance.now() - started;
}

export async function rawLoopTasksPerSecond(tasks: number, databaseUrl: string | null = null): Promise<number> {
  return withStore(databaseUrl, async (driver) => {
    await driver.exec(`
      CREATE TABLE raw_tasks (id text PRIMARY KEY, seq bigserial, status text NOT NULL, priority int NOT NULL DEFAULT 0,
                              capability text NOT NULL, output jsonb);
      CREATE INDEX raw_ready ON raw_tasks (capability, priority DESC, seq) WHERE status = 'QUEUED';
      CREATE TABLE raw_history (seq bigserial PRIMARY KEY, task_id text, type text, at timestamptz NOT NULL DEFAULT now())`);
    await driver.query(
      `INSERT INTO raw_tasks (id, status, capability) SELECT 't' || g, 'QUEUED', 'noop' FROM generate_series(1, $1) g`,
      [tasks],
    );
    const ms = await skipLockedLoop(
      driver,
      { tasks: 'raw_tasks', done: 'DONE', history: `INSERT INTO raw_history (task_id, type) SELECT unnest($1::text[]), 'TASK_FINISHED'` },
      tasks,
    );
    return tasks / (ms / 1000);
  });
}

/**
 * The engine's tables (migrated) holding one RUNNING workflow 'w' and `tasks` QUEUED no-op tasks
 * inserted the way a workflow start must; the clock of each floor starts before that insert.
 */
const ENGINE_TASKS_INSERT = `INSERT INTO tasks (id, workflow_id, key, name, capability, status, input, max_attempts, retry_backoff_ms, created_at)
  SELECT 't' || g, 'w', 'k' || g, 'step', 'noop', 'QUEUED', '{}'::jsonb, 3, 1000, now() FROM generate_series(1, $1::int) g`;

async function engineWorkflow(driver: SqlDriver, tasks: number): Promise<void> {
  await migrate(driver);
  await driver.query(`INSERT INTO workflows (id, name, status, created_at, remaining) VALUES ('w', 'floor', 'RUNNING', now(), $1)`, [tasks]);
}

/** One `history_events` row of `type` for each task id in $1, in workflow 'w'. */
const engineHistory = (type: string) =>
  `INSERT INTO history_events (task_id, workflow_id, type, at) SELECT unnest($1::text[]), 'w', '${type}', now()`;

/**
 * The floor of the task lifecycle itself on the engine's tables: every task is inserted QUEUED, then
 * taken RUNNING and then COMPLETED, in batches of 50 (`FOR UPDATE SKIP LOCKED`), each transition a
 * row update and a history row, each one its own commit (a claim is durable before its worker runs;
 * a result is durable before it is acknowledged). Nothing else: no lease, attempt, output
 * resolution, quality or workflow counters, no event, no GraphQL. Any implementation that keeps
 * RUNNING visible and records every state change in `history_events` does at least this.
 */
export async function lifecycleFloor(tasks: number, databaseUrl: string | null = null): Promise<number> {
  return withStore(databaseUrl, async (driver) => {
    await engineWorkflow(driver, tasks);
    const started = performance.now();
    await driver.transaction(async (tx) => {
      const ids = await tx.query<{ id: string }>(`${ENGINE_TASKS_INSERT} RETURNING id`, [tasks]);
      await tx.query(engineHistory('TASK_QUEUED'), [ids.map((r) => r.id)]);
    });
    let done = 0;
    for (;;) {
      const ids = await driver.transaction(async (tx) => {
        const rows = await tx.query<{ id: string }>(
          `WITH c AS (SELECT id FROM tasks WHERE status = 'QUEUED' AND capability = 'noop'
                       ORDER BY priority DESC, seq LIMIT 50 FOR UPDATE SKIP LOCKED)
           UPDATE tasks t SET status = 'RUNNING', started_at = now() FROM c WHERE t.id = c.id RETURNING t.id`,
        );
        if (rows.length) await tx.query(engineHistory('TASK_STARTED'), [rows.map((r) => r.id)]);
        return rows.map((r) => r.id);
      });
      if (ids.length === 0) break;
      await driver.transaction(async (tx) => {
        await tx.query(`UPDATE tasks SET status = 'COMPLETED', output = '{}'::jsonb, finished_at = now() WHERE id = ANY($1::text[])`, [ids]);
        await tx.query(engineHistory('TASK_COMPLETED'), [ids]);
      });
      done += ids.length;
    }
    if (done !== tasks) throw new Error(`lifecycle floor finished ${done} of ${tasks}`);
    return tasks / ((performance.now() - started) / 1000);
  });
}

/**
 * The floor the engine's own tables set: the raw loop's statements run on `tasks` and
 * `history_events` with every index the API needs, after inserting the rows the way a workflow
 * start must. `floorTasksPerSecond` counts the insert too, as dispatch-builtin does (its clock
 * starts before startWorkflow). It does less than the engine (no RUNNING step, lease, quality or
 * workflow count), so the engine cannot beat it.
 */
export async function engineTableFloor(
  tasks: number,
  databaseUrl: string | null = null,
): Promise<{ insertMs: number; loopTasksPerSecond: number; floorTasksPerSecond: number }> {
  return withStore(databaseUrl, async (driver) => {
    await engineWorkflow(driver, tasks);
    const started = performance.now();
    await driver.query(ENGINE_TASKS_INSERT, [tasks]);
    const insertMs = performance.now() - started;
    const loopMs = await skipLockedLoop(driver, { tasks: 'tasks', done: 'COMPLETED', history: engineHistory('TASK_FINISHED') }, tasks);
    return {
      insertMs,
      loopTasksPerSecond: tasks / (loopMs / 1000),
      floorTasksPerSecond: tasks / ((insertMs + loopMs) / 1000),
    };
  });
}
