// Push dispatch (`taskAssigned`): leases for one connected agent, claimed by the server as work
// arrives, one per pull, so a lease is only taken when the subscriber is ready to receive it.
import { notFound } from '../domain/errors';
import type { TaskLease } from '../domain/workflow';
import type { EngineContext } from './context';
import type { LeaseService } from './leases';

export class Dispatcher {
  constructor(
    private readonly ctx: EngineContext,
    private readonly leases: LeaseService,
  ) {}

  /** Throws NOT_FOUND for an unknown agent; otherwise yields leases until the consumer returns. */
  async leasesFor(agentId: string): Promise<AsyncIterableIterator<TaskLease>> {
    if ((await this.ctx.store.getAgents([agentId])).length === 0) throw notFound('agent', agentId);
    const stop = new AbortController();
    const buffer: TaskLease[] = [];
    // While subscribed the agent is connected: keep it from being marked OFFLINE.
    const keepAlive = setInterval(
      () => void this.ctx.store.touchAgents([agentId], this.ctx.now()).catch(() => undefined),
      Math.max(1000, Math.floor(this.ctx.options.leaseTimeoutMs / 3)),
    );
    keepAlive.unref();

    const finish = async (): Promise<IteratorResult<TaskLease>> => {
      if (!stop.signal.aborted) {
        stop.abort();
        clearInterval(keepAlive);
        // Claimed but never delivered: hand the tasks back at once instead of at lease expiry.
        if (buffer.length) {
          await this.ctx.store.expireLeases({ taskIds: buffer.splice(0).map((l) => l.taskId) }, this.ctx.now()).catch(() => undefined);
        }
      }
      return { value: undefined, done: true };
    };

    const next = async (): Promise<IteratorResult<TaskLease>> => {
      while (!stop.signal.aborted) {
        const ready = buffer.shift();
        if (ready) return { value: ready, done: false };
        const wake = this.leases.wakeFor(agentId);
        try {
          const claimed = await this.leases.claim(agentId, 1);
          if (stop.signal.aborted) {
            buffer.push(...claimed);
            break;
          }
          if (claimed.length) {
            buffer.push(...claimed);
            continue;
          }
          await wake.wait(this.ctx.options.leaseTimeoutMs, stop.signal);
        } finally {
          wake.cancel();
        }
      }
      return finish();
    };

    const iterator: AsyncIterableIterator<TaskLease> = {
      next,
      return: finish,
      throw: async (e?: unknown) => {
        await finish();
        throw e;
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}
