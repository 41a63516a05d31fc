// The built-in agents' AgentTransport: the engine's own lease methods, called in process, as a
// remote agent calls them through the API. Results and the next claim go in one transaction
// (completeAndClaim): a built-in agent pays one write per batch, and the tasks its results make
// ready go straight to it without a wake-up.
import { ErrorSeverity, ErrorType, TaskOutcome, TaskStatus } from '../domain/enums';
import { DomainError } from '../domain/errors';
import type { Orchestrator } from '../engine/orchestrator';
import type { AgentTransport, Lease, LeaseResult, TaskContext, TaskFailure, WorkWaiter } from '../sdk/runtime';

const isLost = (e: unknown) => e instanceof DomainError && (e.type === ErrorType.CONFLICT || e.type === ErrorType.NOT_FOUND);

/** What a running task becomes when it ends under its lease: cancelled, or failed (timed out, lease expired) and maybe queued again. */
const ENDED: ReadonlySet<TaskStatus> = new Set([TaskStatus.CANCELLED, TaskStatus.FAILED, TaskStatus.QUEUED]);

export class InProcessTransport implements AgentTransport {
  readonly cache: TaskContext['cache'];
  /** Running tasks whose end under them aborts their handler, by task id. */
  private readonly watched = new Map<string, { attempt: number; ended: () => void }>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly o: Orchestrator,
    private readonly agentId: string,
    private readonly capability: string,
  ) {
    this.cache = {
      get: async <T>(key: string) => ((await o.cache.get(key))?.value ?? null) as T | null,
      set: async (key, value, ttlSeconds) => {
        await o.cache.set(key, value, ttlSeconds);
      },
    };
    this.unsubscribe = o.bus.subscribe('task', (e) => {
      if (e.task.agentId !== agentId || !ENDED.has(e.task.status)) return;
      const w = this.watched.get(e.task.id);
      if (w && w.attempt === e.task.attempt) w.ended();
    });
  }

  claim(max: number): Promise<Lease[]> {
    return this.o.leases.claim(this.agentId, max);
  }

  waitForWork(): WorkWaiter {
    // Slots freed by results are refilled by the write that records them (complete), so only new
    // work wakes the agent; the runtime itself notices a slot freed some other way.
    const wake = this.o.leases.wakeFor(this.agentId, [this.capability], { slots: false });
    return { wait: (signal) => wake.wait(this.o.options.leaseTimeoutMs, signal), cancel: () => wake.cancel() };
  }

  async heartbeat(lease: Lease, progress?: { fraction: number; message: string | null }): Promise<boolean> {
    try {
      await this.o.leases.heartbeat(lease.id, progress?.fraction ?? null, progress?.message ?? null);
      return true;
    } catch (e) {
      if (isLost(e)) return false;
      throw e;
    }
  }

  async complete(results: LeaseResult[], next: number): Promise<Lease[]> {
    // A result refused as stale is dropped: the task is someone else's now.
    const { leases } = await this.o.leases.completeAndClaim(
      results.map((r) => ({ leaseId: r.lease.id, output: r.output, outcome: TaskOutcome[r.outcome] })),
      { agentId: this.agentId, max: next },
    );
    return leases;
  }

  async fail(lease: Lease, f: TaskFailure): Promise<void> {
    try {
      await this.o.leases.fail(lease.id, {
        type: ErrorType[f.type],
        // Unsaid, the engine takes the type's usual severity.
        severity: f.severity ? ErrorSeverity[f.severity] : null,
        message: f.message,
        retryable: f.retryable,
        context: f.context ?? { agent: this.capability },
      });
    } catch (e) {
      if (!isLost(e)) throw e;
    }
  }

  /**
   * The engine hands back every built-in lease of this instance at once, so this gives back the
   * other built-in agents' unfinished tasks too: harmless, as they all stop together (BuiltinRunner.stop).
   */
  async handBack(): Promise<void> {
    await this.o.leases.handBack();
  }

  watch(lease: Lease, ended: () => void): () => void {
    const entry = { attempt: lease.attempt, ended };
    this.watched.set(lease.task.id, entry);
    return () => {
      if (this.watched.get(lease.task.id) === entry) this.watched.delete(lease.task.id);
    };
  }

  async close(): Promise<void> {
    this.unsubscribe();
  }
}
