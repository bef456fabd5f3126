"""The V9 schema as the reference (helix-cloudflare-workflows-runtime-v7) defines it, written
once for every test that checks a database against it (sqlite3, the D1 fake, a real local D1
after `wrangler d1 migrations apply`)."""

from __future__ import annotations

# (name, type, notnull, default, pk) as PRAGMA table_info reports the reference's DDL.
V9_COLUMNS: dict[str, list[tuple[str, str, int, str | None, int]]] = {
    "__agents_states": [
        ("session_id", "TEXT", 0, None, 1),
        ("agent_type", "TEXT", 1, None, 0),
        ("stream_id", "TEXT", 1, None, 0),
        ("status", "TEXT", 1, "'active'", 0),
        ("step_count", "INTEGER", 0, "0", 0),
        ("custom_state", "TEXT", 0, None, 0),
        ("output", "TEXT", 0, None, 0),
        ("error", "TEXT", 0, None, 0),
        ("failure_reason", "TEXT", 0, None, 0),
        ("parent_session_id", "TEXT", 0, None, 0),
        ("aborted", "INTEGER", 0, "0", 0),
        ("abort_reason", "TEXT", 0, None, 0),
        ("user_id", "TEXT", 0, None, 0),
        ("tags", "TEXT", 0, None, 0),
        ("metadata", "TEXT", 0, None, 0),
        ("pending_client_tool_calls", "TEXT", 0, None, 0),
        ("completed_client_tool_calls", "TEXT", 0, None, 0),
        ("suspension_context", "TEXT", 0, None, 0),
        ("expires_at", "INTEGER", 0, None, 0),
        ("created_at", "INTEGER", 1, None, 0),
        ("updated_at", "INTEGER", 1, None, 0),
    ],
    "__agents_messages": [
        ("id", "INTEGER", 0, None, 1),
        ("session_id", "TEXT", 1, None, 0),
        ("sequence", "INTEGER", 1, None, 0),
        ("message", "TEXT", 1, None, 0),
        ("created_at", "INTEGER", 1, None, 0),
    ],
    "__agents_sub_session_refs": [
        ("session_id", "TEXT", 1, None, 1),
        ("sub_session_id", "TEXT", 1, None, 2),
        ("agent_type", "TEXT", 1, None, 0),
        ("parent_tool_call_id", "TEXT", 1, None, 0),
        ("status", "TEXT", 1, "'active'", 0),
        ("mode", "TEXT", 0, None, 0),
        ("name", "TEXT", 0, None, 0),
        ("remote_json", "TEXT", 0, None, 0),
        ("started_at", "INTEGER", 1, None, 0),
        ("completed_at", "INTEGER", 0, None, 0),
    ],
    "__agents_runs": [
        ("run_id", "TEXT", 0, None, 1),
        ("session_id", "TEXT", 1, None, 0),
        ("turn", "INTEGER", 1, None, 0),
        ("status", "TEXT", 1, None, 0),
        ("step_count", "INTEGER", 1, "0", 0),
        ("started_at", "INTEGER", 1, None, 0),
        ("completed_at", "INTEGER", 0, None, 0),
    ],
}
