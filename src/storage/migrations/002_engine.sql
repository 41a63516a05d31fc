-- 002: the workflow engine: leases, dependency edges, and the counters that let a result be
-- recorded without scanning the workflow.

ALTER TABLE workflows ADD COLUMN remaining integer NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN failed_required integer NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN partial integer NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN cancel_reason text;

-- input keeps the step's input as written (with $from references); resolved_input is what the
-- agent receives once the step is ready.
ALTER TABLE tasks ADD COLUMN has_refs boolean NOT NULL DEFAULT false;
ALTER TABLE tasks ADD COLUMN resolved_input jsonb;
ALTER TABLE tasks ADD COLUMN pending_deps integer NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN lease_id text;
ALTER TABLE tasks ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE tasks ADD COLUMN claimed_at timestamptz;
ALTER TABLE tasks ADD COLUMN progress_at timestamptz;
CREATE INDEX tasks_running_lease ON tasks (lease_expires_at) WHERE status = 'RUNNING';
CREATE INDEX tasks_workflow_status ON tasks (workflow_id, status);

-- Edges of the DAG: task_id waits for dep_id.
CREATE TABLE task_edges (
  dep_id  text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  PRIMARY KEY (dep_id, task_id)
);
CREATE INDEX task_edges_task ON task_edges (task_id);

-- Every lease ever granted, so that a stale lease (CONFLICT) is told apart from an unknown one (NOT_FOUND).
CREATE TABLE task_leases (
  id         text PRIMARY KEY,
  task_id    text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  agent_id   text NOT NULL,
  attempt    integer NOT NULL,
  claimed_at timestamptz NOT NULL
);
CREATE INDEX task_leases_task ON task_leases (task_id);
