import { createAgent, FatalError, OrchestratorClient, type RemoteAgent, RetryableError, TaskError } from '../../src/sdk';
import { byKey, getWorkflow, waitForWorkflow } from '../helpers/engine';
import { startTestServer, type TestServer } from '../helpers/server';

const quiet = () => undefined;

describe.each(['push', 'poll'] as const)('SDK agent over %s', (transport) => {
  let s: TestServer;
  let agent: RemoteAgent;
  let api: OrchestratorClient;
  const progressSeen: number[] = [];
  const aborted: string[] = [];
  let release: (() => void) | null = null;
  const blocked: string[] = []; // keys whose `block` handler is running

  beforeAll(async () => {
    s = await startTestServer({ SWEEP_INTERVAL_MS: '100', PROGRESS_THROTTLE_MS: '0', LEASE_TIMEOUT_MS: '3000' });
    api = new OrchestratorClient({ url: s.url });
    agent = createAgent({
      url: s.url,
      name: `sdk-${transport}`,
      transport,
      concurrency: 3,
      log: quiet,
      handlers: {
        add: async ({ a, b }: { a: number; b: number }) => ({ sum: a + b }),
        slow: async (input: { steps: number }, ctx) => {
          for (let i = 1; i <= input.steps; i++) {
            await new Promise((r) => setTimeout(r, 20));
            await ctx.progress(i / input.steps, `step ${i}`);
            progressSeen.push(i / input.steps);
          }
          return { done: input.steps };
        },
        partial: async () => ({ output: { some: 'of it' }, outcome: 'PARTIAL' }),
        typed: async () => {
          throw new FatalError('cannot parse', { type: 'INVALID_OUTPUT', severity: 'HIGH', context: { line: 3 } });
        },
        flaky: async (_input, ctx) => {
          if (ctx.task.attempt < 2) throw new RetryableError('upstream hiccup');
          return { attempt: ctx.task.attempt };
        },
        untyped: async () => {
          throw new Error('plain failure');
        },
        block: (_input, ctx) =>
          new Promise((resolve, reject) => {
            release = () => resolve({ released: true });
            blocked.push(ctx.task.key);
            ctx.signal.addEventListener('abort', () => {
              aborted.push(ctx.task.key);
              reject(new Error('aborted'));
            });
          }),
        cache: async ({ key }: { key: string }, ctx) => {
          await ctx.cache.set(key, { from: ctx.task.key });
          return ctx.cache.get(key);
        },
      },
    });
    await agent.start();
  });
  afterAll(async () => {
    await agent.stop();
    await api.close();
    await s.stop();
  });

  it('runs a DAG, with progress, $from and the shared cache', async () => {
    const w = await api.startWorkflow({
      name: 'sdk-dag',
      steps: [
        { key: 'one', capability: 'add', input: { a: 1, b: 2 } },
        { key: 'two', capability: 'add', dependsOn: ['one'], input: { a: { $from: 'steps.one.output.sum' }, b: 10 } },
        { key: 'slowly', capability: 'slow', dependsOn: ['one'], input: { steps: 3 } },
        { key: 'cached', capability: 'cache', dependsOn: ['two', 'slowly'], input: { key: `k-${transport}` } },
      ],
    });
    const done = await waitForWorkflow(s, w.id);
    expect(done.status).toBe('COMPLETED');
    expect(done.output).toEqual({ one: { sum: 3 }, two: { sum: 13 }, slowly: { done: 3 }, cached: { from: 'cached' } });
    expect(progressSeen).toEqual([1 / 3, 2 / 3, 1]);
    const history = await s.data(`query($w: ID) { history(filter: { workflowId: $w, types: [TASK_PROGRESS] }) { edges { node { data } } } }`, { w: w.id });
    expect(history.history.edges.map((e: any) => e.node.data.message)).toEqual(['step 1', 'step 2', 'step 3']);
  });

  it('reports PARTIAL, typed errors, untyped errors (retryable AGENT_FAILURE) and retries', async () => {
    const w = await api.startWorkflow({
      name: 'sdk-outcomes',
      steps: [
        { key: 'p', capability: 'partial' },
        { key: 't', capability: 'typed', maxAttempts: 3, continueOnFailure: true },
        { key: 'u', capability: 'untyped', maxAttempts: 2, retryBackoffMs: 10, continueOnFailure: true },
        { key: 'f', capability: 'flaky', maxAttempts: 2, retryBackoffMs: 10 },
      ],
    });
    const done = await waitForWorkflow(s, w.id);
    const t = byKey(done);
    expect(done.status).toBe('PARTIAL');
    expect(t.p).toMatchObject({ status: 'COMPLETED', outcome: 'PARTIAL', output: { some: 'of it' } });
    expect(t.t).toMatchObject({ status: 'FAILED', attempt: 1, errors: [{ type: 'INVALID_OUTPUT' }] }); // not retryable
    expect(t.u).toMatchObject({ status: 'FAILED', attempt: 2, errors: [{ type: 'AGENT_FAILURE' }, { type: 'AGENT_FAILURE' }] });
    expect(t.f).toMatchObject({ status: 'COMPLETED', attempt: 2, output: { attempt: 2 }, errors: [{ type: 'NETWORK' }] });
    const errors = await s.data(`query($w: ID) { errorRecords(filter: { workflowId: $w, types: [INVALID_OUTPUT] }) { edges { node { severity retryable context message } } } }`, { w: w.id });
    expect(errors.errorRecords.edges[0].node).toEqual({ severity: 'HIGH', retryable: false, context: { line: 3 }, message: 'cannot parse' });
  });

  it('fires the handler signal when its task is cancelled, and reports nothing after', async () => {
    const w = await api.startWorkflow({ name: 'sdk-cancel', steps: [{ key: 'stuck', capability: 'block' }] });
    while ((await getWorkflow(s, w.id)).tasks[0].status !== 'RUNNING') await new Promise((r) => setTimeout(r, 20));
    await api.cancelWorkflow(w.id, 'test');
    const deadline = Date.now() + 15_000;
    while (!aborted.includes('stuck') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(aborted).toContain('stuck');
    const after = await getWorkflow(s, w.id);
    expect(after.tasks[0]).toMatchObject({ status: 'CANCELLED', errors: [] });
  });

  it('drains on stop(): takes no new work and finishes what it runs without losing a task', async () => {
    const w = await api.startWorkflow({ name: 'sdk-drain', steps: [{ key: 'held', capability: 'block' }] });
    // Wait for the handler itself: the server says RUNNING as soon as it has claimed, before the
    // lease has reached the agent.
    while (!blocked.includes('held')) await new Promise((r) => setTimeout(r, 20));
    const stopping = agent.stop();
    await new Promise((r) => setTimeout(r, 100));
    const later = await api.startWorkflow({ name: 'sdk-after-stop', steps: [{ key: 'x', capability: 'add', input: { a: 1, b: 1 } }] });
    release?.();
    await stopping;
    expect((await waitForWorkflow(s, w.id)).status).toBe('COMPLETED');
    await new Promise((r) => setTimeout(r, 300));
    expect((await getWorkflow(s, later.id)).tasks[0].status).toBe('QUEUED'); // nobody took it
    const status = await s.data(`{ agentByName(name: "sdk-${transport}") { status runningTasks } }`);
    expect(status.agentByName).toEqual({ status: 'DRAINING', runningTasks: 0 });
    await api.cancelWorkflow(later.id);
  });
});

describe('SDK errors', () => {
  it('carries type, severity and retryable', () => {
    const e = new TaskError('RATE_LIMITED', 'slow down', { severity: 'LOW', retryable: true });
    expect([e.type, e.severity, e.retryable, e.message]).toEqual(['RATE_LIMITED', 'LOW', true, 'slow down']);
    expect(new RetryableError('x').retryable).toBe(true);
    expect(new FatalError('x').retryable).toBe(false);
  });
});

describe('SDK agent reporting results together', () => {
  it('records the results a refused batch carried one by one, so one bad output costs only its own task', async () => {
    const s = await startTestServer({ MAX_JSON_BYTES: '2048' });
    const errors: string[] = [];
    const agent = createAgent({
      url: s.url,
      name: 'batcher',
      transport: 'poll',
      concurrency: 4,
      log: (level, message) => void (level === 'error' && errors.push(message)),
      handlers: {
        small: async (input: { i: number }) => ({ i: input.i }),
        huge: async () => ({ blob: 'x'.repeat(10_000) }),
      },
    });
    try {
      const w = await new OrchestratorClient({ url: s.url }).startWorkflow({
        name: 'mixed-results',
        steps: [
          { key: 's1', capability: 'small', input: { i: 1 } },
          { key: 'h', capability: 'huge', continueOnFailure: true },
          { key: 's2', capability: 'small', input: { i: 2 } },
        ],
      });
      await agent.start();
      const deadline = Date.now() + 15_000;
      let t: Record<string, any> = {};
      while (Date.now() < deadline) {
        t = byKey(await getWorkflow(s, w.id));
        if (t.s1.status === 'COMPLETED' && t.s2.status === 'COMPLETED' && errors.length) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(t.s1).toMatchObject({ status: 'COMPLETED', output: { i: 1 } });
      expect(t.s2).toMatchObject({ status: 'COMPLETED', output: { i: 2 } });
      expect(t.h.status).toBe('RUNNING'); // its output was refused; its lease will expire
      expect(errors).toContain('could not report a result');
    } finally {
      await agent.stop();
      await s.stop();
    }
  });
});
