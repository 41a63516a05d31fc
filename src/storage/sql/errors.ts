// Error records in SQL: appended, filtered and paged newest first, counted, cleared.
import type { ErrorSeverity, ErrorType } from '../../domain/enums';
import type { ErrorRecord } from '../../domain/error-record';
import type { SqlParam } from '../sql';
import type { ErrorFilter, PageQuery, StoredError } from '../records';
import type { ErrorStore } from '../store';
import { Conditions, paged } from './paging';
import { ERROR_SELECT, iso, json, toError } from './rows';
import { SqlRole } from './sql-role';

function errorConditions(f: ErrorFilter, params?: SqlParam[]): Conditions {
  return new Conditions(params)
    .in('type', f.types)
    .in('severity', f.severities)
    .eq('workflow_id', f.workflowId)
    .eq('task_id', f.taskId)
    .eq('agent_id', f.agentId)
    .since('occurred_at', f.since);
}

export class SqlErrors extends SqlRole implements ErrorStore {
  async insertError(e: ErrorRecord): Promise<StoredError> {
    const [r] = await this.rows(
      `INSERT INTO error_records (id, type, severity, message, context, retryable, workflow_id, task_id, agent_id, occurred_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10::timestamptz) RETURNING seq::text AS seq`,
      [e.id, e.type, e.severity, e.message, json(e.context), e.retryable, e.workflowId, e.taskId, e.agentId, iso(e.occurredAt)],
    );
    return { ...e, seq: String(r?.seq) };
  }

  async listErrors(filter: ErrorFilter, page: PageQuery): Promise<StoredError[]> {
    const c = errorConditions(filter);
    return (await this.rows(`${ERROR_SELECT} ${paged('error_records', c, page, 'DESC')}`, c.params)).map(toError);
  }

  async countErrors(filter: ErrorFilter): Promise<number> {
    const c = errorConditions(filter);
    return this.count(`SELECT count(*)::int AS n FROM error_records ${c}`, c.params);
  }

  async errorCounts(since: Date | null): Promise<{ type: ErrorType; severity: ErrorSeverity; count: number }[]> {
    const c = new Conditions().since('occurred_at', since);
    const rows = await this.rows(
      `SELECT type, severity, count(*)::int AS n FROM error_records ${c} GROUP BY type, severity`,
      c.params,
    );
    return rows.map((r) => ({ type: r.type as ErrorType, severity: r.severity as ErrorSeverity, count: Number(r.n) }));
  }

  async deleteAllErrors(): Promise<number> {
    return this.count('WITH d AS (DELETE FROM error_records RETURNING 1) SELECT count(*)::int AS n FROM d');
  }

  async errorsOf(ref: 'workflow' | 'task', ids: readonly string[]): Promise<StoredError[]> {
    if (ids.length === 0) return [];
    const column = ref === 'workflow' ? 'workflow_id' : 'task_id';
    return (await this.rows(`${ERROR_SELECT} WHERE ${column} = ANY($1::text[]) ORDER BY error_records.seq`, [[...ids]])).map(toError);
  }
}
