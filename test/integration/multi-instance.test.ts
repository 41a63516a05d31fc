// Two server processes on one PostgreSQL and one Redis (CI sets DATABASE_URL and REDIS_URL).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendEnv, databaseUrl, dropSchema, redisUrl } from '../helpers/database';
import { rawGql as gql, type ServerProcess, spawnServer } from '../helpers/process';
import { subscribe, wsClient } from '../helpers/server';

/**
 * A raw-protocol agent: long-polls for up to 50 leases and completes them in one aliased request.
 * `claimed` records, per task, every "agent@attempt" that held a lease on it.
 */
function runAgent(url: string, agentId: string, claimed: Map<string, string[]>, stop: { now: boolean }) {
  return (async () => {
    while (!stop.now) {
      let leases: { id: string; attempt: number; task: { id: string } }[];
      try {
        const r = await gql(url, `mutation($a: ID!) { claimTasks(agentId: $a, max: 50, waitMs: 1000) { id attempt task { id } } }`, { a: agentId });
        leases = r.data?.claimTasks ?? [];
      } catch {
        return; // this agent's server is gone: the agent dies with it
      }
      if (leases.length === 0) continue;
      for (const l of leases) claimed.set(l.task.id, [...(claimed.get(l.task.id) ?? []), `${agentId}@${l.attempt}`]);
      const vars = Object.fromEntries(leases.map((l, i) => [`l${i}`, l.id]));
      const doc = `mutation(${leases.map((_, i) => `$l${i}: ID!`).join(', ')}) { ${leases
        .map((_, i) => `c${i}: completeTask(leaseId: $l${i}, output: { by: "${agentId}" }) { id }`)
        .join(' ')} }`;
      try {
        await gql(url, doc, vars);
      } catch {
        return;
      }
    }
  })();
}

async function waitForStatus(url: string, id: string, status: string): Promise<any> {
  for (;;) {
    const w = await gql(url, `query($id: ID!) { workflow(id: $id) { status progress { total completed queued running } quality { total succeeded } } }`, { id });
    if (w.data?.workflow?.status === status) return w.data.workflow;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const steps = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `s${i}`, capability: 'cap.shared', maxAttempts: 5, retryBackoffMs: 0 }));

(databaseUrl && redisUrl ? describe : describe.skip)('several instances on PostgreSQL and Redis', () => {
  const backend = backendEnv();
  // Leases long enough that a slow machine never lets one expire while its agent still works on
  // it; the kill test waits that long for the dead instance's leases to run out.
  const env = { ...backend, LEASE_TIMEOUT_MS: '10000', SWEEP_INTERVAL_MS: '100', LOG_LEVEL: 'warn' };
  // Made in beforeAll: a describe skipped for want of PostgreSQL and Redis makes (and leaves) nothing.
  let dataDir: string;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'orchestrator-multi-'));
    a = await spawnServer({ ...env, DATA_DIR: join(dataDir, 'a'), INSTANCE_ID: 'A' });
    b = await spawnServer({ ...env, DATA_DIR: join(dataDir, 'b'), INSTANCE_ID: 'B' });
  });
  afterAll(async () => {
    for (const p of [a, b]) {
      p?.kill('SIGKILL');
      await p?.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    await dropSchema(backend);
  });

  it('reports PostgreSQL and Redis as separate parts of readiness', async () => {
    const ready = await (await fetch(`${b.base}/readyz`)).json();
    expect(ready).toEqual({ status: 'ready', storage: 'up', storageKind: 'postgres', events: 'up' });
  });

  it('shows a subscriber on B the task events of a workflow started on A', async () => {
    const client = wsClient(b.url.replace('http', 'ws'));
    const sub = subscribe(client, `subscription { taskUpdated(statuses: [COMPLETED]) { task { key workflowId } } }`);
    for (;;) {
      if (/^orchestrator_subscriptions\{topic="task"\} 1$/m.test(await (await fetch(`${b.base}/metrics`)).text())) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const started = await gql(a.url, `mutation { startWorkflow(input: { name: "across", steps: [
      { key: "x", capability: "builtin.echo" }, { key: "y", capability: "builtin.echo", dependsOn: ["x"] } ] }) { id } }`);
    const id = started.data.startWorkflow.id;
    const seen = [(await sub.next()).data?.taskUpdated, (await sub.next()).data?.taskUpdated];
    expect(seen).toEqual([
      { task: { key: 'x', workflowId: id } },
      { task: { key: 'y', workflowId: id } },
    ]);
    await client.dispose();
  });

  it('wakes a long-poll and a taskAssigned subscription on B when work is queued through A', async () => {
    const poller = (await gql(b.url, `mutation { registerAgent(input: { name: "b-poller", capabilities: ["cap.wake.poll"] }) { agent { id } } }`)).data.registerAgent.agent.id;
    const pushed = (await gql(b.url, `mutation { registerAgent(input: { name: "b-pushed", capabilities: ["cap.wake.push"] }) { agent { id } } }`)).data.registerAgent.agent.id;
    // waitMs is far beyond the test's own timeout: only a wake-up through Redis can answer in time.
    const polling = gql(b.url, `mutation($a: ID!) { claimTasks(agentId: $a, waitMs: 60000) { task { key } } }`, { a: poller });
    const client = wsClient(b.url.replace('http', 'ws'));
    const assigned = subscribe(client, `subscription($a: ID!) { taskAssigned(agentId: $a) { task { key } } }`, { a: pushed });
    await new Promise((r) => setTimeout(r, 500));
    await gql(a.url, `mutation { startWorkflow(input: { name: "wake", steps: [
      { key: "polled", capability: "cap.wake.poll" }, { key: "pushed", capability: "cap.wake.push" } ] }) { id } }`);
    expect((await polling).data.claimTasks).toEqual([{ task: { key: 'polled' } }]);
    expect((await assigned.next()).data?.taskAssigned).toEqual({ task: { key: 'pushed' } });
    await client.dispose();
  }, 55_000);

  it('lets agents on both instances claim 2,000 tasks: none twice, none lost', async () => {
    const agents: { url: string; id: string }[] = [];
    for (const [server, name] of [[a, 'a1'], [a, 'a2'], [b, 'b1'], [b, 'b2']] as const) {
      const r = await gql(server.url, `mutation($n: String!) { registerAgent(input: { name: $n, capabilities: ["cap.shared"], concurrency: 100 }) { agent { id } } }`, { n: name });
      agents.push({ url: server.url, id: r.data.registerAgent.agent.id as string });
    }
    const claimed = new Map<string, string[]>();
    const stop = { now: false };
    // The agents long-poll before any work exists: B's are woken through Redis by A's commit.
    const loops = agents.map((ag) => runAgent(ag.url, ag.id, claimed, stop));
    await new Promise((r) => setTimeout(r, 200));
    const started = await gql(a.url, `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, { i: { name: 'two-thousand', steps: steps(2000) } });
    const done = await waitForStatus(b.url, started.data.startWorkflow.id, 'COMPLETED');
    stop.now = true;
    await Promise.all(loops);
    expect(done.progress).toMatchObject({ total: 2000, completed: 2000 });
    expect(done.quality).toEqual({ total: 2000, succeeded: 2000 });
    expect(claimed.size).toBe(2000);
    // Two claimers never held one task: each task was leased exactly once, on its first attempt.
    expect([...claimed.values()].filter((by) => by.length !== 1 || !by[0]!.endsWith('@1'))).toEqual([]);
    const byInstance = new Set([...claimed.values()].map((by) => by[0]!.split('@')[0]).map((id) => agents.find((ag) => ag.id === id)!.url));
    expect(byInstance.size).toBe(2);
  });

  it('finishes on B when A is killed mid-run: leases expire, tasks are retried, the sweeper fails over', async () => {
    const agents: { url: string; id: string }[] = [];
    for (const [server, name] of [[a, 'ka1'], [a, 'ka2'], [b, 'kb1']] as const) {
      const r = await gql(server.url, `mutation($n: String!) { registerAgent(input: { name: $n, capabilities: ["cap.shared"], concurrency: 50 }) { agent { id } } }`, { n: name });
      agents.push({ url: server.url, id: r.data.registerAgent.agent.id as string });
    }
    const started = await gql(a.url, `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, { i: { name: 'survive', steps: steps(600) } });
    const id = started.data.startWorkflow.id;
    const claimed = new Map<string, string[]>();
    const stop = { now: false };
    const loops = agents.map((ag) => runAgent(ag.url, ag.id, claimed, stop));
    while (claimed.size < 150) await new Promise((r) => setTimeout(r, 10));
    a.kill('SIGKILL');
    await a.exited;

    const done = await waitForStatus(b.url, id, 'COMPLETED');
    stop.now = true;
    await Promise.all(loops);
    expect(done.progress).toMatchObject({ total: 600, completed: 600 });
    expect(done.quality).toEqual({ total: 600, succeeded: 600 }); // each result recorded once
    const w = await gql(b.url, `query($id: ID!) { workflow(id: $id) { tasks { status errors { type } } } }`, { id });
    expect(w.data.workflow.tasks.every((t: any) => t.status === 'COMPLETED')).toBe(true);
    // Leases held by A's agents when A died were expired by B's sweeper and retried.
    const lost = w.data.workflow.tasks.filter((t: any) => t.errors.some((e: any) => e.type === 'AGENT_LOST'));
    expect(lost.length).toBeGreaterThan(0);
    const finished = await gql(b.url, `query($w: ID) { history(filter: { workflowId: $w, types: [TASK_FINISHED] }, first: 500) { edges { node { taskId } } pageInfo { hasNextPage endCursor } } }`, { w: id });
    const more = await gql(b.url, `query($w: ID, $after: String) { history(filter: { workflowId: $w, types: [TASK_FINISHED] }, first: 500, after: $after) { edges { node { taskId } } } }`, {
      w: id,
      after: finished.data.history.pageInfo.endCursor,
    });
    const ids = [...finished.data.history.edges, ...more.data.history.edges].map((e: any) => e.node.taskId);
    expect(ids).toHaveLength(600);
    expect(new Set(ids).size).toBe(600);
  });
});
