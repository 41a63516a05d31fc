import { claim, complete, registerAgent, startWorkflow, waitForWorkflow } from '../helpers/engine';
import { startTestServer, type TestServer } from '../helpers/server';

describe('workflow and task queries on an empty store', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it('answers lookups and listings from storage', async () => {
    const r = await s.data(`{
      workflow(id: "w") { id }
      task(id: "t") { id }
      workflows(filter: { statuses: [RUNNING] }, first: 10) { totalCount edges { cursor } pageInfo { hasNextPage endCursor } }
      tasks(filter: { statuses: [QUEUED] }) { totalCount edges { cursor } pageInfo { hasNextPage endCursor } }
    }`);
    expect(r).toEqual({
      workflow: null,
      task: null,
      workflows: { totalCount: 0, edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
      tasks: { totalCount: 0, edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
    });
  });

  it('validates paging arguments on workflows and tasks too', async () => {
    for (const query of [`{ workflows(first: 0) { totalCount } }`, `{ tasks(after: "x") { totalCount } }`]) {
      const { body } = await s.gql(query);
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });
});

describe('listing by several statuses', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it('pages tasks and workflows filtered on several statuses in order, each once', async () => {
    const agentId = await registerAgent(s, 'lister', ['cap.list'], 10);
    const w = await startWorkflow(s, { name: 'mixed', steps: Array.from({ length: 9 }, (_, i) => ({ key: `m${i}`, capability: 'cap.list' })) });
    const leases = await claim(s, agentId, 5); // m0..m4 RUNNING, m5..m8 QUEUED
    await complete(s, leases[1]!.id, {});
    await complete(s, leases[3]!.id, {}); // m1, m3 COMPLETED
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const r: any = await s.data(
        `query($w: ID, $a: String) { tasks(filter: { workflowId: $w, statuses: [QUEUED, RUNNING] }, first: 2, after: $a) {
           totalCount edges { node { key status } } pageInfo { hasNextPage endCursor } } }`,
        { w: w.id, a: after },
      );
      expect(r.tasks.totalCount).toBe(7);
      seen.push(...r.tasks.edges.map((e: any) => e.node.key));
      if (!r.tasks.pageInfo.hasNextPage) break;
      after = r.tasks.pageInfo.endCursor;
    }
    expect(seen).toEqual(['m0', 'm2', 'm4', 'm5', 'm6', 'm7', 'm8']);

    const done = await startWorkflow(s, { name: 'finished', steps: [{ key: 'e', capability: 'builtin.echo' }] });
    await waitForWorkflow(s, done.id);
    const later = await startWorkflow(s, { name: 'waiting', steps: [{ key: 'q', capability: 'cap.none' }] });
    const names: string[] = [];
    after = null;
    do {
      const r: any = await s.data(
        `query($a: String) { workflows(filter: { statuses: [PENDING, RUNNING, COMPLETED] }, first: 1, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
        { a: after },
      );
      names.push(...r.workflows.edges.map((e: any) => e.node.id));
      after = r.workflows.pageInfo.hasNextPage ? r.workflows.pageInfo.endCursor : null;
    } while (after);
    expect(names).toEqual([later.id, done.id, w.id]); // newest first
  });
});
