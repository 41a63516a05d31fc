// The Store: everything the engine asks of storage, and nothing about how it is done. One role
// interface per concern; the Store is all of them behind one transaction handle.
import type { CacheEntry } from '../domain/cache';
import type { ErrorSeverity, ErrorType, TaskOutcome, TaskStatus, WorkflowStatus } from '../domain/enums';
import type { ErrorRecord } from '../domain/error-record';
import type { HistoryDraft, HistoryEvent } from '../domain/history';
import type { QualityCounts } from '../domain/quality';
import type { Task, Workflow } from '../domain/workflow';
import type {
  ChangedTask,
  ClaimQuery,
  ErrorFilter,
  HistoryFilter,
  LeaseLookup,
  NewTask,
  PageQuery,
  QualityScope,
  QueueStats,
  ReturnedLeases,
  StoredAgent,
  StoredError,
  StoredTask,
  StoredWorkflow,
  TaskFilter,
  WorkflowDelta,
  WorkflowFilter,
} from './records';

export type * from './records';
export { isStorageError, StorageError, type StorageErrorKind } from './errors';

/** Agents: registration, lookups (locked for an update or a lease), liveness. */
export interface AgentStore {
  insertAgent(agent: StoredAgent): Promise<void>;
  /** Locks the row (FOR UPDATE) when called inside a transaction. */
  getAgentForUpdate(id: string): Promise<StoredAgent | null>;
  /**
   * getAgentForUpdate, and whether a task of its capabilities is QUEUED and available at `now`
   * (one its claim would take), in one statement.
   */
  getAgentForLease(id: string, now: Date): Promise<{ agent: StoredAgent; hasReadyTasks: boolean } | null>;
  getAgentByNameForUpdate(name: string): Promise<StoredAgent | null>;
  getAgents(ids: readonly string[]): Promise<StoredAgent[]>;
  getAgentByName(name: string): Promise<StoredAgent | null>;
  /** Agents with this capability (when given), oldest registration first. */
  listAgents(capability: string | null): Promise<StoredAgent[]>;
  updateAgent(
    id: string,
    patch: Partial<Pick<StoredAgent, 'capabilities' | 'concurrency' | 'metadata' | 'status' | 'lastSeenAt'>>,
  ): Promise<void>;
  deleteAgent(id: string): Promise<boolean>;
  /**
   * How many REMOTE agents are registered, with new registrations held back until this
   * transaction ends (so that a count checked against a cap stays true until the insert commits).
   */
  countRemoteAgentsForRegistration(): Promise<number>;
  /** REMOTE agents unseen since `cutoff` go OFFLINE; returns them. */
  markSilentAgentsOffline(cutoff: Date): Promise<StoredAgent[]>;
  touchAgents(ids: string[], at: Date): Promise<void>;
}

/**
 * The write side of workflows and tasks: starts, claims and leases, results, dependencies,
 * retries and cancels. Every method that changes rows is meant for a transaction.
 */
export interface TaskLifecycle {
  /** Inserts workflows in one statement (PENDING, or RUNNING with startedAt); answers in the order given. */
  insertWorkflows(ws: StoredWorkflow[]): Promise<StoredWorkflow[]>;
  getWorkflowByIdempotencyKey(key: string): Promise<StoredWorkflow | null>;
  getWorkflowForUpdate(id: string): Promise<StoredWorkflow | null>;
  /** Inserts tasks in one statement; answers in the order given. Leased ones count in their agent's running tasks. */
  insertTasks(tasks: NewTask[]): Promise<StoredTask[]>;
  insertEdges(edges: { depId: string; taskId: string }[]): Promise<void>;
  /**
   * Counts finished tasks into their workflows, if still open (PENDING or RUNNING): locks and
   * updates those rows and returns them; closed workflows are left out.
   */
  bumpOpenWorkflows(deltas: WorkflowDelta[]): Promise<StoredWorkflow[]>;
  /** Adds to workflows' counters and returns them (remaining tells whether one is done). */
  bumpWorkflows(deltas: WorkflowDelta[]): Promise<StoredWorkflow[]>;
  setWorkflowStatus(
    id: string,
    status: WorkflowStatus,
    at: Date,
    extra?: { cancelReason?: string | null; reopen?: boolean },
  ): Promise<StoredWorkflow>;
  /** PENDING workflows among ids become RUNNING; returns those that changed. */
  markWorkflowsRunning(ids: string[], at: Date): Promise<StoredWorkflow[]>;
  recountWorkflow(workflowId: string): Promise<StoredWorkflow>;
  deleteFinishedWorkflows(): Promise<number>;
  getTaskForUpdate(id: string): Promise<StoredTask | null>;
  /** Claims up to `limit` ready tasks for the agent (SKIP LOCKED), never beyond its free slots, each with a new lease. */
  claimTasks(q: ClaimQuery): Promise<ChangedTask[]>;
  /** Finds leases and locks their tasks. */
  getLeases(leaseIds: string[]): Promise<LeaseLookup[]>;
  extendLease(
    taskId: string,
    expiresAt: Date,
    /** `at`: when this progress is announced (null: stored without an announcement). */
    progress: { progress: number | null; message: string | null; at: Date | null } | null,
  ): Promise<StoredTask>;
  /** Ends a task without a result: FAILED or CANCELLED (results go through completeLeasedTasks). */
  finishTask(taskId: string, f: { status: TaskStatus; outcome: TaskOutcome | null; at: Date }): Promise<StoredTask>;
  /**
   * Marks COMPLETED, with their outcome and output, the running tasks whose current lease is the
   * given one, in one statement; a lease that is not current changes nothing and is left out.
   */
  completeLeasedTasks(
    items: { leaseId: string; outcome: TaskOutcome; output: unknown }[],
    at: Date,
  ): Promise<{ leaseId: string; task: StoredTask }[]>;
  requeueTask(taskId: string, availableAt: Date): Promise<StoredTask>;
  /** RUNNING tasks whose lease expired or whose attempt ran past timeoutMs (locked, SKIP LOCKED). */
  overdueTasks(now: Date, limit: number): Promise<(StoredTask & { reason: 'lease' | 'timeout' })[]>;
  /** Capabilities of QUEUED tasks whose backoff ends in (from, to]. */
  capabilitiesAvailableBetween(from: Date, to: Date): Promise<string[]>;
  /**
   * Running tasks go back to QUEUED as if never claimed (the attempt is not spent): leases that
   * never reached their agent, the built-in leases of an instance that is stopping, or those of
   * instances that died (no row in `instances`), which count as a hand-back and are taken only
   * below `maxHandbacks`. Returns the tasks given back, in seq order.
   */
  returnLeases(which: ReturnedLeases): Promise<StoredTask[]>;
  /**
   * Built-in leases of dead instances that were not handed back (past the bound) expire now and
   * belong to no instance: the sweeper ends them as AGENT_LOST.
   */
  expireOrphanedLeases(at: Date): Promise<number>;
  /**
   * Dependants of finished tasks lose their pending dependencies; returns those left with none.
   * Of those, the ones without `$from` references are QUEUED by the same statement; the others
   * stay PENDING until their input is resolved (queueTasks).
   */
  releaseDependants(taskIds: string[]): Promise<ChangedTask[]>;
  /** Every PENDING/QUEUED descendant of the task becomes SKIPPED. */
  skipDescendants(taskId: string, at: Date): Promise<ChangedTask[]>;
  /** PENDING tasks become QUEUED (with their resolved input, when they have references). */
  queueTasks(tasks: { id: string; resolvedInput?: unknown }[]): Promise<ChangedTask[]>;
  /** Outputs of the named steps of a workflow. */
  stepOutputs(workflowId: string, keys: string[]): Promise<Record<string, unknown>>;
  cancelUnfinishedTasks(workflowId: string, at: Date): Promise<ChangedTask[]>;
  /** Resets FAILED/CANCELLED/SKIPPED tasks to PENDING with their pending dependencies recounted. */
  resetFailedTasks(workflowId: string): Promise<ChangedTask[]>;
}

/** Workflows and tasks as the API reads them: lookups, filtered pages, counts, and batch reads. */
export interface ReadModel {
  getWorkflows(ids: readonly string[]): Promise<Workflow[]>;
  listWorkflows(filter: WorkflowFilter, page: PageQuery): Promise<Workflow[]>;
  countWorkflows(filter: WorkflowFilter): Promise<number>;
  countRunningWorkflows(): Promise<number>;
  getTasks(ids: readonly string[]): Promise<Task[]>;
  listTasks(filter: TaskFilter, page: PageQuery): Promise<Task[]>;
  countTasks(filter: TaskFilter): Promise<number>;
  queueStats(): Promise<QueueStats>;
  tasksOfWorkflows(ids: readonly string[]): Promise<Task[]>;
  taskCountsByWorkflow(ids: readonly string[]): Promise<Map<string, Partial<Record<TaskStatus, number>>>>;
  outputsOfWorkflows(ids: readonly string[]): Promise<Map<string, Record<string, unknown>>>;
}

/** Error records: appended, filtered and paged, counted, cleared. */
export interface ErrorStore {
  insertError(error: ErrorRecord): Promise<StoredError>;
  listErrors(filter: ErrorFilter, page: PageQuery): Promise<StoredError[]>;
  countErrors(filter: ErrorFilter): Promise<number>;
  errorCounts(since: Date | null): Promise<{ type: ErrorType; severity: ErrorSeverity; count: number }[]>;
  deleteAllErrors(): Promise<number>;
  /** The errors of these workflows or tasks, oldest first (a batch read for the API). */
  errorsOf(ref: 'workflow' | 'task', ids: readonly string[]): Promise<ErrorRecord[]>;
}

/** The history: every state change, appended in the transaction that made it. */
export interface HistoryStore {
  appendHistory(drafts: HistoryDraft[], at: Date): Promise<void>;
  listHistory(filter: HistoryFilter, page: PageQuery): Promise<HistoryEvent[]>;
  clearHistory(before: Date | null): Promise<number>;
}

/** The key-value cache the API exposes, with expiry. */
export interface CacheStore {
  setCache(entry: CacheEntry): Promise<CacheEntry>;
  getCache(key: string, now: Date): Promise<CacheEntry | null>;
  listCache(prefix: string | null, now: Date): Promise<CacheEntry[]>;
  deleteCache(key: string, now: Date): Promise<boolean>;
  /** Deletes live entries under the prefix (all when null) and returns how many; expired ones go silently. */
  clearCache(prefix: string | null, now: Date): Promise<number>;
  purgeExpiredCache(now: Date): Promise<number>;
}

/** Quality counters, per agent, per workflow and overall. */
export interface QualityStore {
  getQuality(scope: QualityScope, ids: readonly string[]): Promise<Map<string, QualityCounts>>;
  /** Adds result counts to quality counters; one row per (scope, id). */
  addQuality(rows: { scope: QualityScope; id: string; delta: QualityCounts }[]): Promise<void>;
  /** Holds every quality counter until commit: a reset recounts them from rows no result changes meanwhile. */
  lockQuality(): Promise<void>;
  /**
   * After a reset deleted rows: workflows kept keep their counters, deleted ones lose theirs, each
   * agent counts the results of its kept tasks, and overall is the sum of the workflows kept.
   */
  recountQuality(): Promise<void>;
}

/** Server instances sharing the database: which are alive, and one-at-a-time work among them. */
export interface InstanceStore {
  /** This instance is alive: its row is written (created on first call). */
  instanceSeen(id: string, at: Date): Promise<void>;
  /** Forgets one instance (a clean stop), or all but `except` unseen since a time (null: all but it); returns how many. */
  forgetInstances(q: { unseenSince: Date | null; except: string } | { id: string }): Promise<number>;
  /** Takes a transaction-scoped advisory lock if free (one sweeper at a time across instances). */
  tryLock(key: number): Promise<boolean>;
}

export interface Store extends AgentStore, TaskLifecycle, ReadModel, ErrorStore, HistoryStore, CacheStore, QualityStore, InstanceStore {
  /** Runs fn against a Store bound to one transaction: every role on that one transaction. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /** True when transactions run one at a time on one connection (PGlite), never side by side. */
  readonly oneConnection: boolean;
  /** True when storage answers a trivial query. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
