// What the Store's roles take and give: filters, pages, and records with the engine's bookkeeping
// that the API does not show.
import type { Agent } from '../domain/agent';
import type { ErrorSeverity, ErrorType, HistoryEventType, TaskStatus, WorkflowStatus } from '../domain/enums';
import type { ErrorRecord } from '../domain/error-record';
import type { Task, Workflow } from '../domain/workflow';

export interface ErrorFilter {
  types?: ErrorType[] | null;
  severities?: ErrorSeverity[] | null;
  workflowId?: string | null;
  taskId?: string | null;
  agentId?: string | null;
  since?: Date | null;
}

export interface HistoryFilter {
  types?: HistoryEventType[] | null;
  workflowId?: string | null;
  taskId?: string | null;
  agentId?: string | null;
  since?: Date | null;
}

export interface WorkflowFilter {
  statuses?: WorkflowStatus[] | null;
  name?: string | null;
}

export interface TaskFilter {
  workflowId?: string | null;
  statuses?: TaskStatus[] | null;
  capability?: string | null;
  agentId?: string | null;
}

/** `after` is a decoded cursor (a row's seq); rows come back in page order, up to `limit`. */
export interface PageQuery {
  limit: number;
  after: string | null;
}

export type StoredAgent = Agent & { tokenHash: string | null };
export type StoredError = ErrorRecord & { seq: string };
export type QualityScope = 'all' | 'agent' | 'workflow';

export interface QueueStats {
  queued: number;
  running: number;
  oldestQueuedAt: Date | null;
  /** Distinct capabilities of QUEUED tasks (bounded). */
  queuedCapabilities: string[];
}

/** A claim: up to `limit` ready tasks of these capabilities for the agent; `instance` names the server process running a built-in agent's leases. */
export interface ClaimQuery {
  agentId: string;
  capabilities: string[];
  limit: number;
  now: Date;
  expiresAt: Date;
  instance?: string | null;
}

/** Which running tasks go back to the queue (see TaskLifecycle.returnLeases). */
export type ReturnedLeases =
  | { leaseIds: string[] }
  | { instance: string; limit: number }
  | { orphans: true; maxHandbacks: number; limit: number };

/** A task row with the engine's bookkeeping that the API does not show. */
export interface StoredTask extends Task {
  hasRefs: boolean;
  pendingDeps: number;
  leaseId: string | null;
  leaseExpiresAt: Date | null;
  claimedAt: Date | null;
  progressAt: Date | null;
  /** Whether other tasks depend on this one; known where a statement tells, otherwise absent. */
  hasDependants?: boolean;
}

export interface StoredWorkflow extends Workflow {
  remaining: number;
  failedRequired: number;
  partial: number;
}

export interface NewTask {
  id: string;
  workflowId: string;
  key: string;
  name: string;
  capability: string;
  status: TaskStatus;
  input: unknown;
  hasRefs: boolean;
  maxAttempts: number;
  retryBackoffMs: number;
  timeoutMs: number | null;
  priority: number;
  dependsOn: string[];
  continueOnFailure: boolean;
  pendingDeps: number;
  createdAt: Date;
  /** For a task inserted ready (QUEUED, or RUNNING with a lease) with `$from` references: its input with them resolved. */
  resolvedInput?: unknown;
  /** Given to an agent as it is written (status RUNNING, first attempt): its lease. */
  lease?: NewLease;
}

/** The lease of a task leased as it is inserted: its first claim (the insert makes its id). */
export interface NewLease {
  agentId: string;
  expiresAt: Date;
  /** When it was claimed (and started). */
  at: Date;
}

/** A task that changed, with the status it had before (for taskUpdated's previousStatus). */
export type ChangedTask = StoredTask & { previousStatus: TaskStatus };

/** A lease id and the task it names (whether or not the lease is still the task's current one). */
export interface LeaseLookup {
  leaseId: string;
  task: StoredTask;
}

/** Counters a finished task adds to its workflow (see TaskLifecycle.bumpWorkflows). */
export interface WorkflowDelta {
  id: string;
  remaining: number;
  failedRequired: number;
  partial: number;
}
