"""Small builders shared by the store tests."""

from __future__ import annotations

from typing import Any

from helix_agents.state import SessionState


class FakeClock:
    """Epoch milliseconds that advance by one on every reading: deterministic order."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1
        return self.now


def new_session(session_id: str = "s1", **fields: Any) -> SessionState:
    values: dict[str, Any] = {"agent_type": "helper", "stream_id": session_id}
    values.update(fields)
    return SessionState(session_id=session_id, **values)
