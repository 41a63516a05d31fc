// Lease ids, made and read here only: "<task id>:<claim number>:<random>".
//
// `claims` counts every claim of a task and never goes down (not when a workflow retry resets
// attempts, not when an undelivered lease is given back), so a lease that was granted once (a claim
// number the task has reached) is told from one never granted without a table of every lease; the
// random part makes it unguessable. Ids granted before migration 003 were plain UUIDs: such a lease
// is found only while it is its task's current one.
import { randomUUID } from 'node:crypto';

const SEPARATOR = ':';

/** A lease id from its parts as SQL expressions (task id, claim number, random part). */
const leaseIdSql = (taskId: string, claim: string, random: string) => [taskId, claim, random].join(` || '${SEPARATOR}' || `);

/** The random part: a v4 UUID's 32 hex digits, made by the database or here alike. */
const RANDOM_SQL = `replace(gen_random_uuid()::text, '-', '')`;
const random = () => randomUUID().replaceAll('-', '');

/** The id of the lease a claim grants, in SQL, for the task `t` it updates (its next claim). */
export const NEW_LEASE_ID = leaseIdSql('t.id', '(t.claims + 1)', RANDOM_SQL);

/** The id of a task's first lease (claim 1), for a task written already leased. */
export const firstLeaseId = (taskId: string): string => [taskId, 1, random()].join(SEPARATOR);

/** The task a lease id (an SQL expression) names; for an id from before migration 003, its current holder's. */
export const LEASE_TASK_ID = (lease: string) =>
  `(CASE WHEN strpos(${lease}, '${SEPARATOR}') > 0 THEN split_part(${lease}, '${SEPARATOR}', 1)
         ELSE (SELECT x.id FROM tasks x WHERE x.lease_id = ${lease} AND x.status = 'RUNNING' LIMIT 1) END)`;

/** The claim number a lease id (an SQL expression) carries, or NULL. */
export const LEASE_CLAIM = (lease: string) =>
  `(CASE WHEN split_part(${lease}, '${SEPARATOR}', 2) ~ '^[0-9]{1,9}$' THEN split_part(${lease}, '${SEPARATOR}', 2)::int END)`;
