import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorkflow, waitForWorkflow } from '../helpers/engine';
import { startTestServer, type TestServer } from '../helpers/server';
import { ensureBuilt } from '../helpers/process';
import { docBlock } from '../helpers/docs';

const ROOT = join(__dirname, '..', '..');

function run(file: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [file], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += String(d)));
  child.stderr.on('data', (d) => (out.stderr += String(d)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out, exited };
}

describe("docs/agents.md's SDK examples", () => {
  let s: TestServer;
  beforeAll(async () => {
    ensureBuilt();
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it('shows examples/agent.mjs as it is', () => {
    expect(docBlock('docs/agents.md', '// A remote agent in a few lines.')).toBe(readFileSync(join(ROOT, 'examples/agent.mjs'), 'utf8'));
  });

  it('runs the example agent: it does the work of examples/text.workflow.json and stops cleanly on SIGTERM', async () => {
    const agent = run(join(ROOT, 'examples/agent.mjs'), { ORCHESTRATOR_URL: s.url });
    try {
      while (!agent.out.stdout.includes('ready')) {
        if (agent.child.exitCode !== null) throw new Error(agent.out.stderr);
        await new Promise((r) => setTimeout(r, 50));
      }
      const w = await startWorkflow(s, JSON.parse(readFileSync(join(ROOT, 'examples/text.workflow.json'), 'utf8')));
      const done = await waitForWorkflow(s, w.id);
      expect(done.status).toBe('COMPLETED');
      expect(done.output).toEqual({ upper: { text: 'THE QUICK BROWN FOX' }, words: { words: 4 }, echo: { upper: 'THE QUICK BROWN FOX', words: 4 } });
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      expect(agent.out.stderr).toBe('');
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('runs the client example as written', async () => {
    const file = join(ROOT, 'examples', `.readme-client-${process.pid}.mjs`);
    writeFileSync(file, docBlock('docs/agents.md', "import { OrchestratorClient } from 'orchestrator/sdk';").replace('http://127.0.0.1:4000/graphql', s.url));
    try {
      const client = run(file, {});
      expect(await client.exited).toBe(0);
      expect(client.out.stderr).toBe('');
      expect(client.out.stdout).toContain('workflow COMPLETED');
      expect(client.out.stdout).toContain("{ a: { hi: 1 } }");
    } finally {
      rmSync(file, { force: true });
    }
  });
});
