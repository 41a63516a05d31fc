import { claim, complete, fail, getWorkflow, LEASE, type Lease, registerAgent, startWorkflow, waitForWorkflow } from '../helpers/engine';
import { PGLITE_ONLY } from '../helpers/database';
import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

const steps = (n: number, capability: string, extra: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, i) => ({ key: `t${i}`, capability, input: { i }, ...extra }));

describe('agent protocol: claims and leases', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ PROGRESS_THROTTLE_MS: '60000' });
  });
  afterAll(() => s.stop());

  it('gives an agent only its capabilities, highest priority first then oldest, within its free concurrency', async () => {
    const a = await registerAgent(s, 'picky', ['cap.a'], 2);
    await startWorkflow(s, {
      name: 'prio',
      steps: [
        { key: 'low', capability: 'cap.a', priority: 0 },
        { key: 'other', capability: 'cap.b', priority: 100 },
        { key: 'high', capability: 'cap.a', priority: 5 },
        { key: 'low2', capability: 'cap.a', priority: 0 },
      ],
    });
    const first = await claim(s, a, 10);
    expect(first.map((l) => l.task.key)).toEqual(['high', 'low']);
    expect(first.every((l) => l.attempt === 1 && l.agentId === a && l.task.status === 'RUNNING')).toBe(true);
    expect(new Date(first[0]!.expiresAt).getTime()).toBeGreaterThan(Date.now());
    const agent = await s.data(`query($id: ID!) { agent(id: $id) { status runningTasks } }`, { id: a });
    expect(agent.agent).toEqual({ status: 'BUSY', runningTasks: 2 });
    expect(await claim(s, a, 10)).toEqual([]); // full
    await complete(s, first[0]!.id, {});
    expect((await claim(s, a, 10)).map((l) => l.task.key)).toEqual(['low2']);
  });

  it("keeps an agent's running count exact through every way a lease ends, and claims by it", async () => {
    const a = await registerAgent(s, 'counted', ['cap.counted'], 10);
    const running = async () => {
      const r = await s.data(`query($a: ID!) { agent(id: $a) { runningTasks } tasks(filter: { agentId: $a, statuses: [RUNNING] }) { totalCount } }`, { a });
      expect(r.agent.runningTasks).toBe(r.tasks.totalCount);
      return r.agent.runningTasks as number;
    };
    const w = await startWorkflow(s, { name: 'counted', steps: steps(6, 'cap.counted', { maxAttempts: 2, retryBackoffMs: 60_000 }) });
    const leases = await claim(s, a, 50);
    expect(leases).toHaveLength(6);
    expect(await running()).toBe(6);
    await complete(s, leases[0]!.id, {});
    expect(await running()).toBe(5);
    await fail(s, leases[1]!.id, { type: 'AGENT_FAILURE', retryable: true }); // queued again, after its backoff
    expect(await running()).toBe(4);
    await fail(s, leases[2]!.id, { type: 'AGENT_FAILURE', retryable: false });
    expect(await running()).toBe(3);
    await s.data(`mutation($t: ID!) { cancelTask(id: $t) { id } }`, { t: leases[3]!.task.id });
    expect(await running()).toBe(2);
    // Ten slots, two taken: a claim for fifty gets eight.
    await startWorkflow(s, { name: 'counted-more', steps: steps(12, 'cap.counted') });
    expect(await claim(s, a, 50)).toHaveLength(8);
    expect(await running()).toBe(10);
    expect(await claim(s, a, 50)).toHaveLength(0);
    await s.data(`mutation($w: ID!) { cancelWorkflow(id: $w) { id } }`, { w: w.id });
    expect(await running()).toBe(8);
  });

  it('refuses bad claims', async () => {
    const a = await registerAgent(s, 'claims-badly', ['x']);
    for (const [vars, code] of [
      [{ a, m: 0 }, 'BAD_USER_INPUT'],
      [{ a, m: 501 }, 'BAD_USER_INPUT'],
      [{ a, m: 1, w: -1 }, 'BAD_USER_INPUT'],
      [{ a: 'nobody', m: 1 }, 'NOT_FOUND'],
    ] as const) {
      const r = await s.gql(`mutation($a: ID!, $m: Int, $w: Int) { claimTasks(agentId: $a, max: $m, waitMs: $w) { id } }`, vars);
      expect(r.body.errors?.[0]?.extensions?.code).toBe(code);
    }
  });

  it('records a result exactly once: stale and unknown leases change nothing', async () => {
    const a = await registerAgent(s, 'once', ['cap.once']);
    const w = await startWorkflow(s, { name: 'once', steps: [{ key: 'only', capability: 'cap.once' }] });
    const [lease] = await claim(s, a);
    const ok = await complete(s, lease!.id, { first: true });
    expect(ok.body.data?.completeTask).toMatchObject({ status: 'COMPLETED', outcome: 'SUCCESS', output: { first: true } });
    const twice = await complete(s, lease!.id, { second: true });
    expect(twice.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const failLate = await fail(s, lease!.id, { type: 'AGENT_FAILURE' });
    expect(failLate.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const beat = await s.gql(`mutation($l: ID!) { heartbeatTask(leaseId: $l) { id } }`, { l: lease!.id });
    expect(beat.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const unknown = await complete(s, 'no-such-lease', {});
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // A lease naming the real task but an attempt it never reached was never granted.
    const taskId = lease!.id.split(':')[0];
    for (const never of [`${taskId}:2:${'0'.repeat(32)}`, `${taskId}:0:x`, `${taskId}:one:x`, `${taskId}`]) {
      const r = await complete(s, never, {});
      expect(r.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    const wf = await getWorkflow(s, w.id);
    expect(wf.tasks[0]).toMatchObject({ output: { first: true }, attempt: 1 });
    expect(wf.quality.total).toBe(1);
    const q = await s.data(`query($a: ID) { quality(agentId: $a) { total succeeded } }`, { a });
    expect(q.quality).toEqual({ total: 1, succeeded: 1 });
  });

  it('still refuses a lease from before a workflow retry as stale, and takes the new one', async () => {
    const a = await registerAgent(s, 'retried', ['cap.retried']);
    const w = await startWorkflow(s, { name: 'retried', steps: [{ key: 'only', capability: 'cap.retried', maxAttempts: 1 }] });
    const [old] = await claim(s, a);
    const failed = await fail(s, old!.id, { type: 'AGENT_FAILURE', retryable: false });
    expect(failed.body.data?.failTask.status).toBe('FAILED');
    expect((await waitForWorkflow(s, w.id)).status).toBe('FAILED');
    await s.data(`mutation($id: ID!) { retryWorkflow(id: $id) { status } }`, { id: w.id });
    // The retry starts attempts again from 1; the old lease is still one that was granted.
    expect((await complete(s, old!.id, {})).body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const [fresh] = await claim(s, a);
    expect(fresh!.attempt).toBe(1);
    expect(fresh!.id).not.toBe(old!.id);
    expect((await complete(s, old!.id, {})).body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect((await complete(s, fresh!.id, { ok: true })).body.data?.completeTask).toMatchObject({ status: 'COMPLETED', output: { ok: true } });
  });

  it('answers each of many results sent at once on its own, written together or not', async () => {
    const a = await registerAgent(s, 'crowd', ['cap.crowd'], 8);
    const w = await startWorkflow(s, { name: 'crowd', steps: steps(8, 'cap.crowd') });
    const leases = await claim(s, a, 8);
    expect(leases).toHaveLength(8);
    // Concurrent requests: results that arrive together are written in one transaction.
    const answers = await Promise.all([
      ...leases.map((l, i) => complete(s, l.id, { i }, i % 2 ? 'PARTIAL' : 'SUCCESS')),
      complete(s, 'no-such-lease', {}),
      complete(s, leases[0]!.id, { again: true }),
    ]);
    const codes = answers.map((r) => r.body.errors?.[0]?.extensions?.code ?? r.body.data?.completeTask.outcome);
    expect(codes.slice(1, 8)).toEqual(['PARTIAL', 'SUCCESS', 'PARTIAL', 'SUCCESS', 'PARTIAL', 'SUCCESS', 'PARTIAL']);
    expect(codes[8]).toBe('NOT_FOUND');
    // One of the two results for leases[0] is recorded, the other refused.
    expect([codes[0], codes[9]].sort()).toEqual(['CONFLICT', 'SUCCESS']);
    const done = await getWorkflow(s, w.id);
    expect(done.status).toBe('PARTIAL');
    expect(done.quality).toMatchObject({ total: 8, succeeded: 4, partial: 4 });
    expect(done.tasks.every((t: any) => t.attempt === 1 && t.status === 'COMPLETED')).toBe(true);
  });

  it('completes many leases in one call, answering each result in order', async () => {
    const a = await registerAgent(s, 'batcher', ['cap.batch'], 5);
    const w = await startWorkflow(s, { name: 'batch', steps: steps(5, 'cap.batch') });
    const leases = await claim(s, a, 5);
    const COMPLETE = `mutation($r: [TaskResultInput!]!) { completeTasks(results: $r) { leaseId task { key status outcome output } error { code message } } }`;
    // Bad input refuses the whole call and records nothing.
    const refused = await s.gql(COMPLETE, { r: [{ leaseId: leases[0]!.id }, { leaseId: leases[1]!.id, outcome: 'FAILURE' }] });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await s.gql(COMPLETE, { r: [] })).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await getWorkflow(s, w.id)).progress.running).toBe(5);
    const r = await s.data(COMPLETE, {
      r: [
        ...leases.map((l, i) => ({ leaseId: l.id, output: { i }, outcome: i === 4 ? 'PARTIAL' : 'SUCCESS' })),
        { leaseId: 'no-such-lease' },
        { leaseId: leases[0]!.id, output: { again: true } },
      ],
    });
    expect(r.completeTasks.slice(0, 5).map((x: any) => [x.task.key, x.task.status, x.task.outcome, x.task.output, x.error])).toEqual(
      leases.map((l, i) => [l.task.key, 'COMPLETED', i === 4 ? 'PARTIAL' : 'SUCCESS', { i }, null]),
    );
    expect(r.completeTasks[5]).toMatchObject({ leaseId: 'no-such-lease', task: null, error: { code: 'NOT_FOUND' } });
    expect(r.completeTasks[6]).toMatchObject({ leaseId: leases[0]!.id, task: null, error: { code: 'CONFLICT' } });
    const again = await s.data(COMPLETE, { r: [{ leaseId: leases[1]!.id }] });
    expect(again.completeTasks[0].error.code).toBe('CONFLICT');
    const done = await getWorkflow(s, w.id);
    expect(done).toMatchObject({ status: 'PARTIAL', quality: { total: 5, succeeded: 4, partial: 1 } });
  });

  it('refuses outcome FAILURE on completeTask (failures carry an error)', async () => {
    const a = await registerAgent(s, 'outcome', ['cap.outcome']);
    await startWorkflow(s, { name: 'o', steps: [{ key: 'x', capability: 'cap.outcome' }] });
    const [lease] = await claim(s, a);
    const r = await complete(s, lease!.id, {}, 'FAILURE');
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await complete(s, lease!.id, {})).body.data?.completeTask.status).toBe('COMPLETED');
  });

  it('extends the lease on heartbeat and records progress, announcing it at most once per throttle window', async () => {
    const a = await registerAgent(s, 'beater', ['cap.beat']);
    const w = await startWorkflow(s, { name: 'beat', steps: [{ key: 'b', capability: 'cap.beat' }] });
    const client = wsClient(s.wsUrl);
    const sub = subscribe(client, `subscription($w: ID) { taskUpdated(workflowId: $w, statuses: [RUNNING]) { task { progress progressMessage } previousStatus } }`, { w: w.id });
    await s.waitForListeners('task', 1);
    const [lease] = await claim(s, a);
    await new Promise((r) => setTimeout(r, 20));
    const hb = `mutation($l: ID!, $p: Float, $m: String) { heartbeatTask(leaseId: $l, progress: $p, message: $m) { id expiresAt task { progress progressMessage } } }`;
    const one = await s.data(hb, { l: lease!.id, p: 0.25, m: 'a quarter' });
    expect(new Date(one.heartbeatTask.expiresAt).getTime()).toBeGreaterThan(new Date(lease!.expiresAt).getTime());
    const two = await s.data(hb, { l: lease!.id, p: 0.5, m: 'half' });
    expect(two.heartbeatTask.task).toEqual({ progress: 0.5, progressMessage: 'half' });
    expect((await sub.next()).data?.taskUpdated).toEqual({ task: { progress: null, progressMessage: null }, previousStatus: 'QUEUED' });
    expect((await sub.next()).data?.taskUpdated).toEqual({ task: { progress: 0.25, progressMessage: 'a quarter' }, previousStatus: 'RUNNING' });
    const history = await s.data(`query($w: ID) { history(filter: { workflowId: $w, types: [TASK_PROGRESS] }) { edges { node { data } } } }`, { w: w.id });
    expect(history.history.edges).toHaveLength(1); // the second report fell inside the throttle window
    for (const p of [-0.1, 1.5]) {
      const bad = await s.gql(hb, { l: lease!.id, p });
      expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    await complete(s, lease!.id, {});
    expect(sub.received.length).toBe(2);
    await client.dispose();
  });

  it('never gives one task to two agents claiming at the same time', async () => {
    const agents = [await registerAgent(s, 'racer-1', ['cap.race'], 50), await registerAgent(s, 'racer-2', ['cap.race'], 50)];
    const w = await startWorkflow(s, { name: 'race', steps: steps(300, 'cap.race') });
    const taken = new Map<string, string>();
    const doubles: string[] = [];
    await Promise.all(
      agents.map(async (agent) => {
        for (;;) {
          const leases = await claim(s, agent, 50);
          if (leases.length === 0) {
            const left = (await getWorkflow(s, w.id)).progress;
            if (left.queued === 0 && left.running === 0) return;
            continue;
          }
          for (const l of leases) {
            if (taken.has(l.task.id)) doubles.push(l.task.id);
            taken.set(l.task.id, agent);
          }
          await Promise.all(leases.map((l) => complete(s, l.id, { by: agent })));
        }
      }),
    );
    expect(doubles).toEqual([]);
    expect(taken.size).toBe(300);
    expect(new Set(taken.values()).size).toBe(2); // both did work
    const done = await waitForWorkflow(s, w.id);
    expect(done.status).toBe('COMPLETED');
    expect(done.quality.total).toBe(300);
    const started = await s.data(`query($w: ID) { history(filter: { workflowId: $w, types: [TASK_STARTED] }, first: 500) { edges { node { taskId } } } }`, { w: w.id });
    expect(new Set(started.history.edges.map((e: any) => e.node.taskId)).size).toBe(300);
    expect(started.history.edges).toHaveLength(300);
  });

  it('never gives an agent more than its concurrency, however many claims it sends at once', async () => {
    const a = await registerAgent(s, 'greedy', ['cap.greedy'], 5);
    await startWorkflow(s, { name: 'greedy', steps: steps(20, 'cap.greedy') });
    const got = (await Promise.all(Array.from({ length: 8 }, () => claim(s, a, 5)))).flat();
    expect(got).toHaveLength(5);
    const status = await s.data(`query($id: ID!) { agent(id: $id) { runningTasks } }`, { id: a });
    expect(status.agent.runningTasks).toBe(5);
  });

  it('long-polls: waits for work and returns as soon as some is queued, or empty at the deadline', async () => {
    const a = await registerAgent(s, 'poller', ['cap.poll']);
    expect(await claim(s, a, 1, 200)).toEqual([]);
    const waiting = claim(s, a, 5, 30_000);
    await new Promise((r) => setTimeout(r, 100));
    await startWorkflow(s, { name: 'poll', steps: [{ key: 'p', capability: 'cap.poll' }] });
    const leases = await waiting;
    expect(leases.map((l) => l.task.key)).toEqual(['p']);
  });

  it('stops waiting when the long-polling client goes away, and claims nothing for it', async () => {
    const a = await registerAgent(s, 'goner', ['cap.gone']);
    const gone = new AbortController();
    const poll = fetch(s.url, {
      method: 'POST',
      signal: gone.signal,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `mutation($a: ID!) { claimTasks(agentId: $a, waitMs: 30000) { id } }`, variables: { a } }),
    }).catch(() => null);
    await new Promise((r) => setTimeout(r, 100));
    gone.abort();
    await poll;
    await new Promise((r) => setTimeout(r, 500)); // time for the server to see the socket close
    const w = await startWorkflow(s, { name: 'gone', steps: [{ key: 'g', capability: 'cap.gone' }] });
    await new Promise((r) => setTimeout(r, 300));
    expect((await getWorkflow(s, w.id)).tasks[0].status).toBe('QUEUED');
  });

  it('gives back, attempt unspent, what it claimed for a long-poll whose client left during the claim', async () => {
    // The window between "claimed" and "answered" is too short to hit over HTTP on purpose, so this
    // drives the same call the claimTasks resolver makes, with the request's signal firing mid-claim.
    const a = await registerAgent(s, 'left-mid-claim', ['cap.midclaim']);
    const other = await registerAgent(s, 'stays', ['cap.midclaim']);
    const w = await startWorkflow(s, { name: 'mid-claim', steps: [{ key: 'm', capability: 'cap.midclaim' }] });
    const left = new AbortController();
    const claiming = s.orchestrator.leases.claimWaiting(a, 1, 0, left.signal);
    left.abort(); // the claim transaction is already under way
    expect(await claiming).toEqual([]);
    expect((await getWorkflow(s, w.id)).tasks[0]).toMatchObject({ status: 'QUEUED', attempt: 0 });
    const leases = await claim(s, other);
    expect(leases).toMatchObject([{ attempt: 1, task: { key: 'm' } }]);
    expect((await complete(s, leases[0]!.id, { ok: 1 })).body.errors).toBeUndefined();
    expect((await getWorkflow(s, w.id)).status).toBe('COMPLETED');
  });

  it('answers a long-poll of a draining agent at once', async () => {
    const a = await registerAgent(s, 'drained-poller', ['cap.none']);
    await s.data(`mutation($id: ID!) { setAgentDraining(id: $id, draining: true) { status } }`, { id: a });
    // waitMs is the test's own timeout: sitting out the wait would fail the test.
    expect(await claim(s, a, 1, 60_000)).toEqual([]);
  });

  it('gives a draining agent nothing, and work again once it is undrained', async () => {
    const a = await registerAgent(s, 'drainee', ['cap.drain']);
    await startWorkflow(s, { name: 'drain', steps: [{ key: 'd', capability: 'cap.drain' }] });
    await s.data(`mutation($id: ID!) { setAgentDraining(id: $id, draining: true) { status } }`, { id: a });
    expect(await claim(s, a)).toEqual([]);
    await s.data(`mutation($id: ID!) { setAgentDraining(id: $id, draining: false) { status } }`, { id: a });
    expect((await claim(s, a)).map((l) => l.task.key)).toEqual(['d']);
  });

  it('pushes leases over taskAssigned up to the agent concurrency, and more as slots free', async () => {
    const a = await registerAgent(s, 'pushed', ['cap.push'], 2);
    const client = wsClient(s.wsUrl);
    const sub = subscribe<{ taskAssigned: Lease }>(client, `subscription($a: ID!) { taskAssigned(agentId: $a) { ${LEASE} } }`, { a });
    await startWorkflow(s, { name: 'push', steps: steps(3, 'cap.push') });
    const l1 = (await sub.next()).data!.taskAssigned;
    const l2 = (await sub.next()).data!.taskAssigned;
    expect([l1.task.key, l2.task.key]).toEqual(['t0', 't1']);
    await new Promise((r) => setTimeout(r, 200));
    expect(sub.received).toHaveLength(2); // the third waits for a free slot
    await complete(s, l1.id, {});
    const l3 = (await sub.next()).data!.taskAssigned;
    expect(l3.task.key).toBe('t2');
    expect(l3.agentId).toBe(a);
    await complete(s, l2.id, {});
    await complete(s, l3.id, {});
    const unknown = subscribe(client, `subscription { taskAssigned(agentId: "nobody") { id } }`);
    expect((await unknown.next()).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await client.dispose();
  });

  it('pushes work for capabilities an agent gains by registering again, without waiting for a timeout', async () => {
    const r = await s.data(`mutation { registerAgent(input: { name: "grower", capabilities: ["cap.old"] }) { token agent { id } } }`);
    const a = r.registerAgent.agent.id;
    const client = wsClient(s.wsUrl);
    const sub = subscribe<{ taskAssigned: Lease }>(client, `subscription($a: ID!) { taskAssigned(agentId: $a) { ${LEASE} } }`, { a });
    await new Promise((res) => setTimeout(res, 200)); // the subscription is waiting for work
    await s.data(`mutation($t: String) { registerAgent(input: { name: "grower", capabilities: ["cap.old", "cap.new"], token: $t }) { agent { id } } }`, {
      t: r.registerAgent.token,
    });
    await startWorkflow(s, { name: 'grown', steps: [{ key: 'n', capability: 'cap.new' }] });
    // The lease timeout is 30 s here: a wake-up that missed the new capability would time the test out.
    const lease = (await sub.next()).data!.taskAssigned;
    expect(lease).toMatchObject({ agentId: a, task: { key: 'n', capability: 'cap.new' } });
    await complete(s, lease.id, {});
    await client.dispose();
  });
});

describe('agent protocol: silent agents', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ LEASE_TIMEOUT_MS: '1000', SWEEP_INTERVAL_MS: '100' });
  });
  afterAll(() => s.stop());

  it('expires the lease of a silent agent (AGENT_LOST), retries the task elsewhere, and refuses the late result', async () => {
    const silent = await registerAgent(s, 'silent', ['cap.lost']);
    const w = await startWorkflow(s, { name: 'lost', steps: [{ key: 'l', capability: 'cap.lost', maxAttempts: 2, retryBackoffMs: 0 }] });
    const [stale] = await claim(s, silent);
    const rescuer = await registerAgent(s, 'rescuer', ['cap.lost']);
    const [fresh] = await claim(s, rescuer, 1, 10_000);
    expect(fresh).toBeDefined();
    expect(fresh!.attempt).toBe(2);
    const late = await complete(s, stale!.id, { from: 'silent' });
    expect(late.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    await complete(s, fresh!.id, { from: 'rescuer' });
    const done = await getWorkflow(s, w.id);
    expect(done.status).toBe('COMPLETED');
    expect(done.tasks[0]).toMatchObject({ output: { from: 'rescuer' }, errors: [{ type: 'AGENT_LOST' }], agent: { name: 'rescuer' } });
  });

  it('expires every lease of an agent that held more than one sweep transaction takes, and fails them all', async () => {
    const crowd = await registerAgent(s, 'crowd', ['cap.crowd'], 200);
    const w = await startWorkflow(s, { name: 'crowd', steps: Array.from({ length: 130 }, (_, i) => ({ key: `c${i}`, capability: 'cap.crowd' })) });
    let held = 0;
    while (held < 130) held += (await claim(s, crowd, 50)).length;
    const done = await waitForWorkflow(s, w.id);
    expect(done.status).toBe('FAILED');
    expect(done.tasks).toHaveLength(130);
    for (const t of done.tasks) expect(t).toMatchObject({ status: 'FAILED', errors: [{ type: 'AGENT_LOST' }] });
    expect((await s.data(`query($a: ID!) { agent(id: $a) { runningTasks } }`, { a: crowd })).agent.runningTasks).toBe(0);
  });

  it('marks a remote agent OFFLINE when it is not seen for the lease timeout, and ONLINE when it claims again', async () => {
    const a = await registerAgent(s, 'sleepy', ['cap.sleepy']);
    const client = wsClient(s.wsUrl);
    const sub = subscribe(client, `subscription($a: ID) { agentUpdated(agentId: $a) { status } }`, { a });
    await s.waitForListeners('agent', 1);
    expect((await sub.next()).data?.agentUpdated.status).toBe('OFFLINE');
    await claim(s, a);
    expect((await sub.next()).data?.agentUpdated.status).toBe('ONLINE');
    await client.dispose();
  });
});

// On PGlite work is claimed for connected agents in the transaction that makes it ready (with
// PostgreSQL they claim in a transaction of their own, a moment later).
describe('agent protocol: push dispatch on PGlite', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(PGLITE_ONLY);
  });
  afterAll(() => s.stop());

  it('has a connected agent hold work by the time the call that made it ready answers, in dispatch order', async () => {
    const a = await registerAgent(s, 'instant', ['cap.instant'], 2);
    const client = wsClient(s.wsUrl);
    const sub = subscribe<{ taskAssigned: Lease }>(client, `subscription($a: ID!) { taskAssigned(agentId: $a) { ${LEASE} } }`, { a });
    await new Promise((res) => setTimeout(res, 200)); // the subscription is waiting for work
    const w = await startWorkflow(s, {
      name: 'instant',
      steps: [
        { key: 'x', capability: 'cap.instant' },
        { key: 'y', capability: 'cap.instant' },
        { key: 'z', capability: 'cap.instant' },
        { key: 'after', capability: 'cap.instant', dependsOn: ['x'] },
      ],
    });
    // When startWorkflow answers, the agent already holds as many as it may run: no wake-up, no second transaction.
    const started = await getWorkflow(s, w.id);
    expect(started.status).toBe('RUNNING');
    expect(started.tasks.map((t: { key: string; status: string }) => [t.key, t.status])).toEqual([
      ['x', 'RUNNING'],
      ['y', 'RUNNING'],
      ['z', 'QUEUED'],
      ['after', 'PENDING'],
    ]);
    const x = (await sub.next()).data!.taskAssigned;
    const y = (await sub.next()).data!.taskAssigned;
    expect([x.task.key, y.task.key]).toEqual(['x', 'y']);
    // Completing x frees a slot and makes `after` ready: that transaction claims for the agent too,
    // in dispatch order (z waited longer), so z is running when completeTask answers.
    await complete(s, x.id, {});
    expect((await getWorkflow(s, w.id)).tasks.map((t: { status: string }) => t.status)).toEqual(['COMPLETED', 'RUNNING', 'RUNNING', 'QUEUED']);
    const next = (await sub.next()).data!.taskAssigned;
    expect(next.task).toMatchObject({ key: 'z', status: 'RUNNING' });
    for (const lease of [y, next]) await complete(s, lease.id, {});
    const last = (await sub.next()).data!.taskAssigned;
    await complete(s, last.id, {});
    expect((await getWorkflow(s, w.id)).status).toBe('COMPLETED');
    await client.dispose();
  });

  it('writes the ready tasks of a start already leased to a waiting agent, in dispatch order, recorded and announced as claimed', async () => {
    const a = await registerAgent(s, 'eager', ['cap.eager'], 2);
    const client = wsClient(s.wsUrl);
    const sub = subscribe<{ taskAssigned: Lease }>(client, `subscription($a: ID!) { taskAssigned(agentId: $a) { ${LEASE} } }`, { a });
    const tasks = subscribe<{ taskUpdated: { task: { key: string; status: string }; previousStatus: string | null } }>(
      client,
      `subscription { taskUpdated { task { key status } previousStatus } }`,
    );
    const workflows = subscribe<{ workflowUpdated: { workflow: { status: string }; previousStatus: string | null } }>(
      client,
      `subscription { workflowUpdated { workflow { status } previousStatus } }`,
    );
    await s.waitForListeners('task', 1);
    await s.waitForListeners('workflow', 1);
    await new Promise((res) => setTimeout(res, 200)); // the agent's subscription is waiting for work
    const w = await startWorkflow(s, {
      name: 'eager',
      steps: [
        { key: 'low', capability: 'cap.eager', priority: 0 },
        { key: 'mid', capability: 'cap.eager', priority: 1 },
        { key: 'high', capability: 'cap.eager', priority: 5 },
        { key: 'after', capability: 'cap.eager', dependsOn: ['high'] },
      ],
    });
    // Answered RUNNING: the start and its leases are one transaction.
    expect(w.status).toBe('RUNNING');
    const first = (await sub.next()).data!.taskAssigned;
    const second = (await sub.next()).data!.taskAssigned;
    expect([first.task.key, second.task.key]).toEqual(['high', 'mid']);
    expect(first).toMatchObject({ agentId: a, attempt: 1, task: { status: 'RUNNING' } });
    const read = await s.data(
      `query($w: ID!, $a: ID!) { workflow(id: $w) { status startedAt tasks { key status attempt agent { id } } } agent(id: $a) { status runningTasks } }`,
      { w: w.id, a },
    );
    expect(read.workflow.startedAt).not.toBeNull();
    expect(read.workflow.tasks.map((t: { key: string; status: string }) => [t.key, t.status])).toEqual([
      ['low', 'QUEUED'],
      ['mid', 'RUNNING'],
      ['high', 'RUNNING'],
      ['after', 'PENDING'],
    ]);
    expect(read.workflow.tasks[2]).toMatchObject({ attempt: 1, agent: { id: a } });
    expect(read.agent).toEqual({ status: 'BUSY', runningTasks: 2 });
    // Recorded and announced as a claim is: queued, then started by the agent; the workflow PENDING, then RUNNING.
    const history = await s.data(`query($t: ID!) { history(filter: { taskId: $t }) { edges { node { type agentId } } } }`, { t: first.task.id });
    expect(history.history.edges.map((e: { node: { type: string; agentId: string | null } }) => e.node)).toEqual([
      { type: 'TASK_QUEUED', agentId: null },
      { type: 'TASK_STARTED', agentId: a },
    ]);
    const seen: string[] = [];
    while (seen.length < 6) {
      const e = (await tasks.next()).data!.taskUpdated;
      seen.push(`${e.task.key}:${e.previousStatus}>${e.task.status}`);
    }
    expect(seen).toEqual(['low:null>QUEUED', 'mid:null>QUEUED', 'high:null>QUEUED', 'after:null>PENDING', 'high:QUEUED>RUNNING', 'mid:QUEUED>RUNNING']);
    const wf = [(await workflows.next()).data!.workflowUpdated, (await workflows.next()).data!.workflowUpdated];
    expect(wf.map((e) => `${e.previousStatus}>${e.workflow.status}`)).toEqual(['null>PENDING', 'PENDING>RUNNING']);
    // The lease works as any other.
    expect((await complete(s, first.id, { ok: true })).body.errors).toBeUndefined();
    // The freed slot goes in dispatch order: `low` (queued first) before `after` (made ready by that completion).
    expect((await sub.next()).data!.taskAssigned.task.key).toBe('low');
    await client.dispose();
  });

  it('gives an agent no more than its concurrency at a start, however many subscriptions it has', async () => {
    const a = await registerAgent(s, 'twice', ['cap.twice'], 2);
    const client = wsClient(s.wsUrl);
    const query = `subscription($a: ID!) { taskAssigned(agentId: $a) { ${LEASE} } }`;
    const subs = [subscribe<{ taskAssigned: Lease }>(client, query, { a }), subscribe<{ taskAssigned: Lease }>(client, query, { a })];
    await new Promise((res) => setTimeout(res, 200)); // both subscriptions are waiting for work
    const w = await startWorkflow(s, { name: 'twice', steps: steps(4, 'cap.twice') });
    const read = await s.data(`query($w: ID!, $a: ID!) { workflow(id: $w) { tasks { status } } agent(id: $a) { runningTasks } }`, { w: w.id, a });
    expect(read.workflow.tasks.map((t: { status: string }) => t.status)).toEqual(['RUNNING', 'RUNNING', 'QUEUED', 'QUEUED']);
    expect(read.agent.runningTasks).toBe(2);
    await new Promise((res) => setTimeout(res, 200));
    expect(subs[0]!.received.length + subs[1]!.received.length).toBe(2);
    await client.dispose();
  });
});
