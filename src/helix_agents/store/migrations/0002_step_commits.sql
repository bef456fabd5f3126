-- helix-agents schema, migration 0002: an agent step's write as ONE statement.
--
-- A step writes its messages, its usage, the step count and, when it ends the run, the
-- outcome. As separate statements that is six to ten per step, and on D1 every statement
-- counts against the queries of an invocation. So a step inserts one row into the view
-- __agents_step_commits, and the INSTEAD OF trigger below applies it to the tables, atomically
-- (one statement is one transaction). Nothing is stored in the view itself.
--
-- The trigger first checks that the run still holds the session (it is the session's active
-- run); if not, the statement fails with the message 'helix: run does not hold the session'
-- and nothing is written. The store turns that into ConflictError.
--
-- Columns (NULL means "not part of this commit"):
--   session_id, run_id        the writer
--   messages                  JSON array of {"sequence": int, "message": "<message JSON>"}
--   step_count                the agent step this commit completes
--   usage_record              JSON object of one __agents_usage row (columns by name)
--   suspension_context        the run suspends: its context (JSON text) ...
--   suspension_expires_at     ... when it expires ...
--   pending_calls             ... and the calls it waits on (JSON text; NULL keeps them)
--   settle                    1: the suspension that led to this run is settled, forget it
--   status                    the run ends (or suspends) with this status ...
--   output, error, failure_reason   ... and these (output is JSON text)
--   committed_at              the writer's clock, epoch milliseconds
-- Every statement is idempotent (IF NOT EXISTS), as in 0001.

CREATE VIEW IF NOT EXISTS __agents_step_commits AS SELECT
  NULL AS session_id, NULL AS run_id, NULL AS messages, NULL AS step_count,
  NULL AS usage_record, NULL AS suspension_context, NULL AS suspension_expires_at,
  NULL AS pending_calls, NULL AS settle, NULL AS status, NULL AS output, NULL AS error,
  NULL AS failure_reason, NULL AS committed_at
WHERE 0;

CREATE TRIGGER IF NOT EXISTS __agents_step_commit
INSTEAD OF INSERT ON __agents_step_commits
BEGIN
  SELECT RAISE(ABORT, 'helix: run does not hold the session')
  WHERE NOT EXISTS (
    SELECT 1 FROM __agents_runs
    WHERE run_id = NEW.run_id AND session_id = NEW.session_id AND status = 'active'
  );

  -- Messages keep their deterministic sequence: a re-run of the step inserts nothing twice.
  INSERT OR IGNORE INTO __agents_messages (session_id, sequence, message, created_at)
  SELECT NEW.session_id, json_extract(m.value, '$.sequence'), json_extract(m.value, '$.message'),
         NEW.committed_at
  FROM json_each(COALESCE(NEW.messages, '[]')) AS m;

  -- record_id is deterministic (the run and the step's name): recording again is a no-op.
  INSERT OR IGNORE INTO __agents_usage (
    record_id, session_id, run_id, kind, model, input_tokens, output_tokens, total_tokens,
    requests, tool_calls, custom, metadata, created_at)
  SELECT json_extract(NEW.usage_record, '$.record_id'), NEW.session_id, NEW.run_id,
         json_extract(NEW.usage_record, '$.kind'), json_extract(NEW.usage_record, '$.model'),
         json_extract(NEW.usage_record, '$.input_tokens'),
         json_extract(NEW.usage_record, '$.output_tokens'),
         json_extract(NEW.usage_record, '$.total_tokens'),
         json_extract(NEW.usage_record, '$.requests'),
         json_extract(NEW.usage_record, '$.tool_calls'),
         json_extract(NEW.usage_record, '$.custom'), json_extract(NEW.usage_record, '$.metadata'),
         json_extract(NEW.usage_record, '$.created_at')
  WHERE NEW.usage_record IS NOT NULL;

  -- The session row: progress, a suspension written or settled, the outcome.
  UPDATE __agents_states SET
    step_count = COALESCE(NEW.step_count, step_count),
    suspension_context = CASE
      WHEN NEW.suspension_context IS NOT NULL THEN NEW.suspension_context
      WHEN NEW.settle THEN NULL ELSE suspension_context END,
    expires_at = CASE
      WHEN NEW.suspension_context IS NOT NULL THEN NEW.suspension_expires_at
      WHEN NEW.settle THEN NULL ELSE expires_at END,
    pending_client_tool_calls = CASE
      WHEN NEW.pending_calls IS NOT NULL THEN NEW.pending_calls
      WHEN NEW.settle THEN NULL ELSE pending_client_tool_calls END,
    status = COALESCE(NEW.status, status),
    output = CASE WHEN NEW.status IS NOT NULL THEN NEW.output ELSE output END,
    error = CASE WHEN NEW.status IS NOT NULL THEN NEW.error ELSE error END,
    failure_reason = CASE WHEN NEW.status IS NOT NULL THEN NEW.failure_reason
      ELSE failure_reason END,
    updated_at = NEW.committed_at
  WHERE session_id = NEW.session_id;

  -- A run that ends takes its interrupt request with it.
  DELETE FROM __agents_interrupts
  WHERE NEW.status IS NOT NULL AND session_id = NEW.session_id;

  -- The run row last: until here the run was the active one.
  UPDATE __agents_runs SET
    step_count = COALESCE(NEW.step_count, step_count),
    status = COALESCE(NEW.status, status),
    completed_at = CASE WHEN NEW.status IS NOT NULL THEN NEW.committed_at ELSE completed_at END
  WHERE run_id = NEW.run_id AND (NEW.step_count IS NOT NULL OR NEW.status IS NOT NULL);
END;

INSERT OR IGNORE INTO __agents_schema_version (version, name, applied_at)
  VALUES (2, '0002_step_commits', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
