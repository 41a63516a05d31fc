// The query cache: a repeated read is answered from memory only while no data has changed since,
// so a client never reads an answer older than a change it (or the engine) has committed.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { CACHE_HEADER, ResponseCache } from '../../src/graphql/response-cache';
import { claim, complete, registerAgent, startWorkflow } from '../helpers/engine';
import { startTestServer, type TestServer } from '../helpers/server';
import { databaseUrl, PGLITE_ONLY } from '../helpers/database';

async function post(url: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { cache: res.headers.get(CACHE_HEADER), body: (await res.json()) as { data?: any; errors?: any[] } };
}

const WORKFLOW = `query($id: ID!) { workflow(id: $id) { status progress { queued running completed } tasks { key status output agent { name } } } }`;

describe('query cache (PGlite)', () => {
  let s: TestServer;
  beforeAll(async () => {
    // PGlite even when this run also tests PostgreSQL: only there can every change be counted.
    s = await startTestServer(PGLITE_ONLY);
  });
  afterAll(() => s.stop());

  it('answers a repeated query from memory until a change, and never with data older than the change', async () => {
    const agentId = await registerAgent(s, 'cache-worker', ['cache.work']);
    const wf = await startWorkflow(s, { name: 'cached', steps: [{ key: 'a', capability: 'cache.work' }] });
    const first = await post(s.url, WORKFLOW, { id: wf.id });
    expect(first.cache).toBe('MISS');
    expect(first.body.data.workflow.tasks).toEqual([{ key: 'a', status: 'QUEUED', output: null, agent: null }]);
    const again = await post(s.url, WORKFLOW, { id: wf.id });
    expect(again).toEqual({ ...first, cache: 'HIT' });

    // A claim through the API changes the task: the next read executes and sees it.
    const [lease] = await claim(s, agentId);
    const running = await post(s.url, WORKFLOW, { id: wf.id });
    expect(running.cache).toBe('MISS');
    expect(running.body.data.workflow.tasks[0]).toEqual({ key: 'a', status: 'RUNNING', output: null, agent: { name: 'cache-worker' } });
    expect(running.body.data.workflow.progress).toEqual({ queued: 0, running: 1, completed: 0 });

    expect((await complete(s, lease!.id, { n: 1 })).body.errors).toBeUndefined();
    const done = await post(s.url, WORKFLOW, { id: wf.id });
    expect(done.cache).toBe('MISS');
    expect(done.body.data.workflow).toMatchObject({ status: 'COMPLETED', tasks: [{ key: 'a', status: 'COMPLETED', output: { n: 1 } }] });
    expect((await post(s.url, WORKFLOW, { id: wf.id })).body).toEqual(done.body);
  });

  it('sees changes the engine makes on its own (built-in agents)', async () => {
    const wf = await startWorkflow(s, { name: 'slept', steps: [{ key: 'z', capability: 'builtin.sleep', input: { ms: 300 } }] });
    const seen = new Set<string>();
    // Poll as a dashboard would: every answer is the stored state at that moment, and the last one is final.
    let last: any;
    for (let i = 0; i < 300; i++) {
      last = (await post(s.url, WORKFLOW, { id: wf.id })).body.data.workflow;
      seen.add(last.status);
      if (last.status === 'COMPLETED') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen.has('RUNNING')).toBe(true);
    expect(last).toMatchObject({ status: 'COMPLETED', tasks: [{ key: 'z', status: 'COMPLETED', output: { sleptMs: 300 } }] });
  });

  it('keeps answers apart by variables and operation', async () => {
    const one = await startWorkflow(s, { name: 'one', steps: [{ key: 'x', capability: 'nobody.serves.this' }] });
    const two = await startWorkflow(s, { name: 'two', steps: [{ key: 'y', capability: 'nobody.serves.this' }] });
    const q = `query($id: ID!) { workflow(id: $id) { name } }`;
    expect((await post(s.url, q, { id: one.id })).body.data.workflow.name).toBe('one');
    expect((await post(s.url, q, { id: two.id })).body.data.workflow.name).toBe('two');
    expect(await post(s.url, q, { id: one.id })).toEqual({ cache: 'HIT', body: { data: { workflow: { name: 'one' } } } });
    const named = `query A { a: workflow(id: "${one.id}") { name } } query B { b: workflow(id: "${two.id}") { name } }`;
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: named, operationName: 'B' }),
    });
    expect(await res.json()).toEqual({ data: { b: { name: 'two' } } });
  });

  it('never caches errors, mutations, or reads of the clock and of this process', async () => {
    for (let i = 0; i < 2; i++) {
      const bad = await post(s.url, `{ tasks(after: "not a cursor") { totalCount } }`);
      expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(bad.cache).toBe('MISS');
    }
    for (const query of [`{ health { score } }`, `{ status { instanceId } }`, `{ workflows { totalCount } health { score } }`, `{ __typename }`]) {
      await post(s.url, query);
      expect((await post(s.url, query)).cache).toBeNull();
    }
    const mutation = await post(s.url, `mutation { setCache(key: "k", value: 1) { key } }`);
    expect(mutation.body.errors).toBeUndefined();
    expect(mutation.cache).toBeNull();
    // Cache entries expire with the clock: never kept.
    await post(s.url, `{ cacheEntry(key: "k") { value } }`);
    expect((await post(s.url, `{ cacheEntry(key: "k") { value } }`)).cache).toBeNull();
  });

  it('reports its hits and misses in /metrics', async () => {
    const metrics = await s.metrics();
    expect(Number(/^orchestrator_query_cache_hits_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^orchestrator_query_cache_misses_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  });
});

/** A repeated query gets no cache header at all from a server started with `env`. */
async function expectNoCache(env: Record<string, string>): Promise<void> {
  const s = await startTestServer(env);
  try {
    const q = `{ workflows { totalCount } }`;
    await post(s.url, q);
    expect((await post(s.url, q)).cache).toBeNull();
  } finally {
    await s.stop();
  }
}

it('is off with QUERY_CACHE_MB=0', () => expectNoCache({ ...PGLITE_ONLY, QUERY_CACHE_MB: '0' }));

// On PostgreSQL other instances write too.
(databaseUrl ? it : it.skip)('is off on PostgreSQL', () => expectNoCache({}));

it('does not keep an answer read while data changed', async () => {
  let changes = 0;
  let reads = 0;
  const cache = new ResponseCache(() => changes, 1024 * 1024);
  const server = new ApolloServer({
    typeDefs: `type Query { workflow: String }`,
    // The data changes while the answer is being read, as a commit between two statements would.
    resolvers: { Query: { workflow: () => (++reads === 1 ? (changes++, 'read mid-change') : `read ${reads}`) } },
    plugins: [cache.plugin()],
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  try {
    expect(await post(url, `{ workflow }`)).toEqual({ cache: 'MISS', body: { data: { workflow: 'read mid-change' } } });
    expect(await post(url, `{ workflow }`)).toEqual({ cache: 'MISS', body: { data: { workflow: 'read 2' } } });
    expect(await post(url, `{ workflow }`)).toEqual({ cache: 'HIT', body: { data: { workflow: 'read 2' } } });
    changes++;
    expect(await post(url, `{ workflow }`)).toEqual({ cache: 'MISS', body: { data: { workflow: 'read 3' } } });
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 3, entries: 1 });
  } finally {
    await server.stop();
  }
});
