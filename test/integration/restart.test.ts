// Restarts and stops of the server that runs built-in work: work interrupted by our own stop, or by
// the crash of the process that ran it, goes back to the queue with its attempt unspent and starts
// again as soon as a server is up (never after a lease timeout), a bounded number of times.
import { freePort, rawGql as gql, restartFixture, spawnServer } from '../helpers/process';

const TASKS = 6;
const START = `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`;
const WORKFLOW = `query($id: ID!) { workflow(id: $id) { status tasks { key status attempt errors { type } } } }`;

const sleepSteps = (n: number, ms: number) =>
  Array.from({ length: n }, (_, i) => ({ key: `nap${i}`, capability: 'builtin.sleep', input: { ms } }));

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const running = (url: string) => until(() => gql(url, `{ status { runningTasks } }`), (r) => r.data?.status?.runningTasks > 0);

describe('restarts and stops with built-in work running', () => {
  const fx = restartFixture('restart');
  afterAll(() => fx.cleanup());

  // A lease timeout far longer than the test: nothing here may wait for a lease to expire.
  const env = async () => ({
    ...fx.backend,
    DATA_DIR: fx.dataDir,
    PORT: String(await freePort()),
    LEASE_TIMEOUT_MS: '600000',
    SWEEP_INTERVAL_MS: '100',
    INSTANCE_TIMEOUT_MS: '1000',
    BUILTIN_CONCURRENCY: '2',
    LOG_LEVEL: 'warn',
  });

  it('hands running work back on shutdown(drainTimeoutMs: 0), attempt unspent, and runs it at once after restart', async () => {
    const e = await env();
    fx.server = await spawnServer(e);
    // maxAttempts 1 (the default): a stop that spent the attempt would fail these for good.
    const started = await gql(fx.server.url, START, { i: { name: 'stopped', steps: sleepSteps(TASKS, 1500) } });
    const id = started.data.startWorkflow.id;
    await running(fx.server.url);
    expect(await gql(fx.server.url, `mutation { shutdown(drainTimeoutMs: 0) }`)).toEqual({ data: { shutdown: true } });
    expect(await fx.server.exited).toEqual({ code: 0, signal: null });

    fx.server = await spawnServer(e);
    const done = await until(() => gql(fx.server!.url, WORKFLOW, { id }), (r) => !['PENDING', 'RUNNING'].includes(r.data.workflow.status));
    expect(done.data.workflow.status).toBe('COMPLETED');
    for (const t of done.data.workflow.tasks) expect(t).toMatchObject({ status: 'COMPLETED', attempt: 1, errors: [] });
    const history = await gql(fx.server.url, `query($w: ID) { history(filter: { workflowId: $w, types: [TASK_QUEUED] }, first: 100) { edges { node { data } } } }`, { w: id });
    expect(history.data.history.edges.some((e: any) => e.node.data?.reason === 'handed back on stop')).toBe(true);
    fx.server.kill('SIGTERM');
    await fx.server.exited;
  });

  it.each([
    ['a new instance id', {}],
    // On PostgreSQL the dead instance is never timed out here: only its own id tells it is gone.
    ['the same INSTANCE_ID', { INSTANCE_ID: 'fixed', INSTANCE_TIMEOUT_MS: '600000' }],
  ])('after SIGKILL, the next server (%s) hands the dead process\'s work back and runs it at once', async (_, extra) => {
    const e = { ...(await env()), ...extra };
    fx.server = await spawnServer(e);
    const started = await gql(fx.server.url, START, { i: { name: 'killed', steps: sleepSteps(TASKS, 1500) } });
    const id = started.data.startWorkflow.id;
    await running(fx.server.url);
    fx.server.kill('SIGKILL');
    await fx.server.exited;

    fx.server = await spawnServer(e);
    const done = await until(() => gql(fx.server!.url, WORKFLOW, { id }), (r) => !['PENDING', 'RUNNING'].includes(r.data.workflow.status));
    expect(done.data.workflow.status).toBe('COMPLETED');
    for (const t of done.data.workflow.tasks) expect(t).toMatchObject({ status: 'COMPLETED', attempt: 1, errors: [] });
    fx.server.kill('SIGTERM');
    await fx.server.exited;
  });

  it('stops handing back a task that keeps taking its server down: past MAX_TASK_HANDBACKS it is AGENT_LOST', async () => {
    const e = { ...(await env()), MAX_TASK_HANDBACKS: '1' };
    fx.server = await spawnServer(e);
    const started = await gql(fx.server.url, START, { i: { name: 'crashy', steps: sleepSteps(1, 600000) } });
    const id = started.data.startWorkflow.id;
    for (let crash = 0; crash < 2; crash++) {
      await running(fx.server.url);
      fx.server.kill('SIGKILL');
      await fx.server.exited;
      fx.server = await spawnServer(e);
    }
    const done = await until(() => gql(fx.server!.url, WORKFLOW, { id }), (r) => r.data.workflow.status === 'FAILED');
    const [task] = done.data.workflow.tasks;
    expect(task).toMatchObject({ status: 'FAILED', attempt: 1, errors: [{ type: 'AGENT_LOST' }] });
    fx.server.kill('SIGTERM');
    await fx.server.exited;
  });
});
