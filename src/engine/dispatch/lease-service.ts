// The agent task protocol as the engine's callers see it (resolvers, built-in agents): claim
// (at once or long-poll), wait for work, heartbeat, complete or fail, hand back. Each call is
// answered by the part of dispatch that owns it; this class only gathers them in one place.
import { type DomainError, invalid } from '../../domain/errors';
import type { TaskOutcome } from '../../domain/enums';
import type { Task, TaskLease } from '../../domain/workflow';
import type { EngineContext } from '../context';
import { CLAIM_MAX, type Claims } from './claims';
import type { Liveness } from './liveness';
import type { LongPoll } from './long-poll';
import type { FailInput, ResultItem, Results } from './results';
import { type Wake, wakeFor } from './wake';

export class LeaseService {
  constructor(
    private readonly ctx: EngineContext,
    private readonly parts: { claims: Claims; longPoll: LongPoll; results: Results; liveness: Liveness },
  ) {}

  /** Takes up to `max` ready tasks the agent can run, never beyond its free concurrency. */
  async claim(agentId: string, max: number): Promise<TaskLease[]> {
    return (await this.parts.claims.claim(agentId, max)).leases;
  }

  /** Claims now, or waits up to waitMs for work this agent can take and claims then (see LongPoll). */
  claimWaiting(agentId: string, max: number, waitMs: number, signal?: AbortSignal): Promise<TaskLease[]> {
    return this.parts.longPoll.claimWaiting(agentId, max, waitMs, signal);
  }

  /** Listens for what can give this agent work (see wake.ts); made before claiming, no wake-up is missed. */
  wakeFor(agentId: string, knownCapabilities?: readonly string[], options: { slots?: boolean } = {}): Wake {
    return wakeFor(this.ctx, agentId, knownCapabilities, options);
  }

  heartbeat(leaseId: string, progress: number | null | undefined, message: string | null | undefined): Promise<TaskLease> {
    return this.parts.results.heartbeat(leaseId, progress, message);
  }

  complete(leaseId: string, output: unknown, outcome: TaskOutcome | null | undefined): Promise<Task> {
    return this.parts.results.complete(leaseId, output, outcome);
  }

  completeMany(items: ResultItem[]): Promise<(Task | DomainError)[]> {
    return this.parts.results.completeMany(items);
  }

  completeAndClaim(
    items: ResultItem[],
    next: { agentId: string; max: number },
  ): Promise<{ results: (Task | DomainError)[]; leases: TaskLease[] }> {
    return this.parts.results.completeAndClaim(items, next);
  }

  fail(leaseId: string, input: FailInput): Promise<Task> {
    return this.parts.results.fail(leaseId, input);
  }

  /** An agent gives leases back unfinished (it is stopping): their tasks are QUEUED, attempt unspent. */
  giveBack(leaseIds: string[]): Promise<number> {
    // As many as one claim can hand out: an agent never holds more from one call.
    if (leaseIds.length > CLAIM_MAX) throw invalid(`leaseIds must hold at most ${CLAIM_MAX} leases`, { field: 'leaseIds' });
    return this.parts.liveness.handBack({ reason: 'agent stopping', leaseIds });
  }

  /**
   * This instance is stopping: the built-in leases it holds go back to the queue, attempt unspent,
   * and any instance (this one after a restart) starts them at once. Returns how many.
   */
  handBack(): Promise<number> {
    return this.parts.liveness.handBack({ reason: 'instance stopping' });
  }
}
