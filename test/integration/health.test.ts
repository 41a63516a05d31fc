import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

const REPORT = `score status generatedAt
  quality { score total succeeded partial failed }
  components { name score status detail }
  agents { total online busy draining offline }
  queue { queued running oldestQueuedAgeMs }
  errors { total since bySeverity { severity count } byType { type count } }`;

describe('health, status and quality', () => {
  let s: TestServer;
  beforeAll(async () => {
    // A long interval: every change seen here is announced because a write nudged the monitor.
    s = await startTestServer({ HEALTH_INTERVAL_MS: '3600000' });
  });
  afterAll(() => s.stop());

  it('reports a healthy empty orchestrator with five components', async () => {
    const { health } = await s.data(`{ health { ${REPORT} } }`);
    expect(health).toMatchObject({
      score: 100,
      status: 'HEALTHY',
      quality: { score: 1, total: 0 },
      agents: { total: 3, online: 3 }, // the built-in agents
      queue: { queued: 0, running: 0, oldestQueuedAgeMs: null },
      errors: { total: 0 },
    });
    expect(health.components.map((c: any) => c.name)).toEqual(['quality', 'errors', 'agents', 'queue', 'storage']);
    expect(health.components.every((c: any) => c.score === 100 && c.status === 'HEALTHY' && c.detail)).toBe(true);
  });

  it('reports status: instance, version, uptime and counts', async () => {
    await s.data(`mutation { registerAgent(input: { name: "st", capabilities: ["a"] }) { agent { id } } }`);
    const { status } = await s.data(
      `{ status { instanceId version status healthScore uptimeSeconds agents runningWorkflows queuedTasks runningTasks } }`,
    );
    expect(status).toMatchObject({ version: 'test', status: 'HEALTHY', healthScore: 100, agents: 4, runningWorkflows: 0, queuedTasks: 0, runningTasks: 0 });
    expect(status.instanceId).toEqual(expect.any(String));
    expect(status.uptimeSeconds).toBeGreaterThan(0);
  });

  it('answers quality overall, per agent and per workflow', async () => {
    const agent = await s.data(`{ agentByName(name: "st") { id } }`);
    const q = await s.data(`query($a: ID) { all: quality { score total } agent: quality(agentId: $a) { score total } }`, { a: agent.agentByName.id });
    expect(q).toEqual({ all: { score: 1, total: 0 }, agent: { score: 1, total: 0 } });
    for (const [query, code] of [
      [`{ quality(agentId: "nope") { score } }`, 'NOT_FOUND'],
      [`{ quality(workflowId: "nope") { score } }`, 'NOT_FOUND'],
      [`{ quality(agentId: "a", workflowId: "b") { score } }`, 'BAD_USER_INPUT'],
    ]) {
      const { body } = await s.gql(query as string);
      expect(body.errors?.[0]?.extensions?.code).toBe(code);
    }
  });

  it('pushes healthChanged when errors drag the score down, and records it in history', async () => {
    const client = wsClient(s.wsUrl);
    const sub = subscribe(client, `subscription { healthChanged { ${REPORT} } }`);
    await s.waitForListeners('health', 1);
    for (let i = 0; i < 4; i++) {
      await s.data(`mutation { recordError(input: { type: INTERNAL, severity: CRITICAL, message: "meltdown" }) { id } }`);
    }
    let report: any;
    do {
      report = (await sub.next()).data?.healthChanged;
    } while (report.status === 'HEALTHY');
    expect(report.status).toBe('DEGRADED');
    expect(report.score).toBeLessThan(80);
    expect(report.errors.bySeverity[0]).toEqual({ severity: 'CRITICAL', count: 4 });
    expect(report.components.find((c: any) => c.name === 'errors')).toMatchObject({ score: 0, status: 'CRITICAL' });

    const now = await s.data(`{ health { score status } }`);
    expect(now.health).toEqual({ score: report.score, status: 'DEGRADED' });
    const history = await s.data(`{ history(filter: { types: [HEALTH_CHANGED] }) { edges { node { data } } } }`);
    expect(history.history.edges.at(-1).node.data.to).toEqual({ score: report.score, status: 'DEGRADED' });
    await client.dispose();
  });

  it('reset clears errors, history and cache, keeps agents, and health recovers', async () => {
    await s.data(`mutation { setCache(key: "k", value: 1) { key } }`);
    const client = wsClient(s.wsUrl);
    const sub = subscribe(client, `subscription { healthChanged { score status } }`);
    await s.waitForListeners('health', 1);
    const { reset } = await s.data(`mutation { reset { status healthScore agents } }`);
    expect(reset).toEqual({ status: 'HEALTHY', healthScore: 100, agents: 4 });
    expect((await sub.next()).data?.healthChanged).toEqual({ score: 100, status: 'HEALTHY' });
    const after = await s.data(`{
      errorRecords { totalCount }
      cacheEntries { key }
      agents { name }
      history { edges { node { type data } } }
    }`);
    expect(after.errorRecords.totalCount).toBe(0);
    expect(after.cacheEntries).toEqual([]);
    expect(after.agents.map((a: any) => a.name).sort()).toEqual(['builtin.echo', 'builtin.fail', 'builtin.sleep', 'st']);
    const types = after.history.edges.map((e: any) => e.node.type);
    expect(types[0]).toBe('ORCHESTRATOR_RESET');
    expect(after.history.edges[0].node.data).toMatchObject({ errorRecords: 4, cacheEntries: 1 });
    await client.dispose();
  });

  it('exposes the same figures on /metrics for Prometheus', async () => {
    const text = await s.metrics();
    expect(text).toMatch(/^orchestrator_health_score 100$/m);
    expect(text).toMatch(/^orchestrator_agents\{status="online"\} 4$/m);
    expect(text).toMatch(/^orchestrator_subscriptions\{topic="health"\} \d+$/m);
  });
});
