// Who may connect and how much they may hold: what /healthz tells strangers, the Origin check on
// the WebSocket upgrade and CORS on /graphql, caps on connections and on subscriptions per socket,
// and the timeouts that close connections doing nothing.
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
