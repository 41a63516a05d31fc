// What a subscription sends is read when the event happens: computed fields (progress, tasks,
// quality) are never answered from what an earlier event of the same subscription, or an earlier
// operation on the same WebSocket, loaded.
import { claim, complete, registerAgent, startWorkflow } from '../helpers/engine';
import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

describe('subscriptions read fresh data for every event', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it('sends each workflowUpdated with the progress and quality of that moment', async () => {
    const agent = await registerAgent(s, 'fresh', ['cap.fresh'], 5);
    const w = await startWorkflow(s, { name: 'fresh', steps: [{ key: 'a', capability: 'cap.fresh' }, { key: 'b', capability: 'cap.fresh', dependsOn: ['a'] }] });
    const client = wsClient(s.wsUrl);
    const sub = subscribe(client, `subscription($w: ID!) { workflowUpdated(workflowId: $w) { workflow { status progress { completed } quality { total } } } }`, { w: w.id });
    await s.waitForListeners('workflow', 1);
    const [a] = await claim(s, agent, 1);
    expect((await sub.next()).data?.workflowUpdated.workflow).toEqual({ status: 'RUNNING', progress: { completed: 0 }, quality: { total: 0 } });
    await complete(s, a!.id, {});
    const [b] = await claim(s, agent, 1);
    await complete(s, b!.id, {});
    expect((await sub.next()).data?.workflowUpdated.workflow).toEqual({ status: 'COMPLETED', progress: { completed: 2 }, quality: { total: 2 } });
    await client.dispose();
  });

  it('answers a query over a WebSocket with data read for that query, not an earlier one', async () => {
    const agent = await registerAgent(s, 'fresh-q', ['cap.fresh-q'], 5);
    const w = await startWorkflow(s, { name: 'fresh-q', steps: [{ key: 'a', capability: 'cap.fresh-q' }] });
    const client = wsClient(s.wsUrl);
    const read = async () => (await subscribe(client, `query($w: ID!) { workflow(id: $w) { status progress { completed } } }`, { w: w.id }).next()).data?.workflow;
    expect(await read()).toEqual({ status: 'PENDING', progress: { completed: 0 } });
    const [a] = await claim(s, agent, 1);
    await complete(s, a!.id, {});
    expect(await read()).toEqual({ status: 'COMPLETED', progress: { completed: 1 } });
    await client.dispose();
  });
});
