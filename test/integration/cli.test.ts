import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byKey, claim, complete, getWorkflow, registerAgent, startWorkflow, waitForWorkflow } from '../helpers/engine';
import { startTestServer, type TestServer } from '../helpers/server';

const ROOT = join(__dirname, '..', '..');

interface CliRun {
  /** Resolves once the output so far matches `pattern` (or the process has exited). */
  printed(pattern: RegExp): Promise<void>;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

const running = new Set<ReturnType<typeof spawn>>();

function start(args: string[], url: string): CliRun {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'src/cli/main.ts'), '--url', url, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout.on('data', (d) => {
    stdout += String(d);
    watchers.forEach((w) => w());
  });
  child.stderr.on('data', (d) => {
    stderr += String(d);
    watchers.forEach((w) => w());
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      watchers.forEach((w) => w());
      resolve({ code, stdout, stderr });
    }),
  );
  return {
    exited,
    printed: (pattern) =>
      new Promise((resolve) => {
        const check = () => {
          if (pattern.test(stdout + stderr) || child.exitCode !== null) {
            watchers.delete(check);
            resolve();
          }
        };
        watchers.add(check);
        check();
      }),
  };
}

const cli = (args: string[], url: string) => start(args, url).exited;

describe('orchestrator CLI', () => {
  let s: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-cli-'));
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    // A command that never ended (the failure some tests here are about) does not outlive them.
    for (const child of running) child.kill('SIGKILL');
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a workflow with --watch, prints a summary and exits 0 when it COMPLETES', async () => {
    const wf = file('ok.json', {
      name: 'cli-ok',
      input: { who: 'cli' },
      steps: [
        { key: 'hello', capability: 'builtin.echo', input: { to: { $from: 'workflow.input.who' } } },
        { key: 'nap', capability: 'builtin.sleep', dependsOn: ['hello'], input: { ms: 300 } },
      ],
    });
    const r = await cli(['run', wf, '--watch'], s.url);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/hello\s+COMPLETED\s+SUCCESS\s+1\/1/);
    expect(r.stdout).toMatch(/nap\s+COMPLETED\s+SUCCESS/);
    expect(r.stdout).toMatch(/cli-ok COMPLETED\s+quality 1\.00 \(2 tasks\)\s+duration .+ errors 0/);
    expect(r.stdout).not.toContain('\x1b['); // no colour when stdout is not a terminal
  });

  it('exits 2 for PARTIAL and 1 for FAILED, listing the errors', async () => {
    const partial = await cli(
      ['run', file('partial.json', { name: 'cli-partial', steps: [{ key: 'f', capability: 'builtin.fail', continueOnFailure: true }] }), '--watch'],
      s.url,
    );
    expect(partial.code).toBe(2);
    expect(partial.stdout).toContain('cli-partial PARTIAL');
    const failed = await cli(
      ['run', file('failed.json', { name: 'cli-failed', steps: [{ key: 'f', capability: 'builtin.fail', input: { type: 'TIMEOUT', message: 'too slow' } }] }), '--watch'],
      s.url,
    );
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('cli-failed FAILED');
    expect(failed.stdout).toContain('TIMEOUT: too slow');
  });

  it('reads YAML, takes --input, and prints JSON with --json', async () => {
    const yaml = file(
      'wf.yaml',
      ['name: cli-yaml', 'steps:', '  - key: e', '    capability: builtin.echo', '    input:', '      v: { $from: workflow.input.v }'].join('\n'),
    );
    const r = await cli(['--json', 'run', yaml, '--input', '{"v": 42}', '--watch'], s.url);
    expect(r.code).toBe(0);
    const w = JSON.parse(r.stdout);
    expect(w).toMatchObject({ name: 'cli-yaml', status: 'COMPLETED', output: { e: { v: 42 } } });
  });

  it('starts without --watch and prints the id; cancel cancels it', async () => {
    const started = await cli(['--json', 'run', file('wait.json', { name: 'cli-cancel', steps: [{ key: 'x', capability: 'nobody.serves.this' }] })], s.url);
    expect(started.code).toBe(0);
    const { id, status } = JSON.parse(started.stdout);
    expect(status).toBe('PENDING');
    const cancelled = await cli(['cancel', id, '--reason', 'from the cli'], s.url);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`${id} CANCELLED`);
  });

  it('prints status, health and workflows as tables, and as JSON that parses', async () => {
    const status = await cli(['status'], s.url);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/instance\s+version\s+health/);
    expect(JSON.parse((await cli(['--json', 'status'], s.url)).stdout)).toMatchObject({ version: 'test', agents: 3 });
    const health = await cli(['health'], s.url);
    expect(health.stdout).toMatch(/storage\s+100\s+HEALTHY\s+reachable/);
    expect(JSON.parse((await cli(['--json', 'health'], s.url)).stdout).components).toHaveLength(5);
    const list = await cli(['workflows', '--status', 'completed'], s.url);
    expect(list.stdout).toContain('cli-ok');
    expect(list.stdout).not.toContain('cli-failed');
    const json = JSON.parse((await cli(['--json', 'workflows', '--status', 'FAILED'], s.url)).stdout);
    expect(json.map((w: { name: string }) => w.name)).toEqual(['cli-failed']);
  });

  it('says what went wrong, with exit code 1', async () => {
    const missing = await cli(['cancel', 'no-such-workflow'], s.url);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found \(NOT_FOUND\)/);
    const bad = await cli(['run', file('bad.json', { name: 'cli-bad', steps: [] })], s.url);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('at least one step (BAD_USER_INPUT)');
    const down = await cli(['status'], 'http://127.0.0.1:1/graphql');
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach');
  });

  it('lists, piped, each task RUNNING before how it ended, and the finish after them all', async () => {
    const keys = ['a', 'b', 'c', 'd'];
    const steps = keys.map((key, i) => ({ key, capability: 'builtin.echo', input: { i }, dependsOn: i ? [keys[i - 1]] : [] }));
    const r = await cli(['run', file('chain.json', { name: 'cli-chain', steps }), '--watch'], s.url);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const at = (line: string) => lines.indexOf(line);
    const finish = at('workflow cli-chain COMPLETED (4/4)');
    for (const key of keys) {
      expect(lines.filter((l) => l.startsWith(`  ${key} `))).toEqual([`  ${key} RUNNING on builtin.echo`, `  ${key} COMPLETED`]);
      expect(at(`  ${key} COMPLETED`)).toBeGreaterThan(at(`  ${key} RUNNING on builtin.echo`));
      expect(finish).toBeGreaterThan(at(`  ${key} COMPLETED`));
    }
    expect(lines.filter((l) => l.startsWith('workflow cli-chain ')).at(-1)).toBe('workflow cli-chain COMPLETED (4/4)');
  });

  it('watches a workflow started earlier, even one already finished, and exits as run --watch does', async () => {
    const w = await startWorkflow(s, {
      name: 'cli-earlier',
      steps: [
        { key: 'e', capability: 'builtin.echo' },
        { key: 'f', capability: 'builtin.fail', dependsOn: ['e'], continueOnFailure: true },
      ],
    });
    await waitForWorkflow(s, w.id);
    const r = await cli(['watch', w.id], s.url);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^ {2}e RUNNING on builtin\.echo\n {2}e COMPLETED\n {2}f RUNNING on builtin\.fail\n {2}f FAILED.*\nworkflow cli-earlier PARTIAL \(2\/2\)\n/);
  });

  it('exits 3 at once when no available agent offers a capability a step needs, leaving the workflow as it is', async () => {
    const drained = await registerAgent(s, 'cli-drained', ['cap.drained']);
    await s.data(`mutation($id: ID!) { setAgentDraining(id: $id, draining: true) { status } }`, { id: drained });
    const steps = [
      { key: 'e', capability: 'builtin.echo' },
      { key: 'x', capability: 'cap.nobody', dependsOn: ['e'] },
      { key: 'd', capability: 'cap.drained' },
    ];
    const r = await cli(['--json', 'run', file('unserved.json', { name: 'cli-unserved', steps }), '--watch'], s.url);
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out.unavailableCapabilities.sort()).toEqual(['cap.drained', 'cap.nobody']);
    expect(r.stderr).toContain('cap.nobody');
    expect(r.stderr).toContain(`orchestrator watch ${out.id}`);
    const w = await getWorkflow(s, out.id);
    expect(w.status).not.toBe('CANCELLED');
    expect(['PENDING', 'QUEUED']).toContain(byKey(w).x.status);
    expect(byKey(w).d.status).toBe('QUEUED');
  });

  it('with --wait-for-agents, says which capability it waits for, and follows the workflow once an agent comes', async () => {
    const run = start(['run', file('later.json', { name: 'cli-later', steps: [{ key: 'l', capability: 'cap.later' }] }), '--watch', '--wait-for-agents'], s.url);
    await run.printed(/waiting for an agent that offers cap\.later/);
    const a = await registerAgent(s, 'cli-later-agent', ['cap.later']);
    const [lease] = await claim(s, a, 1, 30_000);
    expect((await complete(s, lease!.id, { ok: true })).body.errors).toBeUndefined();
    const r = await run.exited;
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('  l '))).toEqual(['  l RUNNING on cli-later-agent', '  l COMPLETED']);
  });
});
