// The embedded store keeps itself in shape as PostgreSQL's autovacuum would: PGlite runs no
// autovacuum, so without the server's own job every updated task left its dead versions behind
// for good. Read through the server's own connection: pg_stat_user_tables is what PostgreSQL
// itself counts.
import { PgliteDriver } from '../../src/storage/pglite';
import { PGLITE_ONLY } from '../helpers/database';
import { startTestServer, type TestServer } from '../helpers/server';

interface TableStats {
  live: number;
  dead: number;
  vacuums: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('storage maintenance (PGlite)', () => {
  let s: TestServer;
  let db: PgliteDriver;
  const tasks = async (): Promise<TableStats> => {
    const [row] = await db.query<TableStats>(
      `SELECT n_live_tup::int AS live, n_dead_tup::int AS dead, vacuum_count::int AS vacuums FROM pg_stat_user_tables WHERE relname = 'tasks'`,
    );
    return row as TableStats;
  };

  beforeAll(async () => {
    const open = jest.spyOn(PgliteDriver, 'open');
    s = await startTestServer({ ...PGLITE_ONLY, VACUUM_INTERVAL_MS: '100' });
    db = await (open.mock.results[0]?.value as Promise<PgliteDriver>);
    open.mockRestore();
  });
  afterAll(() => s.stop());

  it('vacuums the dead versions of finished tasks while the API keeps answering', async () => {
    // The API is asked something small all along; every answer must come.
    let answered = 0;
    const problems: string[] = [];
    let churning = true;
    const prober = (async () => {
      while (churning) {
        const { body } = await s.gql(`{ status { status queuedTasks } }`);
        if (body.errors) problems.push(JSON.stringify(body.errors));
        else answered++;
        await sleep(10);
      }
    })();

    // 3,000 built-in tasks in waves: each leaves two dead versions (QUEUED, RUNNING) behind.
    const steps = Array.from({ length: 500 }, (_, i) => ({ key: `s${i}`, capability: 'builtin.echo', input: { i } }));
    for (let wave = 0; wave < 6; wave++) {
      const started = await s.data(`mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, { i: { name: `churn-${wave}`, steps } });
      for (;;) {
        const { workflow } = await s.data(`query($id: ID!) { workflow(id: $id) { status } }`, { id: started.startWorkflow.id });
        if (workflow.status === 'COMPLETED') break;
        expect(workflow.status).toMatch(/^(PENDING|RUNNING)$/);
        await sleep(20);
      }
    }

    // Statistics trail the writes by up to a second; the last vacuum follows them.
    const done = (t: TableStats) => t.live >= 3000 && t.vacuums > 0 && t.dead <= t.live / 4;
    let stats = await tasks();
    for (let i = 0; i < 200 && !done(stats); i++) {
      await sleep(50);
      stats = await tasks();
    }
    churning = false;
    await prober;

    expect(stats.live).toBeGreaterThanOrEqual(3000);
    expect(stats.vacuums).toBeGreaterThan(0);
    // Left alone the table holds two dead versions per task (6,000 here).
    expect(stats.dead).toBeLessThanOrEqual(stats.live / 4);
    expect(problems).toEqual([]);
    expect(answered).toBeGreaterThan(0);
  });

  it('says on /metrics what it did', async () => {
    const metrics = await s.metrics();
    expect(Number(/^orchestrator_storage_vacuums_total\{table="tasks"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^orchestrator_storage_vacuum_last_seconds\{table="tasks"\} [\d.e-]+$/m);
    expect(metrics).toMatch(/^orchestrator_storage_dead_rows\{table="tasks"\} \d+$/m);
    expect(metrics).toMatch(/^orchestrator_storage_checkpoints_total \d+$/m);
  });
});
