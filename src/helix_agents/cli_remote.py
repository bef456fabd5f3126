"""The ``helix`` commands as HTTP clients of a running ``helix dev`` on the same data dir.

The running host holds the data dir (one host per directory), so ``helix run``, ``attach``,
``resume``, ``interrupt``, ``abort``, ``approve``, ``deny`` and ``answer`` go through its
HTTP API instead (docs/http-api.md): the same routes the chat page uses, with the API token from
``HELIX_API_TOKEN`` when one is set. Streams arrive as AI SDK UI chunks over SSE.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from .errors import HelixError

__all__ = ["PendingCall", "Remote", "RemoteStream", "pending_from_snapshot"]


@dataclass(frozen=True)
class PendingCall:
    """A call that waits on the person at the terminal: an approval or a client tool."""

    tool_call_id: str
    tool_name: str
    arguments: Any
    kind: str  # "approval" | "client"


@dataclass
class RemoteStream:
    session_id: str
    chunks: Iterator[dict[str, Any]]


class Remote:
    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get("HELIX_API_TOKEN")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        # No read timeout: a stream may stay quiet while a model thinks (the server sends
        # keep-alives anyway).
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=httpx.Timeout(30.0, read=None)
        )

    def close(self) -> None:
        self.http.close()

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self, session_id: str) -> dict[str, Any]:
        response = self.http.get(f"/chat/{_quote(session_id)}")
        if response.status_code == 404:
            raise HelixError(f"session {session_id!r} not found")
        _check(response)
        result: dict[str, Any] = response.json()
        return result

    def reattach(self, session_id: str) -> RemoteStream | None:
        """The active turn's stream, or None when nothing runs (204)."""
        return self._stream("GET", f"/chat/{_quote(session_id)}/stream", session_id, None)

    # -- acting -----------------------------------------------------------------------------

    def chat(self, agent: str, message: str, session_id: str | None) -> RemoteStream:
        body: dict[str, Any] = {"agentType": agent, "message": message}
        if session_id is not None:
            body["sessionId"] = session_id
        stream = self._stream("POST", "/chat", session_id, body)
        assert stream is not None
        return stream

    def resume(self, session_id: str) -> RemoteStream:
        stream = self._stream("POST", f"/chat/{_quote(session_id)}/resume", session_id, {})
        assert stream is not None
        return stream

    def stop(self, session_id: str, how: str, reason: str | None) -> dict[str, Any]:
        """``POST /chat/{id}/interrupt`` or ``/abort``: the server's answer (202 / 200)."""
        body = {"reason": reason} if reason else {}
        response = self.http.post(f"/chat/{_quote(session_id)}/{how}", json=body)
        if response.status_code == 404:
            raise HelixError(f"session {session_id!r} not found")
        _check(response)
        answer: dict[str, Any] = response.json()
        return answer

    def submit(self, session_id: str, body: dict[str, Any]) -> RemoteStream | dict[str, Any]:
        """The resumed run's stream, or the JSON answer while other calls still wait."""
        path = f"/chat/{_quote(session_id)}/submit-tool-result"
        request = self.http.build_request(
            "POST", path, json=body, headers={"accept": "text/event-stream"}
        )
        response = self.http.send(request, stream=True)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
            response.close()
            _check(response)
            answer: dict[str, Any] = response.json()
            return answer
        return RemoteStream(session_id, _events(response))

    def _stream(
        self, method: str, path: str, session_id: str | None, body: dict[str, Any] | None
    ) -> RemoteStream | None:
        request = self.http.build_request(
            method, path, json=body, headers={"accept": "text/event-stream"}
        )
        response = self.http.send(request, stream=True)
        if response.status_code == 204:
            response.close()
            return None
        if response.status_code >= 400:
            response.read()
            response.close()
            _check(response)
        session = response.headers.get("x-helix-session-id") or session_id or ""
        return RemoteStream(session, _events(response))


def pending_from_snapshot(snapshot: dict[str, Any]) -> list[PendingCall]:
    """The calls of the latest assistant message that wait on an answer."""
    if not str(snapshot.get("status", "")).startswith("suspended"):
        return []
    pending: list[PendingCall] = []
    for message in snapshot.get("messages", [])[-1:]:
        for part in message.get("parts", []):
            kind = part.get("type", "")
            if not kind.startswith("tool-") and kind != "dynamic-tool":
                continue
            name = part.get("toolName") or kind.removeprefix("tool-")
            if part.get("state") == "approval-requested":
                pending.append(PendingCall(part["toolCallId"], name, part.get("input"), "approval"))
            elif part.get("state") == "input-available":
                pending.append(PendingCall(part["toolCallId"], name, part.get("input"), "client"))
    return pending


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The JSON events of an SSE response, until ``[DONE]`` or its end."""
    try:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue  # ids, comments (keep-alives), blank lines
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event
    finally:
        response.close()


def _check(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json().get("error", {})
        message = f"{error.get('message')} ({error.get('code')}, HTTP {response.status_code})"
    except (ValueError, AttributeError):
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    raise HelixError(f"helix dev refused: {message}")


def _quote(session_id: str) -> str:
    return quote(session_id, safe="")
