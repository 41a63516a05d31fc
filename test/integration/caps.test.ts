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
