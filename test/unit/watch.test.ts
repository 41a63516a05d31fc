// WorkflowWatch against a scripted source: events and reads in the orders a real server can
// produce them (two subscriptions, several instances, reads racing events), made on purpose.
import { type WatchSource, type WorkflowSnapshot, WorkflowWatch, type WorkflowWatchEvent } from '../../src/sdk/watch';

/** An async iterator the test pushes into. */
function channel<T>() {
  const queue: T[] = [];
  let waiting: ((r: IteratorResult<T>) => void) | null = null;
  const it: AsyncIterableIterator<T> = {
    next: () => {
      const v = queue.shift();
      if (v !== undefined) return Promise.resolve({ done: false, value: v });
      return new Promise((r) => (waiting = r));
    },
    return: async () => {
      waiting?.({ done: true, value: undefined });
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => it,
  };
  const push = (v: T) => {
    const w = waiting;
    waiting = null;
    if (w) w({ done: false, value: v });
    else queue.push(v);
  };
  return { it, push };
}

const task = (key: string, status: string, attempt: number, extra: Record<string, unknown> = {}) =>
  ({ id: key, key, name: key, capability: 'c', status, outcome: null, attempt, maxAttempts: 3, progress: null, progressMessage: null, output: null, startedAt: null, finishedAt: null, agent: null, ...extra }) as any;
const workflow = (status: string) =>
  ({ id: 'w', name: 'w', status, input: null, output: null, idempotencyKey: null, createdAt: '', startedAt: null, finishedAt: null, progress: { total: 1 }, quality: {} }) as any;
const snapshot = (status: string, tasks: unknown[]): WorkflowSnapshot => ({ ...workflow(status), tasks, errors: [] });

/** A watch whose reads answer in the order the test resolves them. */
function scripted() {
  const workflows = channel<any>();
  const tasks = channel<any>();
  const reads: ((w: WorkflowSnapshot) => void)[] = [];
  const source: WatchSource = {
    workflowEvents: workflows.it,
    taskEvents: tasks.it,
    read: () => new Promise((r) => reads.push(r)),
  };
  const watch = new WorkflowWatch('w', source, 60_000);
  const seen: string[] = [];
  const events: WorkflowWatchEvent[] = [];
  const done = (async () => {
    for await (const e of watch) {
      seen.push(label(e));
      events.push(e);
    }
  })();
  const settle = () => new Promise((r) => setImmediate(r));
  return {
    seen,
    events,
    done,
    settle,
    task: (t: unknown, previousStatus: string | null = null) => tasks.push({ taskUpdated: { at: '', previousStatus, task: t } }),
    workflow: (status: string) => workflows.push({ workflowUpdated: { at: '', previousStatus: null, workflow: workflow(status) } }),
    /** Answers the oldest read not answered yet. */
    read: async (w: WorkflowSnapshot) => {
      await settle();
      reads.shift()?.(w);
      await settle();
    },
  };
}

const label = (e: WorkflowWatchEvent) =>
  e.kind === 'workflow' ? `workflow ${e.event.workflow.status}` : `${e.event.task.key} ${e.event.task.status}${e.event.task.attempt}`;

describe('WorkflowWatch', () => {
  it('starts from the snapshot and judges events heard before it against it', async () => {
    const w = scripted();
    w.task(task('a', 'RUNNING', 1)); // heard before the snapshot, older than it
    w.task(task('b', 'RUNNING', 1)); // heard before the snapshot, newer than it
    await w.read(snapshot('RUNNING', [task('a', 'COMPLETED', 1), task('b', 'QUEUED', 0)]));
    expect(w.seen).toEqual(['workflow RUNNING', 'a COMPLETED1', 'b QUEUED0', 'b RUNNING1']);
  });

  it('never reports a state after a newer one, nor the same one twice', async () => {
    const w = scripted();
    await w.read(snapshot('RUNNING', [task('a', 'QUEUED', 0)]));
    w.task(task('a', 'COMPLETED', 1));
    w.task(task('a', 'RUNNING', 1)); // overtaken (published by another instance)
    w.task(task('a', 'COMPLETED', 1));
    w.workflow('RUNNING');
    await w.settle();
    expect(w.seen).toEqual(['workflow RUNNING', 'a QUEUED0', 'a COMPLETED1']);
  });

  it('follows retries: a task queued again after attempt n is newer than RUNNING attempt n', async () => {
    const w = scripted();
    await w.read(snapshot('RUNNING', [task('a', 'QUEUED', 0)]));
    for (const t of [task('a', 'RUNNING', 1), task('a', 'QUEUED', 1), task('a', 'RUNNING', 2), task('a', 'RUNNING', 2, { progress: 0.5 })]) w.task(t);
    await w.settle();
    expect(w.seen).toEqual(['workflow RUNNING', 'a QUEUED0', 'a RUNNING1', 'a QUEUED1', 'a RUNNING2', 'a RUNNING2']);
  });

  it('holds the finish heard before the last task events until a read brings them, and ends with it', async () => {
    const w = scripted();
    await w.read(snapshot('RUNNING', [task('a', 'RUNNING', 1), task('b', 'PENDING', 0)]));
    w.workflow('COMPLETED'); // overtook the task events on the other subscription
    await w.settle();
    expect(w.seen).toEqual(['workflow RUNNING', 'a RUNNING1', 'b PENDING0']);
    const read = snapshot('COMPLETED', [task('a', 'COMPLETED', 1), task('b', 'COMPLETED', 1)]);
    await w.read({ ...read, progress: { total: 2, completed: 2 } as any });
    await w.done;
    expect(w.seen.slice(3)).toEqual(['a COMPLETED1', 'b COMPLETED1', 'workflow COMPLETED']);
    // As the read has it: an event's computed fields can be older than the event.
    expect(w.events.at(-1)).toMatchObject({ kind: 'workflow', event: { workflow: { progress: { total: 2, completed: 2 } } } });
  });

  it('reports a finished snapshot as its tasks, then the finish, and ends', async () => {
    const w = scripted();
    await w.read(snapshot('PARTIAL', [task('a', 'COMPLETED', 1), task('b', 'FAILED', 3)]));
    await w.done;
    expect(w.seen).toEqual(['a COMPLETED1', 'b FAILED3', 'workflow PARTIAL']);
  });
});
