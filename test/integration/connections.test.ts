// Who may connect and how much they may hold: what /healthz tells strangers, the Origin check on
// the WebSocket upgrade and CORS on /graphql, caps on connections and on subscriptions per socket,
// and the timeouts that close connections doing nothing.
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

/** Opens a WebSocket as a browser page at `origin` would (undefined: as a non-browser client, no Origin). */
function openSocket(url: string, origin?: string): Promise<{ ws: WebSocket } | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws', origin ? { headers: { origin } } : {});
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
    });
    ws.once('error', reject);
  });
}

/** A closed socket leaves the server's count a moment after the client sees it close: try until there is room. */
async function openWhenFree(url: string): Promise<WebSocket> {
  for (let i = 0; i < 100; i++) {
    const r = await openSocket(url);
    if ('ws' in r) return r.ws;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no room for a WebSocket within 2 s');
}

/** The ws WebSocket as the graphql-ws client constructs it, sending `origin` on the handshake. */
function socketFrom(origin: string) {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers: { origin } });
    }
  };
}

describe('/healthz', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it('tells anyone only that the process is up and its version, not its host or pid', async () => {
    const res = await fetch(s.url.replace(/\/graphql$/, '/healthz'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', version: 'test' });
    expect((await s.data(`{ status { instanceId } }`)).status.instanceId).toEqual(expect.any(String));
  });
});

describe('Origin check on the WebSocket and CORS on /graphql', () => {
  const APP = 'http://app.example';
  let s: TestServer;
  let own: string;
  beforeAll(async () => {
    s = await startTestServer({ CORS_ORIGINS: `${APP}, https://other.example:8443` });
    own = `http://127.0.0.1:${s.port}`;
  });
  afterAll(() => s.stop());

  it('refuses a WebSocket from a foreign page with 403 before it opens, so it can run nothing', async () => {
    expect(await openSocket(s.wsUrl, 'http://evil.example')).toEqual({ status: 403 });
    expect(await openSocket(s.wsUrl, 'null')).toEqual({ status: 403 });
    const client = wsClient(s.wsUrl, { webSocketImpl: socketFrom('http://evil.example') });
    const sub = subscribe(client, `mutation { recordError(input: { type: NETWORK, severity: LOW, message: "from evil" }) { id } }`);
    await sub.completed;
    expect(sub.received[0]?.data).toBeUndefined();
    expect((await s.data(`{ errorRecords(first: 10) { totalCount } }`)).errorRecords.totalCount).toBe(0);
    await client.dispose();
  });

  it.each([
    ['its own origin', () => own],
    ['an origin in CORS_ORIGINS', () => APP],
    ['no Origin at all (not a browser)', () => undefined],
  ])('lets %s open a WebSocket and run operations', async (_label, origin) => {
    const from = origin();
    const opened = await openSocket(s.wsUrl, from);
    expect('ws' in opened).toBe(true);
    if ('ws' in opened) opened.ws.close();
    const client = wsClient(s.wsUrl, from ? { webSocketImpl: socketFrom(from) } : {});
    const sub = subscribe(client, `{ status { status } }`);
    expect((await sub.next()).data?.status.status).toEqual(expect.any(String));
    await client.dispose();
  });

  const preflight = (origin: string) =>
    fetch(s.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });

  it('answers a preflight from a listed origin with CORS headers, and one from a foreign origin without', async () => {
    const ok = await preflight(APP);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    expect(ok.headers.get('access-control-allow-headers')).toContain('content-type');
    expect(ok.headers.get('vary')).toContain('Origin');
    expect((await preflight('https://other.example:8443')).headers.get('access-control-allow-origin')).toBe('https://other.example:8443');
    const foreign = await preflight('http://evil.example');
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(foreign.headers.get('access-control-allow-methods')).toBeNull();
    expect(foreign.headers.get('vary')).toContain('Origin');
  });

  it('lets a listed origin read answers over HTTP, and gives a foreign one no CORS header', async () => {
    const post = (origin: string) =>
      fetch(s.url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    const ok = await post(APP);
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(ok.headers.get('vary')).toContain('Origin');
    expect(await ok.json()).toEqual({ data: { __typename: 'Query' } });
    expect((await post('http://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('caps on connections and on subscriptions per WebSocket', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ MAX_WS_CONNECTIONS: '20', MAX_CONNECTIONS: '40', MAX_SUBSCRIPTIONS_PER_CONNECTION: '5' });
  });
  afterAll(() => s.stop());
  const healthz = () => fetch(s.url.replace(/\/graphql$/, '/healthz')).then((r) => r.status);

  // First in this block: no other connection is open yet, so the count is exact.
  it('drops connections beyond MAX_CONNECTIONS on accept, and takes new ones once some close', async () => {
    const sockets = await Promise.all(
      Array.from({ length: 45 }, () => new Promise<Socket>((resolve, reject) => {
        const c = connect(s.port, '127.0.0.1', () => resolve(c)).once('error', reject);
        c.resume();
      })),
    );
    // Node accepts the ones over the cap and closes them at once.
    await new Promise((r) => setTimeout(r, 300));
    expect(sockets.filter((c) => !c.closed).length).toBe(40);
    for (const c of sockets) c.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(await healthz()).toBe(200);
  });

  it('gives the operation after MAX_SUBSCRIPTIONS_PER_CONNECTION a RATE_LIMITED error; the others carry on', async () => {
    const client = wsClient(s.wsUrl);
    const subs = Array.from({ length: 5 }, () => subscribe(client, `subscription { errorRecorded { message } }`));
    await s.waitForListeners('error', 5);
    const sixth = subscribe(client, `subscription { errorRecorded { message } }`);
    const refused = await sixth.next();
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 5 });
    expect(refused.errors?.[0]?.message).toContain('MAX_SUBSCRIPTIONS_PER_CONNECTION');
    await s.data(`mutation { recordError(input: { type: NETWORK, severity: LOW, message: "one" }) { id } }`);
    for (const sub of subs) expect((await sub.next()).data?.errorRecorded).toEqual({ message: 'one' });
    // Completing one makes room on the same socket.
    await subs[0]!.close();
    const seventh = subscribe(client, `subscription { errorRecorded { message } }`);
    await s.waitForListeners('error', 5);
    await s.data(`mutation { recordError(input: { type: NETWORK, severity: LOW, message: "two" }) { id } }`);
    expect((await seventh.next()).data?.errorRecorded).toEqual({ message: 'two' });
    expect((await subs[1]!.next()).data?.errorRecorded).toEqual({ message: 'two' });
    await client.dispose();
  });

  it('refuses WebSockets beyond MAX_WS_CONNECTIONS with 503, and /healthz still answers', async () => {
    const open: WebSocket[] = [];
    for (let i = 0; i < 20; i++) open.push(await openWhenFree(s.wsUrl));
    // Initialised, so graphql-ws's init timeout does not free their places during the test.
    for (const ws of open) ws.send(JSON.stringify({ type: 'connection_init' }));
    const extra = await Promise.all(Array.from({ length: 20 }, () => openSocket(s.wsUrl)));
    expect(extra.map((r) => ('status' in r ? r.status : 'open'))).toEqual(Array.from({ length: 20 }, () => 503));
    expect(await healthz()).toBe(200);
    expect(await fetch(s.url.replace(/\/graphql$/, '/readyz')).then((r) => r.status)).toBe(200);
    open.pop()!.close();
    open.push(await openWhenFree(s.wsUrl));
    await Promise.all(open.map((ws) => new Promise((resolve) => ws.once('close', resolve).close())));
  });
});

describe('timeouts for connections that do nothing', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '300', WS_INIT_TIMEOUT_MS: '300' });
  });
  afterAll(() => s.stop());

  /** Connects, sends `text`, and resolves with what came back and when the server closed, or 'open' after `waitMs`. */
  const hold = (text: string, waitMs = 3000) =>
    new Promise<{ answer: string; afterMs: number } | 'open'>((resolve, reject) => {
      const started = Date.now();
      let answer = '';
      const c = connect(s.port, '127.0.0.1', () => c.write(text)).once('error', reject);
      c.on('data', (d) => (answer += String(d)));
      const timer = setTimeout(() => {
        c.destroy();
        resolve('open');
      }, waitMs);
      c.once('close', () => {
        clearTimeout(timer);
        resolve({ answer, afterMs: Date.now() - started });
      });
    });

  it('answers 408 and closes a connection that sends nothing within HTTP_HEADERS_TIMEOUT_MS', async () => {
    const r = await hold('');
    expect(r).not.toBe('open');
    if (r === 'open') return;
    expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(r.afterMs).toBeGreaterThanOrEqual(400);
  });

  it('answers 408 and closes a connection whose request head never ends, or whose body stops coming', async () => {
    expect(await hold('GET /healthz HTTP/1.1\r\nHost: x\r\n')).toMatchObject({ answer: expect.stringMatching(/^HTTP\/1\.1 408/) });
    const body = await hold('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":');
    expect(body).toMatchObject({ answer: expect.stringMatching(/^HTTP\/1\.1 408/) });
  });

  // Node waits about a second more than it advertises in Keep-Alive, so a client never reuses a connection being closed.
  it('closes an idle keep-alive connection after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    const r = await hold('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 2000);
    expect(r).toMatchObject({ answer: expect.stringMatching(/^HTTP\/1\.1 200/) });
  });

  it('lets a long-poll wait longer than HTTP_REQUEST_TIMEOUT_MS for its answer', async () => {
    const { registerAgent } = await s.data(`mutation { registerAgent(input: { name: "poller", capabilities: ["none.here"] }) { agent { id } } }`);
    const started = Date.now();
    const r = await s.gql(`mutation($a: ID!) { claimTasks(agentId: $a, waitMs: 1500) { id } }`, { a: registerAgent.agent.id });
    expect(r.body).toEqual({ data: { claimTasks: [] } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it('closes a WebSocket that never sends connection_init after WS_INIT_TIMEOUT_MS (4408)', async () => {
    const opened = await openSocket(s.wsUrl);
    if (!('ws' in opened)) throw new Error(`refused: ${opened.status}`);
    const started = Date.now();
    const code = await new Promise<number>((resolve) => opened.ws.once('close', (c) => resolve(c)));
    expect(code).toBe(4408);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
