// Results: what the holder of a lease reports on it — progress (heartbeat, which also extends it),
// completion, failure — and the end of a lease nobody reported on (the sweeper's expiries). The
// lease id fences every report: a result is recorded once, by the holder of the current lease.
import { ErrorSeverity, ErrorType, HistoryEventType, TaskOutcome, TaskStatus } from '../../domain/enums';
import { conflict, type DomainError, invalid } from '../../domain/errors';
import { ErrorRecordBuilder } from '../../domain/error-record';
import type { Task, TaskLease } from '../../domain/workflow';
import type { Store, StoredTask } from '../../storage/store';
import type { EngineContext } from '../context';
import { GroupCommit } from '../group-commit';
import { checkJsonSize } from '../json-limit';
import { publicTask, type Transitions } from '../transitions';
import type { Changes } from '../writer';
import { CLAIM_MAX, type Claims } from './claims';
import { currentLease, staleness, toLease } from './lease';
import type { Liveness } from './liveness';
import { newId } from '../../support/ids';

export interface ResultItem {
  leaseId: string;
  output: unknown;
  outcome?: TaskOutcome | null;
}

export interface FailInput {
  type: ErrorType;
  severity?: ErrorSeverity | null;
  message: string;
  context?: unknown;
  retryable?: boolean | null;
}

export class Results {
  /** Results written together when they arrive together (see complete). */
  private readonly completions = new GroupCommit<ResultItem, Task | DomainError>({
    // Each item was checked by complete() before it joined the group.
    write: (items) => this.ctx.writer.write((tx, changes) => this.record(tx, changes, items)),
    take: () => CLAIM_MAX,
  });

  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
    private readonly claims: Claims,
    private readonly liveness: Liveness,
  ) {}

  /** Extends the lease; progress (0..1) and message are recorded, announced at most once per throttle window. */
  async heartbeat(leaseId: string, progress: number | null | undefined, message: string | null | undefined): Promise<TaskLease> {
    if (progress != null && (!Number.isFinite(progress) || progress < 0 || progress > 1)) {
      throw invalid('progress must be between 0 and 1', { field: 'progress' });
    }
    if (message != null && message.length > 1000) throw invalid('message is longer than 1000 characters', { field: 'message' });
    const now = this.ctx.now();
    return this.ctx.writer.write(async (tx, changes) => {
      const { task } = await currentLease(tx, leaseId);
      const reported = progress != null || message != null;
      const announce =
        reported && (!task.progressAt || now.getTime() - task.progressAt.getTime() >= this.ctx.options.progressThrottleMs);
      const updated = await tx.extendLease(
        task.id,
        new Date(now.getTime() + this.ctx.options.leaseTimeoutMs),
        reported
          ? { progress: progress ?? task.progress, message: message ?? task.progressMessage, at: announce ? now : null }
          : null,
      );
      if (task.agentId) await this.liveness.seen(tx, [task.agentId]);
      if (announce) {
        this.transitions.taskChanged(changes, updated, TaskStatus.RUNNING, HistoryEventType.TASK_PROGRESS, {
          progress: updated.progress,
          message: updated.progressMessage,
        });
      }
      return toLease(updated);
    });
  }

  /**
   * Records one result. Results that arrive while an earlier group is being written are written
   * together in the next transaction (group commit): an idle server writes at once, a busy one
   * pays one transaction per group instead of one per result.
   */
  async complete(leaseId: string, output: unknown, outcome: TaskOutcome | null | undefined): Promise<Task> {
    this.check(output, outcome);
    const result = await this.completions.add({ leaseId, output, outcome });
    if (result instanceof Error) throw result;
    return result;
  }

  private check(output: unknown, outcome: TaskOutcome | null | undefined): void {
    checkJsonSize(output, this.ctx.options.maxJsonBytes, 'output');
    if (outcome === TaskOutcome.FAILURE) throw invalid('report a failure with failTask, which records why', { field: 'outcome' });
  }

  /**
   * Records many results in one transaction (the built-in agents report this way). Each item
   * answers with its task, or with the error that refused it (stale or unknown lease), alone.
   */
  async completeMany(items: ResultItem[]): Promise<(Task | DomainError)[]> {
    if (items.length === 0 || items.length > CLAIM_MAX) {
      throw invalid(`results must hold 1 to ${CLAIM_MAX} results`, { field: 'results' });
    }
    for (const i of items) this.check(i.output, i.outcome);
    return this.ctx.writer.write((tx, changes) => this.record(tx, changes, items));
  }

  /**
   * Records results and, in the same transaction, claims the agent's next tasks: up to `max`,
   * which may be the slots these results free. A built-in agent thus pays one transaction per
   * batch, and the tasks its results make ready go straight to it without a wake-up.
   */
  async completeAndClaim(
    items: ResultItem[],
    next: { agentId: string; max: number },
  ): Promise<{ results: (Task | DomainError)[]; leases: TaskLease[] }> {
    for (const i of items) this.check(i.output, i.outcome);
    return this.ctx.writer.write(async (tx, changes) => {
      const results = await this.record(tx, changes, items);
      const leases = next.max > 0 ? (await this.claims.claimIn(tx, changes, next.agentId, Math.min(next.max, CLAIM_MAX))).leases : [];
      return { results, leases };
    });
  }

  private async record(tx: Store, changes: Changes, items: ResultItem[]): Promise<(Task | DomainError)[]> {
    // The lease check is part of the update: only current leases complete. A lease given twice
    // in one batch counts once; the rest are looked up only to say why they were refused.
    const results: (Task | DomainError)[] = [];
    const first = new Map<string, number>();
    items.forEach((item, index) => {
      if (first.has(item.leaseId)) results[index] = conflict(`lease ${item.leaseId} was reported twice`, { leaseId: item.leaseId });
      else first.set(item.leaseId, index);
    });
    const done = await tx.completeLeasedTasks(
      [...first].map(([leaseId, index]) => ({
        leaseId,
        outcome: items[index]?.outcome ?? TaskOutcome.SUCCESS,
        output: items[index]?.output ?? null,
      })),
      this.ctx.now(),
    );
    for (const d of done) {
      results[first.get(d.leaseId) as number] = publicTask(d.task);
      first.delete(d.leaseId);
    }
    if (first.size) {
      const found = new Map((await tx.getLeases([...first.keys()])).map((l) => [l.leaseId, l]));
      for (const [leaseId, index] of first) {
        results[index] = staleness(leaseId, found.get(leaseId)) ?? conflict(`lease ${leaseId} is no longer valid`, { leaseId });
      }
    }
    await this.liveness.seen(tx, done.flatMap((d) => (d.task.agentId ? [d.task.agentId] : [])));
    await this.transitions.completed(tx, changes, done.map((d) => d.task));
    return results;
  }

  async fail(leaseId: string, input: FailInput): Promise<Task> {
    checkJsonSize(input.context, this.ctx.options.maxJsonBytes, 'context');
    return this.ctx.writer.write(async (tx, changes) => {
      const { task } = await currentLease(tx, leaseId);
      const error = ErrorRecordBuilder.reported(input)
        .workflow(task.workflowId)
        .task(task.id)
        .agent(task.agentId)
        .build(newId(), this.ctx.now());
      if (task.agentId) await this.liveness.seen(tx, [task.agentId]);
      return publicTask(await this.transitions.fail(tx, changes, task, error));
    });
  }

  /** Fails a task whose lease expired or whose attempt ran out of time (the sweeper). */
  async expire(tx: Store, changes: Changes, task: StoredTask, reason: 'lease' | 'timeout'): Promise<void> {
    const error =
      reason === 'timeout'
        ? ErrorRecordBuilder.of(ErrorType.TIMEOUT, `attempt ${task.attempt} ran longer than timeoutMs ${task.timeoutMs}`)
        : ErrorRecordBuilder.of(ErrorType.AGENT_LOST, `no heartbeat from the agent before the lease expired (attempt ${task.attempt})`);
    await this.transitions.fail(
      tx,
      changes,
      task,
      error.workflow(task.workflowId).task(task.id).agent(task.agentId).build(newId(), this.ctx.now()),
    );
  }
}
