// Task states as SQL conditions, for the statements that must agree on them.

/**
 * A task a claim would take at `at` (an SQL time expression): QUEUED, its retry backoff over.
 * `t` qualifies the columns. The claim, the check for older ready work and the queue's oldest wait
 * all mean this.
 */
export const READY = (at: string, t = '') => `${t}status = 'QUEUED' AND (${t}available_at IS NULL OR ${t}available_at <= ${at})`;
