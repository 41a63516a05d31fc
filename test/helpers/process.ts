// Runs the real server as a child process (the code in src/, through @swc-node/register), for
// tests that kill, signal or restart it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { backendEnv, dropSchema } from './database';

const ROOT = join(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  base: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export async function spawnServer(env: Record<string, string>, readyWithinMs = 60_000): Promise<ServerProcess> {
  const port = env.PORT ?? String(await freePort());
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'src/server/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += String(d)));
  child.stderr?.on('data', (d) => (out += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const base = `http://127.0.0.1:${port}`;
  const proc: ServerProcess = {
    child,
    base,
    url: `${base}/graphql`,
    output: () => out,
    exited,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
  };
  const deadline = Date.now() + readyWithinMs;
  let gone = false;
  void exited.then(() => (gone = true));
  while (Date.now() < deadline && !gone) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return proc;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not become ready:\n${out}`);
}

/** One GraphQL request over plain HTTP, as a process outside the server would make it. */
export async function rawGql(url: string, query: string, variables?: Record<string, unknown>): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return res.json();
}

/** Builds dist/ (what `npm start` and `orchestrator/sdk` run) when it is missing or older than src/. */
export function ensureBuilt(): void {
  const built = join(ROOT, 'dist/src/cli/main.js');
  const newest = Math.max(
    ...readdirSync(join(ROOT, 'src'), { recursive: true })
      .map((f) => join(ROOT, 'src', String(f)))
      .filter((f) => f.endsWith('.ts') || f.endsWith('.sql'))
      .map((f) => statSync(f).mtimeMs),
  );
  if (!existsSync(built) || statSync(built).mtimeMs < newest) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT });
    execFileSync(process.execPath, [join(ROOT, 'scripts/copy-migrations.js')], { cwd: ROOT });
  }
}

/**
 * For tests that kill and restart server processes: a data directory and a backend (PostgreSQL
 * schema when configured) that outlive each process, and the clean-up of all of it.
 */
export function restartFixture(prefix: string) {
  const fixture = {
    dataDir: mkdtempSync(join(tmpdir(), `orchestrator-${prefix}-`)),
    backend: backendEnv(),
    server: null as ServerProcess | null,
    async cleanup() {
      fixture.server?.kill('SIGKILL');
      await fixture.server?.exited;
      rmSync(fixture.dataDir, { recursive: true, force: true });
      await dropSchema(fixture.backend);
    },
  };
  return fixture;
}
