-- 001: agents, error records, quality counters, cache, history, and the workflow/task tables.
-- Plain PostgreSQL: the same file runs on PGlite and on a PostgreSQL server.

CREATE TABLE agents (
  id            text PRIMARY KEY,
  name          text NOT NULL UNIQUE,
  kind          text NOT NULL,
  capabilities  text[] NOT NULL,
  status        text NOT NULL,
  concurrency   integer NOT NULL CHECK (concurrency >= 1),
  metadata      jsonb,
  token_hash    text,
  registered_at timestamptz NOT NULL,
  last_seen_at  timestamptz
);

CREATE TABLE workflows (
  id              text PRIMARY KEY,
  seq             bigserial UNIQUE,
  name            text NOT NULL,
  status          text NOT NULL,
  input           jsonb,
  output          jsonb,
  idempotency_key text UNIQUE,
  created_at      timestamptz NOT NULL,
  started_at      timestamptz,
  finished_at     timestamptz
);
CREATE INDEX workflows_status_seq ON workflows (status, seq);

CREATE TABLE tasks (
  id                  text PRIMARY KEY,
  seq                 bigserial UNIQUE,
  workflow_id         text REFERENCES workflows (id) ON DELETE CASCADE,
  key                 text NOT NULL,
  name                text NOT NULL,
  capability          text NOT NULL,
  status              text NOT NULL,
  outcome             text,
  input               jsonb,
  output              jsonb,
  progress            double precision,
  progress_message    text,
  attempt             integer NOT NULL DEFAULT 0,
  max_attempts        integer NOT NULL,
  retry_backoff_ms    integer NOT NULL,
  timeout_ms          integer,
  priority            integer NOT NULL DEFAULT 0,
  depends_on          text[] NOT NULL DEFAULT '{}',
  continue_on_failure boolean NOT NULL DEFAULT false,
  agent_id            text REFERENCES agents (id) ON DELETE SET NULL,
  available_at        timestamptz,
  created_at          timestamptz NOT NULL,
  started_at          timestamptz,
  finished_at         timestamptz,
  UNIQUE (workflow_id, key)
);
-- Dispatch order: per capability, highest priority first, then oldest.
CREATE INDEX tasks_ready ON tasks (capability, priority DESC, seq) WHERE status = 'QUEUED';
CREATE INDEX tasks_status_seq ON tasks (status, seq);
CREATE INDEX tasks_agent_running ON tasks (agent_id) WHERE status = 'RUNNING';

CREATE TABLE error_records (
  id          text PRIMARY KEY,
  seq         bigserial UNIQUE,
  type        text NOT NULL,
  severity    text NOT NULL,
  message     text NOT NULL,
  context     jsonb,
  retryable   boolean NOT NULL,
  workflow_id text,
  task_id     text,
  agent_id    text,
  occurred_at timestamptz NOT NULL
);
CREATE INDEX error_records_occurred ON error_records (occurred_at);
CREATE INDEX error_records_workflow ON error_records (workflow_id, seq) WHERE workflow_id IS NOT NULL;
CREATE INDEX error_records_task ON error_records (task_id, seq) WHERE task_id IS NOT NULL;
CREATE INDEX error_records_agent ON error_records (agent_id, seq) WHERE agent_id IS NOT NULL;

-- Quality as counters updated in the transaction that records a result; scope is
-- 'all' (scope_id ''), 'agent' or 'workflow'.
CREATE TABLE quality_counters (
  scope     text NOT NULL,
  scope_id  text NOT NULL,
  succeeded bigint NOT NULL DEFAULT 0,
  partial   bigint NOT NULL DEFAULT 0,
  failed    bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, scope_id)
);

CREATE TABLE cache_entries (
  key        text PRIMARY KEY,
  value      jsonb NOT NULL,
  expires_at timestamptz,
  updated_at timestamptz NOT NULL
);
CREATE INDEX cache_entries_expires ON cache_entries (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE history_events (
  seq         bigserial PRIMARY KEY,
  type        text NOT NULL,
  at          timestamptz NOT NULL,
  workflow_id text,
  task_id     text,
  agent_id    text,
  data        jsonb
);
CREATE INDEX history_events_at ON history_events (at);
CREATE INDEX history_events_workflow ON history_events (workflow_id, seq) WHERE workflow_id IS NOT NULL;
CREATE INDEX history_events_task ON history_events (task_id, seq) WHERE task_id IS NOT NULL;
CREATE INDEX history_events_agent ON history_events (agent_id, seq) WHERE agent_id IS NOT NULL;
