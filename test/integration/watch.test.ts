import { OrchestratorClient, type WorkflowWatchEvent } from '../../src/sdk/client';
import { taskOrder, workflowOrder } from '../../src/sdk/watch';
import { startWorkflow, waitForWorkflow } from '../helpers/engine';
import { startTestServer, type TestServer } from '../helpers/server';

const chain = (name: string, n: number) => ({
  name,
  steps: Array.from({ length: n }, (_, i) => ({ key: `s${i}`, capability: 'builtin.echo', input: { i }, dependsOn: i ? [`s${i - 1}`] : [] })),
});

async function collect(api: OrchestratorClient, id: string): Promise<WorkflowWatchEvent[]> {
  const events: WorkflowWatchEvent[] = [];
  for await (const e of api.watchWorkflow(id)) events.push(e);
  return events;
}

/** Fails unless no task's (nor the workflow's) reported state comes after a newer one. */
function expectInOrder(events: WorkflowWatchEvent[]): void {
  const tasks = new Map<string, { status: any; attempt: number }>();
  let workflow = -1;
  for (const e of events) {
    if (e.kind === 'workflow') {
      expect(workflowOrder(e.event.workflow.status)).toBeGreaterThan(workflow);
      workflow = workflowOrder(e.event.workflow.status);
      continue;
    }
    const before = tasks.get(e.event.task.id);
    if (before) {
      const [a, b] = [taskOrder(before), taskOrder(e.event.task)];
      expect(b[0] > a[0] || (b[0] === a[0] && b[1] >= a[1])).toBe(true);
    }
    tasks.set(e.event.task.id, e.event.task);
  }
}

/** Each task's last reported status, by key; and the last event, which must be the workflow's finish. */
function outcome(events: WorkflowWatchEvent[]) {
  const last = new Map<string, string>();
  for (const e of events) if (e.kind === 'task') last.set(e.event.task.key, e.event.task.status);
  const end = events.at(-1);
  return { tasks: Object.fromEntries(last), finish: end?.kind === 'workflow' ? end.event.workflow.status : null };
}

describe('watchWorkflow', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it('reports a workflow that finished before the watch began: every task, then the finish, then ends', async () => {
    const w = await startWorkflow(s, chain('done-before', 3));
    await waitForWorkflow(s, w.id);
    const api = new OrchestratorClient({ url: s.url });
    try {
      const events = await collect(api, w.id);
      expect(outcome(events)).toEqual({ tasks: { s0: 'COMPLETED', s1: 'COMPLETED', s2: 'COMPLETED' }, finish: 'COMPLETED' });
      expectInOrder(events);
    } finally {
      await api.close();
    }
  });

  it('reports fast workflows started just before watching fully, in order, the finish last', async () => {
    const api = new OrchestratorClient({ url: s.url });
    try {
      // Several at once, so some are watched mid-way, some after they finished.
      const started = await Promise.all(Array.from({ length: 6 }, (_, i) => startWorkflow(s, chain(`fast-${i}`, 4))));
      for (const events of await Promise.all(started.map((w) => collect(api, w.id)))) {
        expect(outcome(events)).toEqual({ tasks: { s0: 'COMPLETED', s1: 'COMPLETED', s2: 'COMPLETED', s3: 'COMPLETED' }, finish: 'COMPLETED' });
        expectInOrder(events);
      }
    } finally {
      await api.close();
    }
  });

  it('says NOT_FOUND for a workflow that does not exist', async () => {
    const api = new OrchestratorClient({ url: s.url });
    try {
      await expect(collect(api, 'no-such-workflow')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await api.close();
    }
  });
});
