// The engine on a clock the test moves: lease expiry, retry backoff and attempt timeouts happen
// when the clock says so, and not a moment before. No real time passes between the states.
import { AgentKind, ErrorType, TaskStatus } from '../../src/domain/enums';
import { MemoryBus } from '../../src/events/memory-bus';
import { claimInWrites } from '../../src/engine/dispatch/strategy';
import { Orchestrator } from '../../src/engine/orchestrator';
import { loadConfig } from '../../src/server/config';
import { migrate } from '../../src/storage/migrate';
import { PgliteDriver } from '../../src/storage/pglite';
import { SqlStore } from '../../src/storage/sql-store';

const LEASE_MS = 30_000;

describe('engine on an injected clock', () => {
  let o: Orchestrator;
  let driver: PgliteDriver;
  let now = new Date('2030-01-01T00:00:00Z');
  const advance = (ms: number) => (now = new Date(now.getTime() + ms));

  beforeAll(async () => {
    driver = await PgliteDriver.open('memory://');
    await migrate(driver);
    const options = { ...loadConfig({ LEASE_TIMEOUT_MS: String(LEASE_MS) }).engine, instanceId: 'clocked' };
    o = new Orchestrator({ store: SqlStore.over(driver), bus: new MemoryBus(), options, dispatch: claimInWrites, now: () => now });
  });
  afterAll(() => driver.close());

  let agentId: string;
  beforeAll(async () => {
    agentId = (await o.agents.register({ name: 'clocked', capabilities: ['c'], concurrency: 10 }, AgentKind.REMOTE)).agent.id;
  });

  const start = (step: Record<string, unknown>) => o.workflowControl.start({ name: 'w', steps: [{ key: 's', capability: 'c', ...step }] });
  const workflowOf = async (id: string) => (await o.workflows.workflows([id]))[0]!;
  const onlyTask = async (workflowId: string) => (await o.workflows.tasksByWorkflow([workflowId]))[0]![0]!;

  it('expires a silent lease only once LEASE_TIMEOUT_MS has passed, then retries the task', async () => {
    const w = await start({ maxAttempts: 2, retryBackoffMs: 0 });
    const [lease] = await o.leases.claim(agentId, 1);
    expect(lease?.attempt).toBe(1);
    advance(LEASE_MS - 1);
    await o.sweeper.tick();
    expect((await onlyTask(w.id)).status).toBe(TaskStatus.RUNNING);
    advance(1);
    await o.sweeper.tick();
    const t = await onlyTask(w.id);
    expect(t.status).toBe(TaskStatus.QUEUED);
    const [again] = await o.leases.claim(agentId, 1);
    expect(again).toMatchObject({ taskId: t.id, attempt: 2 });
    await o.leases.complete(again!.id, { ok: true }, null);
    expect((await workflowOf(w.id)).status).toBe('COMPLETED');
  });

  it('keeps a retried task back for its backoff, doubling with each attempt', async () => {
    const w = await start({ maxAttempts: 3, retryBackoffMs: 10_000 });
    const fail = async () => {
      const [l] = await o.leases.claim(agentId, 1);
      await o.leases.fail(l!.id, { type: ErrorType.NETWORK, message: 'flaky', retryable: true });
    };
    await fail();
    advance(9_999);
    expect(await o.leases.claim(agentId, 1)).toEqual([]);
    advance(1);
    await fail(); // attempt 2 fails: the next waits 20 s
    advance(19_999);
    expect(await o.leases.claim(agentId, 1)).toEqual([]);
    advance(1);
    const [third] = await o.leases.claim(agentId, 1);
    expect(third).toMatchObject({ attempt: 3 });
    await o.leases.complete(third!.id, null, null);
    expect((await onlyTask(w.id)).status).toBe(TaskStatus.COMPLETED);
  });

  it('times an attempt out after timeoutMs even while its agent heartbeats', async () => {
    const w = await start({ timeoutMs: 5_000 });
    const [lease] = await o.leases.claim(agentId, 1);
    advance(4_999);
    await o.leases.heartbeat(lease!.id, 0.5, 'busy');
    await o.sweeper.tick();
    expect((await onlyTask(w.id)).status).toBe(TaskStatus.RUNNING);
    advance(1);
    await o.sweeper.tick();
    const t = await onlyTask(w.id);
    expect(t.status).toBe(TaskStatus.FAILED);
    expect((await o.workflows.errorsBy('task', [t.id]))[0]!.map((e) => e.type)).toEqual([ErrorType.TIMEOUT]);
  });
});
