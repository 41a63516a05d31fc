import { startTestServer, type TestServer } from '../helpers/server';

describe('history', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  const page = (vars: Record<string, unknown>) =>
    s.data(
      `query($f: HistoryFilter, $first: Int, $after: String) {
        history(filter: $f, first: $first, after: $after) {
          edges { cursor node { id type at workflowId taskId agentId data } }
          pageInfo { hasNextPage endCursor }
        }
      }`,
      vars,
    );

  it('records every state change, oldest first, and pages through it by cursor', async () => {
    // The built-in agents registered at start-up come first; this test looks at what follows.
    const since = new Date().toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await s.data(`mutation($n: String!) { registerAgent(input: { name: $n, capabilities: ["h"] }) { agent { id } } }`, {
        n: `h-${i}`,
      });
      ids.push(r.registerAgent.agent.id);
    }
    await s.data(`mutation { recordError(input: { type: CONFLICT, severity: LOW, message: "clash" }) { id } }`);

    const seen: { type: string; agentId: string | null }[] = [];
    let after: string | null = null;
    for (;;) {
      const p: any = await page({ f: { since }, first: 2, after });
      seen.push(...p.history.edges.map((e: any) => ({ type: e.node.type, agentId: e.node.agentId })));
      if (!p.history.pageInfo.hasNextPage) break;
      after = p.history.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids.map((agentId) => ({ type: 'AGENT_REGISTERED', agentId })), { type: 'ERROR_RECORDED', agentId: null }]);

    const all: any = await page({});
    const times = all.history.edges.map((e: any) => new Date(e.node.at).getTime());
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('filters by type, agent and time', async () => {
    const errors: any = await page({ f: { types: ['ERROR_RECORDED'] } });
    expect(errors.history.edges).toHaveLength(1);
    expect(errors.history.edges[0].node.data).toMatchObject({ type: 'CONFLICT', severity: 'LOW' });

    const one: any = await page({ f: { types: ['AGENT_REGISTERED'] }, first: 4 });
    const agentId = one.history.edges[3].node.agentId;
    const byAgent: any = await page({ f: { agentId } });
    expect(byAgent.history.edges.map((e: any) => e.node.type)).toEqual(['AGENT_REGISTERED']);

    const future: any = await page({ f: { since: new Date(Date.now() + 60_000).toISOString() } });
    expect(future.history).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('refuses bad paging arguments', async () => {
    for (const vars of [{ first: 0 }, { first: 501 }, { after: 'bogus' }]) {
      const { body } = await s.gql(`query($first: Int, $after: String) { history(first: $first, after: $after) { edges { cursor } } }`, vars);
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('clears events before a time, or all of them', async () => {
    const before: any = await page({});
    const total = before.history.edges.length;
    const cut = before.history.edges[2].node.at;
    const removed = await s.data(`mutation($t: DateTime) { clearHistory(before: $t) }`, { t: cut });
    const after: any = await page({});
    expect(removed.clearHistory).toBeGreaterThan(0);
    expect(after.history.edges.length).toBe(total - removed.clearHistory);
    expect(after.history.edges.every((e: any) => e.node.at >= cut)).toBe(true);
    const rest = await s.data(`mutation { clearHistory }`);
    expect(rest.clearHistory).toBe(after.history.edges.length);
    expect((await page({})).history.edges).toEqual([]);
  });
});
