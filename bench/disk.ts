// `npm run bench:disk -- --minutes=10`: a steady load on a real server on PGlite (not part of
// `npm run bench`) that shows how the data directory grows per finished task. It sends `--rate`
// workflows of `--steps` independent builtin.echo steps a second (default 10 × 20 = 200 tasks/s)
// and samples every `--sample` seconds: finished tasks, bytes of the data directory and of its
// pg_wal, the live size of our tables and indexes, dead rows of `tasks`, the p99 of a small query,
// the transaction ids used, and the vacuums and checkpoints the server logged (count and longest). `--json=path` also writes the samples there.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/support/logger';
import { loadConfig } from '../src/server/config';
import { startServer } from '../src/server/http';
import { PgliteDriver } from '../src/storage/pglite';
import { gql, percentile, sleep } from './lib';

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const minutes = arg('minutes', 10);
const rate = arg('rate', 10);
const stepsPerWorkflow = arg('steps', 20);
const sampleS = arg('sample', 30);
const jsonPath = process.argv.find((a) => a.startsWith('--json='))?.slice('--json='.length) ?? null;

interface Sample {
  s: number;
  started: number;
  finished: number;
  dataBytes: number;
  walBytes: number;
  liveBytes: number;
  tasksLive: number;
  tasksDead: number;
  p99Ms: number;
  xids: number;
  /** Per kind of maintenance statement in this sample's window: [count, longest ms]. */
  pauses: Record<string, [number, number]>;
  rssMb: number;
}

const MAINTENANCE: Record<string, string> = { 'storage vacuumed': 'vacuum', 'storage checkpointed': 'checkpoint' };

const du = (path: string) => Number(execFileSync('du', ['-sb', path]).toString().split('\t')[0]);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-disk-'));
  // The server's own driver, to read sizes and statistics through the one connection PGlite has.
  let driver: PgliteDriver | null = null;
  const open = PgliteDriver.open.bind(PgliteDriver);
  PgliteDriver.open = async (...args: Parameters<typeof open>) => (driver = await open(...args));
  // Maintenance is logged at debug with its table and duration; everything else at warn and above.
  const pauses: { kind: string; table: string; ms: number }[] = [];
  const log = createLogger('debug', { write: (line: string) => {
    const entry = JSON.parse(line) as { level: string; msg: string; table?: string; ms?: number };
    const kind = MAINTENANCE[entry.msg];
    if (kind) pauses.push({ kind, table: String(entry.table ?? ''), ms: Number(entry.ms) });
    else if (entry.level === 'warn' || entry.level === 'error') process.stderr.write(line);
  } });
  const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, LOG_LEVEL: 'debug', HEALTH_INTERVAL_MS: '60000' }, 'bench');
  const server = await startServer(config, { log });
  const db = driver as PgliteDriver | null;
  if (!db) throw new Error('the server did not open PGlite');

  const startMutation = `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`;
  const steps = Array.from({ length: stepsPerWorkflow }, (_, i) => ({ key: `s${i}`, capability: 'builtin.echo', input: { i } }));
  let started = 0;
  let lastId: string | null = null;
  let failures = 0;
  const t0 = performance.now();
  const end = t0 + minutes * 60_000;
  // Open loop: a start every 1/rate s on schedule, whether or not the last one has answered.
  const sender = (async () => {
    const inFlight = new Set<Promise<void>>();
    for (let n = 0; performance.now() < end; n++) {
      const due = t0 + (n * 1000) / rate;
      if (due > performance.now()) await sleep(due - performance.now());
      const p = gql(server.url, startMutation, { i: { name: 'disk', steps } })
        .then((d: { startWorkflow: { id: string } }) => {
          started += stepsPerWorkflow;
          lastId = d.startWorkflow.id;
        })
        .catch(() => void failures++)
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  })();
  // The API's answer time for a small read, five a second.
  let latencies: number[] = [];
  const prober = (async () => {
    while (performance.now() < end) {
      await sleep(200);
      if (!lastId) continue;
      const t = performance.now();
      await gql(server.url, `query($id: ID!) { workflow(id: $id) { status } }`, { id: lastId }).catch(() => void failures++);
      latencies.push(performance.now() - t);
    }
  })();

  const samples: Sample[] = [];
  let seenPauses = 0;
  const sample = async () => {
    const [sizes] = await db.query<{ live: string; tasks_live: number; tasks_dead: number; finished: number; xids: number }>(
      `SELECT (SELECT sum(pg_total_relation_size(relid)) FROM pg_stat_user_tables)::text AS live,
              (SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'tasks')::int AS tasks_live,
              (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'tasks')::int AS tasks_dead,
              (SELECT count(*) FROM tasks WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED'))::int AS finished,
              (SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database())::int AS xids`,
    );
    const recent = pauses.slice(seenPauses);
    seenPauses = pauses.length;
    const window: Record<string, [number, number]> = {};
    for (const p of recent) {
      const w = (window[p.kind] ??= [0, 0]);
      w[0]++;
      w[1] = Math.max(w[1], Math.round(p.ms));
    }
    const s: Sample = {
      s: Math.round((performance.now() - t0) / 1000),
      started,
      finished: sizes?.finished ?? 0,
      dataBytes: du(dir),
      walBytes: du(join(dir, 'pg_wal')),
      liveBytes: Number(sizes?.live ?? 0),
      tasksLive: sizes?.tasks_live ?? 0,
      tasksDead: sizes?.tasks_dead ?? 0,
      p99Ms: latencies.length ? Math.round(percentile(latencies, 99)) : 0,
      xids: sizes?.xids ?? 0,
      pauses: window,
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    };
    latencies = [];
    samples.push(s);
    process.stdout.write(`${JSON.stringify(s)}\n`);
  };
  while (performance.now() < end) {
    await sleep(Math.min(sampleS * 1000, end - performance.now()));
    await sample();
  }
  await Promise.all([sender, prober]);
  await server.close();
  const last = samples[samples.length - 1];
  if (last) {
    process.stdout.write(
      `${JSON.stringify({
        failures,
        bytesPerFinishedTask: Math.round(last.dataBytes / Math.max(1, last.finished)),
        liveBytesPerFinishedTask: Math.round(last.liveBytes / Math.max(1, last.finished)),
        diskToLive: Math.round((last.dataBytes / last.liveBytes) * 100) / 100,
        pausesMs: Object.fromEntries(
          Object.values(MAINTENANCE).map((kind) => {
            const ms = pauses.filter((p) => p.kind === kind).map((p) => p.ms);
            return [kind, ms.length ? { count: ms.length, p50: Math.round(percentile(ms, 50)), p99: Math.round(percentile(ms, 99)), max: Math.round(Math.max(...ms)) } : null];
          }),
        ),
        tasksVacuumMs: pauses.filter((p) => p.kind === 'vacuum' && p.table === 'tasks').map((p) => Math.round(p.ms)),
      })}\n`,
    );
  }
  if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify({ minutes, rate, stepsPerWorkflow, samples, pauses }, null, 1)}\n`);
  rmSync(dir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:disk failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
