"""The ``tools/call`` requests of ``/mcp`` in flight, so that a client's
``notifications/cancelled`` can interrupt the run its request started.

A JSON-RPC request id names a request only within its sender's connection, and the server
is stateless (no ``Mcp-Session-Id`` of its own): a call is found by the caller's user, the
``Mcp-Session-Id`` header if the client sends one, and the request id (``1`` and ``"1"``
differ). The table lives in the process (on a Worker, the isolate) that serves the call,
which holds the call's POST open until the run ends: a cancellation that reaches another
isolate, or that names no call in flight, is ignored, which the specification allows (a
cancellation is a best-effort request, and may arrive after the request finished).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import HelixError

if TYPE_CHECKING:
    from starlette.requests import Request

    from .context import ApiContext

__all__ = ["InFlightCalls", "cancel_call", "in_flight"]

Key = tuple[str, str, str]

#: How much of a client's cancellation reason is kept as the interrupt's reason.
_MAX_REASON = 500


@dataclass
class _Call:
    session_id: str
    run_id: str


@dataclass
class InFlightCalls:
    """Which run each ``tools/call`` in flight in this process started."""

    calls: dict[Key, _Call] = field(default_factory=dict)

    @staticmethod
    def key(request: Request, user: str | None, request_id: Any) -> Key:
        session = request.headers.get("mcp-session-id") or ""
        return (user or "", session, json.dumps(request_id, sort_keys=True))

    @contextmanager
    def track(self, key: Key, session_id: str, run_id: str) -> Iterator[None]:
        """``key``'s call runs ``run_id`` of ``session_id`` until the block ends."""
        call = _Call(session_id, run_id)
        self.calls[key] = call
        try:
            yield
        finally:
            # A client that reused the id for a later call owns the entry now.
            if self.calls.get(key) is call:
                del self.calls[key]

    def find(self, key: Key) -> _Call | None:
        return self.calls.get(key)


def in_flight(request: Request) -> InFlightCalls:
    """The table of the app serving ``request`` (one per app: per process, per isolate)."""
    state = request.app.state
    table = getattr(state, "mcp_in_flight", None)
    if not isinstance(table, InFlightCalls):
        table = InFlightCalls()
        state.mcp_in_flight = table
    return table


async def cancel_call(
    api: ApiContext, request: Request, params: dict[str, Any], user: str | None
) -> None:
    """Interrupt the run of the call ``params["requestId"]`` names, if it is in flight here
    and its run is still the session's active one; otherwise nothing (never an error: a
    notification gets no answer)."""
    request_id = params.get("requestId")
    if isinstance(request_id, bool) or not isinstance(request_id, (str, int)):
        return
    call = in_flight(request).find(InFlightCalls.key(request, user, request_id))
    if call is None:
        return
    reason = params.get("reason")
    text = "cancelled by the MCP client"
    if isinstance(reason, str) and reason.strip():
        text = f"{text}: {reason.strip()}"[:_MAX_REASON]
    try:
        current = await api.executor.current_run(call.session_id, user_id=user)
        if current is None or current.run_id != call.run_id:
            return  # the call's run ended; the session may run another one now
        await api.executor.interrupt(call.session_id, reason=text, user_id=user)
    except HelixError:
        pass  # the run ended meanwhile: there is nothing left to cancel
