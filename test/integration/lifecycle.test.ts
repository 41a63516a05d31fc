// The server as a process: graceful stops by signal and by mutation, data across restarts,
// bad configuration, and `npm start` handing signals to the server.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendEnv, dropSchema } from '../helpers/database';
import { ensureBuilt, freePort, rawGql as gql, spawnServer } from '../helpers/process';
import { subscribe, wsClient } from '../helpers/server';

const ROOT = join(__dirname, '..', '..');

describe('server lifecycle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-lifecycle-'));
  const backend = backendEnv();
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await dropSchema(backend);
  });
  const env = (name: string) => ({ ...backend, DATA_DIR: join(dir, name), LOG_LEVEL: 'info' });

  it.each(['SIGTERM', 'SIGINT'] as const)('stops gracefully on %s: subscriptions end, storage closes, exit 0', async (signal) => {
    const server = await spawnServer(env(signal));
    const client = wsClient(server.url.replace('http', 'ws'));
    const sub = subscribe(client, `subscription { agentUpdated { id } }`);
    while (!/^orchestrator_subscriptions\{topic="agent"\} 1$/m.test(await (await fetch(`${server.base}/metrics`)).text())) {
      await new Promise((r) => setTimeout(r, 20));
    }
    server.kill(signal);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    await sub.completed; // the server completed the subscription or closed the socket
    expect(server.output()).toContain('"msg":"server stopped"');
    await client.dispose();
  });

  it('exits at once (code 1) on a second signal sent a while after the first', async () => {
    const server = await spawnServer(env('forced'));
    // A long built-in task keeps the graceful stop waiting for it.
    await gql(server.url, `mutation { startWorkflow(input: { name: "long", steps: [{ key: "nap", capability: "builtin.sleep", input: { ms: 600000 } }] }) { id } }`);
    while (!(await gql(server.url, `{ status { runningTasks } }`)).data.status.runningTasks) await new Promise((r) => setTimeout(r, 50));
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    server.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.output()).toContain('second signal: exiting now');
    expect(server.output()).not.toContain('"msg":"server stopped"');
  });

  it('stops through the shutdown mutation, answering first', async () => {
    const server = await spawnServer(env('mutation'));
    const r = await gql(server.url, `mutation { shutdown(drainTimeoutMs: 1000) }`);
    expect(r).toEqual({ data: { shutdown: true } });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const bad = await spawnServer(env('mutation'));
    const refused = await gql(bad.url, `mutation { shutdown(drainTimeoutMs: -1) }`);
    expect(refused.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    bad.kill('SIGTERM');
    await bad.exited;
  });

  it('keeps everything committed across SIGKILL', async () => {
    const e = { ...env('durable'), PORT: String(await freePort()) };
    let server = await spawnServer(e);
    await gql(server.url, `mutation { registerAgent(input: { name: "keeper", capabilities: ["k"] }) { agent { id } } }`);
    await gql(server.url, `mutation { setCache(key: "kept", value: { n: 1 }) { key } }`);
    await gql(server.url, `mutation { recordError(input: { type: NETWORK, severity: HIGH, message: "remember me" }) { id } }`);
    server.kill('SIGKILL');
    await server.exited;
    server = await spawnServer(e);
    const r = await gql(server.url, `{
      agentByName(name: "keeper") { name capabilities }
      cacheEntry(key: "kept") { value }
      errorRecords(filter: { types: [NETWORK] }) { edges { node { message } } }
      history(filter: { types: [AGENT_REGISTERED, ERROR_RECORDED] }) { edges { node { type } } }
    }`);
    expect(r.data.agentByName).toEqual({ name: 'keeper', capabilities: ['k'] });
    expect(r.data.cacheEntry.value).toEqual({ n: 1 });
    expect(r.data.errorRecords.edges).toEqual([{ node: { message: 'remember me' } }]);
    expect(r.data.history.edges.map((x: any) => x.node.type)).toContain('ERROR_RECORDED');
    server.kill('SIGTERM');
    await server.exited;
  });

  it('refuses a bad configuration with a readable message and a non-zero exit', async () => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'src/server/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: 'abc', LOG_LEVEL: 'loud' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).not.toBe(0);
    expect(stderr).toContain('PORT must be an integer');
    expect(stderr).toContain('LOG_LEVEL must be one of');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  /** `npm start` as a newcomer runs it (prestart's build is done by ensureBuilt, so no test rewrites dist/ under another). */
  async function npmStart(name: string) {
    ensureBuilt();
    const base = `http://127.0.0.1:${await freePort()}`;
    const child = spawn('npm', ['start', '--silent', '--ignore-scripts'], {
      cwd: ROOT,
      env: { ...process.env, ...env(name), PORT: new URL(base).port, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    let up = false;
    while (!up) {
      up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 200));
    }
    const { instanceId } = (await gql(`${base}/graphql`, `{ status { instanceId } }`)).data.status as { instanceId: string };
    /** Resolves once nothing listens on the port any more (or after a bound, for the assertion to fail). */
    const closed = async () => {
      let listening = true;
      for (let i = 0; i < 100 && listening; i++) {
        listening = await fetch(`${base}/healthz`).then(() => true, () => false);
        if (listening) await new Promise((r) => setTimeout(r, 100));
      }
      return !listening;
    };
    // INSTANCE_ID defaults to host-pid-random: the pid of the node that npm started.
    const nodePid = Number(/-(\d+)-[0-9a-f]+$/.exec(instanceId)?.[1]);
    return { child, base, exited, closed, nodePid, output: () => out };
  }

  it('Ctrl-C on npm start (SIGINT to node, then npm forwarding its copy) is one graceful stop', async () => {
    const npm = await npmStart('ctrl-c');
    // A running task keeps the graceful stop busy while npm's copy of the signal arrives.
    const url = `${npm.base}/graphql`;
    await gql(url, `mutation { startWorkflow(input: { name: "nap", steps: [{ key: "n", capability: "builtin.sleep", input: { ms: 3000 } }] }) { id } }`);
    while (!(await gql(url, `{ status { runningTasks } }`)).data.status.runningTasks) await new Promise((r) => setTimeout(r, 50));
    process.kill(npm.nodePid, 'SIGINT'); // the terminal signals the whole process group …
    npm.child.kill('SIGINT'); // … npm gets it too and forwards its copy to node …
    await new Promise((r) => setTimeout(r, 200));
    process.kill(npm.nodePid, 'SIGINT'); // … which arrives a moment later (sent here too, so it surely does)
    await npm.exited;
    expect(await npm.closed()).toBe(true);
    expect(npm.output()).toContain('repeated signal ignored');
    expect(npm.output()).toContain('"msg":"server stopped"');
    expect(npm.output()).not.toContain('second signal: exiting now');
  });

  it('npm start hands SIGTERM to the server itself (no orphaned node)', async () => {
    const npm = await npmStart('npm');
    npm.child.kill('SIGTERM');
    await npm.exited;
    // Whatever npm did with the signal, nothing may still be listening afterwards.
    expect(await npm.closed()).toBe(true);
  });
});
