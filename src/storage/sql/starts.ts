// What a workflow start writes, in a few statements for any number of workflows: the workflows,
// their tasks (some already leased to a waiting agent) and the edges between them.
import type { NewTask, StoredTask, StoredWorkflow } from '../records';
import { firstLeaseId } from './lease-ids';
import { iso, json, parsed, type Row, toWorkflow, WORKFLOW_SELECT } from './rows';
import { SqlRole } from './sql-role';

/** Part of TaskLifecycle. */
export class SqlStarts extends SqlRole {
  async insertWorkflows(ws: StoredWorkflow[]): Promise<StoredWorkflow[]> {
    if (ws.length === 0) return [];
    // Only what the database makes is returned (seq, and input as jsonb orders its keys); the rest
    // is what was written. Returning whole rows costs far more (PGlite encodes and decodes every
    // field of every row).
    const rows = await this.rows(
      `INSERT INTO workflows (id, name, status, input, idempotency_key, created_at, started_at, remaining)
       SELECT id, name, status, input::jsonb, idempotency_key, created_at::timestamptz, started_at::timestamptz, remaining
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])
              WITH ORDINALITY AS w(id, name, status, input, idempotency_key, created_at, started_at, remaining, n)
        ORDER BY n
       RETURNING id, seq::text AS seq, input::text AS input`,
      [
        ws.map((w) => w.id),
        ws.map((w) => w.name),
        ws.map((w) => w.status),
        ws.map((w) => json(w.input)) as string[],
        ws.map((w) => w.idempotencyKey) as string[],
        ws.map((w) => w.createdAt.toISOString()),
        ws.map((w) => iso(w.startedAt)) as string[],
        ws.map((w) => w.remaining) as unknown as string[],
      ],
    );
    const byId = new Map(rows.map((r) => [String(r.id), r]));
    return ws.map((w) => {
      const r = byId.get(w.id) as Row;
      return { ...w, seq: String(r.seq), input: parsed(r.input), output: null, finishedAt: null, failedRequired: 0, partial: 0 };
    });
  }

  async getWorkflowByIdempotencyKey(key: string): Promise<StoredWorkflow | null> {
    const [r] = await this.rows(`${WORKFLOW_SELECT} WHERE idempotency_key = $1`, [key]);
    return r ? toWorkflow(r) : null;
  }

  async insertTasks(tasks: NewTask[]): Promise<StoredTask[]> {
    if (tasks.length === 0) return [];
    const col = <K extends keyof NewTask>(k: K) => tasks.map((t) => t[k]);
    // Tasks given to an agent as they are written (a start with an agent waiting) carry their first
    // lease (its id made here, as the claim makes the others): a statement of its own text, so that
    // starts without one keep the shorter statement.
    const leaseIds = tasks.some((t) => t.lease) ? tasks.map((t) => (t.lease ? firstLeaseId(t.id) : null)) : null;
    const lease = leaseIds
      ? {
          columns: ', agent_id, attempt, claims, lease_id, lease_expires_at, claimed_at, started_at',
          values: `, agent_id, CASE WHEN lease_id IS NULL THEN 0 ELSE 1 END, CASE WHEN lease_id IS NULL THEN 0 ELSE 1 END,
                   lease_id, lease_expires_at::timestamptz, leased_at::timestamptz, leased_at::timestamptz`,
          arrays: ', $18::text[], $19::text[], $20::text[], $21::text[]',
          names: ', agent_id, lease_id, lease_expires_at, leased_at',
        }
      : null;
    // One statement for the whole workflow; depends_on travels as JSON because unnest flattens arrays
    // (a step without dependencies skips the subquery that unpacks it).
    const insert = `INSERT INTO tasks (id, workflow_id, key, name, capability, status, input, has_refs, max_attempts,
                          retry_backoff_ms, timeout_ms, priority, depends_on, continue_on_failure, pending_deps, created_at,
                          resolved_input${lease?.columns ?? ''})
       SELECT id, workflow_id, key, name, capability, status, input::jsonb, has_refs, max_attempts, retry_backoff_ms,
              timeout_ms, priority,
              CASE WHEN deps = '[]' THEN '{}'::text[] ELSE ARRAY(SELECT jsonb_array_elements_text(deps::jsonb)) END,
              continue_on_failure,
              pending_deps, created_at::timestamptz, resolved::jsonb${lease?.values ?? ''}
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[],
                     $9::int[], $10::int[], $11::int[], $12::int[], $13::text[], $14::boolean[], $15::int[], $16::text[],
                     $17::text[]${lease?.arrays ?? ''})
              WITH ORDINALITY AS t(id, workflow_id, key, name, capability, status, input, has_refs, max_attempts,
                   retry_backoff_ms, timeout_ms, priority, deps, continue_on_failure, pending_deps, created_at, resolved${lease?.names ?? ''}, n)
        ORDER BY n
       RETURNING id, seq::text AS seq, coalesce(resolved_input, input)::text AS input`;
    const rows = await this.rows(
      lease
        ? // An agent's running count is kept by triggers on UPDATE and DELETE (migration 005, whose
          // rule this repeats: RUNNING rows with an agent count); tasks inserted RUNNING are counted
          // here, by the statement that inserts them. A trigger on INSERT would keep the rule in one
          // place but cost every start: a statement trigger captures every inserted row, leased or
          // not, and a row trigger updates the agent once per leased task.
          `WITH ins AS (${insert}, agent_id, status),
                counted AS (UPDATE agents a SET running = a.running + c.n
                              FROM (SELECT agent_id, count(*)::int AS n FROM ins
                                     WHERE status = 'RUNNING' AND agent_id IS NOT NULL GROUP BY agent_id) c
                             WHERE a.id = c.agent_id)
           SELECT id, seq, input FROM ins`
        : insert,
      [
        col('id'),
        col('workflowId'),
        col('key'),
        col('name'),
        col('capability'),
        col('status'),
        tasks.map((t) => json(t.input)) as string[],
        col('hasRefs') as unknown as string[],
        col('maxAttempts') as unknown as string[],
        col('retryBackoffMs') as unknown as string[],
        col('timeoutMs') as unknown as string[],
        col('priority') as unknown as string[],
        tasks.map((t) => JSON.stringify(t.dependsOn)),
        col('continueOnFailure') as unknown as string[],
        col('pendingDeps') as unknown as string[],
        tasks.map((t) => t.createdAt.toISOString()),
        tasks.map((t) => (t.resolvedInput === undefined ? null : JSON.stringify(t.resolvedInput))) as string[],
        ...(lease
          ? [
              tasks.map((t) => t.lease?.agentId ?? null) as string[],
              leaseIds as string[],
              tasks.map((t) => iso(t.lease?.expiresAt)) as string[],
              tasks.map((t) => iso(t.lease?.at)) as string[],
            ]
          : []),
      ],
    );
    // As insertWorkflows: only seq and the stored input come back. In the order given, which is seq order.
    const byId = new Map(rows.map((r) => [String(r.id), r]));
    return tasks.map((t, i) => {
      const r = byId.get(t.id) as Row;
      return {
        id: t.id,
        seq: String(r.seq),
        workflowId: t.workflowId,
        key: t.key,
        name: t.name,
        capability: t.capability,
        status: t.status,
        outcome: null,
        input: parsed(r.input),
        output: null,
        progress: null,
        progressMessage: null,
        attempt: t.lease ? 1 : 0,
        maxAttempts: t.maxAttempts,
        retryBackoffMs: t.retryBackoffMs,
        timeoutMs: t.timeoutMs,
        priority: t.priority,
        dependsOn: t.dependsOn,
        continueOnFailure: t.continueOnFailure,
        agentId: t.lease?.agentId ?? null,
        createdAt: t.createdAt,
        startedAt: t.lease?.at ?? null,
        finishedAt: null,
        hasRefs: t.hasRefs,
        pendingDeps: t.pendingDeps,
        leaseId: leaseIds?.[i] ?? null,
        leaseExpiresAt: t.lease?.expiresAt ?? null,
        claimedAt: t.lease?.at ?? null,
        progressAt: null,
      };
    });
  }

  async insertEdges(edges: { depId: string; taskId: string }[]): Promise<void> {
    if (edges.length === 0) return;
    await this.rows(
      `INSERT INTO task_edges (dep_id, task_id) SELECT * FROM unnest($1::text[], $2::text[])`,
      [edges.map((e) => e.depId), edges.map((e) => e.taskId)],
    );
  }
}
