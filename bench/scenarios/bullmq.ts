// peer-bullmq: BullMQ on the local Redis, 10,000 no-op jobs at concurrency 50, next to
// dispatch-builtin measured in the same round.
import { Queue, Worker } from 'bullmq';
import type { Measurement, Scenario } from '../lib';
import { dispatchBuiltin } from './dispatch';

async function bullmqJobsPerSecond(redisUrl: string, n: number): Promise<number> {
  const u = new URL(redisUrl);
  const connection = { host: u.hostname, port: Number(u.port || 6379) };
  const name = `bench-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  let done = 0;
  let finished: () => void = () => undefined;
  const all = new Promise<void>((r) => (finished = r));
  const started = performance.now();
  const worker = new Worker(name, async () => undefined, { connection, concurrency: 50 });
  worker.on('completed', () => {
    if (++done === n) finished();
  });
  for (let i = 0; i < n; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ name: 'noop', data: { i: i + j }, opts: { removeOnComplete: true } })));
  }
  await all;
  const rate = n / ((performance.now() - started) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return rate;
}

export const peerBullmqScenario: Scenario = {
  name: 'peer-bullmq',
  higherIsBetter: true,
  skip: (ctx) => (ctx.redisUrl ? null : 'no REDIS_URL: BullMQ needs Redis'),
  async round(ctx): Promise<Measurement> {
    const n = ctx.quick ? 2000 : 10_000;
    const theirs = await bullmqJobsPerSecond(ctx.redisUrl as string, n);
    const ours = await dispatchBuiltin(n);
    return { value: ours, unit: 'tasks/s', baseline: theirs, baselineName: 'BullMQ add+process, concurrency 50 (jobs/s)' };
  },
};
