// Rows to records and back: the columns each statement selects and the mappers that read them.
// Counts are cast to int and sequence numbers to text so both drivers return the same shapes.
import type { CacheEntry } from '../../domain/cache';
import type { AgentKind, AgentStatus, ErrorSeverity, ErrorType, HistoryEventType, TaskOutcome, TaskStatus, WorkflowStatus } from '../../domain/enums';
import type { HistoryEvent } from '../../domain/history';
import type { ChangedTask, StoredAgent, StoredError, StoredTask, StoredWorkflow } from '../records';

export type Row = Record<string, unknown>;

export const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
export const date = (v: unknown): Date | null => (v == null ? null : v instanceof Date ? v : new Date(String(v)));
export const str = (v: unknown): string | null => (v == null ? null : String(v));
/** A jsonb column selected as text: its value, keys in the order jsonb keeps them. */
export const parsed = (v: unknown): unknown => (v == null ? null : JSON.parse(String(v)));

export const AGENT_COLUMNS = `a.id, a.name, a.kind, a.capabilities, a.status, a.concurrency, a.metadata,
  a.token_hash, a.registered_at, a.last_seen_at, a.running AS running_tasks`;
export const AGENT_SELECT = `SELECT ${AGENT_COLUMNS} FROM agents a`;

export function toAgent(r: Row): StoredAgent {
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

export const ERROR_SELECT = `SELECT id, seq::text AS seq, type, severity, message, context, retryable,
  workflow_id, task_id, agent_id, occurred_at FROM error_records`;

export function toError(r: Row): StoredError {
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

export function toCache(r: Row): CacheEntry {
  return {
    key: String(r.key),
    value: r.value,
    expiresAt: date(r.expires_at),
    updatedAt: date(r.updated_at) as Date,
  };
}

export function toHistory(r: Row): HistoryEvent {
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

export const workflowColumns = (w = '') => `${w}id, ${w}seq::text AS seq, ${w}name, ${w}status, ${w}input, ${w}output,
  ${w}idempotency_key, ${w}created_at, ${w}started_at, ${w}finished_at, ${w}remaining, ${w}failed_required, ${w}partial`;
export const WORKFLOW_COLUMNS = workflowColumns();
export const WORKFLOW_SELECT = `SELECT ${WORKFLOW_COLUMNS} FROM workflows`;

export function toWorkflow(r: Row): StoredWorkflow {
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
 * and a UTF-8 decode each), which costs far more than one JSON.parse per row.
 * `input` is what the agent gets (resolved once ready).
 */
const TASK_FIELDS = [
  'id', 'workflow_id', 'key', 'name', 'capability', 'status', 'outcome', 'coalesce(#resolved_input, #input)', 'output',
  'progress', 'progress_message', 'attempt', 'max_attempts', 'retry_backoff_ms', 'timeout_ms', 'priority',
  'depends_on', 'continue_on_failure', 'agent_id', 'created_at', 'started_at', 'finished_at', 'has_refs',
  'pending_deps', 'lease_id', 'lease_expires_at', 'claimed_at', 'progress_at',
] as const;

/** Task columns, optionally qualified: `seq` (text, for ordering and cursors) and `task` (the JSON row). */
export const taskColumns = (t = '') =>
  `${t}seq::text AS seq, json_build_array(${TASK_FIELDS.map((f) => (f.includes('#') ? f.replaceAll('#', t) : t + f)).join(', ')})::text AS task`;
export const TASK_SELECT = `SELECT ${taskColumns()} FROM tasks`;

export function toTask(r: Row): StoredTask {
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

export const toChanged = (r: Row): ChangedTask => ({ ...toTask(r), previousStatus: r.previous_status as TaskStatus });
