// Workflows and tasks, read side: lookups by id and filtered, cursor-paged listings.
import type { ErrorRecord } from '../domain/error-record';
import { checkFirst, decodeCursor, toPage, withTotalCount } from '../domain/pagination';
import { type Task, type Workflow, type WorkflowProgress, workflowProgress } from '../domain/workflow';
import type { TaskFilter, WorkflowFilter } from '../storage/store';
import type { EngineContext } from './context';

export class WorkflowReader {
  constructor(private readonly ctx: EngineContext) {}

  async workflows(ids: readonly string[]): Promise<(Workflow | null)[]> {
    const found = new Map((await this.ctx.store.getWorkflows(ids)).map((w) => [w.id, w]));
    return ids.map((id) => found.get(id) ?? null);
  }

  async tasks(ids: readonly string[]): Promise<(Task | null)[]> {
    const found = new Map((await this.ctx.store.getTasks(ids)).map((t) => [t.id, t]));
    return ids.map((id) => found.get(id) ?? null);
  }

  /** Newest first. */
  async listWorkflows(filter: WorkflowFilter, first: number | null | undefined, after: string | null | undefined) {
    const limit = checkFirst(first, 50);
    const page = toPage(await this.ctx.store.listWorkflows(filter, { limit: limit + 1, after: decodeCursor(after) }), limit);
    return withTotalCount(page, () => this.ctx.store.countWorkflows(filter));
  }

  /** In creation order. */
  async listTasks(filter: TaskFilter, first: number | null | undefined, after: string | null | undefined) {
    const limit = checkFirst(first, 50);
    const page = toPage(await this.ctx.store.listTasks(filter, { limit: limit + 1, after: decodeCursor(after) }), limit);
    return withTotalCount(page, () => this.ctx.store.countTasks(filter));
  }

  /** Tasks of each workflow, in creation order (batch). */
  async tasksByWorkflow(ids: readonly string[]): Promise<Task[][]> {
    const byWorkflow = new Map<string, Task[]>(ids.map((id) => [id, []]));
    for (const t of await this.ctx.store.tasksOfWorkflows(ids)) byWorkflow.get(t.workflowId as string)?.push(t);
    return ids.map((id) => byWorkflow.get(id) ?? []);
  }

  async progressByWorkflow(ids: readonly string[]): Promise<WorkflowProgress[]> {
    const counts = await this.ctx.store.taskCountsByWorkflow(ids);
    return ids.map((id) => workflowProgress(counts.get(id) ?? {}));
  }

  /** Outputs of each workflow's completed tasks, keyed by step key. */
  async outputsByWorkflow(ids: readonly string[]): Promise<Record<string, unknown>[]> {
    const outputs = await this.ctx.store.outputsOfWorkflows(ids);
    return ids.map((id) => outputs.get(id) ?? {});
  }

  /** Error records of each workflow or task, oldest first. */
  async errorsBy(ref: 'workflow' | 'task', ids: readonly string[]): Promise<ErrorRecord[][]> {
    const key = ref === 'workflow' ? 'workflowId' : 'taskId';
    const byId = new Map<string, ErrorRecord[]>(ids.map((id) => [id, []]));
    for (const e of await this.ctx.store.errorsOf(ref, ids)) byId.get(e[key] as string)?.push(e);
    return ids.map((id) => byId.get(id) ?? []);
  }
}
