import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorkflow, waitForWorkflow } from '../helpers/engine';
import { docBlock } from '../helpers/docs';
import { startTestServer, type TestServer } from '../helpers/server';

describe("docs/agents.md's raw-protocol agent", () => {
  let s: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'readme-agent-'));
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs as written against a server and completes the steps it is given', async () => {
    const code = docBlock('docs/agents.md', '// agent.mjs').replace('http://127.0.0.1:4000/graphql', s.url);
    const file = join(dir, 'agent.mjs');
    writeFileSync(file, code);
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr.on('data', (d) => (out += String(d)));
    try {
      const w = await startWorkflow(s, {
        name: 'upper',
        steps: [
          { key: 'a', capability: 'text.upper', input: { text: 'hello' } },
          { key: 'b', capability: 'text.upper', dependsOn: ['a'], input: { text: { $from: 'steps.a.output.text' } } },
        ],
      });
      const done = await waitForWorkflow(s, w.id, 30_000);
      expect(out).toBe('');
      expect(done.status).toBe('COMPLETED');
      expect(done.output).toEqual({ a: { text: 'HELLO' }, b: { text: 'HELLO' } });
    } finally {
      child.kill();
    }
  });
});
