// The DAG's side of the lifecycle, in SQL: dependants released or skipped as tasks finish, tasks
// queued with their resolved input, a workflow's unfinished tasks cancelled, its failed ones reset.
import type { TaskStatus } from '../../domain/enums';
import { bySeq, dispatchOrder } from '../../domain/workflow';
import type { ChangedTask } from '../records';
import { iso, taskColumns, toChanged, toTask } from './rows';
import { SqlRole } from './sql-role';
import { RETRIED_TASKS, UNFINISHED_TASKS } from './statuses';

/** Part of TaskLifecycle. */
export class SqlDependencies extends SqlRole {
  async releaseDependants(taskIds: string[]): Promise<ChangedTask[]> {
    if (taskIds.length === 0) return [];
    const rows = await this.rows(
      `UPDATE tasks t SET pending_deps = t.pending_deps - c.n,
              status = CASE WHEN t.pending_deps - c.n <= 0 AND NOT t.has_refs THEN 'QUEUED' ELSE t.status END,
              available_at = CASE WHEN t.pending_deps - c.n <= 0 AND NOT t.has_refs THEN NULL ELSE t.available_at END
         FROM (SELECT task_id, count(*)::int AS n FROM task_edges WHERE dep_id = ANY($1::text[]) GROUP BY task_id) c
        WHERE t.id = c.task_id AND t.status = 'PENDING'
        RETURNING ${taskColumns('t.')}, 'PENDING' AS previous_status`,
      [taskIds],
    );
    return dispatchOrder(rows.map(toChanged).filter((t) => t.pendingDeps <= 0));
  }

  async skipDescendants(taskId: string, at: Date): Promise<ChangedTask[]> {
    const rows = await this.rows(
      `WITH RECURSIVE d(id) AS (
         SELECT task_id FROM task_edges WHERE dep_id = $1
         UNION
         SELECT e.task_id FROM task_edges e JOIN d ON e.dep_id = d.id
       ), old AS (
         SELECT t.id, t.status FROM tasks t JOIN d ON t.id = d.id
          WHERE t.status IN ('PENDING', 'QUEUED') FOR UPDATE OF t
       )
       UPDATE tasks t SET status = 'SKIPPED', finished_at = $2::timestamptz
         FROM old WHERE t.id = old.id
       RETURNING ${taskColumns('t.')}, old.status AS previous_status`,
      [taskId, iso(at)],
    );
    return rows.map(toChanged).sort(bySeq);
  }

  async queueTasks(tasks: { id: string; resolvedInput?: unknown }[]): Promise<ChangedTask[]> {
    if (tasks.length === 0) return [];
    const rows = await this.rows(
      `UPDATE tasks t SET status = 'QUEUED', available_at = NULL,
              resolved_input = CASE WHEN u.has THEN u.resolved::jsonb ELSE t.resolved_input END
         FROM unnest($1::text[], $2::text[], $3::boolean[]) AS u(id, resolved, has)
        WHERE t.id = u.id AND t.status = 'PENDING'
        RETURNING ${taskColumns('t.')}, 'PENDING' AS previous_status`,
      [
        tasks.map((t) => t.id),
        tasks.map((t) => (t.resolvedInput === undefined ? null : JSON.stringify(t.resolvedInput))) as string[],
        tasks.map((t) => t.resolvedInput !== undefined) as unknown as string[],
      ],
    );
    return dispatchOrder(rows.map(toChanged));
  }

  async stepOutputs(workflowId: string, keys: string[]): Promise<Record<string, unknown>> {
    if (keys.length === 0) return {};
    const rows = await this.rows(`SELECT key, output FROM tasks WHERE workflow_id = $1 AND key = ANY($2::text[])`, [workflowId, keys]);
    return Object.fromEntries(rows.map((r) => [String(r.key), r.output ?? null]));
  }

  async cancelUnfinishedTasks(workflowId: string, at: Date): Promise<ChangedTask[]> {
    const rows = await this.rows(
      `WITH old AS (
         SELECT id, status FROM tasks WHERE workflow_id = $1 AND status IN ${UNFINISHED_TASKS} FOR UPDATE
       )
       UPDATE tasks t SET status = 'CANCELLED', finished_at = $2::timestamptz, lease_id = NULL, lease_expires_at = NULL
         FROM old WHERE t.id = old.id
       RETURNING ${taskColumns('t.')}, old.status AS previous_status`,
      [workflowId, iso(at)],
    );
    return rows.map(toChanged).sort(bySeq);
  }

  async resetFailedTasks(workflowId: string): Promise<ChangedTask[]> {
    const reset = await this.rows(
      `WITH old AS (
         SELECT id, status FROM tasks WHERE workflow_id = $1 AND status IN ${RETRIED_TASKS} FOR UPDATE
       )
       UPDATE tasks t SET status = 'PENDING', outcome = NULL, output = NULL, resolved_input = NULL, attempt = 0,
              finished_at = NULL, started_at = NULL, agent_id = NULL, progress = NULL, progress_message = NULL,
              progress_at = NULL, available_at = NULL, lease_id = NULL, lease_expires_at = NULL
         FROM old WHERE t.id = old.id
       RETURNING t.id, old.status AS previous_status`,
      [workflowId],
    );
    if (reset.length === 0) return [];
    const previous = new Map(reset.map((r) => [String(r.id), r.previous_status as TaskStatus]));
    // Recount what each reset task still waits for: its dependencies that are not COMPLETED now.
    const rows = await this.rows(
      `UPDATE tasks t SET pending_deps = (
          SELECT count(*) FROM task_edges e JOIN tasks d ON d.id = e.dep_id
           WHERE e.task_id = t.id AND d.status <> 'COMPLETED')
        WHERE t.id = ANY($1::text[])
        RETURNING ${taskColumns('t.')}`,
      [[...previous.keys()]],
    );
    return rows
      .map((r) => {
        const task = toTask(r);
        return { ...task, previousStatus: previous.get(task.id) as TaskStatus };
      })
      .sort(bySeq);
  }
}
