// Workflows' write side in SQL: locked lookups, the counters results count into, status changes.
import type { WorkflowStatus } from '../../domain/enums';
import { isWorkflowFinished } from '../../domain/workflow';
import type { StoredWorkflow, WorkflowDelta } from '../records';
import type { Queryable } from '../sql';
import { iso, type Row, toWorkflow, WORKFLOW_COLUMNS, WORKFLOW_SELECT, workflowColumns } from './rows';
import { SqlRole } from './sql-role';
import { OPEN_WORKFLOWS, UNFINISHED_TASKS } from './statuses';

/** Adds to workflows' counters (only open ones when `openOnly`), one lock order for all. */
async function bump(db: Queryable, deltas: WorkflowDelta[], openOnly: boolean): Promise<StoredWorkflow[]> {
  if (deltas.length === 0) return [];
  const sorted = [...deltas].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)); // one lock order
  const rows = await db.query<Row>(
    `UPDATE workflows w SET remaining = w.remaining + d.r, failed_required = w.failed_required + d.f, partial = w.partial + d.p
         FROM unnest($1::text[], $2::int[], $3::int[], $4::int[]) AS d(id, r, f, p)
        WHERE w.id = d.id ${openOnly ? `AND w.status IN ${OPEN_WORKFLOWS}` : ''}
        RETURNING ${workflowColumns('w.')}`,
    [
      sorted.map((d) => d.id),
      sorted.map((d) => String(d.remaining)),
      sorted.map((d) => String(d.failedRequired)),
      sorted.map((d) => String(d.partial)),
    ],
  );
  return rows.map(toWorkflow);
}

/** Part of TaskLifecycle. */
export class SqlWorkflows extends SqlRole {
  async getWorkflowForUpdate(id: string): Promise<StoredWorkflow | null> {
    const [r] = await this.rows(`${WORKFLOW_SELECT} WHERE id = $1 FOR UPDATE`, [id]);
    return r ? toWorkflow(r) : null;
  }

  bumpOpenWorkflows(deltas: WorkflowDelta[]): Promise<StoredWorkflow[]> {
    return bump(this.db, deltas, true);
  }

  bumpWorkflows(deltas: WorkflowDelta[]): Promise<StoredWorkflow[]> {
    return bump(this.db, deltas, false);
  }

  async setWorkflowStatus(
    id: string,
    status: WorkflowStatus,
    at: Date,
    extra: { cancelReason?: string | null; reopen?: boolean } = {},
  ): Promise<StoredWorkflow> {
    const finished = isWorkflowFinished(status);
    const [r] = await this.rows(
      `UPDATE workflows SET status = $2,
              finished_at = CASE WHEN $3 THEN $4::timestamptz ELSE NULL END,
              started_at = CASE WHEN $5 THEN started_at ELSE coalesce(started_at, $4::timestamptz) END,
              cancel_reason = coalesce($6, cancel_reason)
        WHERE id = $1 RETURNING ${WORKFLOW_COLUMNS}`,
      [id, status, finished, iso(at), extra.reopen === true || status === 'PENDING', extra.cancelReason ?? null],
    );
    return toWorkflow(r as Row);
  }

  async markWorkflowsRunning(ids: string[], at: Date): Promise<StoredWorkflow[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows(
      `UPDATE workflows SET status = 'RUNNING', started_at = coalesce(started_at, $2::timestamptz)
        WHERE id = ANY($1::text[]) AND status = 'PENDING' RETURNING ${WORKFLOW_COLUMNS}`,
      [ids, iso(at)],
    );
    return rows.map(toWorkflow);
  }

  async recountWorkflow(workflowId: string): Promise<StoredWorkflow> {
    const [r] = await this.rows(
      `UPDATE workflows w SET
          remaining = (SELECT count(*) FROM tasks WHERE workflow_id = w.id AND status IN ${UNFINISHED_TASKS}),
          failed_required = (SELECT count(*) FROM tasks WHERE workflow_id = w.id
                               AND ((status = 'FAILED' AND NOT continue_on_failure) OR status = 'CANCELLED')),
          partial = (SELECT count(*) FROM tasks WHERE workflow_id = w.id
                       AND ((status = 'COMPLETED' AND outcome = 'PARTIAL') OR (status = 'FAILED' AND continue_on_failure)))
        WHERE id = $1 RETURNING ${WORKFLOW_COLUMNS}`,
      [workflowId],
    );
    return toWorkflow(r as Row);
  }

  async deleteFinishedWorkflows(): Promise<number> {
    return this.count(
      `WITH d AS (DELETE FROM workflows WHERE status NOT IN ${OPEN_WORKFLOWS} RETURNING 1)
       SELECT count(*)::int AS n FROM d`,
    );
  }
}
