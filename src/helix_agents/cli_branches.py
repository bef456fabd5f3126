"""``helix sessions checkpoints|rewind|fork``: a session's checkpoints from a terminal
(docs/checkpoints.md).

Like ``helix sessions``, these open the data dir's SQLite database themselves (WAL: safe
beside a running ``helix dev``); a rewind is refused while a run is active, by the same
guarded statement as over HTTP. Each prints JSON.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from .cli_app import EXIT_OK
from .errors import HelixError

__all__ = ["BRANCH_ACTIONS", "cmd_branch"]

#: The words after ``helix sessions`` that name an action rather than a session.
BRANCH_ACTIONS = ("checkpoints", "rewind", "fork")

_USAGE = (
    "helix sessions checkpoints SESSION | rewind SESSION CHECKPOINT | "
    "fork SESSION CHECKPOINT [--as NEW_ID]"
)


def cmd_branch(data_dir: str, words: list[str], new_id: str | None = None) -> int:
    """Run ``words`` (an action of :data:`BRANCH_ACTIONS`, then its arguments)."""
    action, rest = words[0], words[1:]
    wanted = 1 if action == "checkpoints" else 2
    if len(rest) != wanted:
        raise HelixError(f"usage: {_USAGE}")
    session_id = rest[0]
    checkpoint = _checkpoint(rest[1]) if wanted == 2 else 0
    if new_id is not None and action != "fork":
        raise HelixError("--as names the new session of a fork")

    async def go() -> int:
        from .db.sqlite import SQLiteDatabase
        from .store import StateStore, migrate

        db = SQLiteDatabase(Path(data_dir) / "state.db")
        try:
            await migrate(db)
            store = StateStore(db)
            out: Any
            if action == "checkpoints":
                out = [c.to_dict() for c in await store.list_checkpoints(session_id)]
            elif action == "rewind":
                state = await store.rewind(session_id, checkpoint)
                out = {"sessionId": session_id, "checkpoint": checkpoint, **_brief(state)}
            else:
                from .ids import new_session_id

                state = await store.fork(session_id, checkpoint, new_id or new_session_id())
                out = {
                    "sessionId": state.session_id,
                    "forkedFrom": {"sessionId": session_id, "checkpoint": checkpoint},
                    **_brief(state),
                }
            print(json.dumps(out, indent=2, ensure_ascii=False))
            return EXIT_OK
        finally:
            await db.close()

    return asyncio.run(go())


def _checkpoint(word: str) -> int:
    if not word.isdigit():
        raise HelixError(f"a checkpoint is a message sequence (a number), not {word!r}")
    return int(word)


def _brief(state: Any) -> dict[str, Any]:
    return {"state": state.custom_state, "status": state.status.value}
