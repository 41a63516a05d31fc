// Workflows and tasks as the API reads them: lookups, filtered keyset pages, counts, batch reads.
import type { TaskStatus } from '../../domain/enums';
import type { SqlParam } from '../sql';
import type { PageQuery, QueueStats, StoredTask, StoredWorkflow, TaskFilter, WorkflowFilter } from '../records';
import type { ReadModel } from '../store';
import { Conditions, pagedByStatus } from './paging';
import { date, TASK_SELECT, toTask, toWorkflow, WORKFLOW_SELECT } from './rows';
import { SqlRole } from './sql-role';
import { OPEN_WORKFLOWS, READY } from './statuses';

function workflowConditions(f: WorkflowFilter, params?: SqlParam[]): Conditions {
  return new Conditions(params).in('status', f.statuses).eq('name', f.name);
}

function taskConditions(f: TaskFilter, params?: SqlParam[]): Conditions {
  return new Conditions(params)
    .eq('workflow_id', f.workflowId)
    .in('status', f.statuses)
    .eq('capability', f.capability)
    .eq('agent_id', f.agentId);
}

export class SqlReadModel extends SqlRole implements ReadModel {
  async getWorkflows(ids: readonly string[]): Promise<StoredWorkflow[]> {
    if (ids.length === 0) return [];
    return (await this.rows(`${WORKFLOW_SELECT} WHERE id = ANY($1::text[])`, [[...ids]])).map(toWorkflow);
  }

  async listWorkflows(filter: WorkflowFilter, page: PageQuery): Promise<StoredWorkflow[]> {
    const q = pagedByStatus(WORKFLOW_SELECT, 'workflows', filter, workflowConditions, page, 'DESC');
    return (await this.rows(q.sql, q.params)).map(toWorkflow);
  }

  async countWorkflows(filter: WorkflowFilter): Promise<number> {
    const c = workflowConditions(filter);
    return this.count(`SELECT count(*)::int AS n FROM workflows ${c}`, c.params);
  }

  async countRunningWorkflows(): Promise<number> {
    return this.count(`SELECT count(*)::int AS n FROM workflows WHERE status IN ${OPEN_WORKFLOWS}`);
  }

  async getTasks(ids: readonly string[]): Promise<StoredTask[]> {
    if (ids.length === 0) return [];
    return (await this.rows(`${TASK_SELECT} WHERE id = ANY($1::text[])`, [[...ids]])).map(toTask);
  }

  async listTasks(filter: TaskFilter, page: PageQuery): Promise<StoredTask[]> {
    const q = pagedByStatus(TASK_SELECT, 'tasks', filter, taskConditions, page, 'ASC');
    return (await this.rows(q.sql, q.params)).map(toTask);
  }

  async countTasks(filter: TaskFilter): Promise<number> {
    const c = taskConditions(filter);
    return this.count(`SELECT count(*)::int AS n FROM tasks ${c}`, c.params);
  }

  async queueStats(): Promise<QueueStats> {
    const [r] = await this.rows(
      `SELECT (SELECT count(*)::int FROM tasks WHERE status = 'QUEUED') AS queued,
              (SELECT count(*)::int FROM tasks WHERE status = 'RUNNING') AS running,
              (SELECT min(coalesce(available_at, created_at)) FROM tasks
                 WHERE ${READY('now()')}) AS oldest,
              (SELECT coalesce(array_agg(capability), '{}') FROM
                 (SELECT DISTINCT capability FROM tasks WHERE status = 'QUEUED' LIMIT 1000) q) AS capabilities`,
    );
    return {
      queued: Number(r?.queued ?? 0),
      running: Number(r?.running ?? 0),
      oldestQueuedAt: date(r?.oldest),
      queuedCapabilities: (r?.capabilities as string[]) ?? [],
    };
  }

  async tasksOfWorkflows(ids: readonly string[]): Promise<StoredTask[]> {
    if (ids.length === 0) return [];
    return (await this.rows(`${TASK_SELECT} WHERE workflow_id = ANY($1::text[]) ORDER BY tasks.seq`, [[...ids]])).map(toTask);
  }

  async taskCountsByWorkflow(ids: readonly string[]): Promise<Map<string, Partial<Record<TaskStatus, number>>>> {
    const out = new Map<string, Partial<Record<TaskStatus, number>>>();
    if (ids.length === 0) return out;
    const rows = await this.rows(
      `SELECT workflow_id, status, count(*)::int AS n FROM tasks WHERE workflow_id = ANY($1::text[]) GROUP BY 1, 2`,
      [[...ids]],
    );
    for (const r of rows) {
      const m = out.get(String(r.workflow_id)) ?? {};
      m[r.status as TaskStatus] = Number(r.n);
      out.set(String(r.workflow_id), m);
    }
    return out;
  }

  async outputsOfWorkflows(ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const out = new Map<string, Record<string, unknown>>();
    if (ids.length === 0) return out;
    const rows = await this.rows(
      `SELECT workflow_id, key, output FROM tasks WHERE workflow_id = ANY($1::text[]) AND status = 'COMPLETED' ORDER BY seq`,
      [[...ids]],
    );
    for (const r of rows) {
      const m = out.get(String(r.workflow_id)) ?? {};
      m[String(r.key)] = r.output ?? null;
      out.set(String(r.workflow_id), m);
    }
    return out;
  }
}
