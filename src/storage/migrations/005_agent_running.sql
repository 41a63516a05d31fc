-- 005: an agent's running tasks, counted on its row. Every claim and every read of an agent counted
-- its RUNNING tasks, a scan that grew with them (about 1 ms per thousand on PGlite, twice per claim):
-- an agent holding thousands of leases made every claim for it dearer. Triggers keep the count, so
-- no statement that starts or ends a lease can forget it: every UPDATE of tasks (claims, results,
-- retries, cancels, expiries, leases given back, an agent's deletion setting agent_id to NULL) and
-- every DELETE (a task inserted RUNNING, leased as a start writes it, is counted by that insert).
-- Statement-level, so a batch of results costs one update of each agent concerned. The order the
-- agents' rows are locked in is the join's, not guaranteed to be the subquery's: two writes over
-- several agents each may deadlock on PostgreSQL, and the writer runs the one aborted again (as for
-- task and workflow rows). (Lines inside the function end in something other than a semicolon: the
-- migration runner splits statements on semicolons that end a line.)
ALTER TABLE agents ADD COLUMN running integer NOT NULL DEFAULT 0;
UPDATE agents a SET running = (SELECT count(*) FROM tasks t WHERE t.agent_id = a.id AND t.status = 'RUNNING');

CREATE FUNCTION tasks_count_running() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    UPDATE agents a SET running = a.running + d.n
      FROM (SELECT agent_id, sum(n)::int AS n
              FROM (SELECT agent_id, 1 AS n FROM new_rows WHERE status = 'RUNNING' AND agent_id IS NOT NULL
                    UNION ALL
                    SELECT agent_id, -1 FROM old_rows WHERE status = 'RUNNING' AND agent_id IS NOT NULL) c
             GROUP BY agent_id HAVING sum(n) <> 0 ORDER BY agent_id) d
     WHERE a.id = d.agent_id; -- the count changes with the rows
  ELSE
    UPDATE agents a SET running = a.running - d.n
      FROM (SELECT agent_id, count(*)::int AS n FROM old_rows WHERE status = 'RUNNING' AND agent_id IS NOT NULL
             GROUP BY agent_id ORDER BY agent_id) d
     WHERE a.id = d.agent_id; -- deleted while running
  END IF; RETURN NULL; END $$;

CREATE TRIGGER tasks_running_update AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_running();
CREATE TRIGGER tasks_running_delete AFTER DELETE ON tasks
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_running();
