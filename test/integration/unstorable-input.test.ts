// Text storage cannot hold (NUL, lone surrogates) and JSON nested deep enough to overflow the
// stack, sent to every argument that takes text or JSON, over HTTP and WebSocket: refused as
// BAD_USER_INPUT naming the argument, nothing written, and the server still answers.
import WebSocket from 'ws';
import { claim, registerAgent, startWorkflow } from '../helpers/engine';
import { startTestServer, type TestServer } from '../helpers/server';

/** Stands for a value spliced into the request's JSON text (JSON.stringify of it would overflow). */
const SPLICE = '__SPLICED__';

interface Answer {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: Record<string, any> }[];
}

/** The request's JSON text, with the spliced value in place of the SPLICE placeholder. */
function requestText(query: string, variables: Record<string, unknown>, spliced?: string): string {
  const text = JSON.stringify({ query, variables });
  return spliced === undefined ? text : text.replace(`"${SPLICE}"`, spliced);
}

async function overHttp(s: TestServer, body: string): Promise<Answer> {
  const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return (await res.json()) as Answer;
}

/** One operation on a fresh graphql-ws connection, sent as raw text; its first result or error. */
function overWebSocket(s: TestServer, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(s.wsUrl, 'graphql-transport-ws');
    const timer = setTimeout(() => reject(new Error('no answer over WebSocket')), 10_000);
    const done = (a: Answer) => {
      clearTimeout(timer);
      ws.close();
      resolve(a);
    };
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw));
      if (m.type === 'connection_ack') ws.send(`{"id":"1","type":"subscribe","payload":${body}}`);
      else if (m.type === 'next') done(m.payload);
      else if (m.type === 'error') done({ errors: m.payload });
    });
    ws.once('close', (code) => done({ errors: [{ message: `closed ${code}`, extensions: { code: `CLOSED_${code}` } }] }));
  });
}

const TRANSPORTS = [
  ['HTTP', overHttp],
  ['WebSocket', overWebSocket],
] as const;

const BAD_TEXT = [
  ['a NUL', 'a\u0000b', /NUL character \(U\+0000\)/],
  ['a lone high surrogate', 'a\ud800b', /lone surrogate \(U\+D800\)/],
  ['a lone low surrogate', '\udc00', /lone surrogate \(U\+DC00\)/],
] as const;

const REGISTER = `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { token } }`;
const START = `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`;
const step = (extra: Record<string, unknown> = {}) => ({ key: 'a', capability: 'cap', ...extra });
const ERROR = (extra: Record<string, unknown>) => ({ type: 'AGENT_FAILURE', severity: 'LOW', message: 'm', ...extra });

/** What the server knows, to compare before and after: any write would change it. */
const SNAPSHOT = `query($t: ID!) {
  agents { name capabilities metadata status }
  workflows { totalCount } tasks { totalCount } errorRecords { totalCount }
  cacheEntries { key value }
  history(first: 500) { edges { node { id } } }
  task(id: $t) { status attempt output progress progressMessage }
}`;

describe('text that cannot be stored and JSON too deep to walk', () => {
  let s: TestServer;
  let leaseId: string;
  let taskId: string;
  let workflowId: string;
  let agentId: string;
  const snapshot = async () => s.data(SNAPSHOT, { t: taskId });

  beforeAll(async () => {
    s = await startTestServer();
    agentId = await registerAgent(s, 'worker', ['cap.x']);
    workflowId = (await startWorkflow(s, { name: 'wf', steps: [{ key: 'a', capability: 'cap.x' }] })).id;
    const [lease] = await claim(s, agentId);
    leaseId = lease!.id;
    taskId = lease!.task.id;
  });
  afterAll(() => s.stop());

  /** Each surface: its operation, its variables around the bad value, and the path the refusal names. */
  type Surface = [string, string, (bad: unknown) => Record<string, unknown>, string];
  const TEXT_SURFACES: Surface[] = [
    ['registerAgent name', REGISTER, (x) => ({ i: { name: x, capabilities: ['c'] } }), 'input.name'],
    ['registerAgent capability', REGISTER, (x) => ({ i: { name: 'n', capabilities: ['c', x] } }), 'input.capabilities[1]'],
    ['registerAgent token', REGISTER, (x) => ({ i: { name: 'worker', capabilities: ['c'], token: x } }), 'input.token'],
    ['registerAgent metadata value', REGISTER, (x) => ({ i: { name: 'n', capabilities: ['c'], metadata: { k: [x] } } }), 'input.metadata.k[0]'],
    ['registerAgent metadata key', REGISTER, (x) => ({ i: { name: 'n', capabilities: ['c'], metadata: { [x as string]: 1 } } }), 'input.metadata['],
    ['startWorkflow name', START, (x) => ({ i: { name: x, steps: [step()] } }), 'input.name'],
    ['startWorkflow input', START, (x) => ({ i: { name: 'w', input: { a: x }, steps: [step()] } }), 'input.input.a'],
    ['startWorkflow idempotencyKey', START, (x) => ({ i: { name: 'w', idempotencyKey: x, steps: [step()] } }), 'input.idempotencyKey'],
    ['startWorkflow step key', START, (x) => ({ i: { name: 'w', steps: [step({ key: x })] } }), 'input.steps[0].key'],
    ['startWorkflow step capability', START, (x) => ({ i: { name: 'w', steps: [step({ capability: x })] } }), 'input.steps[0].capability'],
    ['startWorkflow step name', START, (x) => ({ i: { name: 'w', steps: [step({ name: x })] } }), 'input.steps[0].name'],
    ['startWorkflow step input', START, (x) => ({ i: { name: 'w', steps: [step({ input: { q: x } })] } }), 'input.steps[0].input.q'],
    ['startWorkflow dependsOn', START, (x) => ({ i: { name: 'w', steps: [step(), step({ key: 'b', dependsOn: [x] })] } }), 'input.steps[1].dependsOn[0]'],
    ['setCache key', `mutation($k: String!) { setCache(key: $k, value: 1) { key } }`, (x) => ({ k: x }), 'key'],
    ['setCache value', `mutation($v: JSON!) { setCache(key: "k", value: $v) { key } }`, (x) => ({ v: x }), 'value'],
    ['cacheEntry key', `query($k: String!) { cacheEntry(key: $k) { key } }`, (x) => ({ k: x }), 'key'],
    ['cacheEntries prefix', `query($k: String) { cacheEntries(prefix: $k) { key } }`, (x) => ({ k: x }), 'prefix'],
    ['deleteCache key', `mutation($k: String!) { deleteCache(key: $k) }`, (x) => ({ k: x }), 'key'],
    ['clearCache prefix', `mutation($k: String) { clearCache(prefix: $k) }`, (x) => ({ k: x }), 'prefix'],
    ['recordError message', `mutation($e: ErrorRecordInput!) { recordError(input: $e) { id } }`, (x) => ({ e: ERROR({ message: x }) }), 'input.message'],
    ['recordError context', `mutation($e: ErrorRecordInput!) { recordError(input: $e) { id } }`, (x) => ({ e: ERROR({ context: x }) }), 'input.context'],
    ['recordError workflowId', `mutation($e: ErrorRecordInput!) { recordError(input: $e) { id } }`, (x) => ({ e: ERROR({ workflowId: x }) }), 'input.workflowId'],
    ['agent id', `query($k: ID!) { agent(id: $k) { id } }`, (x) => ({ k: x }), 'id'],
    ['agentByName name', `query($k: String!) { agentByName(name: $k) { id } }`, (x) => ({ k: x }), 'name'],
    ['agents capability filter', `query($k: String) { agents(filter: { capability: $k }) { id } }`, (x) => ({ k: x }), 'filter.capability'],
    ['workflow id', `query($k: ID!) { workflow(id: $k) { id } }`, (x) => ({ k: x }), 'id'],
    ['workflows name filter', `query($k: String) { workflows(filter: { name: $k }) { totalCount } }`, (x) => ({ k: x }), 'filter.name'],
    ['workflows after', `query($k: String) { workflows(after: $k) { totalCount } }`, (x) => ({ k: x }), 'after'],
    ['tasks capability filter', `query($k: String) { tasks(filter: { capability: $k }) { totalCount } }`, (x) => ({ k: x }), 'filter.capability'],
    ['errorRecords agentId filter', `query($k: ID) { errorRecords(filter: { agentId: $k }) { totalCount } }`, (x) => ({ k: x }), 'filter.agentId'],
    ['history taskId filter', `query($k: ID) { history(filter: { taskId: $k }) { edges { cursor } } }`, (x) => ({ k: x }), 'filter.taskId'],
    ['quality agentId', `query($k: ID) { quality(agentId: $k) { total } }`, (x) => ({ k: x }), 'agentId'],
    ['Workflow.task key', `query($w: ID!, $k: String!) { workflow(id: $w) { task(key: $k) { id } } }`, (x) => ({ w: workflowId, k: x }), 'key'],
    ['cancelWorkflow reason', `mutation($w: ID!, $k: String) { cancelWorkflow(id: $w, reason: $k) { id } }`, (x) => ({ w: workflowId, k: x }), 'reason'],
    ['cancelTask reason', `mutation($t: ID!, $k: String) { cancelTask(id: $t, reason: $k) { id } }`, (x) => ({ t: taskId, k: x }), 'reason'],
    ['claimTasks agentId', `mutation($k: ID!) { claimTasks(agentId: $k) { id } }`, (x) => ({ k: x }), 'agentId'],
    ['heartbeatTask message', `mutation($l: ID!, $k: String) { heartbeatTask(leaseId: $l, progress: 0.5, message: $k) { id } }`, (x) => ({ l: leaseId, k: x }), 'message'],
    ['heartbeatTask leaseId', `mutation($k: ID!) { heartbeatTask(leaseId: $k) { id } }`, (x) => ({ k: x }), 'leaseId'],
    ['completeTask output', `mutation($l: ID!, $o: JSON) { completeTask(leaseId: $l, output: $o) { id } }`, (x) => ({ l: leaseId, o: { r: x } }), 'output.r'],
    ['completeTasks output', `mutation($r: [TaskResultInput!]!) { completeTasks(results: $r) { leaseId } }`, (x) => ({ r: [{ leaseId, output: [x] }] }), 'results[0].output[0]'],
    ['failTask message', `mutation($l: ID!, $e: ErrorRecordInput!) { failTask(leaseId: $l, error: $e) { id } }`, (x) => ({ l: leaseId, e: ERROR({ message: x }) }), 'error.message'],
    ['failTask context', `mutation($l: ID!, $e: ErrorRecordInput!) { failTask(leaseId: $l, error: $e) { id } }`, (x) => ({ l: leaseId, e: ERROR({ context: { c: x } }) }), 'error.context.c'],
    ['taskAssigned agentId', `subscription($k: ID!) { taskAssigned(agentId: $k) { id } }`, (x) => ({ k: x }), 'agentId'],
    ['workflowUpdated workflowId', `subscription($k: ID) { workflowUpdated(workflowId: $k) { workflow { id } } }`, (x) => ({ k: x }), 'workflowId'],
  ];

  let before: Record<string, any>;
  beforeAll(async () => {
    before = await snapshot();
  });

  describe.each(TRANSPORTS)('over %s', (_name, send) => {
    // Subscriptions only go over WebSocket.
    const surfaces = TEXT_SURFACES.filter(([, query]) => send === overWebSocket || !query.startsWith('subscription'));
    it.each(surfaces)('refuses unstorable text in %s', async (_label, query, vars, path) => {
      // Every bad value is sent before any is judged: one that got through must show in the snapshot.
      const answers: Answer[] = [];
      for (const [, bad] of BAD_TEXT) answers.push(await send(s, requestText(query, vars(bad))));
      BAD_TEXT.forEach(([, , says], i) => {
        expect(answers[i]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(answers[i]?.errors?.[0]?.message).toMatch(says);
        expect(answers[i]?.errors?.[0]?.message).toContain(path);
      });
    });

    it('refuses unstorable text in a literal of the query too', async () => {
      const answer = await send(s, requestText(`mutation { setCache(key: "a\\u0000", value: { b: "\\u0000" }) { key } }`, {}));
      expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(answer.errors?.[0]?.message).toMatch(/^setCache: (key|value\.b) contains/);
    });
  });

  const DEPTH = 100_000;
  const DEEP = [
    ['arrays', `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`],
    ['objects', `${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}`],
  ] as const;
  const DEEP_SURFACES: Surface[] = [
    ['setCache value', `mutation($v: JSON!) { setCache(key: "deep", value: $v) { key } }`, (x) => ({ v: x }), 'value'],
    ['registerAgent metadata', REGISTER, (x) => ({ i: { name: 'deep', capabilities: ['c'], metadata: x } }), 'input.metadata'],
    ['startWorkflow input', START, (x) => ({ i: { name: 'w', input: x, steps: [step()] } }), 'input.input'],
    ['startWorkflow step input', START, (x) => ({ i: { name: 'w', steps: [step({ input: x })] } }), 'input.steps[0].input'],
    ['recordError context', `mutation($e: ErrorRecordInput!) { recordError(input: $e) { id } }`, (x) => ({ e: ERROR({ context: x }) }), 'input.context'],
    ['completeTask output', `mutation($l: ID!, $o: JSON) { completeTask(leaseId: $l, output: $o) { id } }`, (x) => ({ l: leaseId, o: x }), 'output'],
    ['completeTasks output', `mutation($r: [TaskResultInput!]!) { completeTasks(results: $r) { leaseId } }`, (x) => ({ r: [{ leaseId, output: x }] }), 'results[0].output'],
    ['failTask context', `mutation($l: ID!, $e: ErrorRecordInput!) { failTask(leaseId: $l, error: $e) { id } }`, (x) => ({ l: leaseId, e: ERROR({ context: x }) }), 'error.context'],
  ];

  describe.each(TRANSPORTS)('over %s', (_name, send) => {
    it.each(DEEP_SURFACES)('refuses JSON 100,000 levels deep in %s', async (_label, query, vars, path) => {
      for (const [, deep] of DEEP) {
        const answer = await send(s, requestText(query, vars(SPLICE), deep));
        expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(answer.errors?.[0]?.message).toContain(`${path} nests deeper than 64 levels`);
      }
    });
  });

  it('wrote nothing for any refusal, and still answers', async () => {
    expect(await snapshot()).toEqual(before);
    expect(before.task).toMatchObject({ status: 'RUNNING', output: null });
    expect((await s.data(`{ status { status } }`)).status.status).toEqual(expect.any(String));
  });

  it('takes JSON exactly MAX_JSON_DEPTH (64) deep, and refuses one level more', async () => {
    const nested = (n: number) => `${'['.repeat(n - 1)}{"x":1}${']'.repeat(n - 1)}`;
    const set = (n: number) => overHttp(s, requestText(`mutation($v: JSON!) { setCache(key: "d${n}", value: $v) { value } }`, { v: SPLICE }, nested(n)));
    expect((await set(64)).data?.setCache.value).toEqual(JSON.parse(nested(64)));
    expect((await set(65)).errors?.[0]).toMatchObject({ message: expect.stringContaining('value nests deeper than 64'), extensions: { code: 'BAD_USER_INPUT', field: 'value' } });
    await s.data(`mutation { deleteCache(key: "d64") }`);
  });

  it.each(TRANSPORTS)('refuses a deep value for a variable the query cost reads (first), over %s', async (_name, send) => {
    const answer = await send(s, requestText(`query($n: Int) { workflows(first: $n) { totalCount } }`, { n: SPLICE }, DEEP[0][1]));
    expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('answers a cached query whatever deep variables it is sent besides', async () => {
    const answer = await overHttp(s, requestText(`{ workflows { totalCount } }`, { unused: SPLICE }, DEEP[0][1]));
    expect(answer).toEqual({ data: { workflows: { totalCount: 1 } } });
  });
});
