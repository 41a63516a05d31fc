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
