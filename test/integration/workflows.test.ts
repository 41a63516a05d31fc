import { byKey, claim, complete, fail, getWorkflow, registerAgent, startWorkflow, waitForWorkflow } from '../helpers/engine';
import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

describe('workflows on the built-in agents', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ SWEEP_INTERVAL_MS: '100' });
  });
  afterAll(() => s.stop());

  it('runs a diamond DAG in dependency order, resolving $from into each input', async () => {
    const w = await startWorkflow(s, {
      name: 'diamond',
      input: { user: { name: 'ada' } },
      steps: [
        { key: 'top', capability: 'builtin.echo', input: { who: { $from: 'workflow.input.user.name' } } },
        { key: 'left', capability: 'builtin.echo', dependsOn: ['top'], input: { side: 'L', up: { $from: 'steps.top.output.who' } } },
        { key: 'right', capability: 'builtin.sleep', dependsOn: ['top'], input: { ms: 50 } },
        {
          key: 'bottom',
          capability: 'builtin.echo',
          dependsOn: ['left', 'right'],
          input: { l: { $from: 'steps.left.output' }, r: { $from: 'steps.right.output.sleptMs' }, deep: { $from: 'steps.top.output.who' }, missing: { $from: 'steps.left.output.nope' } },
        },
      ],
    });
    expect(w.status).toBe('PENDING');
    const done = await waitForWorkflow(s, w.id);
    expect(done.status).toBe('COMPLETED');
    const t = byKey(done);
    expect(t.bottom.input).toEqual({ l: { side: 'L', up: 'ada' }, r: 50, deep: 'ada', missing: null });
    expect(done.output).toEqual({ top: { who: 'ada' }, left: { side: 'L', up: 'ada' }, right: { sleptMs: 50 }, bottom: t.bottom.output });
    expect(done.progress).toMatchObject({ total: 4, completed: 4, fraction: 1 });
    expect(done.quality).toMatchObject({ score: 1, total: 4, succeeded: 4 });
    expect(t.right.agent).toEqual({ name: 'builtin.sleep' });
    expect(new Date(done.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(done.startedAt).getTime());

    const history = await s.data(`query($w: ID) { history(filter: { workflowId: $w }, first: 500) { edges { node { type taskId data } } } }`, { w: w.id });
    const events = history.history.edges.map((e: any) => e.node);
    const order = (type: string, key: string) => events.findIndex((e: any) => e.type === type && e.data?.key === key);
    expect(events[0].type).toBe('WORKFLOW_STARTED');
    expect(events.at(-1).type).toBe('WORKFLOW_FINISHED');
    expect(order('TASK_FINISHED', 'top')).toBeLessThan(order('TASK_QUEUED', 'left'));
    expect(order('TASK_FINISHED', 'left')).toBeLessThan(order('TASK_QUEUED', 'bottom'));
    expect(order('TASK_FINISHED', 'right')).toBeLessThan(order('TASK_QUEUED', 'bottom'));
    for (const type of ['TASK_QUEUED', 'TASK_STARTED', 'TASK_FINISHED']) {
      expect(events.filter((e: any) => e.type === type)).toHaveLength(4);
    }
  });

  it('fans out to 50 steps and back in', async () => {
    const fan = Array.from({ length: 50 }, (_, i) => ({ key: `f${i}`, capability: 'builtin.echo', dependsOn: ['start'], input: { i } }));
    const w = await startWorkflow(s, {
      name: 'fan',
      steps: [
        { key: 'start', capability: 'builtin.echo' },
        ...fan,
        { key: 'join', capability: 'builtin.echo', dependsOn: fan.map((f) => f.key), input: { last: { $from: 'steps.f49.output.i' } } },
      ],
    });
    const done = await waitForWorkflow(s, w.id);
    expect(done.status).toBe('COMPLETED');
    expect(byKey(done).join.output).toEqual({ last: 49 });
    expect(done.progress.completed).toBe(52);
  });

  it('ends FAILED when a required step fails, skipping its dependants, with the error on the task', async () => {
    const w = await startWorkflow(s, {
      name: 'fails',
      steps: [
        { key: 'ok', capability: 'builtin.echo' },
        { key: 'boom', capability: 'builtin.fail', input: { type: 'INVALID_OUTPUT', message: 'bad shape' } },
        { key: 'after', capability: 'builtin.echo', dependsOn: ['boom'] },
        { key: 'later', capability: 'builtin.echo', dependsOn: ['after', 'ok'] },
      ],
    });
    const done = await waitForWorkflow(s, w.id);
    const t = byKey(done);
    expect(done.status).toBe('FAILED');
    expect(t.boom).toMatchObject({ status: 'FAILED', outcome: 'FAILURE', attempt: 1, errors: [{ type: 'INVALID_OUTPUT' }] });
    expect(t.after.status).toBe('SKIPPED');
    expect(t.later.status).toBe('SKIPPED');
    expect(t.ok.status).toBe('COMPLETED');
    expect(done.errors).toEqual([{ type: 'INVALID_OUTPUT', taskId: t.boom.id }]);
    expect(done.quality).toMatchObject({ total: 2, succeeded: 1, failed: 1, score: 0.5 });
  });

  it('ends PARTIAL when a continueOnFailure step fails, and its dependants still run', async () => {
    const w = await startWorkflow(s, {
      name: 'partial',
      steps: [
        { key: 'flaky', capability: 'builtin.fail', continueOnFailure: true },
        { key: 'next', capability: 'builtin.echo', dependsOn: ['flaky'], input: { got: { $from: 'steps.flaky.output' } } },
      ],
    });
    const done = await waitForWorkflow(s, w.id);
    expect(done.status).toBe('PARTIAL');
    expect(byKey(done).next).toMatchObject({ status: 'COMPLETED', input: { got: null } });
  });

  it('retries a retryable failure with exponential backoff until attempts run out', async () => {
    const w = await startWorkflow(s, {
      name: 'retry',
      steps: [{ key: 'r', capability: 'builtin.fail', input: { type: 'NETWORK', retryable: true }, maxAttempts: 3, retryBackoffMs: 100 }],
    });
    const done = await waitForWorkflow(s, w.id);
    const t = byKey(done).r;
    expect(t).toMatchObject({ status: 'FAILED', attempt: 3 });
    expect(t.errors).toHaveLength(3);
    const history = await s.data(`query($w: ID) { history(filter: { workflowId: $w, types: [TASK_RETRIED, TASK_STARTED] }) { edges { node { type at data } } } }`, {
      w: w.id,
    });
    const events = history.history.edges.map((e: any) => e.node);
    const retried = events.filter((e: any) => e.type === 'TASK_RETRIED');
    expect(retried.map((e: any) => e.data.delayMs)).toEqual([100, 200]);
    const started = events.filter((e: any) => e.type === 'TASK_STARTED').map((e: any) => new Date(e.at).getTime());
    // Each new attempt starts no earlier than its backoff allows.
    expect(started[1]).toBeGreaterThanOrEqual(new Date(retried[0].data.availableAt).getTime());
    expect(started[2]).toBeGreaterThanOrEqual(new Date(retried[1].data.availableAt).getTime());
    expect(new Date(retried[1].data.availableAt).getTime() - new Date(retried[0].data.availableAt).getTime()).toBeGreaterThanOrEqual(200);
  });

  it('does not retry an error that is not retryable', async () => {
    const w = await startWorkflow(s, {
      name: 'no-retry',
      steps: [{ key: 'r', capability: 'builtin.fail', input: { type: 'VALIDATION', retryable: false }, maxAttempts: 3 }],
    });
    expect(byKey(await waitForWorkflow(s, w.id)).r).toMatchObject({ status: 'FAILED', attempt: 1 });
  });

  it('times out an attempt that runs past timeoutMs (TIMEOUT), then retries it', async () => {
    const w = await startWorkflow(s, {
      name: 'slow',
      steps: [{ key: 'nap', capability: 'builtin.sleep', input: { ms: 5000 }, timeoutMs: 200, maxAttempts: 2, retryBackoffMs: 10 }],
    });
    const done = await waitForWorkflow(s, w.id);
    const t = byKey(done).nap;
    expect(t.status).toBe('FAILED');
    expect(t.attempt).toBe(2);
    expect(t.errors.map((e: any) => e.type)).toEqual(['TIMEOUT', 'TIMEOUT']);
  });

  it('answers a start and announces its tasks with inputs exactly as every later read gives them', async () => {
    const client = wsClient(s.wsUrl);
    const queued = subscribe(client, `subscription { taskUpdated(statuses: [QUEUED]) { task { key input workflowId } } }`);
    await s.waitForListeners('task', 1);
    // Keys in an order the database does not keep (it orders them by length, then bytes).
    const input = { zz: 1, a: { yy: [{ ccc: 1, b: 2 }], b: 3 } };
    const stored = { a: { b: 3, yy: [{ b: 2, ccc: 1 }] }, zz: 1 };
    const started = await s.data(`mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id input tasks { key input } } }`, {
      i: { name: 'key-order', input, steps: [{ key: 'only', capability: 'nobody.takes.this', input }] },
    });
    const event = (await queued.next()).data?.taskUpdated.task;
    const read = await getWorkflow(s, started.startWorkflow.id);
    for (const seen of [started.startWorkflow.input, started.startWorkflow.tasks[0].input, event.input, read.input, read.tasks[0].input]) {
      expect(JSON.stringify(seen)).toBe(JSON.stringify(stored));
    }
    expect(event.workflowId).toBe(started.startWorkflow.id);
    await client.dispose();
  });

  it('returns the first workflow for a repeated idempotencyKey and writes nothing new', async () => {
    const input = { name: 'once', idempotencyKey: 'order-42', steps: [{ key: 'a', capability: 'builtin.echo' }] };
    const first = await startWorkflow(s, input);
    const second = await startWorkflow(s, { ...input, name: 'twice' });
    expect(second.id).toBe(first.id);
    expect(second.name).toBe('once');
    const list = await s.data(`{ workflows(filter: { name: "twice" }) { totalCount } }`);
    expect(list.workflows.totalCount).toBe(0);
  });

  it('answers each of many starts sent at once on its own: one workflow per idempotency key, bad input refused alone', async () => {
    const keyed = { name: 'burst-keyed', idempotencyKey: 'burst-1', steps: [{ key: 'k', capability: 'builtin.echo' }] };
    const answers = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) =>
        s.gql(`mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id name } }`, {
          i: { name: `burst-${i}`, steps: [{ key: 'a', capability: 'builtin.echo', input: { i } }, { key: 'b', capability: 'builtin.echo', dependsOn: ['a'], input: { $from: 'steps.a.output' } }] },
        }),
      ),
      s.gql(`mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id name } }`, { i: keyed }),
      s.gql(`mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id name } }`, { i: keyed }),
      s.gql(`mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id name } }`, { i: { name: 'burst-bad', steps: [] } }),
    ]);
    const started = answers.slice(0, 6).map((r) => r.body.data?.startWorkflow);
    expect(started.map((w) => w?.name)).toEqual(['burst-0', 'burst-1', 'burst-2', 'burst-3', 'burst-4', 'burst-5']);
    expect(new Set(started.map((w) => w?.id)).size).toBe(6);
    expect(answers[6]?.body.data?.startWorkflow.id).toBe(answers[7]?.body.data?.startWorkflow.id);
    expect(answers[8]?.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    for (const [i, w] of started.entries()) {
      const done = await waitForWorkflow(s, w.id);
      expect(byKey(done).b.output).toEqual({ i });
    }
    const list = await s.data(`{ workflows(filter: { name: "burst-keyed" }) { totalCount } }`);
    expect(list.workflows.totalCount).toBe(1);
  });

  it.each([
    ['no steps', { steps: [] }, 'at least one step'],
    ['a duplicate key', { steps: [{ key: 'a', capability: 'x' }, { key: 'a', capability: 'x' }] }, 'used twice'],
    ['an empty key', { steps: [{ key: '', capability: 'x' }] }, 'step key'],
    ['an unknown dependency', { steps: [{ key: 'a', capability: 'x', dependsOn: ['ghost'] }] }, 'unknown step "ghost"'],
    [
      'a cycle',
      { steps: [{ key: 'a', capability: 'x', dependsOn: ['c'] }, { key: 'b', capability: 'x', dependsOn: ['a'] }, { key: 'c', capability: 'x', dependsOn: ['b'] }] },
      'a -> c -> b -> a',
    ],
    ['maxAttempts 0', { steps: [{ key: 'a', capability: 'x', maxAttempts: 0 }] }, 'maxAttempts'],
    ['timeoutMs 0', { steps: [{ key: 'a', capability: 'x', timeoutMs: 0 }] }, 'timeoutMs'],
    ['$from to a step that is not upstream', { steps: [{ key: 'a', capability: 'x' }, { key: 'b', capability: 'x', input: { v: { $from: 'steps.a.output' } } }] }, 'not upstream'],
    ['$from to an unknown place', { steps: [{ key: 'a', capability: 'x', input: { v: { $from: 'env.HOME' } } }] }, 'must start with'],
    ['too many steps', { steps: Array.from({ length: 10_001 }, (_, i) => ({ key: `s${i}`, capability: 'x' })) }, 'at most 10000 steps'],
  ])('refuses %s with BAD_USER_INPUT, naming the problem, and writes nothing', async (_label, def, words) => {
    const before = (await s.data(`{ workflows { totalCount } tasks { totalCount } }`)) as any;
    const r = await s.gql(`mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, { i: { name: 'bad', ...def } });
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.message).toContain(words);
    expect(await s.data(`{ workflows { totalCount } tasks { totalCount } }`)).toEqual(before);
  });

  it('pages workflows newest first and tasks in creation order, with filters', async () => {
    const w = await startWorkflow(s, {
      name: 'paged',
      steps: Array.from({ length: 7 }, (_, i) => ({ key: `p${i}`, capability: 'nobody.has.this' })),
    });
    const keys: string[] = [];
    let after: string | null = null;
    for (;;) {
      const r: any = await s.data(
        `query($w: ID, $after: String) { tasks(filter: { workflowId: $w, statuses: [QUEUED] }, first: 3, after: $after) {
          totalCount edges { node { key } } pageInfo { hasNextPage endCursor } } }`,
        { w: w.id, after },
      );
      expect(r.tasks.totalCount).toBe(7);
      keys.push(...r.tasks.edges.map((e: any) => e.node.key));
      if (!r.tasks.pageInfo.hasNextPage) break;
      after = r.tasks.pageInfo.endCursor;
    }
    expect(keys).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    const newest = await s.data(`{ workflows(first: 1) { edges { node { id } } pageInfo { hasNextPage } } }`);
    expect(newest.workflows.edges[0].node.id).toBe(w.id);
    expect(newest.workflows.pageInfo.hasNextPage).toBe(true);
    const pending = await s.data(`{ workflows(filter: { statuses: [PENDING], name: "paged" }) { totalCount } }`);
    expect(pending.workflows.totalCount).toBe(1);
    const one = await s.data(`query($id: ID!) { workflow(id: $id) { task(key: "p3") { key status workflow { id } } } }`, { id: w.id });
    expect(one.workflow.task).toEqual({ key: 'p3', status: 'QUEUED', workflow: { id: w.id } });
    await s.data(`mutation($id: ID!) { cancelWorkflow(id: $id) { status } }`, { id: w.id });
  });
});

describe('cancel, retry and live updates with a remote agent', () => {
  let s: TestServer;
  let agent: string;
  beforeAll(async () => {
    s = await startTestServer({ SWEEP_INTERVAL_MS: '100' });
    agent = await registerAgent(s, 'remote-1', ['work'], 4);
  });
  afterAll(() => s.stop());

  it('pushes every transition of a task in order, with previousStatus, filtered on the server', async () => {
    const client = wsClient(s.wsUrl);
    const w = await startWorkflow(s, { name: 'live', steps: [{ key: 'x', capability: 'work' }, { key: 'y', capability: 'work', dependsOn: ['x'] }] });
    const forX = subscribe(client, `subscription($w: ID) { taskUpdated(workflowId: $w) { task { key status } previousStatus at } }`, { w: w.id });
    const finished = subscribe(client, `subscription($w: ID) { taskUpdated(workflowId: $w, statuses: [COMPLETED]) { task { key } } }`, { w: w.id });
    const wf = subscribe(client, `subscription($w: ID) { workflowUpdated(workflowId: $w) { workflow { status } previousStatus } }`, { w: w.id });
    const other = subscribe(client, `subscription { taskUpdated(workflowId: "someone-else") { task { key } } }`);
    await s.waitForListeners('task', 3);
    await s.waitForListeners('workflow', 1);

    const [lx] = await claim(s, agent);
    expect(lx?.task.key).toBe('x');
    await complete(s, lx!.id, { n: 1 });
    const [ly] = await claim(s, agent);
    await complete(s, ly!.id, { n: 2 }, 'PARTIAL');

    const seen = [];
    for (let i = 0; i < 5; i++) seen.push((await forX.next()).data?.taskUpdated);
    expect(seen.map((e: any) => [e.task.key, e.previousStatus, e.task.status])).toEqual([
      ['x', 'QUEUED', 'RUNNING'],
      ['x', 'RUNNING', 'COMPLETED'],
      ['y', 'PENDING', 'QUEUED'],
      ['y', 'QUEUED', 'RUNNING'],
      ['y', 'RUNNING', 'COMPLETED'],
    ]);
    expect((await finished.next()).data?.taskUpdated.task.key).toBe('x');
    expect((await finished.next()).data?.taskUpdated.task.key).toBe('y');
    expect((await wf.next()).data?.workflowUpdated).toEqual({ workflow: { status: 'RUNNING' }, previousStatus: 'PENDING' });
    expect((await wf.next()).data?.workflowUpdated).toEqual({ workflow: { status: 'PARTIAL' }, previousStatus: 'RUNNING' });
    expect(other.received).toEqual([]);
    await client.dispose();
  });

  it('cancels a workflow: unfinished tasks CANCELLED, the running lease goes stale', async () => {
    const w = await startWorkflow(s, { name: 'cancel-me', steps: [{ key: 'a', capability: 'work' }, { key: 'b', capability: 'work', dependsOn: ['a'] }] });
    const [lease] = await claim(s, agent);
    const r = await s.data(`mutation($id: ID!) { cancelWorkflow(id: $id, reason: "changed my mind") { status finishedAt tasks { key status } } }`, { id: w.id });
    expect(r.cancelWorkflow.status).toBe('CANCELLED');
    expect(r.cancelWorkflow.tasks.map((t: any) => t.status)).toEqual(['CANCELLED', 'CANCELLED']);
    const late = await complete(s, lease!.id, { too: 'late' });
    expect(late.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const again = await s.gql(`mutation($id: ID!) { cancelWorkflow(id: $id) { status } }`, { id: w.id });
    expect(again.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const history = await s.data(`query($w: ID) { history(filter: { workflowId: $w, types: [WORKFLOW_CANCELLED] }) { edges { node { data } } } }`, { w: w.id });
    expect(history.history.edges[0].node.data).toMatchObject({ reason: 'changed my mind' });
  });

  it('cancels one task: its dependants are SKIPPED and the workflow ends', async () => {
    const w = await startWorkflow(s, {
      name: 'cancel-task',
      steps: [
        { key: 'a', capability: 'work' },
        { key: 'b', capability: 'work', dependsOn: ['a'] },
      ],
    });
    const wf = await getWorkflow(s, w.id);
    const a = byKey(wf).a;
    const r = await s.data(`mutation($id: ID!) { cancelTask(id: $id) { status } }`, { id: a.id });
    expect(r.cancelTask.status).toBe('CANCELLED');
    const done = await getWorkflow(s, w.id);
    expect(byKey(done).b.status).toBe('SKIPPED');
    expect(done.status).toBe('FAILED');
    const again = await s.gql(`mutation($id: ID!) { cancelTask(id: $id) { status } }`, { id: a.id });
    expect(again.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const missing = await s.gql(`mutation { cancelTask(id: "nope") { status } }`);
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('retries the failed and skipped tasks of a finished workflow, keeping what completed', async () => {
    const w = await startWorkflow(s, {
      name: 'retry-me',
      steps: [
        { key: 'good', capability: 'work' },
        { key: 'bad', capability: 'work', dependsOn: ['good'] },
        { key: 'tail', capability: 'work', dependsOn: ['bad'], input: { g: { $from: 'steps.good.output' } } },
      ],
    });
    const running = await s.gql(`mutation($id: ID!) { retryWorkflow(id: $id) { status } }`, { id: w.id });
    expect(running.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    let [l] = await claim(s, agent);
    await complete(s, l!.id, { v: 'g' });
    [l] = await claim(s, agent);
    await fail(s, l!.id, { type: 'AGENT_FAILURE', retryable: false });
    let wf = await getWorkflow(s, w.id);
    expect(wf.status).toBe('FAILED');
    expect(byKey(wf).tail.status).toBe('SKIPPED');

    const retried = await s.data(`mutation($id: ID!) { retryWorkflow(id: $id) { status finishedAt } }`, { id: w.id });
    expect(retried.retryWorkflow).toEqual({ status: 'RUNNING', finishedAt: null });
    wf = await getWorkflow(s, w.id);
    expect(byKey(wf)).toMatchObject({ good: { status: 'COMPLETED' }, bad: { status: 'QUEUED', attempt: 0 }, tail: { status: 'PENDING' } });
    [l] = await claim(s, agent);
    expect(l!.task.key).toBe('bad');
    await complete(s, l!.id, {});
    [l] = await claim(s, agent);
    expect(l!.task).toMatchObject({ key: 'tail', input: { g: { v: 'g' } } });
    await complete(s, l!.id, {});
    expect((await getWorkflow(s, w.id)).status).toBe('COMPLETED');
    const nothing = await s.gql(`mutation($id: ID!) { retryWorkflow(id: $id) { status } }`, { id: w.id });
    expect(nothing.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });
});

describe('built-in agents under a concurrency limit', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ BUILTIN_CONCURRENCY: '3' });
  });
  afterAll(() => s.stop());

  it('never runs more than BUILTIN_CONCURRENCY tasks of an agent at once, refilling slots as results land', async () => {
    // A fan-out of 12 naps, each followed by an echo, then one echo joining them all.
    const naps = Array.from({ length: 12 }, (_, i) => ({ key: `nap${i}`, capability: 'builtin.sleep', input: { ms: 20 } }));
    const echoes = naps.map((n, i) => ({ key: `echo${i}`, capability: 'builtin.echo', dependsOn: [n.key], input: { i } }));
    const join = { key: 'join', capability: 'builtin.echo', dependsOn: echoes.map((e) => e.key), input: { last: { $from: 'steps.echo11.output.i' } } };
    const w = await startWorkflow(s, { name: 'limited', steps: [...naps, ...echoes, join] });
    const done = await waitForWorkflow(s, w.id);
    expect(done.status).toBe('COMPLETED');
    expect(byKey(done).join.output).toEqual({ last: 11 });
    const { history } = await s.data(
      `query($w: ID) { history(filter: { workflowId: $w, types: [TASK_STARTED, TASK_FINISHED] }, first: 500) { edges { node { type agentId data } } } }`,
      { w: w.id },
    );
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    const agentOf = new Map<string, string>();
    for (const { node } of history.edges) {
      if (node.type === 'TASK_STARTED') agentOf.set(node.data.key, node.agentId);
      const agent = agentOf.get(node.data.key) as string;
      running.set(agent, (running.get(agent) ?? 0) + (node.type === 'TASK_STARTED' ? 1 : -1));
      peak.set(agent, Math.max(peak.get(agent) ?? 0, running.get(agent) as number));
    }
    expect(history.edges.filter((e: any) => e.node.type === 'TASK_STARTED')).toHaveLength(25);
    expect([...peak.values()].every((p) => p <= 3)).toBe(true);
    expect(Math.max(...peak.values())).toBe(3); // and it does use its slots
  });
});
