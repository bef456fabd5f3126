"""Discovery and liveness: ``GET /agents``, ``GET /health``, ``GET /openapi.json`` and the
chat page at ``/``."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .context import ApiContext
from .responses import JsonResponse
from .schemas import AgentInfo, Agents, Health, StorageOutage, dump

__all__ = ["agents", "chat_page", "health", "load_chat_page", "openapi"]


async def agents(request: Request) -> Response:
    api: ApiContext = request.app.state.api
    await api.user(request)
    listed = [
        AgentInfo(
            name=agent.name,
            description=agent.description,
            tools=sorted(agent.tool_map),
            structured_output=agent.output_type is not None,
        )
        for agent in sorted(api.executor.registry, key=lambda a: a.name)
    ]
    return JsonResponse(dump(Agents(agents=listed)))


async def health(request: Request) -> Response:
    """200 ``ok``, or 503 ``unavailable`` while the host's storage takes no writes (a full
    disk: runs are paused, new turns refused, until writes succeed again)."""
    api: ApiContext = request.app.state.api
    outage = api.storage_outage()
    if outage is None:
        return JsonResponse(dump(Health(status="ok"), exclude_none=True))
    body = Health(status="unavailable", storage=StorageOutage.model_validate(outage))
    return JsonResponse(dump(body, exclude_none=True), status_code=503)


async def openapi(request: Request) -> Response:
    document: Callable[[], dict[str, Any]] = request.app.state.openapi
    return JsonResponse(document())


async def chat_page(request: Request) -> Response:
    page: str = request.app.state.chat_page
    return HTMLResponse(page, headers=_PAGE_HEADERS)


#: The page is self-contained: the policy lets it run its own inline script and talk to
#: this server, and nothing else (no CDN, no third party).
_PAGE_HEADERS = {
    "cache-control": "no-cache",
    "content-security-policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'"
    ),
    "x-content-type-options": "nosniff",
}


def load_chat_page() -> str:
    """The chat page: one self-contained file shipped in the package (read at app
    creation, never at import)."""
    return (files("helix_agents.http") / "static" / "chat.html").read_text(encoding="utf-8")
