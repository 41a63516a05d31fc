// A lease as agents see it (TaskLease), and the fencing rule every write under a lease obeys: only
// the task's current lease, on a RUNNING task, may report on it.
import { TaskStatus } from '../../domain/enums';
import { conflict, type DomainError, notFound } from '../../domain/errors';
import type { TaskLease } from '../../domain/workflow';
import type { LeaseLookup, Store, StoredTask } from '../../storage/store';
import { publicTask } from '../transitions';

export function toLease(t: StoredTask): TaskLease {
  return {
    id: t.leaseId as string,
    taskId: t.id,
    agentId: t.agentId as string,
    attempt: t.attempt,
    expiresAt: t.leaseExpiresAt as Date,
    task: publicTask(t),
  };
}

/** Why a lease cannot be used, or null when it is the task's current lease. */
export function staleness(leaseId: string, found: LeaseLookup | undefined): DomainError | null {
  if (!found) return notFound('lease', leaseId);
  const { task } = found;
  if (task.leaseId === leaseId && task.status === TaskStatus.RUNNING) return null;
  const why =
    task.status === TaskStatus.RUNNING
      ? `the task was claimed again (attempt ${task.attempt})`
      : task.status === TaskStatus.QUEUED
        ? 'the lease expired and the task was queued again'
        : `the task is ${task.status}`;
  return conflict(`lease ${leaseId} is no longer valid: ${why}`, { leaseId, taskStatus: task.status });
}

/** The task under a current lease, locked; CONFLICT or NOT_FOUND otherwise. */
export async function currentLease(tx: Store, leaseId: string): Promise<LeaseLookup> {
  const [found] = await tx.getLeases([leaseId]);
  const stale = staleness(leaseId, found);
  if (stale) throw stale;
  return found as LeaseLookup;
}
