-- 003: a task's lease lives in its row only. Lease ids name their task and claim number
-- ("<task id>:<claim>:<random>"), which is what the table of every lease ever granted was kept
-- for: telling a stale lease (CONFLICT) from one never granted (NOT_FOUND). Claims no longer
-- insert a row per lease, and nothing grows with every claim. `claims` counts the claims of a
-- task and never goes down (attempts do, on a workflow retry).
-- Leases granted before this migration (plain UUIDs) keep working while they are their task's
-- current lease. Upgrade every instance sharing a database together: an instance from before
-- this migration still looks for the table.
ALTER TABLE tasks ADD COLUMN claims integer NOT NULL DEFAULT 0;
DROP TABLE task_leases;
