// Hostile and malformed input over every surface: the GraphQL-over-HTTP audits, oversized bodies,
// garbage on the WebSocket, query depth and complexity, and no stack trace anywhere.
import { serverAudits } from 'graphql-http';
import WebSocket from 'ws';
import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

function rawSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const closeCode = (ws: WebSocket) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

describe('hostile and malformed input', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ MAX_BODY_BYTES: '65536', MAX_QUERY_DEPTH: '6', MAX_QUERY_COMPLEXITY: '500' });
  });
  afterAll(() => s.stop());

  const stillServing = async () => {
    expect((await s.data(`{ status { status } }`)).status.status).toEqual(expect.any(String));
  };

  it('passes every MUST of the graphql-http server audits', async () => {
    const results = [];
    for (const audit of serverAudits({ url: s.url, fetchFn: fetch })) results.push(await audit.fn());
    const failedMust = results.filter((r) => r.name.startsWith('MUST') && r.status !== 'ok');
    expect(failedMust.map((r) => `${r.name}: ${'reason' in r ? r.reason : ''}`)).toEqual([]);
    expect(results.filter((r) => r.name.startsWith('MUST')).length).toBeGreaterThanOrEqual(10);
  });

  it('answers 413 with a JSON error for a body over MAX_BODY_BYTES, and 400 for malformed JSON', async () => {
    const big = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ cacheEntry(key: "${'x'.repeat(70_000)}") { key } }` }),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ errors: [{ message: 'request body is too large', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    const broken = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": "{ status' });
    expect(broken.status).toBe(400);
    const text = await broken.text();
    expect(JSON.parse(text).errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(text).not.toMatch(/\n\s+at |stacktrace/);
    await stillServing();
  });

  it.each([
    ['text that is not JSON', 'this is not json', 4400],
    ['a message of an unknown type', JSON.stringify({ type: 'gimme' }), 4400],
    ['a subscribe before connection_init', JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ status { status } }' } }), 4401],
  ])('closes a WebSocket that sends %s with its graphql-ws close code, and nobody else notices', async (_label, message, code) => {
    const bystander = wsClient(s.wsUrl);
    const watching = subscribe(bystander, `subscription { errorRecorded { message } }`);
    await s.waitForListeners('error', 1);
    const ws = await rawSocket(s.wsUrl);
    const closed = closeCode(ws);
    ws.send(message);
    expect(await closed).toBe(code);
    await s.data(`mutation { recordError(input: { type: NETWORK, severity: LOW, message: "still here" }) { id } }`);
    expect((await watching.next()).data?.errorRecorded).toEqual({ message: 'still here' });
    await bystander.dispose();
    await stillServing();
  });

  it('closes a WebSocket whose message is larger than MAX_BODY_BYTES (1009)', async () => {
    const ws = await rawSocket(s.wsUrl);
    const closed = closeCode(ws);
    ws.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(70_000) } }));
    expect(await closed).toBe(1009);
    await stillServing();
  });

  it('refuses a query deeper than MAX_QUERY_DEPTH before running it, over HTTP and WebSocket', async () => {
    const deep = `{ workflows { edges { node { tasks { workflow { tasks { agent { quality { score } } } } } } } } }`;
    const http = await s.gql(deep);
    expect(http.status).toBe(400);
    expect(http.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_DEEP');
    const client = wsClient(s.wsUrl);
    const sub = subscribe(client, `subscription { taskUpdated { task { workflow { tasks { workflow { tasks { key } } } } } } }`);
    expect((await sub.next()).errors?.[0]?.extensions?.code).toBe('QUERY_TOO_DEEP');
    await client.dispose();
  });

  it('refuses a query that is too complex before running it, and writes nothing', async () => {
    const wide = await s.gql(`{ errorRecords(first: 500) { edges { node { id message summary context } } } }`);
    expect(wide.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    const before = (await s.data(`{ agents { id } }`)).agents.length;
    const aliases = Array.from({ length: 60 }, (_, i) => `a${i}: registerAgent(input: { name: "n${i}", capabilities: ["x"] }) { agent { id name capabilities status quality { score total } } }`);
    const many = await s.gql(`mutation { ${aliases.join(' ')} }`);
    expect(many.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect((await s.data(`{ agents { id } }`)).agents.length).toBe(before);
    const client = wsClient(s.wsUrl);
    const sub = subscribe(client, `subscription { agentUpdated { ${Array.from({ length: 120 }, (_, i) => `q${i}: quality { score total succeeded partial failed }`).join(' ')} } }`);
    expect((await sub.next()).errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    await client.dispose();
  });

  it('judges the same query text by the paging values it is given, each time', async () => {
    const query = `query($n: Int!) { errorRecords(first: $n) { edges { node { id message summary context } } } }`;
    const code = async (n: unknown) => (await s.gql(query, { n })).body.errors?.[0]?.extensions?.code ?? 'OK';
    expect(await code(5)).toBe('OK');
    expect(await code(500)).toBe('QUERY_TOO_COMPLEX');
    expect(await code(5)).toBe('OK');
    expect(await code('five')).toBe('BAD_USER_INPUT');
    expect(await code(500)).toBe('QUERY_TOO_COMPLEX');
    expect(await code(6)).toBe('OK');
    // Left out, the default (500) applies; given as null, it does not: two different verdicts.
    const defaulted = `query($n: Int = 500) { errorRecords(first: $n) { edges { node { id message summary context } } } }`;
    expect((await s.gql(defaulted, {})).body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect((await s.gql(defaulted, { n: null })).body.errors?.[0]?.extensions?.code).not.toBe('QUERY_TOO_COMPLEX');
  });

  it('judges the same query text by the @skip and @include values it is given, each time', async () => {
    const wide = `errorRecords(first: 500) { edges { node { id message summary context } } }`;
    const query = `query($lean: Boolean!) { status { status } ${wide.replace(' {', ' @skip(if: $lean) {')} }`;
    const code = async (lean: boolean) => (await s.gql(query, { lean })).body.errors?.[0]?.extensions?.code ?? 'OK';
    expect(await code(true)).toBe('OK');
    expect(await code(false)).toBe('QUERY_TOO_COMPLEX');
    const included = `query($all: Boolean!) { status { status } ${wide.replace(' {', ' @include(if: $all) {')} }`;
    expect((await s.gql(included, { all: false })).body.errors).toBeUndefined();
    expect((await s.gql(included, { all: true })).body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('answers 415 with a JSON error for a body in an encoding it cannot read', async () => {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'compress' },
      body: JSON.stringify({ query: '{ status { status } }' }),
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    await stillServing();
  });

  it('gives a syntax error the same code over WebSocket as over HTTP', async () => {
    const client = wsClient(s.wsUrl);
    const sub = subscribe(client, `subscription { agentUpdated { `);
    expect((await sub.next()).errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect((await s.gql(`{ status { `)).body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    await client.dispose();
  });

  it('never sends a stack trace, whatever the mistake', async () => {
    for (const query of [
      `mutation { registerAgent(input: { name: "", capabilities: ["a"] }) { token } }`,
      `mutation { deregisterAgent(id: "nobody") }`,
      `{ status { `,
      `{ nope }`,
      `query($n: Int!) { errorRecords(first: $n) { totalCount } }`,
    ]) {
      const r = await s.gql(query, { n: 'not a number' });
      const text = JSON.stringify(r.body);
      expect(r.body.errors?.[0]?.extensions?.code).toEqual(expect.any(String));
      expect(text).not.toMatch(/stacktrace|\\n\s+at |\.ts:\d+/);
    }
    const codes = await Promise.all([
      s.gql(`mutation { registerAgent(input: { name: "", capabilities: ["a"] }) { token } }`),
      s.gql(`mutation { deregisterAgent(id: "nobody") }`),
      s.gql(`{ status { `),
    ]);
    expect(codes.map((c) => c.body.errors?.[0]?.extensions?.code)).toEqual(['BAD_USER_INPUT', 'NOT_FOUND', 'GRAPHQL_PARSE_FAILED']);
  });
});
