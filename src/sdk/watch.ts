// Watching one workflow: its subscriptions open first, then a read of the workflow is the starting
// snapshot, and from there only what is newer than what was already reported goes out. So a watch
// begun late still reports every task, and no state is ever reported after a newer one (events of
// two subscriptions, several server instances and periodic re-reads arrive in no set order).
import { GraphQLRequestError } from './errors';
import type {
  GetWorkflowQuery,
  TaskStatus,
  WatchWorkflowStatusSubscription,
  WatchWorkflowTasksSubscription,
  WorkflowStatus,
} from './generated/graphql';

export type WorkflowWatchEvent =
  | { kind: 'workflow'; event: WatchWorkflowStatusSubscription['workflowUpdated'] }
  | { kind: 'task'; event: WatchWorkflowTasksSubscription['taskUpdated'] };

type WorkflowEvent = WatchWorkflowStatusSubscription['workflowUpdated'];
type TaskState = WatchWorkflowTasksSubscription['taskUpdated']['task'];
export type WorkflowSnapshot = NonNullable<GetWorkflowQuery['workflow']>;

const FINISHED_TASK: ReadonlySet<TaskStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED']);
const FINISHED_WORKFLOW: ReadonlySet<WorkflowStatus> = new Set(['COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED']);

/**
 * Where a task's state stands in its life, to compare two sightings of it (the API has no version
 * field): a finished task never changes again; before that a later attempt is newer, and within
 * one attempt PENDING < QUEUED < RUNNING. A task waiting with attempt n waits for attempt n + 1,
 * so it is newer than RUNNING attempt n (a retry). The one step back this cannot see is a lease
 * given back unspent (RUNNING n to QUEUED n - 1): the task then shows RUNNING until it runs again.
 */
export function taskOrder(t: { status: TaskStatus; attempt: number }): [number, number] {
  if (FINISHED_TASK.has(t.status)) return [Number.POSITIVE_INFINITY, 0];
  if (t.status === 'RUNNING') return [t.attempt, 2];
  return [t.attempt + 1, t.status === 'QUEUED' ? 1 : 0];
}

/** PENDING < RUNNING < finished. A watch ends at the first finish it sees (see retryWorkflow). */
export function workflowOrder(status: WorkflowStatus): number {
  return FINISHED_WORKFLOW.has(status) ? 2 : status === 'RUNNING' ? 1 : 0;
}

function compareTasks(a: TaskState, b: TaskState): number {
  const [x, y] = [taskOrder(a), taskOrder(b)];
  return x[0] === y[0] ? x[1] - y[1] : x[0] < y[0] ? -1 : 1;
}

/** What a watch reads and listens to; the client makes one for a workflow id. */
export interface WatchSource {
  workflowEvents: AsyncIterableIterator<WatchWorkflowStatusSubscription>;
  taskEvents: AsyncIterableIterator<WatchWorkflowTasksSubscription>;
  /** The workflow and its tasks as they are now (null: no such workflow). */
  read(): Promise<WorkflowSnapshot | null>;
  /**
   * The same read sent behind the subscriptions on their connection, so the server has them
   * listening before it reads: what a first read made too early missed, without waiting for a
   * re-read. Optional, and never the only safeguard (re-reads are).
   */
  readBehindSubscriptions?(): Promise<WorkflowSnapshot | null>;
}

/**
 * Workflow and task events of one workflow, ending after the workflow's finish. It starts with
 * the snapshot: the workflow (when not finished yet), then each task, as they are now; events made
 * from a read have `previousStatus: null` and `at` the time of the read. Then events as they happen,
 * and changes later re-reads find (events a subscription missed). Each task's last state comes
 * before the workflow's finish, which is the last event.
 */
export class WorkflowWatch implements AsyncIterableIterator<WorkflowWatchEvent> {
  private readonly out: WorkflowWatchEvent[] = [];
  /** Events heard before the first snapshot: judged against it once it is in. */
  private readonly early: WorkflowWatchEvent[] = [];
  /** The last state reported of each task, and of the workflow. */
  private readonly tasks = new Map<string, TaskState>();
  private workflow: WorkflowEvent['workflow'] | null = null;
  private started = false;
  /** The workflow's finish, held back until a read has brought every task's last state. */
  private finishing = false;
  private ended = false;
  private closed = false;
  private failure: unknown = null;
  private wake: (() => void) | null = null;
  private readonly recheck: ReturnType<typeof setInterval>;

  constructor(
    id: string,
    private readonly source: WatchSource,
    recheckMs: number,
  ) {
    void this.pump(source.workflowEvents, (r) => ({ kind: 'workflow', event: r.workflowUpdated }));
    void this.pump(source.taskEvents, (r) => ({ kind: 'task', event: r.taskUpdated }));
    source.read().then(
      (w) => (w ? this.merge(w) : this.fail(new GraphQLRequestError(`workflow ${id} not found`, [{ message: 'not found', extensions: { code: 'NOT_FOUND' } }], 200))),
      (e: unknown) => this.fail(e),
    );
    source.readBehindSubscriptions?.().then((w) => w && this.merge(w), () => undefined);
    // A missed event (a subscription not yet listening, a reconnect) never hangs a watch.
    this.recheck = setInterval(() => {
      if (this.started && !this.finishing) source.read().then((w) => w && this.merge(w), () => undefined);
    }, recheckMs);
    this.recheck.unref();
  }

  private async pump<R>(it: AsyncIterableIterator<R>, map: (r: R) => WorkflowWatchEvent): Promise<void> {
    try {
      for await (const r of it) this.heard(map(r));
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (this.ended) return;
    this.failure ??= e;
    this.wake?.();
  }

  private emit(e: WorkflowWatchEvent): void {
    this.out.push(e);
    this.wake?.();
  }

  /** An event from a subscription. */
  private heard(e: WorkflowWatchEvent): void {
    if (this.ended) return;
    if (!this.started) {
      this.early.push(e);
      return;
    }
    if (e.kind === 'workflow') {
      this.sawWorkflow(e.event, false);
      return;
    }
    this.sawTask(e.event, true);
  }

  /** `live`: from a subscription, where the same state again can still be news: progress. */
  private sawTask(event: WatchWorkflowTasksSubscription['taskUpdated'], live: boolean): void {
    const t = event.task;
    const known = this.tasks.get(t.id);
    const c = known ? compareTasks(t, known) : 1;
    const progressed = live && c === 0 && t.status === 'RUNNING' && (t.progress !== known?.progress || t.progressMessage !== known?.progressMessage);
    if (c < 0 || (c === 0 && !progressed)) return;
    this.tasks.set(t.id, t);
    this.emit({ kind: 'task', event });
  }

  /** A read: whatever in it is newer than what was reported. */
  private merge(w: WorkflowSnapshot): void {
    if (this.ended || this.closed) return;
    const { tasks, errors: _errors, ...workflow } = w;
    const at = new Date().toISOString();
    const event: WorkflowEvent = { at, previousStatus: null, workflow };
    const finished = FINISHED_WORKFLOW.has(workflow.status);
    if (!finished) this.sawWorkflow(event, true);
    for (const task of tasks) this.sawTask({ at, previousStatus: null, task }, false);
    if (finished) this.sawWorkflow(event, true);
    if (!this.started) {
      this.started = true;
      for (const e of this.early.splice(0)) this.heard(e);
    }
  }

  /** `fromRead`: the tasks of the same read have been merged already. */
  private sawWorkflow(event: WorkflowEvent, fromRead: boolean): void {
    if (this.finishing || (this.workflow && workflowOrder(event.workflow.status) <= workflowOrder(this.workflow.status))) return;
    this.workflow = event.workflow;
    if (!FINISHED_WORKFLOW.has(event.workflow.status)) {
      this.emit({ kind: 'workflow', event });
      return;
    }
    this.finishing = true;
    if (fromRead) return this.finish(event);
    // The finish was heard on one subscription, and the last task events may still be on their way
    // on the other: read the tasks (the database finished them with the workflow) before ending.
    // The finish reported is the read's: it is as new as the event, and the server resolves an
    // event's computed fields (progress) with loaders that live as long as the subscription.
    this.source.read().then(
      (w) => {
        if (!w) return this.finish(event);
        const { tasks, errors: _errors, ...workflow } = w;
        const at = new Date().toISOString();
        for (const task of tasks) this.sawTask({ at, previousStatus: null, task }, false);
        this.finish(workflowOrder(workflow.status) >= workflowOrder(event.workflow.status) ? { ...event, workflow } : event);
      },
      () => this.finish(event),
    );
  }

  private finish(event: WorkflowEvent): void {
    if (this.ended) return;
    this.emit({ kind: 'workflow', event });
    this.ended = true;
  }

  async next(): Promise<IteratorResult<WorkflowWatchEvent>> {
    for (;;) {
      const e = this.out.shift();
      if (e) return { done: false, value: e };
      if (this.ended || this.closed) {
        await this.close();
        return { done: true, value: undefined };
      }
      if (this.failure) {
        await this.close();
        throw this.failure;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }

  async return(): Promise<IteratorResult<WorkflowWatchEvent>> {
    await this.close();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WorkflowWatchEvent> {
    return this;
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.recheck);
    this.wake?.();
    await Promise.all([this.source.workflowEvents.return?.(), this.source.taskEvents.return?.()]);
  }
}
