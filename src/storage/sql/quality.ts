// Quality counters in SQL: one row per (scope, id), added to in the transaction that records a result.
import type { QualityCounts } from '../../domain/quality';
import type { QualityScope } from '../records';
import type { QualityStore } from '../store';
import { SqlRole } from './sql-role';

export class SqlQuality extends SqlRole implements QualityStore {
  async getQuality(scope: QualityScope, ids: readonly string[]): Promise<Map<string, QualityCounts>> {
    const rows = await this.rows(
      `SELECT scope_id, succeeded::int AS s, partial::int AS p, failed::int AS f
         FROM quality_counters WHERE scope = $1 AND scope_id = ANY($2::text[])`,
      [scope, [...ids]],
    );
    return new Map(rows.map((r) => [String(r.scope_id), { succeeded: Number(r.s), partial: Number(r.p), failed: Number(r.f) }]));
  }

  async addQuality(rows: { scope: QualityScope; id: string; delta: QualityCounts }[]): Promise<void> {
    if (rows.length === 0) return;
    await this.rows(
      `INSERT INTO quality_counters (scope, scope_id, succeeded, partial, failed)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
       ON CONFLICT (scope, scope_id) DO UPDATE SET
         succeeded = quality_counters.succeeded + EXCLUDED.succeeded,
         partial = quality_counters.partial + EXCLUDED.partial,
         failed = quality_counters.failed + EXCLUDED.failed`,
      [
        rows.map((r) => r.scope),
        rows.map((r) => r.id),
        rows.map((r) => String(r.delta.succeeded)),
        rows.map((r) => String(r.delta.partial)),
        rows.map((r) => String(r.delta.failed)),
      ],
    );
  }

  async lockQuality(): Promise<void> {
    // Conflicts with the row locks of addQuality, not with reads.
    await this.rows('LOCK TABLE quality_counters IN SHARE ROW EXCLUSIVE MODE');
  }

  async recountQuality(): Promise<void> {
    // Workflows keep their counters, which count every result since they started, retried ones
    // too; deleted workflows take theirs with them. Overall is the sum of the workflows kept; an
    // agent counts the results its kept tasks hold.
    await this.rows(
      `DELETE FROM quality_counters q
        WHERE q.scope <> 'workflow' OR NOT EXISTS (SELECT 1 FROM workflows w WHERE w.id = q.scope_id)`,
    );
    await this.rows(
      `INSERT INTO quality_counters (scope, scope_id, succeeded, partial, failed)
       SELECT 'agent', agent_id, count(*) FILTER (WHERE outcome = 'SUCCESS'), count(*) FILTER (WHERE outcome = 'PARTIAL'),
              count(*) FILTER (WHERE outcome = 'FAILURE')
         FROM tasks WHERE agent_id IS NOT NULL AND outcome IS NOT NULL GROUP BY agent_id
       UNION ALL
       SELECT 'all', '', sum(succeeded), sum(partial), sum(failed) FROM quality_counters WHERE scope = 'workflow' HAVING count(*) > 0`,
    );
  }
}
