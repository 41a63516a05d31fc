// Who may connect and how much they may hold: what /healthz tells strangers, the Origin check on
// the WebSocket upgrade and CORS on /graphql, caps on connections and on subscriptions per socket,
// and the timeouts that close connections doing nothing.
import { startTestServer, type TestServer } from '../helpers/server';

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
