// Task and workflow states as SQL, for the statements that must agree on them. The sets of
// statuses are made from the domain's own lists, so a status added there is not forgotten here;
// they are literals, not parameters, so that plans stay stable (partial indexes name literal statuses).
import { OPEN_WORKFLOW_STATUSES, RETRIED_TASK_STATUSES, UNFINISHED_TASK_STATUSES } from '../../domain/workflow';

const list = (statuses: readonly string[]) => `(${statuses.map((s) => `'${s}'`).join(', ')})`;

/** Tasks not finished yet: waiting, ready or running. */
export const UNFINISHED_TASKS = list(UNFINISHED_TASK_STATUSES);
/** Finished tasks a workflow retry runs again. */
export const RETRIED_TASKS = list(RETRIED_TASK_STATUSES);
/** Workflows not finished yet. */
export const OPEN_WORKFLOWS = list(OPEN_WORKFLOW_STATUSES);

/**
 * A task a claim would take at `at` (an SQL time expression): QUEUED, its retry backoff over.
 * `t` qualifies the columns. The claim, the check for older ready work and the queue's oldest wait
 * all mean this.
 */
export const READY = (at: string, t = '') => `${t}status = 'QUEUED' AND (${t}available_at IS NULL OR ${t}available_at <= ${at})`;
