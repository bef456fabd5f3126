"""Paged reads of a session: ``GET /sessions/{id}/messages`` and ``GET /sessions/{id}/runs``,
and the page of history the snapshot shows.

A page is bounded by ``limit`` stored messages and named by sequences: ``before`` reads
backwards from there (the default: the newest page), ``after`` reads forwards. So a client
of a 10,000-message session pays for the page it draws, not for the session: the store
reads ``limit + 1`` rows (the extra one says whether there is more).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ..messages import Message, UserMessage
from ..state import RunRecord, RunStatus
from ..store import StateStore
from .context import ApiContext
from .errors import BadRequestError
from .responses import JsonResponse
from .schemas import MessagePage, RunInfo, Runs, StoredMessage, dump

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "SNAPSHOT_PAGE",
    "PageQuery",
    "page_query",
    "read_page",
    "session_messages",
    "session_runs",
    "turn_aligned",
]

#: Messages per page of ``/sessions/{id}/messages`` unless ``limit`` says otherwise.
DEFAULT_PAGE = 100
#: Stored messages a snapshot shows unless ``limit`` says otherwise.
SNAPSHOT_PAGE = 200
#: The largest ``limit`` accepted.
MAX_PAGE = 1000
#: Runs listed at most.
_RUNS = 200
#: Past every sequence: what ``before`` means when not given.
_END = 2**62


@dataclass(frozen=True)
class PageQuery:
    limit: int
    before: int | None = None
    after: int | None = None

    @property
    def backwards(self) -> bool:
        """Whether the page is the newest ``limit`` messages before ``before`` (or the end)."""
        return self.after is None


def page_query(params: Mapping[str, str], *, default_limit: int) -> PageQuery:
    """``limit``, ``before`` and ``after`` from a query string (400 when malformed)."""
    given = _int(params, "limit", None)
    limit = default_limit if given is None else given
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequestError(f"limit must be between 1 and {MAX_PAGE}")
    before = _int(params, "before", None)
    after = _int(params, "after", None)
    for name, value in (("before", before), ("after", after)):
        if value is not None and value < 0:
            raise BadRequestError(f"{name} must be a sequence (an integer >= 0)")
    return PageQuery(limit=limit, before=before, after=after)


async def read_page(
    store: StateStore, session_id: str, query: PageQuery
) -> tuple[list[tuple[int, Message]], bool]:
    """One page in sequence order, and whether more lies past it (in the page's
    direction). Reads at most ``limit + 1`` rows."""
    before = query.before if query.before is not None or not query.backwards else _END
    rows = list(
        await store.load_messages(
            session_id, after=query.after, before=before, limit=query.limit + 1
        )
    )
    more = len(rows) > query.limit
    if more:
        rows = rows[1:] if query.backwards else rows[:-1]
    return rows, more


def turn_aligned(rows: Sequence[tuple[int, Message]]) -> list[tuple[int, Message]]:
    """A backwards page cut to start at its first turn (user message), so its first UI
    message is whole; a page inside one long turn is kept as it is."""
    for index, (_, message) in enumerate(rows):
        if isinstance(message, UserMessage):
            return list(rows[index:])
    return list(rows)


async def session_messages(request: Request) -> Response:
    """``GET /sessions/{id}/messages``: a page of the stored history."""
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    state = await api.session(request.path_params["session_id"], user)
    query = page_query(request.query_params, default_limit=DEFAULT_PAGE)
    rows, more = await read_page(api.executor.store, state.session_id, query)
    page = MessagePage(
        session_id=state.session_id,
        messages=[StoredMessage(sequence=seq, message=m.to_dict()) for seq, m in rows],
        has_more=more,
        before=rows[0][0] if rows else None,
        after=rows[-1][0] if rows else None,
    )
    return JsonResponse(dump(page))


async def session_runs(request: Request) -> Response:
    """``GET /sessions/{id}/runs``: the session's runs, newest first, and the current one."""
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    state = await api.session(request.path_params["session_id"], user)
    store = api.executor.store
    runs = await store.list_runs(state.session_id, limit=_RUNS, newest_first=True)
    current = await store.active_run(state.session_id)
    body = Runs(
        session_id=state.session_id,
        runs=[_run_info(run) for run in runs],
        current=None if current is None else _run_info(current),
        can_resume=bool(runs) and runs[0].status == RunStatus.INTERRUPTED,
    )
    return JsonResponse(dump(body))


def _run_info(run: RunRecord) -> RunInfo:
    return RunInfo(
        run_id=run.run_id,
        turn=run.turn,
        status=run.status.value,
        step_count=run.step_count,
        started_at=run.started_at,
        completed_at=run.completed_at,
    )


def _int(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not text.isdigit() or len(text) > 18:
        raise BadRequestError(f"{name} must be a non-negative integer, not {raw[:40]!r}")
    return int(text)
