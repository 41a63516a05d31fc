// query: a 100-task workflow read over HTTP under load, against a plain Apollo Server answering a
// static object of the same shape. enqueue: one single-step startWorkflow per request under the same
// load, and how long a committed task takes to reach a connected agent's taskAssigned, next to the
// same on the floor for both (apolloWritingStarts).
import { ApolloServer } from '@apollo/server';
import { GraphQLJSON } from 'graphql-scalars';
import { startStandaloneServer } from '@apollo/server/standalone';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import autocannon from 'autocannon';
import { migrate } from '../../src/storage/migrate';
import { PgliteDriver } from '../../src/storage/pglite';
import { subscribeTo } from '../baseline/in-memory-pubsub';
import { benchServer, gql, median, type Measurement, type Scenario, sleep } from '../lib';

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

const QUERY = `query($id: ID!) { workflow(id: $id) { progress { total completed fraction } tasks { key status output agent { name } errors { type } } } }`;

/** Every server is measured warm: one second of the same load first, not counted. */
const WARM_UP_SECONDS = 1;
/** Each server's measured time is cut into this many slices, taken in turn with the others'. */
const SLICES = 5;

interface Load {
  rps: number;
  p99: number;
  errors: number;
}

/**
 * Loads every target with its body (autocannon, 50 connections) for `seconds` in all, side by side:
 * in SLICES turns, one slice per target per turn, so that every target gets its share of the
 * machine's fast and slow moments. On this machine the same server measured for 5 s at a time
 * gave anything from 3,400 to 7,000 req/s; one block of 10 s per server made the ratio as much a
 * reading of the moment as of the servers. Throughput is the mean over a target's slices, p99 the
 * median of their p99s.
 */
async function loadSideBySide(targets: { url: string; body: string }[], seconds: number): Promise<Load[]> {
  const run = (t: { url: string; body: string }, duration: number) =>
    autocannon({ url: t.url, method: 'POST', headers: { 'content-type': 'application/json' }, body: t.body, connections: 50, duration });
  for (const t of targets) await run(t, WARM_UP_SECONDS);
  const slices = targets.map(() => [] as Load[]);
  for (let turn = 0; turn < SLICES; turn++) {
    for (const [i, t] of targets.entries()) {
      const r = await run(t, seconds / SLICES);
      slices[i]?.push({ rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx });
    }
  }
  return slices.map((xs) => ({
    rps: xs.reduce((n, x) => n + x.rps, 0) / xs.length,
    p99: median(xs.map((x) => x.p99)),
    errors: xs.reduce((n, x) => n + x.errors, 0),
  }));
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
 * A server holding one finished 100-task workflow, and the request that reads it with QUERY; also
 * the answer's shape (for the plain Apollo baseline).
 */
async function workflowServer(env: Record<string, string>) {
  const server = await benchServer(env);
  try {
    const { startWorkflow } = await gql(server.url, `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, {
      i: { name: 'q', steps: Array.from({ length: 100 }, (_, i) => ({ key: `q${i}`, capability: 'builtin.echo', input: { i } })) },
    });
    while ((await gql(server.url, `query($id: ID!) { workflow(id: $id) { status } }`, { id: startWorkflow.id })).workflow.status !== 'COMPLETED') await sleep(20);
    const body = JSON.stringify({ query: QUERY, variables: { id: startWorkflow.id } });
    const shape = (await gql(server.url, QUERY, { id: startWorkflow.id })).workflow;
    return { server, body, shape };
  } catch (e) {
    await server.stop();
    throw e;
  }
}

export const queryScenario: Scenario = {
  name: 'query',
  higherIsBetter: true,
  async round(ctx): Promise<Measurement> {
    const seconds = ctx.quick ? 3 : 10;
    // As configured by default (repeated reads answered from the query cache until data changes) and
    // with the cache off, so that the cost of executing the query stays in view.
    const stops: (() => Promise<void>)[] = [];
    try {
      const cached = await workflowServer({});
      stops.push(() => cached.server.stop());
      const uncached = await workflowServer({ QUERY_CACHE_MB: '0' });
      stops.push(() => uncached.server.stop());
      const plain = await plainApollo(cached.shape);
      stops.push(() => plain.stop());
      const [ours, theirs, withoutCache] = (await loadSideBySide(
        [
          { url: cached.server.url, body: cached.body },
          { url: plain.url, body: cached.body },
          { url: uncached.server.url, body: uncached.body },
        ],
        seconds,
      )) as [Load, Load, Load];
      const res = await fetch(cached.server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: cached.body });
      const cache = res.headers.get('x-query-cache');
      if (cache !== 'HIT') throw new Error(`expected the repeated query to be a cache hit, got ${cache}`);
      if (ours.errors || withoutCache.errors || theirs.errors) throw new Error(`errors under load: ${ours.errors} / ${withoutCache.errors} / ${theirs.errors}`);
      return {
        value: ours.rps,
        unit: 'req/s',
        baseline: theirs.rps,
        baselineName: 'plain Apollo Server, static object (req/s)',
        extra: {
          p99Ms: ours.p99,
          baselineP99Ms: theirs.p99,
          p99Ratio: ours.p99 / Math.max(1, theirs.p99),
          uncachedRps: withoutCache.rps,
          uncachedRatio: withoutCache.rps / theirs.rps,
          uncachedP99Ms: withoutCache.p99,
        },
      };
    } finally {
      for (const stop of stops.reverse()) await stop();
    }
  },
};

/** The capability of the agent commit → agent measures with, on our server and on the floor. */
const LATENCY_CAPABILITY = 'bench.latency';

/** The floor server: starts over HTTP, and a graphql-ws endpoint pushing leases to its one agent. */
interface FloorServer {
  url: string;
  wsUrl: string;
  /** The agent the floor gives every LATENCY_CAPABILITY task to. */
  agentId: string;
  stop(): Promise<void>;
}

/** One lease as the floor pushes it: what the commit → agent client selects. */
type FloorLease = { taskAssigned: { id: string; task: { createdAt: string } } };

/**
 * The floor for `enqueue` on this store: plain Apollo Server (the baseline) whose startWorkflow
 * resolver writes what a start must, and nothing else — the workflow row, its task row and their
 * two history rows, in PGlite through the engine's driver and tables, with the same group commit
 * (starts arriving while a group is written go together in the next transaction, one INSERT per
 * table). No validation, events, express or type-graphql: no implementation of the API on this
 * store can take less.
 *
 * It is the floor for commit → agent too: a start of LATENCY_CAPABILITY is written already given
 * to the floor's one agent — workflow RUNNING, task RUNNING under a lease, the agent's running
 * count, a third history row (leased) — and once committed its lease is pushed over a bare
 * graphql-ws server (as the fan-out baseline's) to that agent's subscribers. The least a server can
 * do to take a start and hand it to a connected agent on this store: each record written once, no
 * claim, no events beyond the push.
 */
async function apolloWritingStarts(): Promise<FloorServer> {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-enqueue-floor-'));
  const driver = await PgliteDriver.open(dir);
  await migrate(driver);
  const agentId = randomUUID();
  await driver.query(
    `INSERT INTO agents (id, name, kind, capabilities, status, concurrency, registered_at, last_seen_at)
     VALUES ($1, 'floor', 'REMOTE', ARRAY[$2], 'ONLINE', 10000, now(), now())`,
    [agentId, LATENCY_CAPABILITY],
  );
  const subscribers = new Set<(lease: FloorLease) => void>();
  let waiting: { name: string; key: string; capability: string; resolve(id: string): void; reject(e: unknown): void }[] = [];
  let writing = false;
  const flush = async () => {
    if (writing) return;
    writing = true;
    try {
      while (waiting.length) {
        const group = waiting;
        waiting = [];
        const now = new Date().toISOString();
        const ids = group.map(() => randomUUID());
        const taskIds = group.map(() => randomUUID());
        const leases = group.map((g, i) => (g.capability === LATENCY_CAPABILITY ? `${taskIds[i]}:1:${randomUUID().replaceAll('-', '')}` : null));
        const leased = leases.filter((l) => l !== null).length;
        try {
          await driver.transaction(async (tx) => {
            await tx.query(
              `INSERT INTO workflows (id, name, status, created_at, started_at, remaining)
               SELECT w.id, w.name, CASE WHEN w.leased THEN 'RUNNING' ELSE 'PENDING' END, $3::timestamptz,
                      CASE WHEN w.leased THEN $3::timestamptz END, 1
                 FROM unnest($1::text[], $2::text[], $4::boolean[]) AS w(id, name, leased)`,
              [ids, group.map((g) => g.name), now, leases.map((l) => l !== null) as unknown as string[]],
            );
            await tx.query(
              `INSERT INTO tasks (id, workflow_id, key, name, capability, status, input, max_attempts, retry_backoff_ms, created_at,
                                  agent_id, attempt, claims, lease_id, lease_expires_at, claimed_at, started_at)
               SELECT t.id, t.w, t.k, t.k, t.c, CASE WHEN t.l IS NULL THEN 'QUEUED' ELSE 'RUNNING' END, 'null'::jsonb, 1, 0,
                      $6::timestamptz, CASE WHEN t.l IS NOT NULL THEN $7 END, (t.l IS NOT NULL)::int, (t.l IS NOT NULL)::int, t.l,
                      CASE WHEN t.l IS NOT NULL THEN $6::timestamptz + interval '30 seconds' END,
                      CASE WHEN t.l IS NOT NULL THEN $6::timestamptz END, CASE WHEN t.l IS NOT NULL THEN $6::timestamptz END
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(id, w, k, c, l)`,
              [taskIds, ids, group.map((g) => g.key), group.map((g) => g.capability), leases as string[], now, agentId],
            );
            if (leased) await tx.query(`UPDATE agents SET running = running + $2 WHERE id = $1`, [agentId, leased]);
            const rows = group.flatMap((_, i) => [
              { type: 'WORKFLOW_STARTED', workflow: ids[i] as string, task: null, agent: null },
              { type: 'TASK_QUEUED', workflow: ids[i] as string, task: taskIds[i] as string, agent: null },
              ...(leases[i] ? [{ type: 'TASK_STARTED', workflow: ids[i] as string, task: taskIds[i] as string, agent: agentId }] : []),
            ]);
            await tx.query(
              `INSERT INTO history_events (type, at, workflow_id, task_id, agent_id)
               SELECT unnest($1::text[]), now(), unnest($2::text[]), unnest($3::text[]), unnest($4::text[])`,
              [rows.map((r) => r.type), rows.map((r) => r.workflow), rows.map((r) => r.task) as string[], rows.map((r) => r.agent) as string[]],
            );
          });
          group.forEach((g, i) => g.resolve(ids[i] as string));
          for (const id of leases) {
            if (!id) continue;
            const lease = { taskAssigned: { id, task: { createdAt: now } } };
            for (const push of subscribers) push(lease);
          }
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
  // The push side: a bare graphql-ws server (as the fan-out baseline) with an in-memory pub/sub.
  const http = createServer();
  const wss = new WebSocketServer({ server: http, path: '/graphql' });
  const schema = buildSchema(`type Query { ok: Boolean } type Task { createdAt: String! } type TaskLease { id: ID! task: Task! }
    type Subscription { taskAssigned(agentId: ID!): TaskLease! }`);
  const leases = () => subscribeTo(subscribers);
  useServer({ schema, roots: { subscription: { taskAssigned: leases } } }, wss);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url,
    wsUrl: `ws://127.0.0.1:${(http.address() as { port: number }).port}/graphql`,
    agentId,
    async stop() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
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
      const plain = await plainApollo({ progress: { total: 1, completed: 0, fraction: 0 }, tasks: [] });
      const floorServer = await apolloWritingStarts().catch(async (e: unknown) => {
        await plain.stop();
        throw e;
      });
      let ours: Load, baseline: Load, floor: Load;
      let latency: CommitToAgent, floorLatency: CommitToAgent;
      try {
        [ours, baseline, floor] = (await loadSideBySide(
          [
            { url: server.url, body },
            { url: plain.url, body: JSON.stringify({ query: QUERY, variables: { id: 'x' } }) },
            { url: floorServer.url, body },
          ],
          seconds,
        )) as [Load, Load, Load];
        if (ours.errors || floor.errors) throw new Error(`errors under load: ${ours.errors} (ours) / ${floor.errors} (the floor)`);
        // Commit → agent at half the throughput above, on this server and then on the floor (each
        // loaded as above, so with as many rows), with the same client.
        const rate = ours.rps / 2;
        const count = ctx.quick ? 200 : 1000;
        const { registerAgent } = await gql(
          server.url,
          `mutation($c: String!) { registerAgent(input: { name: "latency", capabilities: [$c], concurrency: 10000 }) { agent { id } } }`,
          { c: LATENCY_CAPABILITY },
        );
        latency = await commitToAgent(server.url, server.wsUrl, registerAgent.agent.id, rate, count);
        floorLatency = await commitToAgent(floorServer.url, floorServer.wsUrl, floorServer.agentId, rate, count);
        // The round's own figures (the summary gives medians): p99 moves most between rounds.
        process.stdout.write(
          `    commit→agent at ${Math.round(rate)}/s: p50 ${latency.p50} / p99 ${latency.p99} ms, answered ${Math.round(latency.answered)}/s; ` +
            `floor p50 ${floorLatency.p50} / p99 ${floorLatency.p99} ms\n`,
        );
      } finally {
        await floorServer.stop();
        await plain.stop();
      }
      return {
        value: ours.rps,
        unit: 'workflows/s',
        baseline: baseline.rps,
        baselineName: 'plain Apollo Server, static object (req/s)',
        extra: {
          commitToAgentP50Ms: latency.p50,
          commitToAgentP99Ms: latency.p99,
          // Sent at half the throughput above; answered is what the server kept up with, the agent taking each.
          commitToAgentSentPerS: ours.rps / 2,
          commitToAgentAnsweredPerS: latency.answered,
          // The same, at the same rate, on the enqueue floor, which writes each such start already leased.
          commitToAgentFloorP50Ms: floorLatency.p50,
          commitToAgentFloorP99Ms: floorLatency.p99,
          commitToAgentFloorAnsweredPerS: floorLatency.answered,
          floorRps: floor.rps,
          floorRatio: floor.rps / baseline.rps,
        },
      };
    } finally {
      await server.stop();
    }
  },
};

interface CommitToAgent {
  p50: number;
  p99: number;
  answered: number;
}

/**
 * Starts `count` single-step workflows at `rate` per second and measures commit (the task's
 * createdAt) → taskAssigned receipt, for `agentId` subscribed at `wsUrl`. The agent and the sender
 * run in a process of their own (bench/baseline/agent-client.ts), as a remote agent does.
 */
async function commitToAgent(url: string, wsUrl: string, agentId: string, rate: number, count: number): Promise<CommitToAgent> {
  // One second of the same traffic first, uncounted, as every load in this file (WARM_UP_SECONDS).
  const { stdout } = await run(
    process.execPath,
    ['-r', '@swc-node/register', join(ROOT, 'bench', 'baseline', 'agent-client.ts'), url, wsUrl, agentId, LATENCY_CAPABILITY, String(rate), String(count), String(Math.round(rate * WARM_UP_SECONDS))],
    { cwd: ROOT, timeout: 120_000 },
  );
  const result = JSON.parse(stdout.trim().split('\n').pop() as string) as CommitToAgent & { received: number };
  if (result.received < count) throw new Error(`commit → agent: ${result.received} of ${count} tasks reached the agent`);
  return result;
}
