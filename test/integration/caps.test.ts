// Caps on what the engine keeps: dependency edges per workflow (MAX_WORKFLOW_EDGES) and registered
// agents (MAX_AGENTS), each refused as BAD_USER_INPUT before anything is written.
import { startTestServer, type TestServer } from '../helpers/server';

const START = `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`;

/** n steps, each depending on every earlier one: n(n-1)/2 edges. */
const allPairs = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: `s${i}`, capability: 'nobody', dependsOn: Array.from({ length: i }, (_, j) => `s${j}`) }));

describe('MAX_WORKFLOW_EDGES', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ MAX_WORKFLOW_EDGES: '6' });
  });
  afterAll(() => s.stop());

  const workflows = async () => (await s.data(`{ workflows { totalCount } tasks { totalCount } }`)) as Record<string, { totalCount: number }>;

  it('takes a workflow with exactly MAX_WORKFLOW_EDGES dependsOn entries', async () => {
    expect((await s.gql(START, { i: { name: 'six', steps: allPairs(4) } })).body.errors).toBeUndefined();
  });

  it('refuses one more entry, counted as given (a repeated entry counts), and writes nothing', async () => {
    const before = await workflows();
    const steps = allPairs(4);
    steps[3]!.dependsOn.push('s0');
    const r = await s.gql(START, { i: { name: 'seven', steps } });
    expect(r.body.errors?.[0]).toMatchObject({
      message: 'a workflow may have at most 6 dependsOn entries in all (got 7; MAX_WORKFLOW_EDGES)',
      extensions: { code: 'BAD_USER_INPUT', field: 'dependsOn' },
    });
    expect(await workflows()).toEqual(before);
  });

  it('refuses 520 steps that each depend on all earlier ones (134,940 edges) before any other check', async () => {
    const before = await workflows();
    const steps = allPairs(520);
    steps[0]!.dependsOn.push('s519'); // a cycle, which is not even looked for
    const r = await s.gql(START, { i: { name: 'all-pairs', steps } });
    expect(r.body.errors?.[0]).toMatchObject({
      message: expect.stringContaining('got 134941; MAX_WORKFLOW_EDGES'),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(await workflows()).toEqual(before);
  });
});

describe('MAX_AGENTS', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ MAX_AGENTS: '3' });
  });
  afterAll(() => s.stop());

  const REGISTER = `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agent { id } token } }`;
  const register = (name: string, token?: string) => s.gql(REGISTER, { i: { name, capabilities: ['c'], token } });
  const names = async () => ((await s.data(`{ agents { name kind } }`)).agents as { name: string; kind: string }[]).map((a) => `${a.kind}:${a.name}`).sort();

  it('counts REMOTE agents only, refuses a registration past the cap, and takes re-attachments', async () => {
    const builtins = await names();
    expect(builtins.length).toBeGreaterThan(0); // the built-in agents do not count
    const first = await register('r1');
    for (const name of ['r2', 'r3']) expect((await register(name)).body.errors).toBeUndefined();
    const full = await names();
    const refused = await register('r4');
    expect(refused.body.errors?.[0]).toMatchObject({
      message: 'at most 3 remote agents may be registered (MAX_AGENTS); deregister one first',
      extensions: { code: 'BAD_USER_INPUT', limit: 3 },
    });
    expect(await names()).toEqual(full);
    // Re-attaching is not a new registration.
    const again = await register('r1', first.body.data?.registerAgent.token);
    expect(again.body.data?.registerAgent.agent.id).toBe(first.body.data?.registerAgent.agent.id);
    // Deregistering frees a place.
    await s.data(`mutation($id: ID!) { deregisterAgent(id: $id) }`, { id: first.body.data?.registerAgent.agent.id });
    expect((await register('r4')).body.errors).toBeUndefined();
    expect(await names()).toEqual([...builtins, 'REMOTE:r2', 'REMOTE:r3', 'REMOTE:r4'].sort());
  });

  it('holds the cap when registrations race for the last places', async () => {
    for (const a of (await s.data(`{ agents { id kind } }`)).agents as { id: string; kind: string }[]) {
      if (a.kind === 'REMOTE') await s.data(`mutation($id: ID!) { deregisterAgent(id: $id) }`, { id: a.id });
    }
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => register(`racer${i}`)));
    expect(answers.filter((a) => !a.body.errors).length).toBe(3);
    expect(answers.filter((a) => a.body.errors?.[0]?.extensions?.code === 'BAD_USER_INPUT').length).toBe(5);
    expect((await names()).filter((n) => n.startsWith('REMOTE:'))).toHaveLength(3);
  });
});
