-- helix-agents schema, migration 0007: the checkpoint trigger of 0004, with the same rows,
-- found by lookups instead of subqueries in FROM (docs/checkpoints.md).
--
-- 0004 took the previous checkpoint and the usage added since as subqueries in FROM, which
-- SQLite materializes into a temporary table each time the trigger fires: about two thirds
-- of the cost of storing an assistant message (docs/benchmarks.md, "Checkpoints by
-- lookups"). Here the previous checkpoint is a join on its key (the greatest sequence below
-- the message's, one index seek) and the usage sums are scalar subqueries correlated to
-- it. The UPDATE (a fork's copy at the message's sequence) is 0004's, unchanged; the INSERT
-- writes exactly what 0004's did (tests/store/test_checkpoint_trigger.py runs both on the
-- same histories).
--
-- Applied again (by wrangler and by the runtime, in either order) it drops and recreates the
-- same trigger; 0004 applied after it finds the trigger there and leaves it.

DROP TRIGGER IF EXISTS __agents_checkpoint_at_message;

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
    (SELECT json_object(
      'inputTokens', COALESCE(json_extract(p.usage, '$.inputTokens'), 0) + COALESCE(SUM(u.input_tokens), 0),
      'outputTokens', COALESCE(json_extract(p.usage, '$.outputTokens'), 0) + COALESCE(SUM(u.output_tokens), 0),
      'totalTokens', COALESCE(json_extract(p.usage, '$.totalTokens'), 0) + COALESCE(SUM(u.total_tokens), 0),
      'requests', COALESCE(json_extract(p.usage, '$.requests'), 0) + COALESCE(SUM(u.requests), 0),
      'toolCalls', COALESCE(json_extract(p.usage, '$.toolCalls'), 0) + COALESCE(SUM(u.tool_calls), 0))
     FROM __agents_usage AS u
     WHERE u.session_id = NEW.session_id AND u.rowid > COALESCE(p.usage_mark, 0)),
    COALESCE((SELECT max(u.rowid) FROM __agents_usage AS u
      WHERE u.session_id = NEW.session_id AND u.rowid > COALESCE(p.usage_mark, 0)),
      p.usage_mark, 0),
    NEW.created_at
  FROM __agents_states AS s
  LEFT JOIN __agents_checkpoints AS p ON p.session_id = NEW.session_id
    AND p.sequence = (SELECT max(sequence) FROM __agents_checkpoints
      WHERE session_id = NEW.session_id AND sequence < NEW.sequence)
  WHERE s.session_id = NEW.session_id AND NOT EXISTS (
    SELECT 1 FROM __agents_checkpoints WHERE session_id = NEW.session_id
    AND sequence = NEW.sequence);
END;

INSERT OR IGNORE INTO __agents_schema_version (version, name, applied_at)
  VALUES (7, '0007_checkpoint_lookups', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
