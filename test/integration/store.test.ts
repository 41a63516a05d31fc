// The storage contract: one suite over the one SQL store, on PGlite always and on PostgreSQL when
// DATABASE_URL is set, each test in a schema of its own.
import { randomUUID } from 'node:crypto';
import { AgentKind, AgentStatus, ErrorSeverity, ErrorType, HistoryEventType, TaskOutcome, TaskStatus, WorkflowStatus } from '../../src/domain/enums';
import { DomainError } from '../../src/domain/errors';
import { ErrorRecordBuilder } from '../../src/domain/error-record';
import { silentLogger } from '../../src/support/logger';
import { migrate } from '../../src/storage/migrate';
import { PgliteDriver, writes } from '../../src/storage/pglite';
import { PostgresDriver } from '../../src/storage/postgres';
import type { SqlDriver } from '../../src/storage/sql';
import { SqlStore } from '../../src/storage/sql-store';
import { StorageError, type NewTask, type Store } from '../../src/storage/store';
import { databaseUrl, dropSchema, uniqueSchema } from '../helpers/database';

interface Backend {
  name: string;
  open(): Promise<{ driver: SqlDriver; cleanup(): Promise<void> }>;
}

let sharedPglite: Promise<PgliteDriver> | null = null;
const backends: Backend[] = [
  {
    name: 'PGlite',
    // One embedded database for the file (it takes a second to open); a schema per test.
    open: async () => {
      sharedPglite ??= PgliteDriver.open('memory://');
      const driver = await sharedPglite;
      const schema = uniqueSchema('store');
      await driver.exec(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
      return {
        driver: { ...driver, kind: driver.kind, query: driver.query.bind(driver), exec: driver.exec.bind(driver), transaction: driver.transaction.bind(driver), changeCount: driver.changeCount.bind(driver), maintenanceStats: () => null, close: async () => undefined },
        cleanup: () => driver.exec(`SET search_path TO public; DROP SCHEMA ${schema} CASCADE`),
      };
    },
  },
];
const pgUrl = databaseUrl;
if (pgUrl) {
  backends.push({
    name: 'PostgreSQL',
    open: async () => {
      const schema = uniqueSchema('store');
      const driver = await PostgresDriver.open({ url: pgUrl, poolSize: 4, schema, log: silentLogger });
      return {
        driver,
        cleanup: async () => {
          await driver.close();
          await dropSchema({ DATABASE_URL: pgUrl, DATABASE_SCHEMA: schema });
        },
      };
    },
  });
}

afterAll(async () => {
  await (await sharedPglite)?.close();
});

const task = (workflowId: string, key: string, extra: Partial<NewTask> = {}): NewTask => ({
  id: randomUUID(),
  workflowId,
  key,
  name: key,
  capability: 'cap',
  status: TaskStatus.PENDING,
  input: { key },
  hasRefs: false,
  maxAttempts: 1,
  retryBackoffMs: 0,
  timeoutMs: null,
  priority: 0,
  dependsOn: [],
  continueOnFailure: false,
  pendingDeps: 0,
  createdAt: new Date(),
  ...extra,
});

describe.each(backends)('Store on $name', (backend) => {
  let store: Store;
  let driver: SqlDriver;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ driver, cleanup } = await backend.open());
    await migrate(driver);
    store = SqlStore.over(driver);
  });
  afterEach(() => cleanup());

  async function workflowWith(tasks: (wid: string) => NewTask[]) {
    const wid = randomUUID();
    const rows = tasks(wid);
    const inserted = await store.transaction(async (tx) => {
      await tx.insertWorkflows([{
        id: wid,
        seq: '0',
        name: 'w',
        status: WorkflowStatus.PENDING,
        input: null,
        output: null,
        idempotencyKey: null,
        createdAt: new Date(),
        startedAt: null,
        finishedAt: null,
        remaining: rows.length,
        failedRequired: 0,
        partial: 0,
      }]);
      return tx.insertTasks(rows);
    });
    return { wid, rows, inserted };
  }

  async function agent(name: string, capabilities = ['cap'], concurrency = 100): Promise<string> {
    const id = randomUUID();
    await store.insertAgent({
      id,
      name,
      kind: AgentKind.REMOTE,
      capabilities,
      status: AgentStatus.ONLINE,
      concurrency,
      runningTasks: 0,
      metadata: null,
      registeredAt: new Date(),
      lastSeenAt: new Date(),
      tokenHash: null,
    });
    return id;
  }

  it('applies migrations once, even when asked twice', async () => {
    expect(await migrate(driver)).toEqual([]);
    const rows = await driver.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('pages by sequence number, not by its text (10 comes after 9)', async () => {
    await store.appendHistory(
      Array.from({ length: 25 }, (_, i) => ({ type: HistoryEventType.CACHE_CLEARED, data: { i } })),
      new Date(),
    );
    const first = await store.listHistory({}, { limit: 12, after: null });
    const rest = await store.listHistory({}, { limit: 100, after: first.at(-1)?.seq ?? null });
    expect([...first, ...rest].map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    for (let i = 0; i < 12; i++) {
      await store.insertError(ErrorRecordBuilder.of(ErrorType.NETWORK, `e${i}`).severity(ErrorSeverity.LOW).build(`e-id-${i}`, new Date()));
    }
    const newest = await store.listErrors({}, { limit: 3, after: null });
    expect(newest.map((e) => e.message)).toEqual(['e11', 'e10', 'e9']);
    expect(await store.countErrors({ severities: [ErrorSeverity.LOW] })).toBe(12);
  });

  it('claims in priority then age order, and two concurrent claimers never get one task', async () => {
    const { rows } = await workflowWith((wid) =>
      Array.from({ length: 120 }, (_, i) => task(wid, `t${i}`, { status: TaskStatus.QUEUED, priority: i < 10 ? 5 : 0 })),
    );
    const [a, b] = [await agent('a'), await agent('b')];
    const claim = (agentId: string) =>
      store.transaction((tx) =>
        tx.claimTasks({ agentId, capabilities: ['cap'], limit: 30, now: new Date(), expiresAt: new Date(Date.now() + 60_000) }),
      );
    const batches = await Promise.all([claim(a), claim(b), claim(a), claim(b)]);
    const ids = batches.flat().map((t) => t.id);
    expect(ids).toHaveLength(120);
    expect(new Set(ids).size).toBe(120);
    expect(new Set(batches.flat().map((t) => t.leaseId)).size).toBe(120);
    const firstBatch = batches.find((bt) => bt.some((t) => t.key === 't0'));
    expect(firstBatch?.slice(0, 10).map((t) => t.key)).toEqual(rows.slice(0, 10).map((r) => r.key));
    const [lease] = await store.transaction((tx) => tx.getLeases([batches[0]![0]!.leaseId as string]));
    expect(lease?.task.status).toBe(TaskStatus.RUNNING);
  });

  it('inserts a task already leased, counted in its agent, its lease found and completed as a claimed one', async () => {
    const a = await agent('eager', ['cap'], 5);
    const at = new Date();
    const { inserted } = await workflowWith((wid) => {
      const leased = task(wid, 'leased', { status: TaskStatus.RUNNING });
      leased.lease = { agentId: a, expiresAt: new Date(at.getTime() + 60_000), at };
      return [leased, task(wid, 'queued', { status: TaskStatus.QUEUED })];
    });
    // Named by the insert as a claim names leases: task, claim number (its first), random part.
    const leaseId = inserted[0]?.leaseId as string;
    expect(leaseId).toMatch(new RegExp(`^${inserted[0]?.id}:1:[0-9a-f]{32}$`));
    expect(inserted[1]?.leaseId).toBeNull();
    expect((await store.getAgents([a]))[0]?.runningTasks).toBe(1);
    const [lease] = await store.transaction((tx) => tx.getLeases([leaseId]));
    expect(lease?.task).toMatchObject({ key: 'leased', status: TaskStatus.RUNNING, agentId: a, attempt: 1, startedAt: at, claimedAt: at });
    const done = await store.transaction((tx) => tx.completeLeasedTasks([{ leaseId, outcome: TaskOutcome.SUCCESS, output: 1 }], new Date()));
    expect(done.map((d) => d.task.key)).toEqual(['leased']);
    expect((await store.getAgents([a]))[0]?.runningTasks).toBe(0);
  });

  // The count is kept in two places (the leased insert, and migration 005's triggers): they must agree.
  it('keeps each agent\'s running count equal to its RUNNING tasks through leased inserts, claims, results, requeues and deletes', async () => {
    const [a, b] = [await agent('a', ['cap'], 50), await agent('b', ['cap'], 50)];
    const at = new Date();
    const expiresAt = new Date(at.getTime() + 60_000);
    const { inserted } = await workflowWith((wid) => [
      ...[0, 1, 2].map((i) => task(wid, `leased-a${i}`, { status: TaskStatus.RUNNING, lease: { agentId: a, expiresAt, at } })),
      task(wid, 'leased-b', { status: TaskStatus.RUNNING, lease: { agentId: b, expiresAt, at } }),
      ...Array.from({ length: 6 }, (_, i) => task(wid, `queued${i}`, { status: TaskStatus.QUEUED })),
    ]);
    const agree = async () => {
      const counted = await driver.query<{ id: string; running: number; actual: number }>(
        `SELECT a.id, a.running, (SELECT count(*)::int FROM tasks t WHERE t.agent_id = a.id AND t.status = 'RUNNING') AS actual
           FROM agents a WHERE a.id = ANY($1::text[])`,
        [[a, b]],
      );
      for (const r of counted) expect(r.running).toBe(r.actual);
      return Object.fromEntries(counted.map((r) => [r.id, r.running]));
    };
    expect(await agree()).toEqual({ [a]: 3, [b]: 1 });
    const claimed = await store.transaction((tx) => tx.claimTasks({ agentId: b, capabilities: ['cap'], limit: 4, now: at, expiresAt }));
    expect(await agree()).toEqual({ [a]: 3, [b]: 5 });
    await store.transaction((tx) =>
      tx.completeLeasedTasks([{ leaseId: inserted[0]?.leaseId as string, outcome: TaskOutcome.SUCCESS, output: null }], new Date()),
    );
    await store.transaction((tx) => tx.requeueTask(claimed[0]?.id as string, new Date()));
    await store.transaction((tx) => tx.returnLeases({ leaseIds: [claimed[1]?.leaseId as string] }));
    expect(await agree()).toEqual({ [a]: 2, [b]: 3 });
    await driver.query('DELETE FROM tasks WHERE id = $1', [inserted[1]?.id as string]);
    expect(await agree()).toEqual({ [a]: 1, [b]: 3 });
  });

  it('locks an agent for a lease and tells whether a claim of its would find anything: QUEUED, of its capabilities, available now', async () => {
    const now = new Date();
    const [one, two, none] = [await agent('one', ['cap']), await agent('two', ['cap', 'cap.other']), await agent('none', [])];
    const ready = (id: string) => store.transaction(async (tx) => (await tx.getAgentForLease(id, now))?.hasReadyTasks);
    await workflowWith((wid) => [
      task(wid, 'pending'),
      task(wid, 'later', { status: TaskStatus.QUEUED, capability: 'cap' }),
      task(wid, 'other', { status: TaskStatus.QUEUED, capability: 'cap.other' }),
    ]);
    await driver.query(`UPDATE tasks SET available_at = $1::timestamptz WHERE key = 'later'`, [new Date(now.getTime() + 60_000).toISOString()]);
    expect(await ready(one)).toBe(false);
    expect(await ready(two)).toBe(true);
    expect(await ready(none)).toBe(false);
    expect(await store.transaction((tx) => tx.getAgentForLease('nobody', now))).toBeNull();
    const found = await store.transaction((tx) => tx.getAgentForLease(two, now));
    expect(found?.agent).toMatchObject({ id: two, name: 'two', capabilities: ['cap', 'cap.other'], runningTasks: 0 });
  });

  it('still finds a lease granted before migration 003 (a plain UUID) while it is its task\'s current lease', async () => {
    await workflowWith((wid) => [task(wid, 'old', { capability: 'legacy', status: TaskStatus.QUEUED })]);
    const a = await agent('legacy-agent', ['legacy']);
    const [claimed] = await store.transaction((tx) =>
      tx.claimTasks({ agentId: a, capabilities: ['legacy'], limit: 1, now: new Date(), expiresAt: new Date(Date.now() + 60_000) }),
    );
    const legacy = randomUUID();
    await driver.query(`UPDATE tasks SET lease_id = $1 WHERE id = $2`, [legacy, claimed!.id]);
    expect((await store.getLeases([legacy])).map((l) => l.task.id)).toEqual([claimed!.id]);
    expect(await store.getLeases([randomUUID()])).toEqual([]);
    const done = await store.transaction((tx) => tx.completeLeasedTasks([{ leaseId: legacy, outcome: TaskOutcome.SUCCESS, output: { ok: 1 } }], new Date()));
    expect(done.map((d) => [d.leaseId, d.task.status])).toEqual([[legacy, TaskStatus.COMPLETED]]);
  });

  it('releases dependants only when all their dependencies are done, and skips descendants', async () => {
    const { rows } = await workflowWith((wid) => {
      const a = task(wid, 'a', { status: TaskStatus.QUEUED });
      const b = task(wid, 'b', { status: TaskStatus.QUEUED });
      const c = task(wid, 'c', { dependsOn: ['a', 'b'], pendingDeps: 2 });
      const d = task(wid, 'd', { dependsOn: ['c'], pendingDeps: 1 });
      return [a, b, c, d];
    });
    const [a, b, c, d] = rows as [NewTask, NewTask, NewTask, NewTask];
    await store.insertEdges([
      { depId: a.id, taskId: c.id },
      { depId: b.id, taskId: c.id },
      { depId: c.id, taskId: d.id },
    ]);
    expect(await store.transaction((tx) => tx.releaseDependants([a.id]))).toEqual([]);
    expect((await store.transaction((tx) => tx.releaseDependants([b.id]))).map((t) => t.key)).toEqual(['c']);
    const skipped = await store.transaction((tx) => tx.skipDescendants(c.id, new Date()));
    expect(skipped.map((t) => [t.key, t.previousStatus, t.status])).toEqual([['d', 'PENDING', 'SKIPPED']]);
  });

  it('keeps quality as counters', async () => {
    await store.addQuality([{ scope: 'all', id: '', delta: { succeeded: 2, partial: 1, failed: 0 } }]);
    await store.addQuality([
      { scope: 'all', id: '', delta: { succeeded: 0, partial: 0, failed: 1 } },
      { scope: 'agent', id: 'a', delta: { succeeded: 1, partial: 0, failed: 0 } },
    ]);
    expect((await store.getQuality('all', [''])).get('')).toEqual({ succeeded: 2, partial: 1, failed: 1 });
  });

  it('treats cache prefixes literally and never returns expired entries', async () => {
    const now = new Date();
    await store.setCache({ key: 'a_b', value: 1, expiresAt: null, updatedAt: now });
    await store.setCache({ key: 'axb', value: 2, expiresAt: null, updatedAt: now });
    await store.setCache({ key: 'a_gone', value: 3, expiresAt: new Date(now.getTime() - 1), updatedAt: now });
    expect((await store.listCache('a_', now)).map((e) => e.key)).toEqual(['a_b']);
    expect(await store.getCache('a_gone', now)).toBeNull();
    expect(await store.clearCache('a', now)).toBe(2);
  });

  it('reports a duplicate unique value as a StorageError of kind unique-violation', async () => {
    const workflow = (id: string) => ({
      id, seq: '0', name: 'w', status: WorkflowStatus.PENDING, input: null, output: null, idempotencyKey: 'same-key',
      createdAt: new Date(), startedAt: null, finishedAt: null, remaining: 0, failedRequired: 0, partial: 0,
    });
    await store.transaction((tx) => tx.insertWorkflows([workflow(randomUUID())]));
    const error = await store.transaction((tx) => tx.insertWorkflows([workflow(randomUUID())])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).kind).toBe('unique-violation');
  });

  // PGlite has one session: transactions never interleave, so they never deadlock.
  (backend.name === 'PostgreSQL' ? it : it.skip)('reports a deadlock as a StorageError of kind retryable-conflict', async () => {
    const [a, b] = [await agent('a'), await agent('b')];
    let bothLocked: () => void = () => undefined;
    let locked = 0;
    const barrier = new Promise<void>((r) => (bothLocked = r));
    const crossing = (first: string, second: string) =>
      store.transaction(async (tx) => {
        await tx.getAgentForUpdate(first);
        if (++locked === 2) bothLocked();
        await barrier;
        await tx.getAgentForUpdate(second);
      });
    const results = await Promise.allSettled([crossing(a, b), crossing(b, a)]);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toBeInstanceOf(StorageError);
    expect((refused[0] as StorageError).kind).toBe('retryable-conflict');
  });

  // PGlite has one session, so a second transaction simply waits its turn: nothing to race there.
  (backend.name === 'PostgreSQL' ? it : it.skip)('lets one holder at a time take the sweeper lock', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const first = store.transaction(async (tx) => {
      const got = await tx.tryLock(42);
      await held;
      return got;
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = await store.transaction((tx) => tx.tryLock(42));
    release();
    expect(await first).toBe(true);
    expect(second).toBe(false);
    expect(await store.transaction((tx) => tx.tryLock(42))).toBe(true); // free again after the commit
  });
});

(pgUrl ? it : it.skip)('migrates safely when several instances start at once', async () => {
  const schema = uniqueSchema('migrate');
  const drivers = await Promise.all(
    [1, 2, 3].map(() => PostgresDriver.open({ url: pgUrl as string, poolSize: 2, schema, log: silentLogger })),
  );
  try {
    const applied = await Promise.all(drivers.map((d) => migrate(d)));
    expect(applied.flat().sort()).toEqual([1, 2, 3, 4, 5, 6]); // each version applied once, by one of them
    const rows = await drivers[0]!.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6]);
  } finally {
    await Promise.all(drivers.map((d) => d.close()));
    await dropSchema({ DATABASE_URL: pgUrl as string, DATABASE_SCHEMA: schema });
  }
});

(databaseUrl ? it : it.skip)('answers UNAVAILABLE when PostgreSQL cannot be reached', async () => {
  const driver = await PostgresDriver.open({ url: 'postgres://postgres@127.0.0.1:1/test', poolSize: 1, schema: null, log: silentLogger }).catch(
    (e: unknown) => e,
  );
  const error = driver instanceof PostgresDriver ? await driver.query('SELECT 1').catch((e: unknown) => e) : driver;
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).type).toBe(ErrorType.NETWORK);
  if (driver instanceof PostgresDriver) await driver.close();
});

describe('PGlite driver', () => {
  // PGlite runs each statement synchronously; the driver must not turn a backlog into one long
  // stall of the event loop, in which no request is read and no answer is sent.
  it('lets the event loop take turns while a backlog of statements runs', async () => {
    const driver = await PgliteDriver.open('memory://');
    try {
      let done = 0;
      let doneWhenLoopRan = -1;
      const backlog = Array.from({ length: 60 }, () =>
        driver.query('SELECT count(*) FROM generate_series(1, 20000)').then(() => done++),
      );
      setImmediate(() => (doneWhenLoopRan = done));
      await Promise.all(backlog);
      expect(doneWhenLoopRan).toBeGreaterThanOrEqual(0);
      expect(doneWhenLoopRan).toBeLessThan(backlog.length);
    } finally {
      await driver.close();
    }
  });

  // The query cache trusts this count: equal counts must mean nothing changed in between.
  it('counts every call that changed data, and none that did not', async () => {
    const driver = await PgliteDriver.open('memory://');
    try {
      const counted = async (fn: () => Promise<unknown>) => {
        const before = driver.changeCount();
        await fn().catch(() => undefined);
        return driver.changeCount() - before;
      };
      expect(await counted(() => driver.exec('CREATE TABLE t (id int PRIMARY KEY, v text)'))).toBe(1);
      expect(await counted(() => driver.query('INSERT INTO t VALUES (1, $1)', ['a']))).toBe(1);
      expect(await counted(() => driver.query('SELECT * FROM t'))).toBe(0);
      expect(await counted(() => driver.query(`UPDATE t SET v = 'b' WHERE id = 2`))).toBe(0);
      // An upsert names more than one kind of write: always counted, whatever its tag says.
      expect(await counted(() => driver.query('INSERT INTO t VALUES (1, $1) ON CONFLICT DO NOTHING', ['x']))).toBe(1);
      // So is a write inside a WITH under another write, even when the outer one changes no row.
      expect(await counted(() => driver.query(`WITH d AS (DELETE FROM t WHERE id = 99 RETURNING id) UPDATE t SET v = 'q' WHERE false`))).toBe(1);
      // A change made inside a CTE reports its rows as a SELECT's: counted.
      expect(await counted(() => driver.query(`WITH u AS (UPDATE t SET v = 'c' WHERE id = 1 RETURNING id) SELECT count(*) FROM u`))).toBe(1);
      expect(await counted(() => driver.transaction(async (tx) => {
        await tx.query('SELECT * FROM t WHERE id = 1 FOR UPDATE');
      }))).toBe(0);
      expect(await counted(() => driver.transaction(async (tx) => {
        await tx.query(`UPDATE t SET v = 'd' WHERE id = 1`);
        await tx.query(`DELETE FROM t WHERE id = 1`);
      }))).toBe(1);
      expect(await counted(() => driver.query('INSERT INTO t VALUES (1, $1), (1, $1)', ['dup']))).toBe(0);
      expect(await driver.query('SELECT * FROM t')).toEqual([]);
    } finally {
      await driver.close();
    }
  });

  it('tells plain reads from statements that may write', () => {
    expect(writes('SELECT * FROM tasks WHERE id = $1')).toBe('none');
    expect(writes('WITH c AS (SELECT id FROM tasks) SELECT count(*) FROM c')).toBe('none');
    expect(writes('SELECT * FROM agents a WHERE a.id = $1 FOR UPDATE SKIP LOCKED')).toBe('none');
    expect(writes(`UPDATE tasks SET status = 'QUEUED' WHERE id = $1`)).toBe('counted');
    expect(writes('INSERT INTO history_events (type) SELECT unnest($1::text[])')).toBe('counted');
    expect(writes('WITH picked AS (SELECT id FROM tasks FOR UPDATE SKIP LOCKED) UPDATE tasks t SET x = 1 FROM picked')).toBe('counted');
    // One write under a WITH: its tag tells (a SELECT's tag, as here, always counts; see above).
    expect(writes('WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d')).toBe('counted');
    for (const sql of [
      'SELECT * INTO copy FROM t',
      `SELECT set_config('search_path', 'x', false)`,
      `SELECT nextval('s')`,
      'INSERT INTO q (k) VALUES ($1) ON CONFLICT (k) DO UPDATE SET n = q.n + 1',
      'CREATE TABLE x (id int)',
      'SET search_path TO x',
      'REFRESH MATERIALIZED VIEW v',
    ]) {
      expect([sql, writes(sql)]).toEqual([sql, 'always']);
    }
  });

  it('closes after the statements already queued, and refuses new ones once closed', async () => {
    const driver = await PgliteDriver.open('memory://');
    const before = Array.from({ length: 20 }, (_, i) => driver.query<{ n: number }>('SELECT $1::int AS n', [i]));
    const closing = driver.close();
    const during = driver.query<{ n: number }>('SELECT 99 AS n');
    await closing;
    expect((await Promise.all(before)).map((rows) => rows[0]?.n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect((await during)[0]?.n).toBe(99);
    await expect(driver.query('SELECT 1')).rejects.toThrow('storage is closed');
  });
});
