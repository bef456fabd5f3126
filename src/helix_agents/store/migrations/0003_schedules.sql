-- Schedules (docs/triggers.md): turns started by the clock. Beside V9, under a prefix of
-- their own: the V9 __agents_* tables are untouched.

-- One row per schedule. The due time it waits for is next_due; a firing claims it by
-- moving next_due on in one guarded UPDATE (WHERE next_due = the claimed time), so two
-- firers can never both claim one due time.
CREATE TABLE IF NOT EXISTS __helix_schedules (
  schedule_id TEXT PRIMARY KEY,
  name TEXT,
  user_id TEXT,
  agent_type TEXT NOT NULL,
  session_id TEXT,
  message TEXT NOT NULL,
  metadata TEXT,
  kind TEXT NOT NULL,
  at_ms INTEGER,
  cron TEXT,
  every_ms INTEGER,
  on_busy TEXT NOT NULL DEFAULT 'queue',
  misfire TEXT NOT NULL DEFAULT 'run_late',
  misfire_grace_ms INTEGER NOT NULL DEFAULT 60000,
  status TEXT NOT NULL DEFAULT 'active',
  next_due INTEGER,
  fire_count INTEGER NOT NULL DEFAULT 0,
  last_due INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_helix_schedules_due
  ON __helix_schedules (status, next_due);

CREATE INDEX IF NOT EXISTS idx_helix_schedules_user
  ON __helix_schedules (user_id, created_at);

-- One row per claimed due time: what became of it (claimed, started, skipped, missed).
-- The key makes a claim once-only; the run it started is recorded once started.
CREATE TABLE IF NOT EXISTS __helix_schedule_firings (
  schedule_id TEXT NOT NULL,
  due_ms INTEGER NOT NULL,
  status TEXT NOT NULL,
  session_id TEXT,
  run_id TEXT,
  detail TEXT,
  fired_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (schedule_id, due_ms)
);

INSERT OR IGNORE INTO __agents_schema_version (version, name, applied_at)
  VALUES (3, '0003_schedules', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
