import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

const RECORD = `mutation($input: ErrorRecordInput!) {
  recordError(input: $input) { id type severity message context retryable summary workflowId taskId agentId occurredAt }
}`;

describe('error records', () => {
  let s: TestServer;
  let agentId: string;
  beforeAll(async () => {
    s = await startTestServer();
    const reg = await s.data(`mutation { registerAgent(input: { name: "err-agent", capabilities: ["a"] }) { agent { id } } }`);
    agentId = reg.registerAgent.agent.id;
  });
  afterAll(() => s.stop());

  const record = (input: Record<string, unknown>) => s.gql(RECORD, { input });
  const total = async () => (await s.data(`{ errorRecords { totalCount } }`)).errorRecords.totalCount as number;

  it('records a classified error with its one-line summary', async () => {
    const { body } = await record({
      type: 'NETWORK',
      severity: 'HIGH',
      message: 'connection reset by peer',
      context: { host: 'api.example', attempt: 2 },
      retryable: true,
      agentId,
    });
    expect(body.errors).toBeUndefined();
    expect(body.data?.recordError).toMatchObject({
      type: 'NETWORK',
      severity: 'HIGH',
      message: 'connection reset by peer',
      context: { host: 'api.example', attempt: 2 },
      retryable: true,
      agentId,
      workflowId: null,
      taskId: null,
      summary: `[HIGH] NETWORK: connection reset by peer (agent ${agentId})`,
    });
  });

  it('defaults retryable to false', async () => {
    const { body } = await record({ type: 'VALIDATION', severity: 'LOW', message: 'bad field' });
    expect(body.data?.recordError.retryable).toBe(false);
  });

  it.each([
    ['an empty message', { type: 'INTERNAL', severity: 'LOW', message: '' }, 'BAD_USER_INPUT'],
    ['a blank message', { type: 'INTERNAL', severity: 'LOW', message: '  \n ' }, 'BAD_USER_INPUT'],
    ['an unknown agent', { type: 'INTERNAL', severity: 'LOW', message: 'x', agentId: 'nope' }, 'NOT_FOUND'],
    ['an unknown workflow', { type: 'INTERNAL', severity: 'LOW', message: 'x', workflowId: 'nope' }, 'NOT_FOUND'],
    ['an unknown task', { type: 'INTERNAL', severity: 'LOW', message: 'x', taskId: 'nope' }, 'NOT_FOUND'],
    ['an unknown type', { type: 'EXPLODED', severity: 'LOW', message: 'x' }, 'BAD_USER_INPUT'],
  ])('refuses %s and records nothing', async (_label, input, code) => {
    const before = await total();
    const { body } = await record(input);
    expect(body.errors?.[0]?.extensions?.code).toBe(code);
    expect(await total()).toBe(before);
  });

  it('pages newest first with opaque cursors, and filters by type, severity and reference', async () => {
    await s.data(`mutation { reset { instanceId } }`);
    const made: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { body } = await record({
        type: i % 2 ? 'TIMEOUT' : 'RATE_LIMITED',
        severity: i < 3 ? 'LOW' : 'CRITICAL',
        message: `error ${i}`,
        agentId: i === 6 ? agentId : null,
      });
      made.push(body.data?.recordError.id);
    }
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: any = await s.data(
        `query($after: String) { errorRecords(first: 3, after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      pages++;
      expect(page.errorRecords.totalCount).toBe(7);
      seen.push(...page.errorRecords.edges.map((e: any) => e.node.id));
      if (!page.errorRecords.pageInfo.hasNextPage) break;
      after = page.errorRecords.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...made].reverse());

    const timeouts = await s.data(`{ errorRecords(filter: { types: [TIMEOUT] }) { totalCount edges { node { type } } } }`);
    expect(timeouts.errorRecords.totalCount).toBe(3);
    const severe = await s.data(`{ errorRecords(filter: { minSeverity: HIGH }) { totalCount } }`);
    expect(severe.errorRecords.totalCount).toBe(4);
    const byAgent = await s.data(`query($a: ID) { errorRecords(filter: { agentId: $a }) { edges { node { id } } } }`, { a: agentId });
    expect(byAgent.errorRecords.edges).toEqual([{ node: { id: made[6] } }]);
    const future = new Date(Date.now() + 60_000).toISOString();
    const none = await s.data(`query($t: DateTime) { errorRecords(filter: { since: $t }) { totalCount edges { cursor } } }`, { t: future });
    expect(none.errorRecords).toEqual({ totalCount: 0, edges: [] });
  });

  it('refuses first outside 1..500 and malformed cursors', async () => {
    for (const q of [
      `{ errorRecords(first: 0) { totalCount } }`,
      `{ errorRecords(first: 501) { totalCount } }`,
      `{ errorRecords(after: "not-a-cursor") { totalCount } }`,
      `{ errorRecords(after: "YWJj") { totalCount } }`,
    ]) {
      const { body } = await s.gql(q);
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('summarises by severity and type, optionally since a time', async () => {
    const summary = await s.data(`{ errorSummary { total since bySeverity { severity count } byType { type count } } }`);
    expect(summary.errorSummary.total).toBe(7);
    expect(summary.errorSummary.since).toBeNull();
    expect(summary.errorSummary.bySeverity).toEqual([
      { severity: 'CRITICAL', count: 4 },
      { severity: 'HIGH', count: 0 },
      { severity: 'MEDIUM', count: 0 },
      { severity: 'LOW', count: 3 },
    ]);
    expect(summary.errorSummary.byType).toEqual([
      { type: 'RATE_LIMITED', count: 4 },
      { type: 'TIMEOUT', count: 3 },
    ]);
    const later = new Date(Date.now() + 60_000).toISOString();
    const empty = await s.data(`query($t: DateTime) { errorSummary(since: $t) { total since } }`, { t: later });
    expect(empty.errorSummary).toEqual({ total: 0, since: later });
  });

  it('pushes errorRecorded over graphql-ws, filtered by minimum severity', async () => {
    const client = wsClient(s.wsUrl);
    const all = subscribe(client, `subscription { errorRecorded { message severity } }`);
    const severe = subscribe(client, `subscription { errorRecorded(minSeverity: HIGH) { message severity summary } }`);
    await s.waitForListeners('error', 2);
    await record({ type: 'RATE_LIMITED', severity: 'LOW', message: 'slow down' });
    await record({ type: 'INTERNAL', severity: 'CRITICAL', message: 'disk on fire' });
    expect((await all.next()).data?.errorRecorded).toEqual({ message: 'slow down', severity: 'LOW' });
    expect((await all.next()).data?.errorRecorded).toEqual({ message: 'disk on fire', severity: 'CRITICAL' });
    expect((await severe.next()).data?.errorRecorded).toEqual({
      message: 'disk on fire',
      severity: 'CRITICAL',
      summary: '[CRITICAL] INTERNAL: disk on fire',
    });
    expect(severe.received).toHaveLength(1);
    await client.dispose();
  });
});
