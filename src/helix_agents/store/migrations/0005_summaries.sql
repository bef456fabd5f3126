-- helix-agents schema, migration 0005: the summaries `summarize_older` writes
-- (docs/long-sessions.md). Beside V9: the history in __agents_messages is never changed.
--
-- One row per summary of a session's older turns: the summary of its first `covered`
-- messages (oldest first). A summary step writes its row with INSERT OR IGNORE, so a retry
-- or a replay writes nothing twice; the next turn's summary starts from the latest row
-- (the previous summary plus only the messages after it). Rewinding a session deletes the
-- rows that cover messages it no longer has.

CREATE TABLE IF NOT EXISTS __helix_summaries (
  session_id TEXT NOT NULL,
  covered INTEGER NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (session_id, covered)
);

INSERT OR IGNORE INTO __agents_schema_version (version, name, applied_at)
  VALUES (5, '0005_summaries', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
