// Push dispatch (`taskAssigned`): leases for one connected agent, claimed by the server as work
// arrives, up to PUSH_BATCH per claim (never beyond the agent's free concurrency), and sent one
// by one. Leases claimed but not yet sent when the subscriber leaves are given back at once.
import { notFound } from '../domain/errors';
import type { TaskLease } from '../domain/workflow';
import type { EngineContext } from './context';
import type { LeaseService } from './leases';

/** The most leases one push claim takes: a burst of work costs one transaction per this many. */
const PUSH_BATCH = 50;

export class Dispatcher {
  constructor(
    private readonly ctx: EngineContext,
    private readonly leases: LeaseService,
  ) {}

  /** Throws NOT_FOUND for an unknown agent; otherwise yields leases until the consumer returns. */
  async leasesFor(agentId: string): Promise<AsyncIterableIterator<TaskLease>> {
    const [agent] = await this.ctx.store.getAgents([agentId]);
    if (!agent) throw notFound('agent', agentId);
    const stop = new AbortController();
    // What wakes this subscriber: work queued for its capabilities (kept current as it re-registers).
    let capabilities: readonly string[] = agent.capabilities;
    const offAgent = this.ctx.bus.subscribe('agent', (e) => {
      if (e.agent.id === agentId) capabilities = e.agent.capabilities;
    });
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
        offAgent();
        // Claimed but never delivered: the tasks go back to the queue at once, attempt unspent.
        if (buffer.length) await this.leases.unclaim(buffer.splice(0).map((l) => l.id)).catch(() => undefined);
      }
      return { value: undefined, done: true };
    };

    const next = async (): Promise<IteratorResult<TaskLease>> => {
      while (!stop.signal.aborted) {
        const ready = buffer.shift();
        if (ready) return { value: ready, done: false };
        const wake = this.leases.wakeFor(agentId, capabilities);
        try {
          const claimed = await this.leases.claim(agentId, PUSH_BATCH);
          if (stop.signal.aborted) {
            // The subscriber left while we claimed (finish has run): these go straight back.
            if (claimed.length) await this.leases.unclaim(claimed.map((l) => l.id)).catch(() => undefined);
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
