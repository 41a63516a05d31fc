// The one Store implementation: parameterised SQL that runs unchanged on PGlite and PostgreSQL.
// Counts are cast to int and sequence numbers to text so both drivers return the same shapes.
import type { CacheEntry } from '../domain/cache';
import { AgentKind, AgentStatus, ErrorSeverity, ErrorType, HistoryEventType, TaskOutcome, TaskStatus, WorkflowStatus } from '../domain/enums';
import type { ErrorRecord } from '../domain/error-record';
import type { HistoryDraft, HistoryEvent } from '../domain/history';
import type { QualityCounts } from '../domain/quality';
import { bySeq, dispatchOrder, type Task } from '../domain/workflow';
import type { Queryable, SqlDriver, SqlParam } from './sql';
import type {
  ClaimQuery,
  ReturnedLeases,
  ChangedTask,
  ErrorFilter,
  LeaseLookup,
  NewTask,
  StoredTask,
  StoredWorkflow,
  HistoryFilter,
  PageQuery,
  QualityScope,
  QueueStats,
  Store,
  StoredAgent,
  StoredError,
  TaskFilter,
  WorkflowFilter,
} from './store';

type Row = Record<string, unknown>;

/** Advisory lock taken by registrations of new agents (see migrate.ts and sweeper.ts for the others). */
const AGENT_REGISTRATION_LOCK = 7_310_003;

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
const date = (v: unknown): Date | null => (v == null ? null : v instanceof Date ? v : new Date(String(v)));
const str = (v: unknown): string | null => (v == null ? null : String(v));
/** A jsonb column selected as text: its value, keys in the order jsonb keeps them. */
const parsed = (v: unknown): unknown => (v == null ? null : JSON.parse(String(v)));

/**
 * A task a claim would take at `at` (an SQL time expression): QUEUED, its retry backoff over.
 * `t` qualifies the columns. The claim, the check for older ready work and the queue's oldest wait
 * all mean this.
 */
const READY = (at: string, t = '') => `${t}status = 'QUEUED' AND (${t}available_at IS NULL OR ${t}available_at <= ${at})`;

/** Collects AND-ed conditions and their parameters for a dynamic WHERE clause. */
class Conditions {
  private readonly parts: string[] = [];
  constructor(readonly params: SqlParam[] = []) {}

  param(value: SqlParam): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  eq(column: string, value: string | null | undefined): this {
    if (value != null) this.parts.push(`${column} = ${this.param(value)}`);
    return this;
  }
  in(column: string, values: readonly string[] | null | undefined): this {
    // One value is an equality, so an index on (column, seq) serves a page in order.
    if (values?.length === 1) this.parts.push(`${column} = ${this.param(values[0] as string)}`);
    else if (values != null) this.parts.push(`${column} = ANY(${this.param([...values])}::text[])`);
    return this;
  }
  since(column: string, at: Date | null | undefined): this {
    if (at != null) this.parts.push(`${column} >= ${this.param(at.toISOString())}::timestamptz`);
    return this;
  }
  raw(condition: string): this {
    this.parts.push(condition);
    return this;
  }
  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

const AGENT_COLUMNS = `a.id, a.name, a.kind, a.capabilities, a.status, a.concurrency, a.metadata,
  a.token_hash, a.registered_at, a.last_seen_at, a.running AS running_tasks`;
const AGENT_SELECT = `SELECT ${AGENT_COLUMNS} FROM agents a`;

function toAgent(r: Row): StoredAgent {
  return {
    id: String(r.id),
    name: String(r.name),
    kind: r.kind as AgentKind,
    capabilities: r.capabilities as string[],
    status: r.status as AgentStatus,
    concurrency: Number(r.concurrency),
    runningTasks: Number(r.running_tasks ?? 0),
    metadata: r.metadata ?? null,
    tokenHash: str(r.token_hash),
    registeredAt: date(r.registered_at) as Date,
    lastSeenAt: date(r.last_seen_at),
  };
}

const ERROR_SELECT = `SELECT id, seq::text AS seq, type, severity, message, context, retryable,
  workflow_id, task_id, agent_id, occurred_at FROM error_records`;

function toError(r: Row): StoredError {
  return {
    id: String(r.id),
    seq: String(r.seq),
    type: r.type as ErrorType,
    severity: r.severity as ErrorSeverity,
    message: String(r.message),
    context: r.context ?? null,
    retryable: Boolean(r.retryable),
    workflowId: str(r.workflow_id),
    taskId: str(r.task_id),
    agentId: str(r.agent_id),
    occurredAt: date(r.occurred_at) as Date,
  };
}

function toCache(r: Row): CacheEntry {
  return {
    key: String(r.key),
    value: r.value,
    expiresAt: date(r.expires_at),
    updatedAt: date(r.updated_at) as Date,
  };
}

function toHistory(r: Row): HistoryEvent {
  return {
    id: String(r.seq),
    seq: String(r.seq),
    type: r.type as HistoryEventType,
    at: date(r.at) as Date,
    workflowId: str(r.workflow_id),
    taskId: str(r.task_id),
    agentId: str(r.agent_id),
    data: r.data ?? null,
  };
}

const workflowColumns = (w = '') => `${w}id, ${w}seq::text AS seq, ${w}name, ${w}status, ${w}input, ${w}output,
  ${w}idempotency_key, ${w}created_at, ${w}started_at, ${w}finished_at, ${w}remaining, ${w}failed_required, ${w}partial`;
const WORKFLOW_COLUMNS = workflowColumns();
const WORKFLOW_SELECT = `SELECT ${WORKFLOW_COLUMNS} FROM workflows`;

function toWorkflow(r: Row): StoredWorkflow {
  return {
    id: String(r.id),
    seq: String(r.seq),
    name: String(r.name),
    status: r.status as WorkflowStatus,
    input: r.input ?? null,
    output: r.output ?? null,
    idempotencyKey: str(r.idempotency_key),
    createdAt: date(r.created_at) as Date,
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    remaining: Number(r.remaining ?? 0),
    failedRequired: Number(r.failed_required ?? 0),
    partial: Number(r.partial ?? 0),
  };
}

/**
 * The task columns in the order `toTask` reads them. A row is selected as one JSON array (text)
 * rather than 29 columns: PGlite decodes every field of every row in JavaScript (a buffer copy
 * and a UTF-8 decode each), which made reading 100 tasks 3.5× slower than one JSON.parse per row.
 * `input` is what the agent gets (resolved once ready).
 */
const TASK_FIELDS = [
  'id', 'workflow_id', 'key', 'name', 'capability', 'status', 'outcome', 'coalesce(#resolved_input, #input)', 'output',
  'progress', 'progress_message', 'attempt', 'max_attempts', 'retry_backoff_ms', 'timeout_ms', 'priority',
  'depends_on', 'continue_on_failure', 'agent_id', 'created_at', 'started_at', 'finished_at', 'has_refs',
  'pending_deps', 'lease_id', 'lease_expires_at', 'claimed_at', 'progress_at',
] as const;

/** Task columns, optionally qualified: `seq` (text, for ordering and cursors) and `task` (the JSON row). */
const taskColumns = (t = '') =>
  `${t}seq::text AS seq, json_build_array(${TASK_FIELDS.map((f) => (f.includes('#') ? f.replaceAll('#', t) : t + f)).join(', ')})::text AS task`;
const TASK_SELECT = `SELECT ${taskColumns()} FROM tasks`;

/**
 * A lease id is "<task id>:<claim number>:<random>". `claims` counts every claim of a task and never
 * goes down (not when a workflow retry resets attempts, not when an undelivered lease is given
 * back), so a lease that was granted once (a claim number the task has reached) is told from one
 * never granted without a table of every lease; the random part makes it unguessable. Ids granted
 * before migration 003 were plain UUIDs: such a lease is found only while it is its task's
 * current one.
 */
const NEW_LEASE_ID = `t.id || ':' || (t.claims + 1) || ':' || replace(gen_random_uuid()::text, '-', '')`;
const LEASE_TASK_ID = (lease: string) =>
  `(CASE WHEN strpos(${lease}, ':') > 0 THEN split_part(${lease}, ':', 1)
         ELSE (SELECT x.id FROM tasks x WHERE x.lease_id = ${lease} AND x.status = 'RUNNING' LIMIT 1) END)`;
const LEASE_CLAIM = (lease: string) =>
  `(CASE WHEN split_part(${lease}, ':', 2) ~ '^[0-9]{1,9}$' THEN split_part(${lease}, ':', 2)::int END)`;

function toTask(r: Row): StoredTask {
  const [
    id, workflowId, key, name, capability, status, outcome, input, output,
    progress, progressMessage, attempt, maxAttempts, retryBackoffMs, timeoutMs, priority,
    dependsOn, continueOnFailure, agentId, createdAt, startedAt, finishedAt, hasRefs,
    pendingDeps, leaseId, leaseExpiresAt, claimedAt, progressAt,
  ] = JSON.parse(r.task as string) as unknown[];
  return {
    id: String(id),
    seq: String(r.seq),
    workflowId: str(workflowId),
    key: String(key),
    name: String(name),
    capability: String(capability),
    status: status as TaskStatus,
    outcome: (outcome as TaskOutcome | null) ?? null,
    input: input ?? null,
    output: output ?? null,
    progress: progress == null ? null : Number(progress),
    progressMessage: str(progressMessage),
    attempt: Number(attempt),
    maxAttempts: Number(maxAttempts),
    retryBackoffMs: Number(retryBackoffMs),
    timeoutMs: timeoutMs == null ? null : Number(timeoutMs),
    priority: Number(priority),
    dependsOn: (dependsOn as string[] | null) ?? [],
    continueOnFailure: Boolean(continueOnFailure),
    agentId: str(agentId),
    createdAt: date(createdAt) as Date,
    startedAt: date(startedAt),
    finishedAt: date(finishedAt),
    hasRefs: Boolean(hasRefs),
    pendingDeps: Number(pendingDeps ?? 0),
    leaseId: str(leaseId),
    leaseExpiresAt: date(leaseExpiresAt),
    claimedAt: date(claimedAt),
    progressAt: date(progressAt),
  };
}

const toChanged = (r: Row): ChangedTask => ({ ...toTask(r), previousStatus: r.previous_status as TaskStatus });

function errorConditions(f: ErrorFilter, params?: SqlParam[]): Conditions {
  return new Conditions(params)
    .in('type', f.types)
    .in('severity', f.severities)
    .eq('workflow_id', f.workflowId)
    .eq('task_id', f.taskId)
    .eq('agent_id', f.agentId)
    .since('occurred_at', f.since);
}

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

/**
 * Appends the cursor condition and ORDER/LIMIT for a keyset page over `seq`. The column is
 * qualified: a bare `seq` in ORDER BY would mean the selected text alias and sort "10" before "9".
 */
function paged(table: string, c: Conditions, page: PageQuery, direction: 'ASC' | 'DESC'): string {
  if (page.after != null) c.raw(`${table}.seq ${direction === 'ASC' ? '>' : '<'} ${c.param(page.after)}::bigint`);
  return `${c} ORDER BY ${table}.seq ${direction} LIMIT ${c.param(page.limit)}`;
}

/**
 * A keyset page filtered on several statuses: one page per status (each an ordered range of the
 * (status, seq) index), merged. A single `status = ANY(...)` condition would walk the seq index
 * past every row of the other statuses, which grows with the table.
 */
function pagedByStatus<F extends { statuses?: readonly string[] | null }>(
  select: string,
  table: string,
  filter: F,
  conditions: (f: F, params: SqlParam[]) => Conditions,
  page: PageQuery,
  direction: 'ASC' | 'DESC',
): { sql: string; params: SqlParam[] } {
  const params: SqlParam[] = [];
  const statuses = filter.statuses;
  if (!statuses || statuses.length <= 1) {
    const c = conditions(filter, params);
    return { sql: `${select} ${paged(table, c, page, direction)}`, params };
  }
  const parts = [...new Set(statuses)].map((status) => `(${select} ${paged(table, conditions({ ...filter, statuses: [status] }, params), page, direction)})`);
  return { sql: `SELECT * FROM (${parts.join(' UNION ALL ')}) page ORDER BY page.seq::bigint ${direction} LIMIT $${params.push(page.limit)}`, params };
}

export class SqlStore implements Store {
  constructor(
    private readonly db: Queryable,
    private readonly driver: SqlDriver,
  ) {}

  static over(driver: SqlDriver): SqlStore {
    return new SqlStore(driver, driver);
  }

  get oneConnection(): boolean {
    return this.driver.kind === 'pglite';
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.db !== this.driver) return fn(this); // already inside one
    return this.driver.transaction((tx) => fn(new SqlStore(tx, this.driver)));
  }

  async ping(): Promise<boolean> {
    try {
      await this.db.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.driver.close();
  }

  private async rows(sql: string, params: SqlParam[] = []): Promise<Row[]> {
    return this.db.query<Row>(sql, params);
  }

  private async count(sql: string, params: SqlParam[] = []): Promise<number> {
    const [r] = await this.rows(sql, params);
    return Number(r?.n ?? 0);
  }

  // ------------------------------------------------------------------ agents

  async insertAgent(a: StoredAgent): Promise<void> {
    await this.rows(
      `INSERT INTO agents (id, name, kind, capabilities, status, concurrency, metadata, token_hash, registered_at, last_seen_at)
       VALUES ($1, $2, $3, $4::text[], $5, $6, $7::jsonb, $8, $9::timestamptz, $10::timestamptz)`,
      [a.id, a.name, a.kind, a.capabilities, a.status, a.concurrency, json(a.metadata), a.tokenHash, iso(a.registeredAt), iso(a.lastSeenAt)],
    );
  }

  async getAgentForUpdate(id: string): Promise<StoredAgent | null> {
    const [r] = await this.rows(`${AGENT_SELECT} WHERE a.id = $1 FOR UPDATE`, [id]);
    return r ? toAgent(r) : null;
  }

  async getAgentForLease(id: string, now: Date): Promise<{ agent: StoredAgent; hasReadyTasks: boolean } | null> {
    // The claim's own condition (READY), on the ready index.
    const [r] = await this.rows(
      `SELECT ${AGENT_COLUMNS},
              EXISTS (SELECT 1 FROM tasks t
                       WHERE ${READY('$2::timestamptz', 't.')} AND t.capability = ANY(a.capabilities)) AS has_ready
         FROM agents a WHERE a.id = $1 FOR UPDATE OF a`,
      [id, iso(now)],
    );
    return r ? { agent: toAgent(r), hasReadyTasks: r.has_ready === true } : null;
  }

  async getAgentByNameForUpdate(name: string): Promise<StoredAgent | null> {
    const [r] = await this.rows(`${AGENT_SELECT} WHERE a.name = $1 FOR UPDATE`, [name]);
    return r ? toAgent(r) : null;
  }

  async getAgents(ids: readonly string[]): Promise<StoredAgent[]> {
    if (ids.length === 0) return [];
    return (await this.rows(`${AGENT_SELECT} WHERE a.id = ANY($1::text[])`, [[...ids]])).map(toAgent);
  }

  async getAgentByName(name: string): Promise<StoredAgent | null> {
    const [r] = await this.rows(`${AGENT_SELECT} WHERE a.name = $1`, [name]);
    return r ? toAgent(r) : null;
  }

  async listAgents(capability: string | null): Promise<StoredAgent[]> {
    const c = new Conditions();
    if (capability != null) c.raw(`${c.param(capability)} = ANY(a.capabilities)`);
    return (await this.rows(`${AGENT_SELECT} ${c} ORDER BY a.registered_at, a.id`, c.params)).map(toAgent);
  }

  async updateAgent(
    id: string,
    patch: Partial<Pick<StoredAgent, 'capabilities' | 'concurrency' | 'metadata' | 'status' | 'lastSeenAt'>>,
  ): Promise<void> {
    const params: SqlParam[] = [id];
    const sets: string[] = [];
    const set = (column: string, value: SqlParam, cast = '') => {
      params.push(value);
      sets.push(`${column} = $${params.length}${cast}`);
    };
    if (patch.capabilities !== undefined) set('capabilities', patch.capabilities, '::text[]');
    if (patch.concurrency !== undefined) set('concurrency', patch.concurrency);
    if (patch.metadata !== undefined) set('metadata', json(patch.metadata), '::jsonb');
    if (patch.status !== undefined) set('status', patch.status);
    if (patch.lastSeenAt !== undefined) set('last_seen_at', iso(patch.lastSeenAt), '::timestamptz');
    if (sets.length === 0) return;
    await this.rows(`UPDATE agents SET ${sets.join(', ')} WHERE id = $1`, params);
  }

  async deleteAgent(id: string): Promise<boolean> {
    return (await this.rows('DELETE FROM agents WHERE id = $1 RETURNING id', [id])).length > 0;
  }

  async countRemoteAgentsForRegistration(): Promise<number> {
    // Two registrations counting side by side would both see room for one more.
    await this.rows('SELECT pg_advisory_xact_lock($1)', [AGENT_REGISTRATION_LOCK]);
    return this.count(`SELECT count(*)::int AS n FROM agents WHERE kind = 'REMOTE'`);
  }

  // ------------------------------------------------------------------ error records

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

  // ------------------------------------------------------------------ quality

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

  // ------------------------------------------------------------------ cache

  async setCache(e: CacheEntry): Promise<CacheEntry> {
    const [r] = await this.rows(
      `INSERT INTO cache_entries (key, value, expires_at, updated_at) VALUES ($1, $2::jsonb, $3::timestamptz, $4::timestamptz)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at
       RETURNING key, value, expires_at, updated_at`,
      [e.key, JSON.stringify(e.value), iso(e.expiresAt), iso(e.updatedAt)],
    );
    return toCache(r as Row);
  }

  async getCache(key: string, now: Date): Promise<CacheEntry | null> {
    const [r] = await this.rows(
      `SELECT key, value, expires_at, updated_at FROM cache_entries
        WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2::timestamptz)`,
      [key, iso(now)],
    );
    return r ? toCache(r) : null;
  }

  async listCache(prefix: string | null, now: Date): Promise<CacheEntry[]> {
    const rows = await this.rows(
      `SELECT key, value, expires_at, updated_at FROM cache_entries
        WHERE ($1::text IS NULL OR starts_with(key, $1::text)) AND (expires_at IS NULL OR expires_at > $2::timestamptz)
        ORDER BY key`,
      [prefix, iso(now)],
    );
    return rows.map(toCache);
  }

  async deleteCache(key: string, now: Date): Promise<boolean> {
    const rows = await this.rows(
      'DELETE FROM cache_entries WHERE key = $1 RETURNING (expires_at IS NULL OR expires_at > $2::timestamptz) AS live',
      [key, iso(now)],
    );
    return rows.some((r) => r.live === true);
  }

  async clearCache(prefix: string | null, now: Date): Promise<number> {
    return this.count(
      `WITH d AS (DELETE FROM cache_entries WHERE $1::text IS NULL OR starts_with(key, $1::text)
                  RETURNING (expires_at IS NULL OR expires_at > $2::timestamptz) AS live)
       SELECT count(*)::int AS n FROM d WHERE live`,
      [prefix, iso(now)],
    );
  }

  async purgeExpiredCache(now: Date): Promise<number> {
    // A plain DELETE: when nothing has expired (most runs) the driver sees that nothing changed.
    return (await this.rows(`DELETE FROM cache_entries WHERE expires_at <= $1::timestamptz RETURNING 1`, [iso(now)])).length;
  }

  // ------------------------------------------------------------------ history

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

  // ------------------------------------------------------------------ workflows and tasks (read side)

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
    return this.count(`SELECT count(*)::int AS n FROM workflows WHERE status IN ('PENDING', 'RUNNING')`);
  }

  async deleteFinishedWorkflows(): Promise<number> {
    return this.count(
      `WITH d AS (DELETE FROM workflows WHERE status NOT IN ('PENDING', 'RUNNING') RETURNING 1)
       SELECT count(*)::int AS n FROM d`,
    );
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

  // ------------------------------------------------------------------ workflow engine (write side)

  async insertWorkflows(ws: StoredWorkflow[]): Promise<StoredWorkflow[]> {
    if (ws.length === 0) return [];
    // Only what the database makes is returned (seq, and input as jsonb orders its keys); the rest
    // is what was written. Returning whole rows cost a third of the statement (PGlite encodes and
    // decodes every field of every row).
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

  async getWorkflowForUpdate(id: string): Promise<StoredWorkflow | null> {
    const [r] = await this.rows(`${WORKFLOW_SELECT} WHERE id = $1 FOR UPDATE`, [id]);
    return r ? toWorkflow(r) : null;
  }

  async insertTasks(tasks: NewTask[]): Promise<StoredTask[]> {
    if (tasks.length === 0) return [];
    const col = <K extends keyof NewTask>(k: K) => tasks.map((t) => t[k]);
    // Tasks given to an agent as they are written (a start with an agent waiting) carry their first
    // lease: a statement of its own text, so that starts without one keep the shorter statement.
    const lease = tasks.some((t) => t.lease)
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
        ? // The running count is kept by triggers on UPDATE and DELETE (migration 005); tasks inserted
          // RUNNING are counted by the same statement.
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
              tasks.map((t) => t.lease?.leaseId ?? null) as string[],
              tasks.map((t) => iso(t.lease?.expiresAt)) as string[],
              tasks.map((t) => iso(t.lease?.at)) as string[],
            ]
          : []),
      ],
    );
    // As insertWorkflows: only seq and the stored input come back. In the order given, which is seq order.
    const byId = new Map(rows.map((r) => [String(r.id), r]));
    return tasks.map((t) => {
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
        leaseId: t.lease?.leaseId ?? null,
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

  bumpOpenWorkflows(deltas: { id: string; remaining: number; failedRequired: number; partial: number }[]): Promise<StoredWorkflow[]> {
    return this.bump(deltas, true);
  }

  bumpWorkflows(deltas: { id: string; remaining: number; failedRequired: number; partial: number }[]): Promise<StoredWorkflow[]> {
    return this.bump(deltas, false);
  }

  private async bump(
    deltas: { id: string; remaining: number; failedRequired: number; partial: number }[],
    openOnly: boolean,
  ): Promise<StoredWorkflow[]> {
    if (deltas.length === 0) return [];
    const sorted = [...deltas].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)); // one lock order
    const rows = await this.rows(
      `UPDATE workflows w SET remaining = w.remaining + d.r, failed_required = w.failed_required + d.f, partial = w.partial + d.p
         FROM unnest($1::text[], $2::int[], $3::int[], $4::int[]) AS d(id, r, f, p)
        WHERE w.id = d.id ${openOnly ? `AND w.status IN ('PENDING', 'RUNNING')` : ''}
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

  async setWorkflowStatus(
    id: string,
    status: WorkflowStatus,
    at: Date,
    extra: { cancelReason?: string | null; reopen?: boolean } = {},
  ): Promise<StoredWorkflow> {
    const finished = status !== 'PENDING' && status !== 'RUNNING';
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
         SELECT id, status FROM tasks WHERE workflow_id = $1 AND status IN ('PENDING', 'QUEUED', 'RUNNING') FOR UPDATE
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
         SELECT id, status FROM tasks WHERE workflow_id = $1 AND status IN ('FAILED', 'CANCELLED', 'SKIPPED') FOR UPDATE
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

  async recountWorkflow(workflowId: string): Promise<StoredWorkflow> {
    const [r] = await this.rows(
      `UPDATE workflows w SET
          remaining = (SELECT count(*) FROM tasks WHERE workflow_id = w.id AND status IN ('PENDING', 'QUEUED', 'RUNNING')),
          failed_required = (SELECT count(*) FROM tasks WHERE workflow_id = w.id
                               AND ((status = 'FAILED' AND NOT continue_on_failure) OR status = 'CANCELLED')),
          partial = (SELECT count(*) FROM tasks WHERE workflow_id = w.id
                       AND ((status = 'COMPLETED' AND outcome = 'PARTIAL') OR (status = 'FAILED' AND continue_on_failure)))
        WHERE id = $1 RETURNING ${WORKFLOW_COLUMNS}`,
      [workflowId],
    );
    return toWorkflow(r as Row);
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

  async markSilentAgentsOffline(cutoff: Date): Promise<StoredAgent[]> {
    // A plain UPDATE (not one inside a WITH): its command tag tells the driver when it changed nothing,
    // as it does on most sweeps.
    const rows = await this.rows(
      `UPDATE agents a SET status = 'OFFLINE'
        WHERE kind = 'REMOTE' AND status <> 'OFFLINE' AND coalesce(last_seen_at, registered_at) < $1::timestamptz
        RETURNING ${AGENT_COLUMNS}`,
      [iso(cutoff)],
    );
    return rows.map((r) => ({ ...toAgent(r), status: 'OFFLINE' as AgentStatus }));
  }

  async touchAgents(ids: string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.rows(`UPDATE agents SET last_seen_at = $2::timestamptz WHERE id = ANY($1::text[])`, [[...new Set(ids)], iso(at)]);
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

  async instanceSeen(id: string, at: Date): Promise<void> {
    await this.rows(
      `INSERT INTO instances (id, started_at, seen_at) VALUES ($1, $2::timestamptz, $2::timestamptz)
       ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at`,
      [id, iso(at)],
    );
  }

  async forgetInstances(q: { unseenSince: Date | null; except: string } | { id: string }): Promise<number> {
    return 'id' in q
      ? this.count(`WITH d AS (DELETE FROM instances WHERE id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d`, [q.id])
      : this.count(
          `WITH d AS (DELETE FROM instances WHERE ($1::timestamptz IS NULL OR seen_at < $1::timestamptz) AND id <> $2 RETURNING 1)
           SELECT count(*)::int AS n FROM d`,
          [iso(q.unseenSince), q.except],
        );
  }

  async tryLock(key: number): Promise<boolean> {
    const [r] = await this.rows(`SELECT pg_try_advisory_xact_lock($1) AS ok`, [key]);
    return r?.ok === true;
  }

  // ------------------------------------------------------------------ batch reads

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

  async errorsOf(ref: 'workflow' | 'task', ids: readonly string[]): Promise<StoredError[]> {
    if (ids.length === 0) return [];
    const column = ref === 'workflow' ? 'workflow_id' : 'task_id';
    return (await this.rows(`${ERROR_SELECT} WHERE ${column} = ANY($1::text[]) ORDER BY error_records.seq`, [[...ids]])).map(toError);
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
