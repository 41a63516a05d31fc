// Tasks under leases, in SQL: claims (SKIP LOCKED), lease lookups and heartbeats, results,
// requeues, and what the sweeper and a stopping instance take back.
import type { TaskOutcome, TaskStatus } from '../../domain/enums';
import { bySeq, dispatchOrder } from '../../domain/workflow';
import type { SqlParam } from '../sql';
import type { ChangedTask, ClaimQuery, LeaseLookup, ReturnedLeases, StoredTask } from '../records';
import { LEASE_CLAIM, LEASE_TASK_ID, NEW_LEASE_ID } from './lease-ids';
import { iso, json, type Row, TASK_SELECT, taskColumns, toChanged, toTask } from './rows';
import { SqlRole } from './sql-role';
import { READY } from './statuses';

/** Part of TaskLifecycle. */
export class SqlTasks extends SqlRole {
  async getTaskForUpdate(id: string): Promise<StoredTask | null> {
    const [r] = await this.rows(`${TASK_SELECT} WHERE id = $1 FOR UPDATE`, [id]);
    return r ? toTask(r) : null;
  }

  async claimTasks(q: ClaimQuery): Promise<ChangedTask[]> {
    if (q.limit <= 0 || q.capabilities.length === 0) return [];
    const capabilities = [...new Set(q.capabilities)];
    // One statement: pick in dispatch order skipping rows other claimers hold and start them,
    // each under a new lease. SKIP LOCKED is what keeps two claimers from ever taking one task.
    const rows = await this.rows(
      `WITH free AS (
         -- Never beyond the agent's free slots, as its row counts them (migration 005): read by this
         -- statement, under READ COMMITTED it sees the claims of a transaction that held the agent's
         -- lock before us.
         SELECT least($3, greatest(0, (SELECT concurrency - running FROM agents WHERE id = $4))) AS n
       ), picked AS (
         SELECT id FROM tasks
          WHERE ${READY('$2::timestamptz')} AND ${
            capabilities.length === 1
              ? // One capability: the ready index in order, stopping at the limit.
                'capability = ($1::text[])[1]'
              : // Several: one scan, sorted. A scan per capability would lock more rows than it
                // takes, and a concurrent claimer would skip rows nobody was going to take.
                'capability = ANY($1::text[])'
          }
          ORDER BY priority DESC, seq
          LIMIT (SELECT n FROM free)
          FOR UPDATE SKIP LOCKED
       )
       UPDATE tasks t SET status = 'RUNNING', agent_id = $4, attempt = t.attempt + 1, claims = t.claims + 1,
              lease_id = ${NEW_LEASE_ID}, lease_expires_at = $5::timestamptz, claimed_at = $2::timestamptz, lease_instance = $6,
              started_at = coalesce(t.started_at, $2::timestamptz), available_at = NULL,
              progress = NULL, progress_message = NULL, progress_at = NULL
         FROM picked WHERE t.id = picked.id
       RETURNING ${taskColumns('t.')}, 'QUEUED' AS previous_status`,
      [capabilities, iso(q.now), q.limit, q.agentId, iso(q.expiresAt), q.instance ?? null],
    );
    return dispatchOrder(rows.map(toChanged));
  }

  async getLeases(leaseIds: string[]): Promise<LeaseLookup[]> {
    if (leaseIds.length === 0) return [];
    // A lease names its task and claim: one granted before is told from one never granted
    // (a claim the task has not reached, or no such task) without keeping every lease.
    const rows = await this.rows(
      `SELECT u.lease_id AS l_id, ${taskColumns('t.')}
         FROM unnest($1::text[]) AS u(lease_id)
         JOIN tasks t ON t.id = ${LEASE_TASK_ID('u.lease_id')}
        WHERE ${LEASE_CLAIM('u.lease_id')} BETWEEN 1 AND t.claims OR t.lease_id = u.lease_id
        ORDER BY t.id
        FOR UPDATE OF t`,
      [leaseIds],
    );
    return rows.map((r) => ({ leaseId: String(r.l_id), task: toTask(r) }));
  }

  async extendLease(
    taskId: string,
    expiresAt: Date,
    progress: { progress: number | null; message: string | null; at: Date | null } | null,
  ): Promise<StoredTask> {
    const [r] = await this.rows(
      `UPDATE tasks SET lease_expires_at = $2::timestamptz,
              progress = CASE WHEN $3 THEN $4 ELSE progress END,
              progress_message = CASE WHEN $3 THEN $5 ELSE progress_message END,
              progress_at = coalesce($6::timestamptz, progress_at)
        WHERE id = $1 RETURNING ${taskColumns()}`,
      [taskId, iso(expiresAt), progress !== null, progress?.progress ?? null, progress?.message ?? null, iso(progress?.at)],
    );
    return toTask(r as Row);
  }

  async finishTask(taskId: string, f: { status: TaskStatus; outcome: TaskOutcome | null; at: Date }): Promise<StoredTask> {
    const [r] = await this.rows(
      `UPDATE tasks SET status = $2, outcome = $3, finished_at = $4::timestamptz, lease_id = NULL, lease_expires_at = NULL
        WHERE id = $1 RETURNING ${taskColumns()}`,
      [taskId, f.status, f.outcome, iso(f.at)],
    );
    return toTask(r as Row);
  }

  async completeLeasedTasks(
    items: { leaseId: string; outcome: TaskOutcome; output: unknown }[],
    at: Date,
  ): Promise<{ leaseId: string; task: StoredTask }[]> {
    if (items.length === 0) return [];
    const rows = await this.rows(
      `UPDATE tasks t SET status = 'COMPLETED', outcome = u.outcome, output = u.output::jsonb, finished_at = $4::timestamptz,
              lease_id = NULL, lease_expires_at = NULL, progress = 1
         FROM unnest($1::text[], $2::text[], $3::text[]) AS u(lease_id, outcome, output)
        WHERE t.id = ${LEASE_TASK_ID('u.lease_id')} AND t.lease_id = u.lease_id AND t.status = 'RUNNING'
        RETURNING ${taskColumns('t.')}, u.lease_id AS done_lease_id,
                  EXISTS (SELECT 1 FROM task_edges e WHERE e.dep_id = t.id) AS has_dependants`,
      [items.map((i) => i.leaseId), items.map((i) => i.outcome), items.map((i) => json(i.output)) as string[], iso(at)],
    );
    return rows.map((r) => ({ leaseId: String(r.done_lease_id), task: { ...toTask(r), hasDependants: r.has_dependants === true } }));
  }

  async requeueTask(taskId: string, availableAt: Date): Promise<StoredTask> {
    const [r] = await this.rows(
      `UPDATE tasks SET status = 'QUEUED', available_at = $2::timestamptz, lease_id = NULL, lease_expires_at = NULL
        WHERE id = $1 RETURNING ${taskColumns()}`,
      [taskId, iso(availableAt)],
    );
    return toTask(r as Row);
  }

  async overdueTasks(now: Date, limit: number): Promise<(StoredTask & { reason: 'lease' | 'timeout' })[]> {
    const rows = await this.rows(
      `SELECT ${taskColumns()},
              CASE WHEN timeout_ms IS NOT NULL AND claimed_at + timeout_ms * interval '1 millisecond' <= $1::timestamptz
                   THEN 'timeout' ELSE 'lease' END AS reason
         FROM tasks
        WHERE status = 'RUNNING'
          AND (lease_expires_at <= $1::timestamptz
               OR (timeout_ms IS NOT NULL AND claimed_at + timeout_ms * interval '1 millisecond' <= $1::timestamptz))
        ORDER BY tasks.seq LIMIT $2
        FOR UPDATE SKIP LOCKED`,
      [iso(now), limit],
    );
    return rows.map((r) => ({ ...toTask(r), reason: r.reason as 'lease' | 'timeout' }));
  }

  async capabilitiesAvailableBetween(from: Date, to: Date): Promise<string[]> {
    const rows = await this.rows(
      `SELECT DISTINCT capability FROM tasks
        WHERE status = 'QUEUED' AND available_at > $1::timestamptz AND available_at <= $2::timestamptz`,
      [iso(from), iso(to)],
    );
    return rows.map((r) => String(r.capability));
  }

  async returnLeases(which: ReturnedLeases): Promise<StoredTask[]> {
    // Which running tasks: by lease (never delivered), or by the instance holding them (stopped, or
    // dead: any instance without a row), those past the hand-back bound left out.
    const [where, params]: [string, SqlParam[]] =
      'leaseIds' in which
        ? [`id = ANY(ARRAY(SELECT ${LEASE_TASK_ID('l')} FROM unnest($1::text[]) AS l)) AND lease_id = ANY($1::text[])`, [which.leaseIds]]
        : 'instance' in which
          ? ['id IN (SELECT id FROM tasks WHERE status = \'RUNNING\' AND lease_instance = $1 ORDER BY seq LIMIT $2 FOR UPDATE)', [which.instance, which.limit]]
          : [
              `id IN (SELECT t.id FROM tasks t WHERE t.status = 'RUNNING' AND t.lease_instance IS NOT NULL AND t.handbacks < $1
                         AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = t.lease_instance)
                       ORDER BY t.seq LIMIT $2 FOR UPDATE SKIP LOCKED)`,
              [which.maxHandbacks, which.limit],
            ];
    if ('leaseIds' in which && which.leaseIds.length === 0) return [];
    const rows = await this.rows(
      `UPDATE tasks SET status = 'QUEUED', attempt = attempt - 1, agent_id = NULL, lease_id = NULL, lease_instance = NULL,
              lease_expires_at = NULL, claimed_at = NULL, progress = NULL, progress_message = NULL, progress_at = NULL,
              handbacks = handbacks + ${'orphans' in which ? 1 : 0},
              started_at = CASE WHEN attempt = 1 THEN NULL ELSE started_at END
        WHERE ${where} AND status = 'RUNNING'
        RETURNING ${taskColumns()}`,
      params,
    );
    return rows.map(toTask).sort(bySeq);
  }

  async expireOrphanedLeases(at: Date): Promise<number> {
    return this.count(
      `WITH u AS (UPDATE tasks t SET lease_expires_at = $1::timestamptz, lease_instance = NULL
                   WHERE t.status = 'RUNNING' AND t.lease_instance IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = t.lease_instance) RETURNING 1)
       SELECT count(*)::int AS n FROM u`,
      [iso(at)],
    );
  }
}
