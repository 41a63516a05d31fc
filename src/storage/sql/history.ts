// The history in SQL: appended in the transaction that made each change, read in seq order.
import type { HistoryDraft, HistoryEvent } from '../../domain/history';
import type { HistoryFilter, PageQuery } from '../records';
import type { HistoryStore } from '../store';
import { Conditions, paged } from './paging';
import { iso, json, toHistory } from './rows';
import { SqlRole } from './sql-role';

export class SqlHistory extends SqlRole implements HistoryStore {
  async appendHistory(drafts: HistoryDraft[], at: Date): Promise<void> {
    if (drafts.length === 0) return;
    // One statement for the whole batch: unnest keeps the order the drafts were made in.
    await this.rows(
      `INSERT INTO history_events (type, at, workflow_id, task_id, agent_id, data)
       SELECT t.type, $1::timestamptz, t.workflow_id, t.task_id, t.agent_id, t.data::jsonb
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
              WITH ORDINALITY AS t(type, workflow_id, task_id, agent_id, data, n)
        ORDER BY t.n`,
      [
        iso(at),
        drafts.map((d) => d.type),
        drafts.map((d) => d.workflowId ?? null) as string[],
        drafts.map((d) => d.taskId ?? null) as string[],
        drafts.map((d) => d.agentId ?? null) as string[],
        drafts.map((d) => json(d.data)) as string[],
      ],
    );
  }

  async listHistory(filter: HistoryFilter, page: PageQuery): Promise<HistoryEvent[]> {
    const c = new Conditions()
      .in('type', filter.types)
      .eq('workflow_id', filter.workflowId)
      .eq('task_id', filter.taskId)
      .eq('agent_id', filter.agentId)
      .since('at', filter.since);
    const rows = await this.rows(
      `SELECT seq::text AS seq, type, at, workflow_id, task_id, agent_id, data FROM history_events ${paged('history_events', c, page, 'ASC')}`,
      c.params,
    );
    return rows.map(toHistory);
  }

  async clearHistory(before: Date | null): Promise<number> {
    return this.count(
      `WITH d AS (DELETE FROM history_events WHERE $1::timestamptz IS NULL OR at < $1::timestamptz RETURNING 1)
       SELECT count(*)::int AS n FROM d`,
      [iso(before)],
    );
  }
}
