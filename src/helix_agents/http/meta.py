"""Discovery and liveness: ``GET /agents``, ``GET /health``, ``GET /openapi.json`` and the
chat page at ``/``."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..state import RunStatus, SessionState
from .context import ApiContext, may_see
from .responses import JsonResponse
from .schemas import (
    AgentInfo,
    Agents,
    Health,
    Sessions,
    SessionSummary,
    StorageOutage,
    dump,
)

__all__ = ["agents", "chat_page", "health", "load_chat_page", "openapi", "sessions"]

#: How many sessions the list shows, and how many rows it reads to find them (sub-agents'
#: sessions are read and left out).
_LISTED = 50
_SCANNED = 200
_TITLE = 80


async def agents(request: Request) -> Response:
    api: ApiContext = request.app.state.api
    await api.user(request)
    listed = []
    for agent in sorted(api.executor.registry, key=lambda a: a.name):
        label, demo = _model_of(agent.model, api.settings.resolve_model)
        listed.append(
            AgentInfo(
                name=agent.name,
                description=agent.description,
                tools=sorted(agent.tool_map),
                structured_output=agent.output_type is not None,
                model=label,
                offline_demo=demo,
            )
        )
    return JsonResponse(dump(Agents(agents=listed)))


def _model_of(spec: Any, resolve: Callable[[Any], Any] | None) -> tuple[str, bool]:
    """A label for the agent's model, and whether the offline demo model answers.

    Only ``"demo"`` is resolved, and only where the host swaps it for a configured model
    (a Worker's ``model_from_env``): resolving any other string could build a network
    client just to list agents.
    """
    from ..models.demo import DemoModel

    if spec is None:  # its runs fail with ModelNotConfiguredError
        return "none", False
    if isinstance(spec, str):
        label = spec.strip()
        if label != "demo":
            return label, False
        if resolve is None:
            return label, True
        try:
            model = resolve(spec)
        except Exception:  # a misconfigured model fails the run, with its own message
            return label, False
        if isinstance(model, DemoModel):
            return label, True
        return str(getattr(model, "model", None) or type(model).__name__), False
    if isinstance(spec, DemoModel):
        return "demo", True
    name = getattr(spec, "name", None) or getattr(spec, "model", None)
    return str(name) if isinstance(name, str) and name else type(spec).__name__, False


async def sessions(request: Request) -> Response:
    """The caller's top-level sessions, most recently updated first (the chat page's list)."""
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    # Each session with its first message's text, in one statement (no read per session).
    heads = await api.executor.store.list_session_heads(limit=_SCANNED)
    shown = [h for h in heads if h.state.parent_session_id is None and may_see(h.state, user)]
    summaries = []
    for state, title in shown[:_LISTED]:
        summaries.append(
            SessionSummary(
                session_id=state.session_id,
                agent_type=state.agent_type,
                status=state.status.value,
                waiting_for=_waiting_for(state),
                title=" ".join(title.split())[:_TITLE],
                created_at=state.created_at,
                updated_at=state.updated_at,
            )
        )
    return JsonResponse(dump(Sessions(sessions=summaries), exclude_none=True))


def _waiting_for(state: SessionState) -> Literal["approval", "tool-result"] | None:
    if state.status not in (RunStatus.SUSPENDED_CLIENT_TOOL, RunStatus.SUSPENDED_STEP_PARTIAL):
        return None
    undecided = [c for c in state.pending_client_tool_calls if c.decision is None]
    if any(c.kind == "approval" for c in undecided):
        return "approval"
    return "tool-result" if undecided else None


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
