// Workflows, write side: starting (validated, written in one transaction, idempotent),
// cancelling a workflow or one task, and retrying what failed.
import { randomUUID } from 'node:crypto';
import { type Step, type WorkflowDefinition, validateWorkflow } from '../domain/dag';
import { resolveRefs } from '../domain/refs';
import { HistoryEventType, TaskStatus, WorkflowStatus } from '../domain/enums';
import { conflict, invalid, notFound } from '../domain/errors';
import { isFinished, isWorkflowFinished, type Task, type Workflow } from '../domain/workflow';
import { isStorageError, type NewTask, type Store, type StoredTask, type StoredWorkflow } from '../storage/store';
import type { LeaseAtStart } from './dispatch/push-dispatcher';
import type { EngineContext } from './context';
import { GroupCommit } from './group-commit';
import { publicTask, publicWorkflow, type Transitions } from './transitions';

const REASON_MAX = 1000;

function checkReason(reason: string | null | undefined): string | null {
  if (reason != null && reason.length > REASON_MAX) throw invalid(`reason is longer than ${REASON_MAX} characters`, { field: 'reason' });
  return reason ?? null;
}

/** A task written already leased, as it was a moment before: QUEUED (so its history reads queued, then started). */
const asQueued = (t: StoredTask): StoredTask => ({
  ...t,
  status: TaskStatus.QUEUED,
  attempt: 0,
  agentId: null,
  startedAt: null,
  leaseId: null,
  leaseExpiresAt: null,
  claimedAt: null,
});

const isUniqueViolation = (e: unknown) => isStorageError(e, 'unique-violation');

/** The most steps written by one group of starts (one workflow may be larger, alone). */
const GROUP_STEPS = 10_000;

interface PreparedStart {
  name: string;
  steps: Step[];
  input: unknown;
  key: string | null;
}

export class WorkflowService {
  /** Starts written together when they arrive together (see start). */
  private readonly starts = new GroupCommit<PreparedStart, Workflow>({
    write: (starts) => this.write(starts),
    // A group holds up to GROUP_STEPS steps (a larger workflow goes alone).
    take: (waiting) => {
      let n = 0;
      for (let steps = 0; n < waiting.length && (n === 0 || steps + (waiting[n]?.steps.length ?? 0) <= GROUP_STEPS); n++) {
        steps += waiting[n]?.steps.length ?? 0;
      }
      return n;
    },
    recover: (start, err) => this.alone(start, err),
  });

  /** See onReadyAtStart. */
  private leaseAtStart: LeaseAtStart | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  /**
   * Validates everything first, then writes the workflow and all its tasks in one transaction:
   * steps without dependencies QUEUED (or RUNNING when a connected agent takes them at once: see
   * onReadyAtStart), the rest PENDING. A known idempotencyKey returns the
   * workflow it started. Starts that arrive while others are being written go together in the
   * next transaction (group commit), a few statements for the whole group.
   */
  async start(def: WorkflowDefinition): Promise<Workflow> {
    const { name, steps } = validateWorkflow(def, {
      maxSteps: this.ctx.options.maxWorkflowSteps,
      maxEdges: this.ctx.options.maxWorkflowEdges,
      maxJsonBytes: this.ctx.options.maxJsonBytes,
    });
    const key = def.idempotencyKey ?? null;
    if (key) {
      const existing = await this.ctx.store.getWorkflowByIdempotencyKey(key);
      if (existing) return publicWorkflow(existing);
    }
    return this.starts.add({ name, steps, input: def.input ?? null, key });
  }

  /** A start that failed on its own: a lost idempotency race answers with the winner's workflow. */
  private async alone(start: PreparedStart, err: unknown): Promise<Workflow> {
    if (start.key && isUniqueViolation(err)) {
      const existing = await this.ctx.store.getWorkflowByIdempotencyKey(start.key);
      if (existing) return publicWorkflow(existing);
    }
    throw err;
  }

  /**
   * Lets connected agents take a start's ready tasks as they are written (push dispatch, where the
   * dispatch strategy installs it): those tasks go in RUNNING under a lease, their workflows RUNNING.
   */
  onReadyAtStart(hook: LeaseAtStart): void {
    this.leaseAtStart = hook;
  }

  private write(starts: PreparedStart[]): Promise<Workflow[]> {
    const now = this.ctx.now();
    return this.ctx.writer.write(async (tx, changes) => {
      const workflows: StoredWorkflow[] = starts.map((s) => ({
        id: randomUUID(),
        seq: '0',
        name: s.name,
        status: WorkflowStatus.PENDING,
        input: s.input,
        output: null,
        idempotencyKey: s.key,
        createdAt: now,
        startedAt: null,
        finishedAt: null,
        remaining: s.steps.length,
        failedRequired: 0,
        partial: 0,
      }));
      const rows: NewTask[] = [];
      const edges: { depId: string; taskId: string }[] = [];
      starts.forEach((start, k) => {
        const workflow = workflows[k] as StoredWorkflow;
        const ids = new Map(start.steps.map((s) => [s.key, randomUUID()]));
        // Steps without dependencies go in QUEUED: their references can only name the workflow's
        // input, so they resolve now, and no second statement has to queue them.
        for (const s of start.steps) {
          rows.push({
            id: ids.get(s.key) as string,
            workflowId: workflow.id,
            key: s.key,
            name: s.name,
            capability: s.capability,
            status: s.dependsOn.length ? TaskStatus.PENDING : TaskStatus.QUEUED,
            resolvedInput:
              !s.dependsOn.length && s.hasRefs ? resolveRefs(s.input, { workflowInput: workflow.input, outputs: {} }, s.key) : undefined,
            input: s.input,
            hasRefs: s.hasRefs,
            maxAttempts: s.maxAttempts,
            retryBackoffMs: s.retryBackoffMs,
            timeoutMs: s.timeoutMs,
            priority: s.priority,
            dependsOn: s.dependsOn,
            continueOnFailure: s.continueOnFailure,
            pendingDeps: s.dependsOn.length,
            createdAt: now,
          });
          for (const d of s.dependsOn) edges.push({ depId: ids.get(d) as string, taskId: ids.get(s.key) as string });
        }
      });
      // Ready tasks a connected agent takes at once are written RUNNING, their workflows RUNNING.
      const leased = this.leaseAtStart ? await this.leaseAtStart(tx, changes, rows.filter((r) => r.status === TaskStatus.QUEUED)) : null;
      const running = new Map<string, Date>();
      for (const row of rows) {
        const lease = leased?.byTask.get(row.id);
        if (!lease) continue;
        row.status = TaskStatus.RUNNING;
        row.lease = lease;
        running.set(row.workflowId, lease.at);
      }
      for (const w of workflows) {
        const at = running.get(w.id);
        if (at) Object.assign(w, { status: WorkflowStatus.RUNNING, startedAt: at });
      }
      const written = await tx.insertWorkflows(workflows);
      starts.forEach((start, k) => {
        const w = written[k] as StoredWorkflow;
        // Announced as every start is, PENDING first; RUNNING follows once its tasks are.
        this.transitions.workflowChanged(changes, { ...w, status: WorkflowStatus.PENDING, startedAt: null }, null, HistoryEventType.WORKFLOW_STARTED, {
          steps: start.steps.length,
          idempotencyKey: start.key,
        });
      });
      const tasks = await tx.insertTasks(rows);
      await tx.insertEdges(edges);
      for (const t of tasks) {
        if (t.status === TaskStatus.QUEUED) this.transitions.queued(changes, t, null);
        else if (t.status === TaskStatus.RUNNING) this.transitions.taskChanged(changes, asQueued(t), null, HistoryEventType.TASK_QUEUED);
        else this.transitions.taskChanged(changes, t, null, null);
      }
      if (leased) {
        leased.written(tasks.filter((t) => t.status === TaskStatus.RUNNING));
        for (const w of written) if (running.has(w.id)) this.transitions.workflowChanged(changes, w, WorkflowStatus.PENDING, null);
      }
      return written.map(publicWorkflow);
    });
  }

  /** Cancels every unfinished task (running leases become stale) and the workflow. */
  async cancel(id: string, reason: string | null | undefined): Promise<Workflow> {
    const why = checkReason(reason);
    return this.ctx.writer.write(async (tx, changes) => {
      const workflow = await this.lockOpen(tx, id, 'cancel');
      const now = this.ctx.now();
      for (const t of await tx.cancelUnfinishedTasks(id, now)) {
        this.transitions.taskChanged(changes, t, t.previousStatus, HistoryEventType.TASK_FINISHED, { reason: why });
      }
      const cancelled = await tx.setWorkflowStatus(id, WorkflowStatus.CANCELLED, now, { cancelReason: why });
      this.transitions.workflowChanged(changes, cancelled, workflow.status, HistoryEventType.WORKFLOW_CANCELLED, { reason: why });
      return publicWorkflow(cancelled);
    });
  }

  /** Cancels one unfinished task; its dependants are SKIPPED. */
  async cancelTask(id: string, reason: string | null | undefined): Promise<Task> {
    const why = checkReason(reason);
    return this.ctx.writer.write(async (tx, changes) => {
      const task = await tx.getTaskForUpdate(id);
      if (!task) throw notFound('task', id);
      if (isFinished(task.status)) throw conflict(`task ${id} is already ${task.status}`, { status: task.status });
      return publicTask(await this.transitions.cancel(tx, changes, task, why));
    });
  }

  /** Queues again the FAILED, CANCELLED and SKIPPED tasks of a finished workflow. */
  async retry(id: string): Promise<Workflow> {
    return this.ctx.writer.write(async (tx, changes) => {
      const workflow = await tx.getWorkflowForUpdate(id);
      if (!workflow) throw notFound('workflow', id);
      if (!isWorkflowFinished(workflow.status)) {
        throw conflict(`workflow ${id} is still ${workflow.status}; only a finished workflow can be retried`, { status: workflow.status });
      }
      const reset = await tx.resetFailedTasks(id);
      if (reset.length === 0) throw conflict(`workflow ${id} has no failed, cancelled or skipped task to retry`, { status: workflow.status });
      for (const t of reset) this.transitions.taskChanged(changes, t, t.previousStatus, HistoryEventType.TASK_RETRIED, { retryWorkflow: true });
      await tx.recountWorkflow(id);
      const reopened = await tx.setWorkflowStatus(id, WorkflowStatus.RUNNING, this.ctx.now(), { reopen: true });
      this.transitions.workflowChanged(changes, reopened, workflow.status, HistoryEventType.WORKFLOW_STARTED, {
        retry: true,
        tasks: reset.length,
      });
      await this.transitions.queueReady(tx, changes, id, workflow.input, reset.filter((t) => t.pendingDeps === 0));
      return publicWorkflow(reopened);
    });
  }

  private async lockOpen(tx: Store, id: string, action: string): Promise<StoredWorkflow> {
    const workflow = await tx.getWorkflowForUpdate(id);
    if (!workflow) throw notFound('workflow', id);
    if (isWorkflowFinished(workflow.status)) {
      throw conflict(`cannot ${action} workflow ${id}: it is already ${workflow.status}`, { status: workflow.status });
    }
    return workflow;
  }
}
