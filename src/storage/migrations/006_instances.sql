-- 006: which server process runs each built-in lease, and which processes are alive. Built-in
-- agents run inside a server: when that server stops or dies, its leases are handed back to the
-- queue with the attempt unspent, at once, instead of waiting for the lease to expire and spending
-- the attempt (AGENT_LOST). `lease_instance` names the instance holding a built-in lease (NULL for
-- leases of remote agents, which outlive any one server); `handbacks` counts the times a task was
-- handed back after its server died, so a task that takes its server down is handed back a bounded
-- number of times. Each instance keeps its row in `instances` fresh; a row gone stale is a dead one.
ALTER TABLE tasks ADD COLUMN lease_instance text;
ALTER TABLE tasks ADD COLUMN handbacks integer NOT NULL DEFAULT 0;
CREATE TABLE instances (
  id         text PRIMARY KEY,
  started_at timestamptz NOT NULL,
  seen_at    timestamptz NOT NULL
);
