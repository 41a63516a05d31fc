-- 003: a task's lease lives in its row only. Lease ids now name their task and attempt
-- ("<task id>:<attempt>:<random>"), which is what the table of every lease ever granted was kept
-- for: telling a stale lease (CONFLICT) from one never granted (NOT_FOUND). Claims no longer
-- insert a row per lease, and the table no longer grows with every claim.
-- Leases granted before this migration (plain UUIDs) are no longer recognised: a result sent
-- with one is refused NOT_FOUND and its task is retried when the lease expires.
DROP TABLE task_leases;
