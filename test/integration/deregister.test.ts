import { createLogger } from '../../src/support/logger';
import { complete, LEASE, type Lease, registerAgent, startWorkflow } from '../helpers/engine';
import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

describe('deregistering a connected agent', () => {
  let s: TestServer;
  const lines: string[] = [];
  beforeAll(async () => {
    s = await startTestServer({}, { log: createLogger('debug', { write: (l: string) => void lines.push(l) }) });
  });
  afterAll(() => s.stop());

  it('ends its taskAssigned subscription with one NOT_FOUND, and logs no unexpected error', async () => {
    const a = await registerAgent(s, 'leaving', ['cap.leaving']);
    const agentListeners = async () => Number(/^orchestrator_event_listeners\{topic="agent"\} (\d+)$/m.exec(await s.metrics())?.[1]);
    const before = await agentListeners();
    const client = wsClient(s.wsUrl);
    const sub = subscribe<{ taskAssigned: Lease }>(client, `subscription($a: ID!) { taskAssigned(agentId: $a) { ${LEASE} } }`, { a });
    // A lease arriving shows the subscription is live; deregistering then ends it mid-stream.
    await startWorkflow(s, { name: 'before-leaving', steps: [{ key: 'k', capability: 'cap.leaving' }] });
    const lease = (await sub.next()).data!.taskAssigned;
    expect((await complete(s, lease.id, {})).body.errors).toBeUndefined();
    expect(await s.data(`mutation($id: ID!) { deregisterAgent(id: $id) }`, { id: a })).toEqual({ deregisterAgent: true });
    await sub.completed;
    expect(sub.received.slice(1).map((r) => r.errors?.map((e) => e.extensions?.code))).toEqual([['NOT_FOUND']]);
    // The subscriber is gone too: nothing left listening for an agent that no longer exists.
    expect(await agentListeners()).toBe(before);
    const logged = lines.map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(logged.filter((l) => l.level === 'error')).toEqual([]);
    await client.dispose();
  });
});
