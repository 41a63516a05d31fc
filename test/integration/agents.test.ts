import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

const AGENT = `id name kind capabilities status concurrency runningTasks metadata registeredAt lastSeenAt
  quality { score total succeeded partial failed }`;
const REGISTER = `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { token agent { ${AGENT} } } }`;

describe('agents', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  const register = (input: Record<string, unknown>) => s.gql(REGISTER, { input });
  const count = async () => (await s.data<{ agents: unknown[] }>('{ agents { id } }')).agents.length;

  it('registers a REMOTE agent, returns its token once, and finds it by id and name', async () => {
    const { body } = await register({ name: 'worker-1', capabilities: ['resize', 'crop'], concurrency: 3, metadata: { region: 'eu' } });
    expect(body.errors).toBeUndefined();
    const { token, agent } = body.data?.registerAgent;
    expect(token).toEqual(expect.any(String));
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(agent).toMatchObject({
      name: 'worker-1',
      kind: 'REMOTE',
      capabilities: ['resize', 'crop'],
      status: 'ONLINE',
      concurrency: 3,
      runningTasks: 0,
      metadata: { region: 'eu' },
      quality: { score: 1, total: 0, succeeded: 0, partial: 0, failed: 0 },
    });
    expect(new Date(agent.registeredAt).getTime()).not.toBeNaN();
    expect(agent.lastSeenAt).toBe(agent.registeredAt);

    const byId = await s.data(`query($id: ID!) { agent(id: $id) { id name } }`, { id: agent.id });
    expect(byId.agent).toEqual({ id: agent.id, name: 'worker-1' });
    const byName = await s.data(`{ agentByName(name: "worker-1") { id } }`);
    expect(byName.agentByName.id).toBe(agent.id);
    expect((await s.data(`{ agentByName(name: "nobody") { id } }`)).agentByName).toBeNull();
    expect((await s.data(`{ agent(id: "nope") { id } }`)).agent).toBeNull();
  });

  it('defaults concurrency to 1', async () => {
    const { body } = await register({ name: 'worker-default', capabilities: ['x'] });
    expect(body.data?.registerAgent.agent.concurrency).toBe(1);
  });

  it('refuses a second registration of a taken name with CONFLICT and changes nothing', async () => {
    const before = await count();
    const { body } = await register({ name: 'worker-1', capabilities: ['other'] });
    expect(body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await count()).toBe(before);
    const again = await s.data(`{ agentByName(name: "worker-1") { capabilities } }`);
    expect(again.agentByName.capabilities).toEqual(['resize', 'crop']);
  });

  it('re-attaches by name when the token is presented, replacing capabilities', async () => {
    const first = (await register({ name: 'reattacher', capabilities: ['a'] })).body.data?.registerAgent;
    const wrong = await register({ name: 'reattacher', capabilities: ['b'], token: 'not-the-token' });
    expect(wrong.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const { body } = await register({ name: 'reattacher', capabilities: ['b', 'c'], concurrency: 4, token: first.token });
    expect(body.errors).toBeUndefined();
    expect(body.data?.registerAgent.token).toBeNull();
    expect(body.data?.registerAgent.agent).toMatchObject({ id: first.agent.id, capabilities: ['b', 'c'], concurrency: 4 });
  });

  it('filters agents by capability and status', async () => {
    const { body } = await register({ name: 'filter-me', capabilities: ['rare-skill'] });
    const id = body.data?.registerAgent.agent.id;
    const byCap = await s.data(`{ agents(filter: { capability: "rare-skill" }) { id } }`);
    expect(byCap.agents).toEqual([{ id }]);
    await s.data(`mutation($id: ID!) { setAgentDraining(id: $id, draining: true) { status } }`, { id });
    const draining = await s.data(`{ agents(filter: { statuses: [DRAINING] }) { id status } }`);
    expect(draining.agents).toEqual([{ id, status: 'DRAINING' }]);
    const online = await s.data(`{ agents(filter: { statuses: [ONLINE], capability: "rare-skill" }) { id } }`);
    expect(online.agents).toEqual([]);
  });

  it('drains and undrains an agent, recording each status change in history', async () => {
    const id = (await register({ name: 'drainer', capabilities: ['a'] })).body.data?.registerAgent.agent.id;
    const drained = await s.data(`mutation($id: ID!) { setAgentDraining(id: $id, draining: true) { status } }`, { id });
    expect(drained.setAgentDraining.status).toBe('DRAINING');
    const back = await s.data(`mutation($id: ID!) { setAgentDraining(id: $id, draining: false) { status } }`, { id });
    expect(back.setAgentDraining.status).toBe('ONLINE');
    const history = await s.data(
      `query($id: ID!) { history(filter: { agentId: $id }) { edges { node { type data } } } }`,
      { id },
    );
    expect(history.history.edges.map((e: { node: { type: string } }) => e.node.type)).toEqual([
      'AGENT_REGISTERED',
      'AGENT_STATUS_CHANGED',
      'AGENT_STATUS_CHANGED',
    ]);
    expect(history.history.edges[1].node.data).toMatchObject({ from: 'ONLINE', to: 'DRAINING' });
  });

  it('deregisters an agent; a second deregistration is NOT_FOUND', async () => {
    const id = (await register({ name: 'leaver', capabilities: ['a'] })).body.data?.registerAgent.agent.id;
    expect((await s.data(`mutation($id: ID!) { deregisterAgent(id: $id) }`, { id })).deregisterAgent).toBe(true);
    expect((await s.data(`query($id: ID!) { agent(id: $id) { id } }`, { id })).agent).toBeNull();
    const again = await s.gql(`mutation($id: ID!) { deregisterAgent(id: $id) }`, { id });
    expect(again.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const history = await s.data(`query($id: ID!) { history(filter: { agentId: $id, types: [AGENT_DEREGISTERED] }) { edges { node { type } } } }`, { id });
    expect(history.history.edges).toHaveLength(1);
  });

  it('answers NOT_FOUND for draining an unknown agent', async () => {
    const { body } = await s.gql(`mutation { setAgentDraining(id: "nope", draining: true) { id } }`);
    expect(body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it.each([
    ['an empty name', { name: '', capabilities: ['a'] }],
    ['a blank name', { name: '   ', capabilities: ['a'] }],
    ['no capabilities', { name: 'bad-1', capabilities: [] }],
    ['an empty capability', { name: 'bad-2', capabilities: [''] }],
    ['concurrency 0', { name: 'bad-3', capabilities: ['a'], concurrency: 0 }],
    ['negative concurrency', { name: 'bad-4', capabilities: ['a'], concurrency: -5 }],
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (_label, input) => {
    const before = await count();
    const historyBefore = (await s.data(`{ history(first: 500) { edges { node { id } } } }`)).history.edges.length;
    const { body } = await register(input);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.data ?? null).toBeNull();
    expect(await count()).toBe(before);
    expect((await s.data(`{ history(first: 500) { edges { node { id } } } }`)).history.edges.length).toBe(historyBefore);
  });

  it('pushes agentUpdated over graphql-ws, filtered by agentId', async () => {
    const watched = (await register({ name: 'watched', capabilities: ['a'] })).body.data?.registerAgent.agent.id;
    const client = wsClient(s.wsUrl);
    const all = subscribe(client, `subscription { agentUpdated { id name status } }`);
    const one = subscribe(client, `subscription($id: ID) { agentUpdated(agentId: $id) { id status } }`, { id: watched });
    await s.waitForListeners('agent', 2);

    await register({ name: 'newcomer', capabilities: ['a'] });
    expect((await all.next()).data?.agentUpdated).toMatchObject({ name: 'newcomer', status: 'ONLINE' });

    await s.data(`mutation($id: ID!) { setAgentDraining(id: $id, draining: true) { id } }`, { id: watched });
    expect((await all.next()).data?.agentUpdated).toMatchObject({ id: watched, status: 'DRAINING' });
    expect((await one.next()).data?.agentUpdated).toEqual({ id: watched, status: 'DRAINING' });

    await s.data(`mutation($id: ID!) { deregisterAgent(id: $id) }`, { id: watched });
    expect((await one.next()).data?.agentUpdated).toEqual({ id: watched, status: 'OFFLINE' });
    expect(one.received).toHaveLength(2); // the newcomer never reached the filtered subscription
    await all.close();
    await one.close();
    await client.dispose();
  });
});
