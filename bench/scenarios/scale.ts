// scale (PostgreSQL): claim latency and a QUEUED-task listing with 1,000,000 tasks stored versus
// 10,000; indexes and keyset paging should keep the ratio near 1.
import { silentLogger } from '../../src/support/logger';
import { migrate } from '../../src/storage/migrate';
import { PostgresDriver } from '../../src/storage/postgres';
import { benchServer, gql, type Measurement, percentile, type Scenario } from '../lib';

async function seed(url: string, schema: string, tasks: number): Promise<void> {
  const driver = await PostgresDriver.open({ url, poolSize: 2, schema, log: silentLogger });
  try {
    await migrate(driver);
    await driver.query(`INSERT INTO workflows (id, name, status, created_at, remaining) VALUES ('w', 'seed', 'RUNNING', now(), $1)`, [tasks]);
    // Mostly finished work, as a long-lived store has, with a queue of ready tasks on top.
    await driver.query(
      `INSERT INTO tasks (id, workflow_id, key, name, capability, status, max_attempts, retry_backoff_ms, created_at, finished_at)
       SELECT 't' || g, 'w', 'k' || g, 'k' || g, 'bench.scale',
              CASE WHEN g > $1 - 5000 THEN 'QUEUED' ELSE 'COMPLETED' END, 1, 0, now(), now()
         FROM generate_series(1, $1) g`,
      [tasks],
    );
    await driver.query('ANALYZE tasks');
  } finally {
    await driver.close();
  }
}

async function measure(url: string, schema: string, samples: number): Promise<{ claimP99: number; listP99: number }> {
  const server = await benchServer({ DATABASE_URL: url, DATABASE_SCHEMA: schema });
  try {
    const { registerAgent } = await gql(server.url, `mutation { registerAgent(input: { name: "scale", capabilities: ["bench.scale"], concurrency: 10000 }) { agent { id } } }`);
    const claims: number[] = [];
    const lists: number[] = [];
    for (let i = 0; i < samples; i++) {
      let t = performance.now();
      await gql(server.url, `mutation($a: ID!) { claimTasks(agentId: $a, max: 1) { id } }`, { a: registerAgent.agent.id });
      claims.push(performance.now() - t);
      t = performance.now();
      await gql(server.url, `{ tasks(filter: { statuses: [QUEUED] }, first: 50) { edges { node { id key } } pageInfo { endCursor } } }`);
      lists.push(performance.now() - t);
    }
    return { claimP99: percentile(claims, 99), listP99: percentile(lists, 99) };
  } finally {
    await server.stop();
  }
}

export const scaleScenario: Scenario = {
  name: 'scale',
  higherIsBetter: false,
  skip: (ctx) => (ctx.databaseUrl ? null : 'no DATABASE_URL: the scale scenario runs on PostgreSQL only'),
  async round(ctx): Promise<Measurement> {
    const url = ctx.databaseUrl as string;
    const big = ctx.quick ? 100_000 : 1_000_000;
    const stamp = `${process.pid}_${Date.now()}`;
    const small = `bench_small_${stamp}`;
    const large = `bench_large_${stamp}`;
    const drop = async (schema: string) => {
      const d = await PostgresDriver.open({ url, poolSize: 1, schema: null, log: silentLogger });
      await d.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => d.close());
    };
    try {
      await seed(url, small, 10_000);
      await seed(url, large, big);
      const samples = ctx.quick ? 100 : 300;
      const s = await measure(url, small, samples);
      const l = await measure(url, large, samples);
      return {
        value: l.claimP99,
        unit: `ms claim p99 @${big / 1000}k`,
        baseline: s.claimP99,
        baselineName: 'claim p99 with 10,000 tasks (ms)',
        extra: { listP99Large: l.listP99, listP99Small: s.listP99, listRatio: l.listP99 / s.listP99 },
      };
    } finally {
      await drop(small);
      await drop(large);
    }
  },
};
