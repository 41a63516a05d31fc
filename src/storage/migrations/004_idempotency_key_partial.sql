-- 004: the idempotency key's uniqueness is kept by an index of the workflows that have a key. The
-- UNIQUE constraint indexed every workflow, NULL keys included: an index entry written for each
-- start that nothing ever looks up. Lookups (idempotency_key = $1) and the unique violation a
-- start racing another with the same key gets (23505) are the same as before.
CREATE UNIQUE INDEX workflows_idempotency_key ON workflows (idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE workflows DROP CONSTRAINT workflows_idempotency_key_key;
