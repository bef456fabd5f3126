"""The librarian's scenario over the HTTP API, the same for both hosts: a turn through
``POST /chat``, a session's usage from its snapshot (``GET /chat/{id}``)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.http.harness import read_wire
from tests.services.librarian import LIBRARIAN, Chat, SessionUsage

__all__ = ["http_chat", "http_usage"]


def http_chat(client: httpx.AsyncClient) -> Chat:
    async def chat(message: str, session: str) -> list[dict[str, Any]]:
        body = {"agentType": LIBRARIAN, "message": message, "sessionId": session}
        async with client.stream("POST", "/chat", json=body) as res:
            assert res.status_code == 200
            wire = await read_wire(res)
        assert wire.done
        return wire.chunks

    return chat


def http_usage(client: httpx.AsyncClient) -> SessionUsage:
    async def usage(session: str) -> dict[str, Any]:
        res = await client.get(f"/chat/{session}")
        assert res.status_code == 200, res.text
        found: dict[str, Any] = res.json()["usage"]
        return found

    return usage
