// Workflows and tasks as stored: the read model the API serves.
import { TaskOutcome, TaskStatus, WorkflowStatus } from './enums';

export interface Workflow {
  id: string;
  seq: string;
  name: string;
  status: WorkflowStatus;
  input: unknown;
  output: unknown;
  idempotencyKey: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface Task {
  id: string;
  seq: string;
  workflowId: string | null;
  key: string;
  name: string;
  capability: string;
  status: TaskStatus;
  outcome: TaskOutcome | null;
  input: unknown;
  output: unknown;
  progress: number | null;
  progressMessage: string | null;
  attempt: number;
  maxAttempts: number;
  retryBackoffMs: number;
  timeoutMs: number | null;
  priority: number;
  dependsOn: string[];
  continueOnFailure: boolean;
  agentId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface WorkflowProgress {
  total: number;
  pending: number;
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  skipped: number;
  fraction: number;
}

/** The statuses a task ends in: nothing more happens to it unless a workflow retry runs it again. */
export const FINISHED_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED];
const FINISHED: ReadonlySet<TaskStatus> = new Set(FINISHED_TASK_STATUSES);
/** The others, in the enum's order: waiting, ready, running. */
export const UNFINISHED_TASK_STATUSES: readonly TaskStatus[] = Object.values(TaskStatus).filter((s) => !FINISHED.has(s));
/** What a workflow retry runs again: the tasks that finished without completing. */
export const RETRIED_TASK_STATUSES: readonly TaskStatus[] = FINISHED_TASK_STATUSES.filter((s) => s !== TaskStatus.COMPLETED);
/** A workflow in one of these has not finished. */
export const OPEN_WORKFLOW_STATUSES: readonly WorkflowStatus[] = [WorkflowStatus.PENDING, WorkflowStatus.RUNNING];

export function isFinished(status: TaskStatus): boolean {
  return FINISHED.has(status);
}

/** Counts by status into the progress the API reports; fraction is finished / total. */
export function workflowProgress(counts: Partial<Record<TaskStatus, number>>): WorkflowProgress {
  const n = (s: TaskStatus) => counts[s] ?? 0;
  const total = Object.values(TaskStatus).reduce((sum, s) => sum + n(s), 0);
  const finished = [...FINISHED].reduce((sum, s) => sum + n(s), 0);
  return {
    total,
    pending: n(TaskStatus.PENDING),
    queued: n(TaskStatus.QUEUED),
    running: n(TaskStatus.RUNNING),
    completed: n(TaskStatus.COMPLETED),
    failed: n(TaskStatus.FAILED),
    cancelled: n(TaskStatus.CANCELLED),
    skipped: n(TaskStatus.SKIPPED),
    fraction: total === 0 ? 0 : finished / total,
  };
}

/** How a workflow ends once nothing is left: a required failure fails it; a partial result or a tolerated failure makes it PARTIAL. */
export function finalWorkflowStatus(counts: { failedRequired: number; partial: number }): WorkflowStatus {
  if (counts.failedRequired > 0) return WorkflowStatus.FAILED;
  if (counts.partial > 0) return WorkflowStatus.PARTIAL;
  return WorkflowStatus.COMPLETED;
}

/** Delay before retry n (n = the attempt that just failed): retryBackoffMs · 2^(n-1), capped at a day. */
export function retryDelayMs(retryBackoffMs: number, failedAttempt: number): number {
  return Math.min(retryBackoffMs * 2 ** Math.max(0, failedAttempt - 1), 24 * 3600_000);
}

/** Tasks by age: the order they were written in (seq). */
export const bySeq = (a: Task, b: Task) => Number(BigInt(a.seq) - BigInt(b.seq));

/** Sorts ready or claimed tasks into dispatch order, in place: priority, then age. */
export const dispatchOrder = <T extends Task>(tasks: T[]): T[] => tasks.sort((a, b) => b.priority - a.priority || bySeq(a, b));

export function isWorkflowFinished(status: WorkflowStatus): boolean {
  return !OPEN_WORKFLOW_STATUSES.includes(status);
}

/** A lease: one agent's claim on one attempt of one task. Its id fences completion. */
export interface TaskLease {
  id: string;
  taskId: string;
  agentId: string;
  attempt: number;
  expiresAt: Date;
  task: Task;
}
