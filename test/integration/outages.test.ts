// PostgreSQL or Redis going away and coming back, through a proxy the test cuts and restores.
import { backendEnv, databaseUrl, dropSchema, redisUrl } from '../helpers/database';
import { type CuttableProxy, tcpProxy } from '../helpers/proxy';
import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

const readyz = async (s: TestServer) => {
  const res = await fetch(s.url.replace(/graphql$/, 'readyz'));
  return { status: res.status, body: (await res.json()) as { status: string; storage: string; events: string } };
};

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
}

const viaProxy = (url: string, port: number) => {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
};

(redisUrl && databaseUrl ? describe : describe.skip)('when Redis drops', () => {
  const backend = backendEnv();
  let proxy: CuttableProxy;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    const r = new URL(redisUrl as string);
    proxy = await tcpProxy(r.hostname, Number(r.port || 6379));
    const env = { ...backend, REDIS_URL: viaProxy(redisUrl as string, proxy.port) };
    a = await startTestServer(env);
    b = await startTestServer(env);
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await proxy.close();
    await dropSchema(backend);
  });

  it('keeps serving, keeps local subscribers informed, and recovers when Redis returns', async () => {
    const onB = subscribe<any>(wsClient(b.wsUrl), `subscription { workflowUpdated { workflow { name status } } }`);
    const onA = subscribe<any>(wsClient(a.wsUrl), `subscription { workflowUpdated { workflow { name status } } }`);
    await b.waitForListeners('workflow', 1);
    await a.waitForListeners('workflow', 1);
    // A capability nobody serves: the only event of each workflow is its start, made on A.
    const start = (name: string) => a.data<any>(`mutation($n: String!) { startWorkflow(input: { name: $n, steps: [{ key: "k", capability: "nobody.serves.this" }] }) { id } }`, { n: name });

    await start('before');
    expect((await onB.next()).data?.workflowUpdated.workflow.name).toBe('before');

    await proxy.cut();
    await until(async () => (await readyz(a)).body.events === 'down');
    expect((await readyz(a)).status).toBe(200); // still serving
    const during = await start('during');
    expect(during.startWorkflow.id).toEqual(expect.any(String));
    let seen: string;
    do seen = (await onA.next()).data?.workflowUpdated.workflow.name; while (seen !== 'during');

    await proxy.restore();
    await until(async () => (await readyz(a)).body.events === 'up' && (await readyz(b)).body.events === 'up');
    await start('after');
    do seen = (await onB.next()).data?.workflowUpdated.workflow.name; while (seen !== 'after');
    expect(onB.received.some((r: any) => r.data?.workflowUpdated.workflow.name === 'during')).toBe(false); // missed while down
  });
});

(databaseUrl ? describe : describe.skip)('when PostgreSQL drops', () => {
  const backend = backendEnv();
  let proxy: CuttableProxy;
  let s: TestServer;
  beforeAll(async () => {
    const u = new URL(databaseUrl as string);
    proxy = await tcpProxy(u.hostname, Number(u.port || 5432));
    s = await startTestServer({ ...backend, REDIS_URL: '', DATABASE_URL: viaProxy(databaseUrl as string, proxy.port) });
  });
  afterAll(async () => {
    await s.stop();
    await proxy.close();
    await dropSchema(backend);
  });

  it('answers UNAVAILABLE and not ready while it is gone, and recovers without a restart', async () => {
    await s.data(`mutation { setCache(key: "k", value: 1) { key } }`);
    await proxy.cut();
    const down = await s.gql(`{ cacheEntry(key: "k") { value } }`);
    expect(down.body.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    expect(JSON.stringify(down.body)).not.toMatch(/\n\s+at /);
    expect((await readyz(s)).status).toBe(503);
    expect((await readyz(s)).body.storage).toBe('down');
    const health = await s.data<any>(`{ health { status components { name score } } }`);
    expect(health.health.status).toBe('CRITICAL');

    await proxy.restore();
    await until(async () => (await readyz(s)).status === 200);
    expect((await s.data(`{ cacheEntry(key: "k") { value } }`)).cacheEntry.value).toBe(1);
    expect((await s.data(`mutation { setCache(key: "k2", value: 2) { key } }`)).setCache.key).toBe('k2');
  });
});
