// dispatch-builtin and dispatch-remote: one workflow of independent no-op steps, start to finish.
import { benchServer, type BenchContext, gql, type Measurement, type Scenario, waitForWorkflow } from '../lib';
import { engineTableFloor, lifecycleFloor, rawLoopTasksPerSecond } from './raw-loop';

const steps = (n: number, capability: string) => Array.from({ length: n }, (_, i) => ({ key: `s${i}`, capability }));

export async function dispatchBuiltin(n: number, env: Record<string, string> = {}): Promise<number> {
  const server = await benchServer(env);
  try {
    const started = performance.now();
    const { startWorkflow } = await gql(server.url, `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, {
      i: { name: 'bench', steps: steps(n, 'builtin.echo') },
    });
    const status = await waitForWorkflow(server.url, startWorkflow.id);
    if (status !== 'COMPLETED') throw new Error(`workflow ended ${status}`);
    return n / ((performance.now() - started) / 1000);
  } finally {
    await server.stop();
  }
}

/**
 * A raw-protocol remote agent: long-polls up to 50 leases and completes them in one request, as
 * aliased completeTask fields (executed one after another, as GraphQL runs mutation fields) or,
 * with `batch`, as one completeTasks field (one transaction).
 */
async function remoteAgent(url: string, name: string, stop: { now: boolean }, batch = false): Promise<void> {
  const { registerAgent } = await gql(url, `mutation($n: String!) { registerAgent(input: { name: $n, capabilities: ["bench.remote"], concurrency: 50 }) { agent { id } } }`, { n: name });
  const agentId = registerAgent.agent.id;
  while (!stop.now) {
    const { claimTasks } = await gql(url, `mutation($a: ID!) { claimTasks(agentId: $a, max: 50, waitMs: 500) { id } }`, { a: agentId });
    if (!claimTasks.length) continue;
    if (batch) {
      await gql(url, `mutation($r: [TaskResultInput!]!) { completeTasks(results: $r) { leaseId error { code } } }`, {
        r: claimTasks.map((l: { id: string }) => ({ leaseId: l.id })),
      });
      continue;
    }
    const vars = Object.fromEntries(claimTasks.map((l: { id: string }, i: number) => [`l${i}`, l.id]));
    const doc = `mutation(${claimTasks.map((_: unknown, i: number) => `$l${i}: ID!`).join(', ')}) { ${claimTasks
      .map((_: unknown, i: number) => `c${i}: completeTask(leaseId: $l${i}) { id }`)
      .join(' ')} }`;
    await gql(url, doc, vars);
  }
}

export async function dispatchRemote(n: number, env: Record<string, string> = {}, batch = false): Promise<number> {
  const server = await benchServer(env);
  const stop = { now: false };
  try {
    const agents = [0, 1, 2, 3].map((i) => remoteAgent(server.url, `remote-${i}`, stop, batch));
    const started = performance.now();
    const { startWorkflow } = await gql(server.url, `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, {
      i: { name: 'bench', steps: steps(n, 'bench.remote') },
    });
    const status = await waitForWorkflow(server.url, startWorkflow.id);
    const seconds = (performance.now() - started) / 1000;
    stop.now = true;
    await Promise.all(agents);
    if (status !== 'COMPLETED') throw new Error(`workflow ended ${status}`);
    return n / seconds;
  } finally {
    await server.stop();
  }
}

/**
 * The floors next to the raw loop: how far the engine's own tables allow it to get (the raw loop's
 * statements on them), and how far the task lifecycle allows (QUEUED, RUNNING, COMPLETED, each with
 * its history row and commit).
 */
async function floors(n: number, baseline: number, databaseUrl: string | null, withEngineTable = true) {
  const lifecycle = await lifecycleFloor(n, databaseUrl);
  const extra: Record<string, number> = { lifecycleFloorTasksPerSecond: lifecycle, lifecycleFloorRatio: lifecycle / baseline };
  if (!withEngineTable) return extra;
  const floor = await engineTableFloor(n, databaseUrl);
  return {
    floorTasksPerSecond: floor.floorTasksPerSecond,
    floorRatio: floor.floorTasksPerSecond / baseline,
    floorInsertMs: floor.insertMs,
    floorLoopTasksPerSecond: floor.loopTasksPerSecond,
    ...extra,
  };
}

const size = (ctx: BenchContext) => (ctx.quick ? 2000 : 10_000);

export const dispatchBuiltinScenario: Scenario = {
  name: 'dispatch-builtin',
  higherIsBetter: true,
  async round(ctx): Promise<Measurement> {
    const value = await dispatchBuiltin(size(ctx));
    const baseline = await rawLoopTasksPerSecond(size(ctx));
    return { value, unit: 'tasks/s', baseline, baselineName: 'raw SKIP LOCKED loop, batch 50 (PGlite)', extra: await floors(size(ctx), baseline, null) };
  },
};

export const dispatchRemoteScenario: Scenario = {
  name: 'dispatch-remote',
  higherIsBetter: true,
  async round(ctx): Promise<Measurement> {
    const value = await dispatchRemote(size(ctx));
    const baseline = await rawLoopTasksPerSecond(size(ctx));
    return { value, unit: 'tasks/s', baseline, baselineName: 'raw SKIP LOCKED loop, batch 50 (PGlite)', extra: await floors(size(ctx), baseline, null, false) };
  },
};

export const dispatchRemoteBatchScenario: Scenario = {
  name: 'dispatch-remote-batch',
  higherIsBetter: true,
  async round(ctx): Promise<Measurement> {
    const value = await dispatchRemote(size(ctx), {}, true);
    const baseline = await rawLoopTasksPerSecond(size(ctx));
    return { value, unit: 'tasks/s', baseline, baselineName: 'raw SKIP LOCKED loop, batch 50 (PGlite)', extra: await floors(size(ctx), baseline, null, false) };
  },
};

export const dispatchBuiltinPostgresScenario: Scenario = {
  name: 'dispatch-builtin-postgres',
  higherIsBetter: true,
  skip: (ctx) => (ctx.databaseUrl ? null : 'no DATABASE_URL: PostgreSQL scenarios skipped'),
  async round(ctx): Promise<Measurement> {
    const schema = `bench_${process.pid}_${Date.now()}`;
    const value = await dispatchBuiltin(size(ctx), { DATABASE_URL: ctx.databaseUrl as string, DATABASE_SCHEMA: schema });
    const baseline = await rawLoopTasksPerSecond(size(ctx), ctx.databaseUrl);
    return {
      value,
      unit: 'tasks/s',
      baseline,
      baselineName: 'raw SKIP LOCKED loop, batch 50 (PostgreSQL)',
      extra: await floors(size(ctx), baseline, ctx.databaseUrl),
    };
  },
};
