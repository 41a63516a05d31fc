// Long-poll (`claimTasks` with `waitMs`): claims now, or waits for work the agent can take and
// claims then. Woken by the event bus (see wake.ts), never by polling storage.
import { invalid } from '../../domain/errors';
import type { TaskLease } from '../../domain/workflow';
import type { EngineContext } from '../context';
import type { Claims } from './claims';
import type { Liveness } from './liveness';
import { wakeFor } from './wake';

export const WAIT_MAX_MS = 60_000;

export class LongPoll {
  constructor(
    private readonly ctx: EngineContext,
    private readonly claims: Claims,
    private readonly liveness: Liveness,
  ) {}

  /**
   * Waits up to waitMs. Returns at once for a draining agent, and without claiming once `signal`
   * fires (the caller went away), so no lease is taken for nobody.
   */
  async claimWaiting(agentId: string, max: number, waitMs: number, signal?: AbortSignal): Promise<TaskLease[]> {
    if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > WAIT_MAX_MS) {
      throw invalid(`waitMs must be an integer from 0 to ${WAIT_MAX_MS}`, { field: 'waitMs' });
    }
    const deadline = Date.now() + waitMs;
    for (;;) {
      const wake = wakeFor(this.ctx, agentId);
      try {
        if (signal?.aborted) return [];
        const { leases, accepting } = await this.claims.claim(agentId, max);
        if (signal?.aborted && leases.length) {
          // The caller went away while we claimed: nobody will run these, so they go back now.
          await this.liveness.handBack({ reason: 'not delivered', leaseIds: leases.map((l) => l.id) });
          return [];
        }
        const left = deadline - Date.now();
        if (leases.length || !accepting || left <= 0 || signal?.aborted) return leases;
        await wake.wait(left, signal);
      } finally {
        wake.cancel();
      }
    }
  }
}
