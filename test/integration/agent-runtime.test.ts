// Behaviours of the one agent runtime (src/sdk/runtime.ts) that the built-in agents and SDK agents
// share: a task that ends under its handler aborts that handler at once, whatever the transport,
// and a stop that gives up waiting hands the unfinished tasks back with their attempt unspent.
import { createAgent, OrchestratorClient, type RemoteAgent } from '../../src/sdk';
import { getWorkflow, startWorkflow, waitForWorkflow } from '../helpers/engine';
import { startTestServer, type TestServer } from '../helpers/server';

const quiet = () => undefined;

async function until(ok: () => Promise<boolean> | boolean, what: string, maxWaitMs = 15_000): Promise<void> {
  const deadline = Date.now() + maxWaitMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A handler that runs until its signal fires, and records that it fired. */
function blocking(running: string[], aborted: string[]) {
  return (_input: unknown, ctx: { task: { key: string }; signal: AbortSignal }) =>
    new Promise((_resolve, reject) => {
      running.push(ctx.task.key);
      ctx.signal.addEventListener('abort', () => {
        aborted.push(ctx.task.key);
        reject(ctx.signal.reason);
      });
    });
}

describe('the agent runtime built-in and SDK agents share', () => {
  let s: TestServer;
  let api: OrchestratorClient;
  const agents: RemoteAgent[] = [];

  beforeAll(async () => {
    // Heartbeats every 200 s: nothing here may wait for one. Three operations per WebSocket: an
    // agent watching each task on its own subscription would be refused beyond the first two.
    s = await startTestServer({ LEASE_TIMEOUT_MS: '600000', BUILTIN_CONCURRENCY: '1', MAX_SUBSCRIPTIONS_PER_CONNECTION: '3' });
    api = new OrchestratorClient({ url: s.url });
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await api.close();
    await s.stop();
  });

  it('aborts a cancelled built-in task at once, which frees its slot for the next task', async () => {
    const long = await startWorkflow(s, { name: 'long-nap', steps: [{ key: 'nap', capability: 'builtin.sleep', input: { ms: 600_000 } }] });
    await until(async () => (await getWorkflow(s, long.id)).tasks[0].status === 'RUNNING', 'the nap to run');
    await api.cancelWorkflow(long.id, 'test');
    // builtin.sleep has one slot here: the next nap runs only once the cancelled one's handler has stopped.
    const next = await startWorkflow(s, { name: 'short-nap', steps: [{ key: 'nap', capability: 'builtin.sleep', input: { ms: 0 } }] });
    expect((await waitForWorkflow(s, next.id, 15_000)).status).toBe('COMPLETED');
    expect((await getWorkflow(s, long.id)).tasks[0]).toMatchObject({ status: 'CANCELLED', errors: [] });
  });

  it('aborts each cancelled task of an SDK push agent at once, however many it runs on one connection', async () => {
    const running: string[] = [];
    const aborted: string[] = [];
    const agent = createAgent({ url: s.url, name: 'many-watched', concurrency: 5, log: quiet, handlers: { block: blocking(running, aborted) } });
    agents.push(agent);
    await agent.start();
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const w = await api.startWorkflow({ name: 'five-blocked', steps: keys.map((key) => ({ key, capability: 'block' })) });
    await until(() => running.length === keys.length, 'five handlers to run');
    await api.cancelWorkflow(w.id, 'test');
    await until(() => aborted.length === keys.length, 'five handlers to be aborted');
    expect(aborted.sort()).toEqual(keys);
  });

  it.each(['push', 'poll'] as const)('hands an SDK agent\'s unfinished tasks back on stop (%s), attempt unspent, as the built-ins do', async (transport) => {
    const running: string[] = [];
    const aborted: string[] = [];
    const stopping = createAgent({
      url: s.url,
      name: `stopping-${transport}`,
      transport,
      stopTimeoutMs: 50,
      log: quiet,
      handlers: { [`held-${transport}`]: blocking(running, aborted) },
    });
    await stopping.start();
    // maxAttempts 1 (the default): a stop that spent the attempt would fail it for good.
    const w = await api.startWorkflow({ name: `handed-back-${transport}`, steps: [{ key: 'held', capability: `held-${transport}` }] });
    await until(() => running.includes('held'), 'the handler to run');
    await stopping.stop();
    expect(aborted).toEqual(['held']);
    expect((await getWorkflow(s, w.id)).tasks[0]).toMatchObject({ status: 'QUEUED', attempt: 0, errors: [] });

    const taker = createAgent({ url: s.url, name: `taker-${transport}`, transport, log: quiet, handlers: { [`held-${transport}`]: () => ({ ok: true }) } });
    agents.push(taker);
    await taker.start();
    const done = await waitForWorkflow(s, w.id, 15_000);
    expect(done.status).toBe('COMPLETED');
    expect(done.tasks[0]).toMatchObject({ attempt: 1, errors: [], output: { ok: true } });
  });
});
