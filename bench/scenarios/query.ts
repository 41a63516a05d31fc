// query: a 100-task workflow read over HTTP under load, against a plain Apollo Server answering a
// static object of the same shape. enqueue: one single-step startWorkflow per request under the same
// load, and how long a committed task takes to reach a connected agent's taskAssigned.
import { ApolloServer } from '@apollo/server';
import { GraphQLJSON } from 'graphql-scalars';
import { startStandaloneServer } from '@apollo/server/standalone';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { migrate } from '../../src/storage/migrate';
import { PgliteDriver } from '../../src/storage/pglite';
import { benchServer, gql, percentile, type Measurement, type Scenario, sleep } from '../lib';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const QUERY = `query($id: ID!) { workflow(id: $id) { progress { total completed fraction } tasks { key status output agent { name } errors { type } } } }`;

/** Every server is measured warm: one second of the same load first, not counted. */
const WARM_UP_SECONDS = 1;

async function load(url: string, body: string, seconds: number): Promise<{ rps: number; p99: number; errors: number }> {
  const run = (duration: number) => autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 50, duration });
  await run(WARM_UP_SECONDS);
  const result = await run(seconds);
  return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

/** A plain Apollo Server answering the same query shape from a static object. */
async function plainApollo(shape: unknown): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new ApolloServer({
    typeDefs: `scalar JSON type Q { workflow(id: ID!): W } type W { progress: P tasks: [T!]! } type P { total: Int completed: Int fraction: Float }
      type T { key: String status: String output: JSON agent: A errors: [E!]! } type A { name: String } type E { type: String }
      schema { query: Q }`,
    resolvers: { JSON: GraphQLJSON, Q: { workflow: () => shape } },
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { url, stop: () => server.stop() };
}

/**
 * A server holding one finished 100-task workflow, loaded with QUERY for `seconds`; also the answer's
 * shape (for the plain Apollo baseline) and whether a repeated query came from the query cache.
 */
async function loadWorkflowQuery(seconds: number, env: Record<string, string>) {
  const server = await benchServer(env);
  try {
    const { startWorkflow } = await gql(server.url, `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, {
      i: { name: 'q', steps: Array.from({ length: 100 }, (_, i) => ({ key: `q${i}`, capability: 'builtin.echo', input: { i } })) },
    });
    while ((await gql(server.url, `query($id: ID!) { workflow(id: $id) { status } }`, { id: startWorkflow.id })).workflow.status !== 'COMPLETED') await sleep(20);
    const body = JSON.stringify({ query: QUERY, variables: { id: startWorkflow.id } });
    const shape = (await gql(server.url, QUERY, { id: startWorkflow.id })).workflow;
    const result = await load(server.url, body, seconds);
    const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { ...result, body, shape, cache: res.headers.get('x-query-cache') };
  } finally {
    await server.stop();
  }
}

export const queryScenario: Scenario = {
  name: 'query',
  higherIsBetter: true,
  async round(ctx): Promise<Measurement> {
    const seconds = ctx.quick ? 3 : 10;
    // As configured by default (repeated reads answered from the query cache until data changes) and
    // with the cache off, so that the cost of executing the query stays in view.
    const ours = await loadWorkflowQuery(seconds, {});
    if (ours.cache !== 'HIT') throw new Error(`expected the repeated query to be a cache hit, got ${ours.cache}`);
    const uncached = await loadWorkflowQuery(seconds, { QUERY_CACHE_MB: '0' });
    const plain = await plainApollo(ours.shape);
    try {
      const theirs = await load(plain.url, ours.body, seconds);
      if (ours.errors || uncached.errors || theirs.errors) throw new Error(`errors under load: ${ours.errors} / ${uncached.errors} / ${theirs.errors}`);
      return {
        value: ours.rps,
        unit: 'req/s',
        baseline: theirs.rps,
        baselineName: 'plain Apollo Server, static object (req/s)',
        extra: {
          p99Ms: ours.p99,
          baselineP99Ms: theirs.p99,
          p99Ratio: ours.p99 / Math.max(1, theirs.p99),
          uncachedRps: uncached.rps,
          uncachedRatio: uncached.rps / theirs.rps,
          uncachedP99Ms: uncached.p99,
        },
      };
    } finally {
      await plain.stop();
    }
  },
};

/**
 * The floor for `enqueue` on this store: plain Apollo Server (the baseline) whose startWorkflow
 * resolver writes what a start must, and nothing else — the workflow row, its task row and their
 * two history rows, in PGlite through the engine's driver and tables, with the same group commit
 * (starts arriving while a group is written go together in the next transaction, one INSERT per
 * table). No validation, events, express or type-graphql: no implementation of the API on this
 * store can take less.
 */
async function apolloWritingStarts(): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-enqueue-floor-'));
  const driver = await PgliteDriver.open(dir);
  await migrate(driver);
  let waiting: { name: string; key: string; capability: string; resolve(id: string): void; reject(e: unknown): void }[] = [];
  let writing = false;
  const flush = async () => {
    if (writing) return;
    writing = true;
    try {
      while (waiting.length) {
        const group = waiting;
        waiting = [];
        const ids = group.map(() => randomUUID());
        const taskIds = group.map(() => randomUUID());
        try {
          await driver.transaction(async (tx) => {
            await tx.query(
              `INSERT INTO workflows (id, name, status, created_at, remaining) SELECT w.id, w.name, 'PENDING', now(), 1 FROM unnest($1::text[], $2::text[]) AS w(id, name)`,
              [ids, group.map((g) => g.name)],
            );
            await tx.query(
              `INSERT INTO tasks (id, workflow_id, key, name, capability, status, input, max_attempts, retry_backoff_ms, created_at)
               SELECT t.id, t.w, t.k, t.k, t.c, 'QUEUED', 'null'::jsonb, 1, 0, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(id, w, k, c)`,
              [taskIds, ids, group.map((g) => g.key), group.map((g) => g.capability)],
            );
            await tx.query(
              `INSERT INTO history_events (type, at, workflow_id, task_id)
               SELECT unnest($1::text[]), now(), unnest($2::text[]), unnest($3::text[])`,
              [
                group.flatMap(() => ['WORKFLOW_STARTED', 'TASK_QUEUED']),
                group.flatMap((_, i) => [ids[i] as string, ids[i] as string]),
                group.flatMap((_, i) => [null, taskIds[i] as string]) as string[],
              ],
            );
          });
          group.forEach((g, i) => g.resolve(ids[i] as string));
        } catch (e) {
          for (const g of group) g.reject(e);
        }
      }
    } finally {
      writing = false;
    }
  };
  const server = new ApolloServer({
    typeDefs: `type Query { ok: Boolean } type Mutation { startWorkflow(input: StartWorkflowInput!): Workflow! }
      input StartWorkflowInput { name: String! steps: [StepInput!]! } input StepInput { key: String! capability: String! }
      type Workflow { id: ID! }`,
    resolvers: {
      Mutation: {
        startWorkflow: (_: unknown, { input }: { input: { name: string; steps: { key: string; capability: string }[] } }) =>
          new Promise<string>((resolve, reject) => {
            const step = input.steps[0] as { key: string; capability: string };
            waiting.push({ name: input.name, key: step.key, capability: step.capability, resolve, reject });
            // A loop turn later, as the engine's group commit, so requests that arrive together go together.
            setImmediate(() => void flush());
          }).then((id) => ({ id })),
      },
    },
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return {
    url,
    async stop() {
      await server.stop();
      await driver.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const enqueueScenario: Scenario = {
  name: 'enqueue',
  higherIsBetter: true,
  async round(ctx): Promise<Measurement> {
    const seconds = ctx.quick ? 3 : 10;
    const server = await benchServer();
    try {
      const body = JSON.stringify({
        query: `mutation { startWorkflow(input: { name: "e", steps: [{ key: "only", capability: "nobody.serves.this" }] }) { id } }`,
      });
      const ours = await load(server.url, body, seconds);
      const shape = { progress: { total: 1, completed: 0, fraction: 0 }, tasks: [] };
      const plain = await plainApollo(shape);
      let baseline: number;
      try {
        baseline = (await load(plain.url, JSON.stringify({ query: QUERY, variables: { id: 'x' } }), seconds)).rps;
      } finally {
        await plain.stop();
      }
      const floorServer = await apolloWritingStarts();
      let floor: number;
      try {
        const floorLoad = await load(floorServer.url, body, seconds);
        if (floorLoad.errors) throw new Error(`errors under load on the enqueue floor: ${floorLoad.errors}`);
        floor = floorLoad.rps;
      } finally {
        await floorServer.stop();
      }
      const latency = await commitToAgent(server.url, server.wsUrl, ours.rps / 2, ctx.quick ? 200 : 1000);
      return {
        value: ours.rps,
        unit: 'workflows/s',
        baseline,
        baselineName: 'plain Apollo Server, static object (req/s)',
        extra: { commitToAgentP50Ms: latency.p50, commitToAgentP99Ms: latency.p99, floorRps: floor, floorRatio: floor / baseline },
      };
    } finally {
      await server.stop();
    }
  },
};

/** Starts single-step workflows at `rate` per second; measures commit (task createdAt) → taskAssigned receipt. */
async function commitToAgent(url: string, wsUrl: string, rate: number, count: number): Promise<{ p50: number; p99: number }> {
  const { registerAgent } = await gql(url, `mutation { registerAgent(input: { name: "latency", capabilities: ["bench.latency"], concurrency: 10000 }) { agent { id } } }`);
  const client = createClient({ url: wsUrl, webSocketImpl: WebSocket });
  const latencies: number[] = [];
  const pending: string[] = [];
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  const dispose = client.subscribe<{ taskAssigned: { id: string; task: { createdAt: string } } }>(
    { query: `subscription($a: ID!) { taskAssigned(agentId: $a) { id task { createdAt } } }`, variables: { a: registerAgent.agent.id } },
    {
      next: ({ data }) => {
        if (!data) return;
        latencies.push(Date.now() - new Date(data.taskAssigned.task.createdAt).getTime());
        pending.push(data.taskAssigned.id);
        if (latencies.length >= count) done();
      },
      error: () => done(),
      complete: () => undefined,
    },
  );
  await sleep(300);
  const gap = 1000 / Math.max(1, rate);
  const start = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + i * gap;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sends.push(gql(url, `mutation { startWorkflow(input: { name: "l", steps: [{ key: "x", capability: "bench.latency" }] }) { id } }`));
  }
  await Promise.all(sends);
  await Promise.race([all, sleep(30_000)]);
  dispose();
  await client.dispose();
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}
