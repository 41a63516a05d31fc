// Shared pieces of the benchmark: timing, statistics, servers, and the result format.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/server/config';
import { type RunningServer, startServer } from '../src/server/http';
import { sleep } from './stats';

export interface Measurement {
  value: number;
  unit: string;
  baseline: number | null;
  baselineName: string;
  /** Extra figures worth printing (p50, p99, memory …). */
  extra?: Record<string, number | string>;
}

export interface ScenarioResult extends Measurement {
  ratio: number | null;
  samples: number;
}

export interface Scenario {
  name: string;
  /** One round: the project's figure and its baseline, measured side by side. */
  round(ctx: BenchContext): Promise<Measurement>;
  /** Why the scenario cannot run here (no PostgreSQL, say); null when it can. */
  skip?(ctx: BenchContext): string | null;
  /** Whether a higher value is better (throughput) or worse (latency). */
  higherIsBetter: boolean;
}

export interface BenchContext {
  quick: boolean;
  databaseUrl: string | null;
  redisUrl: string | null;
}

export { median, percentile, sleep } from './stats';

export interface BenchServer extends RunningServer {
  stop(): Promise<void>;
}

/** A real server on port 0 with a fresh PGlite directory (or the given PostgreSQL schema). */
export async function benchServer(env: Record<string, string> = {}): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-bench-'));
  const config = loadConfig({ PORT: '0', LOG_LEVEL: 'error', DATA_DIR: dir, HEALTH_INTERVAL_MS: '60000', ...env }, 'bench');
  const server = await startServer(config);
  return {
    ...server,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function gql<T = any>(url: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 500));
  return body.data as T;
}

export async function waitForWorkflow(url: string, id: string): Promise<string> {
  for (;;) {
    const { workflow } = await gql(url, `query($id: ID!) { workflow(id: $id) { status } }`, { id });
    if (!['PENDING', 'RUNNING'].includes(workflow.status)) return workflow.status;
    await sleep(20);
  }
}
