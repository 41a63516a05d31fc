// fanout: 1,000 and then 5,000 graphql-ws clients subscribed to taskUpdated; 100 task transitions;
// p99 of commit → the last client's receipt, and server heap per subscriber. Baseline: a bare
// graphql-ws server with an in-memory pub/sub and the same clients. Servers run as child
// processes so their heaps are measured apart from the clients'.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gql, type Measurement, percentile, type Scenario, sleep } from '../lib';

const ROOT = join(__dirname, '..', '..');
const EVENTS = 100;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function child(script: string, env: Record<string, string>): Promise<{ proc: ChildProcess; port: number; heapPort: number }> {
  const [port, heapPort] = [await freePort(), await freePort()];
  const proc = spawn(process.execPath, ['--expose-gc', '--experimental-vm-modules', '--disable-warning=ExperimentalWarning', '-r', '@swc-node/register', join(ROOT, script)], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HEAP_PORT: String(heapPort), HOST: '127.0.0.1', LOG_LEVEL: 'error' },
    stdio: 'ignore',
  });
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${heapPort}/heap`).then(() => true, () => false);
    const up = ok && (await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false));
    if (up) return { proc, port, heapPort };
    await sleep(100);
  }
}

const heap = async (heapPort: number) => Number(await (await fetch(`http://127.0.0.1:${heapPort}/heap`)).text());

interface Clients {
  clients: Client[];
  /** Per event key: receipt times, one per client. */
  receipts: Map<string, number[]>;
  close(): Promise<void>;
}

async function connect(wsUrl: string, n: number, query: string, variables: Record<string, unknown>): Promise<Clients> {
  const receipts = new Map<string, number[]>();
  const clients: Client[] = [];
  const disposers: (() => void)[] = [];
  for (let i = 0; i < n; i++) {
    // A connection reset as servers stop printed a whole ErrorEvent (graphql-ws logs non-lazy errors
    // by default); a client that lost events is counted in lostEvents instead.
    const c = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, onNonLazyError: () => undefined });
    clients.push(c);
    disposers.push(
      c.subscribe<{ taskUpdated: { task: { id: string; status: string }; at: string } }>({ query, variables }, {
        next: ({ data }) => {
          if (!data) return;
          const key = `${data.taskUpdated.task.id}/${data.taskUpdated.task.status}@${data.taskUpdated.at}`;
          const list = receipts.get(key) ?? [];
          list.push(Date.now());
          receipts.set(key, list);
        },
        error: () => undefined,
        complete: () => undefined,
      }),
    );
    if (i % 200 === 199) await sleep(50);
  }
  return {
    clients,
    receipts,
    close: async () => {
      for (const d of disposers) d();
      await Promise.all(clients.map((c) => c.dispose()));
    },
  };
}

function summarize(receipts: Map<string, number[]>, n: number): { p99: number; lost: number } {
  const lat: number[] = [];
  let lost = 0;
  for (const [key, times] of receipts) {
    const at = new Date(key.slice(key.indexOf('@') + 1)).getTime();
    lat.push(Math.max(...times) - at);
    lost += n - times.length;
  }
  lost += (EVENTS - receipts.size) * n;
  return { p99: percentile(lat, 99), lost };
}

/** Waits for every client to have every event (or a bound), then closes them and summarizes. */
async function collect(c: Clients, n: number): Promise<{ p99: number; lost: number }> {
  await until(async () => [...c.receipts.values()].reduce((sum, t) => sum + t.length, 0) >= EVENTS * n, 30_000);
  const summary = summarize(c.receipts, n);
  await c.close();
  return summary;
}

async function until(check: () => Promise<boolean>, maxMs = 60_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!(await check()) && Date.now() < deadline) await sleep(50);
}

async function project(n: number): Promise<{ p99: number; heapPerSub: number; lost: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-fanout-'));
  const { proc, port, heapPort } = await child('bench/baseline/project-server.ts', { DATA_DIR: dir, DATABASE_URL: '', REDIS_URL: '' });
  const url = `http://127.0.0.1:${port}/graphql`;
  try {
    const { registerAgent } = await gql(url, `mutation { registerAgent(input: { name: "fan", capabilities: ["bench.fan"], concurrency: 1 }) { agent { id } } }`);
    const { startWorkflow } = await gql(url, `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, {
      i: { name: 'fan', steps: Array.from({ length: EVENTS / 2 }, (_, i) => ({ key: `f${i}`, capability: 'bench.fan' })) },
    });
    const before = await heap(heapPort);
    const c = await connect(`ws://127.0.0.1:${port}/graphql`, n, `subscription($w: ID) { taskUpdated(workflowId: $w) { task { id status } at } }`, { w: startWorkflow.id });
    await until(async () => new RegExp(`^orchestrator_subscriptions\\{topic="task"\\} ${n}$`, 'm').test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()));
    const after = await heap(heapPort);
    for (let i = 0; i < EVENTS / 2; i++) {
      const { claimTasks } = await gql(url, `mutation($a: ID!) { claimTasks(agentId: $a) { id } }`, { a: registerAgent.agent.id });
      await sleep(10);
      await gql(url, `mutation($l: ID!) { completeTask(leaseId: $l) { id } }`, { l: claimTasks[0].id });
      await sleep(10);
    }
    return { ...(await collect(c, n)), heapPerSub: (after - before) / n };
  } finally {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bare(n: number): Promise<{ p99: number; heapPerSub: number; lost: number }> {
  const { proc, port, heapPort } = await child('bench/baseline/bare-ws.ts', {});
  try {
    const before = await heap(heapPort);
    const c = await connect(`ws://127.0.0.1:${port}/graphql`, n, `subscription { taskUpdated { task { id status } at } }`, {});
    await until(async () => Number(await (await fetch(`http://127.0.0.1:${port}/subscribers`)).text()) >= n);
    const after = await heap(heapPort);
    await fetch(`http://127.0.0.1:${port}/publish?count=${EVENTS}&gapMs=20`);
    return { ...(await collect(c, n)), heapPerSub: (after - before) / n };
  } finally {
    proc.kill('SIGKILL');
  }
}

const fanoutScenario = (n: number): Scenario => ({
  name: `fanout-${n}`,
  higherIsBetter: false,
  async round(): Promise<Measurement> {
    const ours = await project(n);
    const theirs = await bare(n);
    return {
      value: ours.p99,
      unit: 'ms p99 commit→last client',
      baseline: theirs.p99,
      baselineName: 'bare graphql-ws + in-memory pub/sub (ms p99)',
      extra: {
        heapKiBPerSubscriber: ours.heapPerSub / 1024,
        baselineHeapKiBPerSubscriber: theirs.heapPerSub / 1024,
        lostEvents: ours.lost,
        baselineLostEvents: theirs.lost,
      },
    };
  },
});

export const fanout1000Scenario = fanoutScenario(1000);
export const fanout5000Scenario = fanoutScenario(5000);
