-- helix-agents schema, migration 0004: checkpoints (docs/checkpoints.md). Beside V9: no V9
-- column changes; the session's typed state stays JSON in __agents_states.custom_state.
--
-- A checkpoint is a message boundary of a session: the messages before `sequence`, the
-- session's state and its usage at that point. One is recorded when a user message (a turn
-- begins: kind 'turn') or an assistant message (an agent step begins: kind 'step') is first
-- stored, by the trigger below, in the same statement (so in the same transaction) as the
-- message itself: a step's one write stays one statement, and a re-run of a step (whose
-- INSERT OR IGNORE inserts nothing) records nothing again.
--
-- The state is the row's custom_state when the message is inserted: every tool result of
-- the previous step has been written by then (each writes its state patch with its result),
-- and the step that inserts the message has not changed the state yet. The usage is the
-- session's usage rows up to that moment (a step's commit writes them after its messages,
-- so the step that begins at the boundary is not counted), carried from the previous
-- checkpoint: its counters plus the rows added since (usage_mark, the highest usage rowid
-- it counted), so that recording one costs a few index lookups, not a pass over the
-- session's usage. `step` (assistant messages before the boundary) is carried the same way.
-- A fork copies its origin's checkpoint at the fork point, so that the branch's first
-- checkpoint carries the origin's counters up to the fork (its usage rows are not copied).
-- Every statement is idempotent (IF NOT EXISTS), as in 0001.

CREATE TABLE IF NOT EXISTS __agents_checkpoints (
  session_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  step INTEGER NOT NULL,
  kind TEXT NOT NULL,
  custom_state TEXT,
  usage TEXT,
  usage_mark INTEGER,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (session_id, sequence)
);

-- Two statements, as a trigger cannot REPLACE here: the conflict clause of the statement
-- that fires it (the message's INSERT OR IGNORE) overrides its own. The first updates a row
-- already at the message's sequence (a fork's copy of its fork point: its counters are the
-- base, its step stays), the second inserts one on the previous checkpoint's base.
CREATE TRIGGER IF NOT EXISTS __agents_checkpoint_at_message
AFTER INSERT ON __agents_messages
WHEN json_extract(NEW.message, '$.role') IN ('user', 'assistant')
BEGIN
  UPDATE __agents_checkpoints SET
    kind = CASE json_extract(NEW.message, '$.role') WHEN 'user' THEN 'turn' ELSE 'step' END,
    custom_state = (SELECT custom_state FROM __agents_states WHERE session_id = NEW.session_id),
    usage = (SELECT json_object(
      'inputTokens', COALESCE(json_extract(__agents_checkpoints.usage, '$.inputTokens'), 0) + u.input_tokens,
      'outputTokens', COALESCE(json_extract(__agents_checkpoints.usage, '$.outputTokens'), 0) + u.output_tokens,
      'totalTokens', COALESCE(json_extract(__agents_checkpoints.usage, '$.totalTokens'), 0) + u.total_tokens,
      'requests', COALESCE(json_extract(__agents_checkpoints.usage, '$.requests'), 0) + u.requests,
      'toolCalls', COALESCE(json_extract(__agents_checkpoints.usage, '$.toolCalls'), 0) + u.tool_calls)
      FROM (
    SELECT COALESCE(SUM(input_tokens), 0) AS input_tokens,
      COALESCE(SUM(output_tokens), 0) AS output_tokens,
      COALESCE(SUM(total_tokens), 0) AS total_tokens,
      COALESCE(SUM(requests), 0) AS requests,
      COALESCE(SUM(tool_calls), 0) AS tool_calls,
      max(rowid) AS mark
    FROM __agents_usage
    WHERE session_id = NEW.session_id AND rowid > COALESCE((SELECT c.usage_mark FROM __agents_checkpoints AS c WHERE c.session_id = NEW.session_id AND c.sequence = NEW.sequence), 0)) AS u),
    usage_mark = COALESCE((SELECT max(rowid) FROM __agents_usage
      WHERE session_id = NEW.session_id), usage_mark),
    created_at = NEW.created_at
  WHERE session_id = NEW.session_id AND sequence = NEW.sequence;

  INSERT INTO __agents_checkpoints
    (session_id, sequence, step, kind, custom_state, usage, usage_mark, created_at)
  SELECT NEW.session_id, NEW.sequence,
    COALESCE(p.step + (CASE WHEN p.kind = 'step' THEN 1 ELSE 0 END), 0),
    CASE json_extract(NEW.message, '$.role') WHEN 'user' THEN 'turn' ELSE 'step' END,
    s.custom_state,
    json_object(
      'inputTokens', COALESCE(json_extract(p.usage, '$.inputTokens'), 0) + u.input_tokens,
      'outputTokens', COALESCE(json_extract(p.usage, '$.outputTokens'), 0) + u.output_tokens,
      'totalTokens', COALESCE(json_extract(p.usage, '$.totalTokens'), 0) + u.total_tokens,
      'requests', COALESCE(json_extract(p.usage, '$.requests'), 0) + u.requests,
      'toolCalls', COALESCE(json_extract(p.usage, '$.toolCalls'), 0) + u.tool_calls),
    COALESCE(u.mark, p.usage_mark, 0),
    NEW.created_at
  FROM __agents_states AS s
  LEFT JOIN (
    SELECT step, kind, usage, usage_mark FROM __agents_checkpoints
    WHERE session_id = NEW.session_id AND sequence < NEW.sequence
    ORDER BY sequence DESC LIMIT 1) AS p ON 1
  JOIN (
    SELECT COALESCE(SUM(input_tokens), 0) AS input_tokens,
      COALESCE(SUM(output_tokens), 0) AS output_tokens,
      COALESCE(SUM(total_tokens), 0) AS total_tokens,
      COALESCE(SUM(requests), 0) AS requests,
      COALESCE(SUM(tool_calls), 0) AS tool_calls,
      max(rowid) AS mark
    FROM __agents_usage
    WHERE session_id = NEW.session_id AND rowid > COALESCE((SELECT usage_mark FROM __agents_checkpoints WHERE session_id = NEW.session_id AND sequence < NEW.sequence ORDER BY sequence DESC LIMIT 1), 0)) AS u ON 1
  WHERE s.session_id = NEW.session_id AND NOT EXISTS (
    SELECT 1 FROM __agents_checkpoints WHERE session_id = NEW.session_id
    AND sequence = NEW.sequence);
END;

INSERT OR IGNORE INTO __agents_schema_version (version, name, applied_at)
  VALUES (4, '0004_checkpoints', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
