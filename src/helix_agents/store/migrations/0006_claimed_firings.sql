-- helix-agents schema, migration 0006: the schedule firings that are still claimed, for the
-- sweep (docs/triggers.md#schedules).
--
-- A firing stays `claimed` while its instance starts the turn, or while it waits for a busy
-- session (queued). The sweep checks every claimed firing's instance, oldest first, and
-- settles those whose instance ended before it recorded what became of its due time. This
-- partial index holds only the claimed rows, so the sweep reads them without scanning the
-- firing history, however long it grows.

CREATE INDEX IF NOT EXISTS idx_helix_schedule_firings_claimed
  ON __helix_schedule_firings (due_ms, schedule_id) WHERE status = 'claimed';

INSERT OR IGNORE INTO __agents_schema_version (version, name, applied_at)
  VALUES (6, '0006_claimed_firings', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
