-- helix-agents schema, migration 0001: the V9 __agents_* tables, and what the runtime needs
-- beside them. This file is the single source of truth: `wrangler d1 migrations apply` runs it
-- on D1, and helix_agents.store.migrate runs the same statements programmatically. Every
-- statement is idempotent (IF NOT EXISTS / OR IGNORE) so either path may run first.

-- V9: one row per session (V1 baseline + V7 HITL + V8 idempotency + V9 stateless suspension).
CREATE TABLE IF NOT EXISTS __agents_states (
  session_id TEXT PRIMARY KEY,
  agent_type TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active',
  step_count INTEGER DEFAULT 0,
  custom_state TEXT,
  output TEXT,
  error TEXT,
  failure_reason TEXT,
  parent_session_id TEXT,
  aborted INTEGER DEFAULT 0,
  abort_reason TEXT,
  user_id TEXT,
  tags TEXT,
  metadata TEXT,
  pending_client_tool_calls TEXT,
  completed_client_tool_calls TEXT,
  suspension_context TEXT,
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- V9: messages, one row each, so that an append is O(1); the UNIQUE key makes appends idempotent.
CREATE TABLE IF NOT EXISTS __agents_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  message TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE(session_id, sequence)
);

-- V9: children of a session (sub-agents, persistent companions).
CREATE TABLE IF NOT EXISTS __agents_sub_session_refs (
  session_id TEXT NOT NULL,
  sub_session_id TEXT NOT NULL,
  agent_type TEXT NOT NULL,
  parent_tool_call_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active',
  mode TEXT,
  name TEXT,
  remote_json TEXT,
  started_at INTEGER NOT NULL,
  completed_at INTEGER,
  PRIMARY KEY (session_id, sub_session_id)
);

-- V9: one row per run instance (a turn, or a resume of one).
CREATE TABLE IF NOT EXISTS __agents_runs (
  run_id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  turn INTEGER NOT NULL,
  status TEXT NOT NULL,
  step_count INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL,
  completed_at INTEGER
);

-- V9: operator cleanup of abandoned suspensions.
CREATE INDEX IF NOT EXISTS idx_agents_states_suspension_expires
  ON __agents_states (json_extract(suspension_context, '$.expiresAt'))
  WHERE suspension_context IS NOT NULL;

-- Beside V9 (additive; no V9 column changes) ------------------------------------------------

-- Runs of a session, newest first: the active-run guard and handle reconstruction read this.
CREATE INDEX IF NOT EXISTS idx_agents_runs_session ON __agents_runs (session_id, turn);

-- Parent lookup of a child session.
CREATE INDEX IF NOT EXISTS idx_agents_sub_session_refs_child
  ON __agents_sub_session_refs (sub_session_id);

-- Usage, one row per recording step; record_id is deterministic so re-recording is a no-op.
CREATE TABLE IF NOT EXISTS __agents_usage (
  record_id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  model TEXT,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  total_tokens INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0,
  tool_calls INTEGER NOT NULL DEFAULT 0,
  custom TEXT,
  metadata TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_agents_usage_session ON __agents_usage (session_id);

-- Interrupt requests (abort has its own V9 columns; interrupt has none there).
CREATE TABLE IF NOT EXISTS __agents_interrupts (
  session_id TEXT PRIMARY KEY,
  requested INTEGER NOT NULL DEFAULT 0,
  reason TEXT,
  requested_at INTEGER NOT NULL
);

-- Which migrations ran, whichever path ran them.
CREATE TABLE IF NOT EXISTS __agents_schema_version (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO __agents_schema_version (version, name, applied_at)
  VALUES (1, '0001_v9_schema', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
