// The server started the ways the README names, through npm: a SIGTERM to what the user started
// stops the server (npm runs commands under `sh -c`, which dies on SIGTERM without passing it on).
// And the CLI's client commands never load the server.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, freePort } from '../helpers/process';
import { PGLITE_ONLY } from '../helpers/database';

const ROOT = join(__dirname, '..', '..');

async function stopsOnSigterm(command: string, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-npm-'));
  const base = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...PGLITE_ONLY, DATA_DIR: dir, PORT: new URL(base).port, LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  const up = () => fetch(`${base}/readyz`).then((r) => r.ok, () => false);
  try {
    for (let i = 0; i < 600 && !(await up()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await up()).toBe(true);
    child.kill('SIGTERM');
    // Bounded: a server left running fails the assertion below instead of hanging the test.
    let listening = true;
    for (let i = 0; i < 150 && listening; i++) {
      listening = await up();
      if (listening) await new Promise((r) => setTimeout(r, 100));
    }
    expect(listening).toBe(false);
    // The port closes before storage does: the last line comes a moment later (bounded wait).
    for (let i = 0; i < 100 && !out.includes('"msg":"server stopped"'); i++) await new Promise((r) => setTimeout(r, 100));
    return out;
  } finally {
    child.kill('SIGKILL');
    // A server that outlived what started it (the failure this tests for) is stopped through its API.
    if (await up()) {
      await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'mutation { shutdown(drainTimeoutMs: 0) }' }),
      }).catch(() => undefined);
      for (let i = 0; i < 100 && (await up()); i++) await new Promise((r) => setTimeout(r, 100));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('started through npm', () => {
  it('SIGTERM to `npx orchestrator serve` stops the server', async () => {
    ensureBuilt();
    // npx runs the bin as npm runs scripts: `sh -c 'orchestrator' serve`, with npm's variables, and
    // forwards SIGTERM to that shell only. Driven here as that shell directly: npx itself, in a
    // fresh clone, first installs the package into its cache (longer than a test should take).
    const out = await stopsOnSigterm('sh', ['-c', `"${process.execPath}" dist/src/cli/main.js serve`], { npm_lifecycle_event: 'npx' });
    expect(out).toContain('"msg":"server stopped"');
  });

  it('SIGTERM to `npm run dev` stops the server', async () => {
    const out = await stopsOnSigterm('npm', ['run', 'dev', '--silent']);
    expect(out).toContain('"msg":"server stopped"');
  });

  it('`orchestrator --help` and the client commands load no server code', () => {
    const loaded = execFileSync(
      process.execPath,
      ['-r', '@swc-node/register', '-e', `require('./src/cli/main.ts'); console.log(JSON.stringify(Object.keys(require.cache)))`],
      { cwd: ROOT, encoding: 'utf8' },
    );
    const ours = (JSON.parse(loaded) as string[]).filter((f) => f.startsWith(join(ROOT, 'src')));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.filter((f) => /src\/(server\/(http|main)|engine\/orchestrator|storage|graphql)\b/.test(f))).toEqual([]);
  });
});
