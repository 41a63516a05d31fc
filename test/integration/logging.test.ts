// Logs as an operator reads them: JSON lines with a level, a time, the instance, and the request
// a line was written for, whatever layer wrote it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGLITE_ONLY } from '../helpers/database';
import { spawnServer } from '../helpers/process';

describe('logs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-logs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are JSON lines carrying the instance id, and the request id of the request they concern', async () => {
    const server = await spawnServer({ ...PGLITE_ONLY, DATA_DIR: dir, INSTANCE_ID: 'logged-1', LOG_LEVEL: 'info' });
    // A request id that is not a plain token is replaced, never echoed.
    const odd = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'a b<script>' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-42' },
      body: JSON.stringify({ query: 'mutation { shutdown(drainTimeoutMs: 0) }' }),
    });
    expect(res.headers.get('x-request-id')).toBe('req-42');
    expect(await res.json()).toEqual({ data: { shutdown: true } });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const lines = server.output().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const line of lines) expect(line).toMatchObject({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) });
    expect(lines.find((l) => l.msg === 'shutdown requested through the API')).toMatchObject({ level: 'info', instanceId: 'logged-1', requestId: 'req-42' });
    expect(lines.find((l) => l.msg === 'server stopped')).toMatchObject({ instanceId: 'logged-1' });
  });
});
