"""The HTTP client of a remote sub-agent: another helix-agents deployment's chat API.

Only the routes of docs/http-api.md that a delegating call needs, over ``httpx.AsyncClient``
(on a Worker over the ``fetch`` transport the Cloudflare host gives the tool):

- ``POST /chat`` with a ``messageId``: starts the child's turn. The API makes it idempotent:
  a request whose message id the session already stored starts nothing and answers with
  that turn's stream, so a replayed step never starts a second remote run;
- ``GET /chat/{id}``: the snapshot (None for a 404: the remote has no such session yet);
- ``GET /chat/{id}/stream`` with ``Last-Event-ID``: the rest of the turn's stream after a
  cursor (204: nothing runs any more);
- ``POST /chat/{id}/interrupt``, ``/resume`` (with ``Accept: text/event-stream``), ``/abort``;
- ``POST /chat/{id}/submit-tool-result``: an answer the parent's client gave to a call the
  remote child waits on (an approval, a client tool's result).

Streams are read as they arrive and decoded with the models' incremental SSE decoder.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import ToolError
from ..models._sse import SSEDecoder

__all__ = ["RemoteAgentClient", "RemoteEvent", "RemoteRefusedError"]

#: A remote stream sends a keep-alive comment every 15 s by default: a read that waits
#: much longer than that means the connection is dead, and the caller reconnects.
_READ_TIMEOUT = 60.0


class RemoteRefusedError(ToolError):
    """The remote answered with an error status (``status``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def permanent(self) -> bool:
        """A refusal that asking again will not change (bad token, unknown agent...); a
        409 (a run still active), 429 and 5xx are worth another try."""
        return 400 <= self.status < 500 and self.status not in (408, 409, 425, 429)


@dataclass(frozen=True)
class RemoteEvent:
    """One UI chunk of the remote stream, with its event id (the turn's cursor)."""

    id: int | None
    chunk: dict[str, Any]


class RemoteAgentClient:
    """One remote deployment: ``url`` (its API's base), ``token`` (its API token)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        # A given transport belongs to the tool and serves every call: closing the client
        # would close it.
        self._owns_transport = transport is None
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(30.0, read=_READ_TIMEOUT),
        )

    async def aclose(self) -> None:
        if self._owns_transport:
            await self._client.aclose()

    async def snapshot(self, session_id: str) -> dict[str, Any] | None:
        response = await self._client.get(f"/chat/{_q(session_id)}")
        if response.status_code == 404:
            return None
        _check(response, "read the snapshot of")
        body = response.json()
        if not isinstance(body, dict):
            raise ToolError(f"the remote agent at {self.url} sent a snapshot that is not an object")
        return body

    @asynccontextmanager
    async def start(
        self, *, agent_type: str, message: str, session_id: str, message_id: str
    ) -> AsyncIterator[AsyncIterator[RemoteEvent]]:
        """The turn's stream from its first chunk; started unless ``message_id`` is stored."""
        body = {
            "agentType": agent_type,
            "message": message,
            "sessionId": session_id,
            "messageId": message_id,
        }
        async with self._client.stream("POST", "/chat", json=body) as response:
            if response.status_code != 200:
                await response.aread()
                _check(response, "start")
            yield _events(response)

    @asynccontextmanager
    async def follow(
        self, session_id: str, *, after: int | None
    ) -> AsyncIterator[AsyncIterator[RemoteEvent] | None]:
        """The running turn's stream after ``after`` (from its start when None); None for a
        204 (nothing runs)."""
        headers = {"last-event-id": str(after)} if after is not None else {}
        async with self._client.stream(
            "GET", f"/chat/{_q(session_id)}/stream", headers=headers
        ) as response:
            if response.status_code == 204:
                yield None
                return
            if response.status_code != 200:
                await response.aread()
                _check(response, "follow")
            yield _events(response)

    @asynccontextmanager
    async def resume(self, session_id: str) -> AsyncIterator[AsyncIterator[RemoteEvent] | None]:
        """Resume an interrupted turn: the new instance's stream (None for a 409: it is
        not interrupted any more)."""
        async with self._client.stream(
            "POST",
            f"/chat/{_q(session_id)}/resume",
            headers={"accept": "text/event-stream"},
            json={},
        ) as response:
            if response.status_code == 409:
                yield None
                return
            if response.status_code != 200:
                await response.aread()
                _check(response, "resume")
            yield _events(response)

    @asynccontextmanager
    async def submit(
        self, session_id: str, body: dict[str, Any]
    ) -> AsyncIterator[AsyncIterator[RemoteEvent] | None]:
        """Answer a call the remote session waits on (``POST .../submit-tool-result``): the
        stream of the instance the answer resumed, or None when it resumed none (other
        calls still wait) or the remote refused the answer as settled, expired or unknown
        (404, 409, 422: its snapshot then says where the session is)."""
        async with self._client.stream(
            "POST",
            f"/chat/{_q(session_id)}/submit-tool-result",
            headers={"accept": "text/event-stream"},
            json=body,
        ) as response:
            if response.status_code in (404, 409, 422):
                await response.aread()
                yield None
                return
            if response.status_code != 200:
                await response.aread()
                _check(response, "answer a call of")
            if "text/event-stream" not in response.headers.get("content-type", ""):
                await response.aread()
                yield None
                return
            yield _events(response)

    async def interrupt(self, session_id: str, reason: str) -> bool:
        """Ask the remote turn to stop; False when nothing was running (409)."""
        return await self._steer("interrupt", session_id, reason)

    async def abort(self, session_id: str, reason: str) -> bool:
        return await self._steer("abort", session_id, reason)

    async def _steer(self, what: str, session_id: str, reason: str) -> bool:
        # Short: a stop is sent as the call ends, which must not wait long on a dead remote.
        response = await self._client.post(
            f"/chat/{_q(session_id)}/{what}", json={"reason": reason}, timeout=10.0
        )
        if response.status_code in (404, 409):
            return False
        _check(response, what)
        return True


async def _events(response: httpx.Response) -> AsyncIterator[RemoteEvent]:
    decoder = SSEDecoder()
    async for raw in response.aiter_bytes():
        for event in decoder.feed(raw):
            parsed = _parse(event.data, event.id)
            if parsed is None:
                return
            yield parsed
    for event in decoder.close():
        parsed = _parse(event.data, event.id)
        if parsed is None:
            return
        yield parsed


def _parse(data: str, event_id: str | None) -> RemoteEvent | None:
    if data == "[DONE]":
        return None
    try:
        chunk = json.loads(data)
    except ValueError:
        raise ToolError(
            f"the remote agent sent an event that is not JSON: {data[:200]!r}"
        ) from None
    if not isinstance(chunk, dict):
        raise ToolError("the remote agent sent an event that is not a JSON object")
    number = int(event_id) if event_id is not None and event_id.isdigit() else None
    return RemoteEvent(number, chunk)


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
        detail = body.get("error", {}).get("message") if isinstance(body, dict) else None
    except ValueError:
        detail = None
    message = detail or response.text[:200]
    raise RemoteRefusedError(
        f"the remote agent could not {what} the session: HTTP {response.status_code}: {message}",
        response.status_code,
    )


def _q(session_id: str) -> str:
    return quote(session_id, safe="")
