// Task and workflow transitions inside a transaction: what happens when a task is queued,
// finishes, fails or is retried, with the history entry and event of each change.
// Every path that changes a task's status goes through here.
import { HistoryEventType, TaskOutcome, TaskStatus, WorkflowStatus } from '../domain/enums';
import type { ErrorRecord } from '../domain/error-record';
import { NO_RESULTS, type QualityCounts, qualityDelta } from '../domain/quality';
import { findRefs, resolveRefs } from '../domain/refs';
import { finalWorkflowStatus, retryDelayMs, type Task, type Workflow } from '../domain/workflow';
import type { QualityScope, Store, StoredTask, StoredWorkflow } from '../storage/store';
import type { EngineContext } from './context';
import type { ErrorService } from './errors';
import { OVERALL } from './quality';
import type { Changes } from './writer';

/** The public shape of a task: the engine's bookkeeping stays inside. */
export function publicTask(t: StoredTask & { previousStatus?: TaskStatus }): Task {
  const {
    hasRefs: _h,
    pendingDeps: _d,
    leaseId: _l,
    leaseExpiresAt: _e,
    claimedAt: _c,
    progressAt: _p,
    previousStatus: _s,
    hasDependants: _n,
    ...task
  } = t;
  return task;
}

export function publicWorkflow(w: StoredWorkflow): Workflow {
  const { remaining: _r, failedRequired: _f, partial: _p, ...workflow } = w;
  return workflow;
}

export type FinishResult = 'success' | 'partial' | 'failed' | 'cancelled';

export class Transitions {
  constructor(
    private readonly ctx: EngineContext,
    private readonly errors: ErrorService,
  ) {}

  taskChanged(
    changes: Changes,
    task: StoredTask,
    previousStatus: TaskStatus | null,
    history: HistoryEventType | null,
    data?: Record<string, unknown>,
  ): void {
    const at = this.ctx.now();
    if (history) {
      changes.record({
        type: history,
        workflowId: task.workflowId,
        taskId: task.id,
        agentId: task.agentId,
        data: { key: task.key, status: task.status, previousStatus, attempt: task.attempt, ...data },
      });
    }
    changes.emit({ topic: 'task', task: publicTask(task), previousStatus, at });
  }

  workflowChanged(
    changes: Changes,
    workflow: StoredWorkflow,
    previousStatus: WorkflowStatus | null,
    history: HistoryEventType | null,
    data?: Record<string, unknown>,
  ): void {
    if (history) {
      changes.record({ type: history, workflowId: workflow.id, data: { name: workflow.name, status: workflow.status, ...data } });
    }
    changes.emit({ topic: 'workflow', workflow: publicWorkflow(workflow), previousStatus, at: this.ctx.now() });
  }

  /**
   * Tasks whose dependencies are done become QUEUED, their `$from` references resolved; those
   * already QUEUED (releaseDependants queues the ones without references) are announced.
   */
  async queueReady(
    tx: Store,
    changes: Changes,
    workflowId: string,
    workflowInput: unknown,
    ready: (StoredTask & { previousStatus?: TaskStatus })[],
  ): Promise<void> {
    const pending = ready.filter((t) => t.status === TaskStatus.PENDING);
    const withRefs = pending.filter((t) => t.hasRefs);
    const keys = [...new Set(withRefs.flatMap((t) => findRefs(t.input, t.key).flatMap((r) => (r.kind === 'step' ? [r.key] : []))))];
    const outputs = await tx.stepOutputs(workflowId, keys);
    const queued = await tx.queueTasks(
      pending.map((t) =>
        t.hasRefs ? { id: t.id, resolvedInput: resolveRefs(t.input, { workflowInput, outputs }, t.key) } : { id: t.id },
      ),
    );
    const already = ready.filter((t) => t.status === TaskStatus.QUEUED);
    for (const t of [...already, ...queued]) this.queued(changes, t, t.previousStatus ?? TaskStatus.PENDING);
  }

  /** A task became QUEUED: its change is recorded and announced, and its capability woken. */
  queued(changes: Changes, task: StoredTask, previousStatus: TaskStatus | null): void {
    this.taskChanged(changes, task, previousStatus, HistoryEventType.TASK_QUEUED);
    changes.readyWork.wakeForTask(task);
  }

  /** Tasks just marked COMPLETED (together, in this transaction): quality, history, what follows. */
  async completed(tx: Store, changes: Changes, done: StoredTask[]): Promise<void> {
    await this.countQuality(tx, done);
    for (const t of done) this.taskChanged(changes, t, TaskStatus.RUNNING, HistoryEventType.TASK_FINISHED, { outcome: t.outcome });
    await this.afterFinish(
      tx,
      changes,
      done.map((task) => ({ task, result: task.outcome === TaskOutcome.PARTIAL ? 'partial' : 'success' })),
    );
  }

  /**
   * A running task failed: the error is recorded on it; it is queued again after its backoff while
   * attempts remain and the error is retryable, otherwise it is FAILED.
   */
  async fail(tx: Store, changes: Changes, task: StoredTask, error: ErrorRecord): Promise<StoredTask> {
    await this.errors.insert(tx, changes, error);
    const now = this.ctx.now();
    if (error.retryable && task.attempt < task.maxAttempts) {
      const delayMs = retryDelayMs(task.retryBackoffMs, task.attempt);
      const availableAt = new Date(now.getTime() + delayMs);
      const queued = await tx.requeueTask(task.id, availableAt);
      this.taskChanged(changes, queued, task.status, HistoryEventType.TASK_RETRIED, {
        errorType: error.type,
        delayMs,
        availableAt: availableAt.toISOString(),
        nextAttempt: task.attempt + 1,
      });
      changes.readyWork.wakeAt(queued.capability, availableAt);
      return queued;
    }
    const failed = await tx.finishTask(task.id, { status: TaskStatus.FAILED, outcome: TaskOutcome.FAILURE, at: now });
    await this.countQuality(tx, [failed]);
    this.taskChanged(changes, failed, task.status, HistoryEventType.TASK_FINISHED, {
      outcome: TaskOutcome.FAILURE,
      errorType: error.type,
    });
    await this.afterFinish(tx, changes, [{ task: failed, result: 'failed' }]);
    return failed;
  }

  /** An operator cancelled one unfinished task: its dependants are SKIPPED. */
  async cancel(tx: Store, changes: Changes, task: StoredTask, reason: string | null): Promise<StoredTask> {
    const cancelled = await tx.finishTask(task.id, { status: TaskStatus.CANCELLED, outcome: null, at: this.ctx.now() });
    this.taskChanged(changes, cancelled, task.status, HistoryEventType.TASK_FINISHED, { reason });
    await this.afterFinish(tx, changes, [{ task: cancelled, result: 'cancelled' }]);
    return cancelled;
  }

  /** One counter increment per scope (overall, agent, workflow) for all these results together. */
  private async countQuality(tx: Store, tasks: StoredTask[]): Promise<void> {
    const rows = new Map<string, { scope: QualityScope; id: string; delta: QualityCounts }>();
    const add = (scope: QualityScope, id: string, d: QualityCounts) => {
      const row = rows.get(`${scope}/${id}`) ?? { scope, id, delta: { ...NO_RESULTS } };
      row.delta = { succeeded: row.delta.succeeded + d.succeeded, partial: row.delta.partial + d.partial, failed: row.delta.failed + d.failed };
      rows.set(`${scope}/${id}`, row);
    };
    for (const t of tasks) {
      const d = qualityDelta(t.outcome as TaskOutcome);
      add('all', OVERALL, d);
      if (t.agentId) add('agent', t.agentId, d);
      if (t.workflowId) add('workflow', t.workflowId, d);
    }
    await tx.addQuality([...rows.values()]);
  }

  /**
   * After tasks finish: their open workflows release (or skip) the dependants, count down what is
   * left, and end when nothing is. Set-based, so a batch costs a handful of statements.
   */
  private async afterFinish(tx: Store, changes: Changes, finished: { task: StoredTask; result: FinishResult }[]): Promise<void> {
    const inWorkflows = finished.filter((f) => f.task.workflowId);
    if (inWorkflows.length === 0) return;
    type Finished = (typeof inWorkflows)[number];
    const tolerated = (f: Finished) => f.result === 'failed' && f.task.continueOnFailure;
    const releases = (f: Finished) => f.result === 'success' || f.result === 'partial' || tolerated(f);
    const deltas = new Map<string, { id: string; remaining: number; failedRequired: number; partial: number }>();
    const delta = (into: typeof deltas, id: string) => {
      let d = into.get(id);
      if (!d) into.set(id, (d = { id, remaining: 0, failedRequired: 0, partial: 0 }));
      return d;
    };
    for (const f of inWorkflows) {
      const d = delta(deltas, f.task.workflowId as string);
      d.remaining -= 1;
      if ((f.result === 'failed' && !tolerated(f)) || f.result === 'cancelled') d.failedRequired += 1;
      if (f.result === 'partial' || tolerated(f)) d.partial += 1;
    }
    // Counting the results in locks the open workflows; a closed one (cancelled, say) counts nothing.
    const open = new Map((await tx.bumpOpenWorkflows([...deltas.values()])).map((w) => [w.id, w]));
    const counted = inWorkflows.filter((f) => open.has(f.task.workflowId as string));
    if (counted.length === 0) return;
    const releasing = counted.filter((f) => releases(f) && f.task.hasDependants !== false);
    const ready = await tx.releaseDependants(releasing.map((f) => f.task.id));
    const readyByWorkflow = new Map<string, StoredTask[]>();
    for (const t of ready) readyByWorkflow.set(t.workflowId as string, [...(readyByWorkflow.get(t.workflowId as string) ?? []), t]);
    for (const [workflowId, tasks] of readyByWorkflow) {
      await this.queueReady(tx, changes, workflowId, open.get(workflowId)?.input ?? null, tasks);
    }
    const skips = new Map<string, { id: string; remaining: number; failedRequired: number; partial: number }>();
    for (const f of counted.filter((x) => !releases(x))) {
      const skipped = await tx.skipDescendants(f.task.id, this.ctx.now());
      for (const t of skipped) this.taskChanged(changes, t, t.previousStatus, HistoryEventType.TASK_FINISHED, { skippedBecause: f.task.key });
      if (skipped.length) delta(skips, f.task.workflowId as string).remaining -= skipped.length;
    }
    for (const w of await tx.bumpWorkflows([...skips.values()])) open.set(w.id, w);
    for (const w of open.values()) {
      if (w.remaining > 0) continue;
      const done = await tx.setWorkflowStatus(w.id, finalWorkflowStatus(w), this.ctx.now());
      this.workflowChanged(changes, done, w.status, HistoryEventType.WORKFLOW_FINISHED);
    }
  }
}
