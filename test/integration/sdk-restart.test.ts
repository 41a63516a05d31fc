import { createAgent, OrchestratorClient } from '../../src/sdk';
import { freePort, restartFixture, spawnServer } from '../helpers/process';

const TASKS = 60;

describe('SDK agent across a server crash', () => {
  const fx = restartFixture('sdk-restart');
  const { dataDir, backend } = fx;
  afterAll(() => fx.cleanup());

  it.each(['push', 'poll'] as const)('finishes the workflow over %s after SIGKILL and restart, each result recorded once', async (transport) => {
    const env = { ...backend, DATA_DIR: dataDir, PORT: String(await freePort()), LEASE_TIMEOUT_MS: '2000', SWEEP_INTERVAL_MS: '100', LOG_LEVEL: 'warn' };
    fx.server = await spawnServer(env);
    const api = new OrchestratorClient({ url: fx.server.url });
    let handled = 0;
    const agent = createAgent({
      url: fx.server.url,
      name: `survivor-${transport}`,
      transport,
      concurrency: 4,
      log: () => undefined,
      handlers: {
        work: async ({ i }: { i: number }) => {
          await new Promise((r) => setTimeout(r, 15));
          handled++;
          return { i };
        },
      },
    });
    await agent.start();
    const w = await api.startWorkflow({
      name: `crash-${transport}`,
      steps: Array.from({ length: TASKS }, (_, i) => ({ key: `w${i}`, capability: 'work', input: { i }, maxAttempts: 5, retryBackoffMs: 0 })),
    });
    while (handled < TASKS / 3) await new Promise((r) => setTimeout(r, 10));
    fx.server.kill('SIGKILL');
    await fx.server.exited;
    fx.server = await spawnServer(env);

    let status = '';
    while (status !== 'COMPLETED') {
      status = (await api.getWorkflow(w.id).catch(() => null))?.status ?? '';
      await new Promise((r) => setTimeout(r, 100));
    }
    await agent.stop();
    const done = await api.getWorkflow(w.id);
    expect(done?.tasks.every((t) => t.status === 'COMPLETED' && (t.output as { i: number }).i === Number(t.key.slice(1)))).toBe(true);
    // Quality counters grow by one per recorded result: a result recorded twice would show here.
    expect(done?.quality).toMatchObject({ total: TASKS, succeeded: TASKS });
    expect(done?.progress.completed).toBe(TASKS);
    await api.close();
    fx.server.kill('SIGTERM');
    expect((await fx.server.exited).code).toBe(0);
    fx.server = null;
  });
});
