"""Runs as JSON calls: what a Worker's entrypoint offers other Workers over RPC.

:class:`RunApi` is written over an :class:`~helix_agents.executor.Executor`, so it is the
same on both hosts (the Cloudflare Worker's entrypoint methods forward to it; tests call it
on the local host too). Arguments and results are JSON values only, because they cross
Workers RPC (structured clone) between JavaScript and Python; results are plain dicts in
camelCase, as the HTTP API's bodies are.

Errors are answered as values, ``{"error": {"code": ..., "message": ...}}`` with the HTTP
API's codes (``session_not_found``, ``conflict``, ``unknown_agent``, ``invalid_request``,
...): an exception raised across RPC reaches the caller as a bare ``Error`` whose message
is a Python traceback. A fault that is not one of ours answers ``internal_error`` (logged).

Every method but :meth:`RunApi.result` and :meth:`RunApi.snapshot` returns at once; a run
goes on in its own Workflow instance, and the caller follows it by polling ``result``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConflictError, HelixError, SessionNotFoundError
from .messages import AssistantMessage, UserMessage
from .state import RunStatus

if TYPE_CHECKING:
    from .executor import Executor
    from .services import Services

__all__ = ["RunApi"]

logger = logging.getLogger("helix_agents.rpc")

Answer = dict[str, Any]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Start(_Args):
    agent_type: str = Field(min_length=1)
    message: str = Field(min_length=1)
    session_id: str | None = None
    metadata: dict[str, Any] | None = None
    message_id: str | None = Field(default=None, min_length=1)


class _Submit(_Args):
    session_id: str = Field(min_length=1)
    tool_call_id: str = Field(min_length=1)
    result: Any = None
    is_error: bool = False


class _Approve(_Args):
    session_id: str = Field(min_length=1)
    tool_call_id: str = Field(min_length=1)
    approved: bool = True
    reason: str | None = None


class _Session(_Args):
    session_id: str = Field(min_length=1)
    reason: str | None = None


class RunApi:
    """Start, follow and steer runs with JSON arguments and results (see the module).

    ``services`` are the host's services whose object storage keeps the files user
    messages carry (chat file parts): :meth:`snapshot` gives them back as the HTTP snapshot
    does. Without object storage, a snapshot leaves the file parts out, as HTTP does."""

    def __init__(self, executor: Executor, services: Services | None = None) -> None:
        self.executor = executor
        self.services = services

    async def start_run(
        self,
        agent_type: Any,
        message: Any,
        session_id: Any = None,
        metadata: Any = None,
        message_id: Any = None,
    ) -> Answer:
        """Start a new session (or the next turn of ``session_id``) of ``agent_type`` with
        the user's ``message``: ``{"sessionId", "runId", "turn"}``. With a ``message_id``,
        a repeated call answers the turn the first one started."""

        async def go() -> Answer:
            args = _Start(
                agent_type=agent_type,
                message=message,
                session_id=session_id,
                metadata=metadata,
                message_id=message_id,
            )
            if args.session_id is not None and args.message_id is not None:
                from .toolkits.queue import started_turn

                run_id = await started_turn(self.executor, args.session_id, args.message_id)
                if run_id is not None:
                    return await self._run_answer(args.session_id, run_id)
            user = (
                args.message
                if args.message_id is None
                else UserMessage(content=args.message, id=args.message_id)
            )
            try:
                handle = await self.executor.execute(
                    args.agent_type, user, session_id=args.session_id, metadata=args.metadata
                )
            except ConflictError:
                if args.session_id is None or args.message_id is None:
                    raise
                run_id = await started_turn(self.executor, args.session_id, args.message_id)
                if run_id is None:
                    raise
                return await self._run_answer(args.session_id, run_id)
            return {"sessionId": handle.session_id, "runId": handle.run_id, "turn": handle.turn}

        return await _answer(go)

    async def _run_answer(self, session_id: str, run_id: str) -> Answer:
        run = await self.executor.store.get_run(run_id)
        turn = run.turn if run is not None else 0
        return {"sessionId": session_id, "runId": run_id, "turn": turn}

    async def result(self, session_id: Any) -> Answer:
        """The session's latest run as it stands: ``{"sessionId", "runId", "turn",
        "status", "done", "text", "output", "error"}``. ``done`` is true once the run ended
        or waits on a human (``status`` says which); ``text`` is the run's last answer."""

        async def go() -> Answer:
            args = _Session(session_id=session_id)
            state = await self.executor.get_session(args.session_id)
            latest = await self.executor.store.latest_run(args.session_id)
            status = latest.status if latest is not None else state.status
            text: str | None = None
            if status != RunStatus.ACTIVE:
                for _, stored in reversed(
                    await self.executor.store.load_messages(state.session_id)
                ):
                    if isinstance(stored, AssistantMessage):
                        text = stored.content
                        break
                    if isinstance(stored, UserMessage):
                        break
            return {
                "sessionId": state.session_id,
                "runId": latest.run_id if latest is not None else None,
                "turn": latest.turn if latest is not None else 0,
                "status": status.value,
                "done": status != RunStatus.ACTIVE,
                "text": text,
                "output": state.output,
                "error": state.error,
            }

        return await _answer(go)

    async def snapshot(self, session_id: Any) -> Answer:
        """The session as ``GET /chat/{sessionId}`` answers it (its UI messages, file parts
        included, status, usage, output): the same code builds both."""

        async def go() -> Answer:
            from .http.snapshot import build_snapshot

            args = _Session(session_id=session_id)
            state = await self.executor.get_session(args.session_id)
            return await build_snapshot(self.executor, state, services=self.services)

        return await _answer(go)

    async def submit_tool_result(
        self, session_id: Any, tool_call_id: Any, result: Any = None, is_error: Any = False
    ) -> Answer:
        """Settle a client tool's call that waits with its ``result``: ``{"sessionId",
        "toolCallId", "stillPending", "resumedRunId"}``."""

        async def go() -> Answer:
            args = _Submit(
                session_id=session_id, tool_call_id=tool_call_id, result=result, is_error=is_error
            )
            submission = await self.executor.submit_tool_result(
                args.session_id,
                tool_call_id=args.tool_call_id,
                result=args.result,
                is_error=args.is_error,
            )
            return _submitted(submission)

        return await _answer(go)

    async def approve(
        self, session_id: Any, tool_call_id: Any, approved: Any = True, reason: Any = None
    ) -> Answer:
        """Approve (or with ``approved=False`` deny) a call that waits on a human; the same
        answer as :meth:`submit_tool_result`."""

        async def go() -> Answer:
            args = _Approve(
                session_id=session_id, tool_call_id=tool_call_id, approved=approved, reason=reason
            )
            submission = await self.executor.submit_tool_result(
                args.session_id,
                tool_call_id=args.tool_call_id,
                approved=args.approved,
                reason=args.reason,
            )
            return _submitted(submission)

        return await _answer(go)

    async def interrupt(self, session_id: Any, reason: Any = None) -> Answer:
        """Ask the active run to stop, resumable: ``{"sessionId", "runId", "status"}``."""

        async def go() -> Answer:
            args = _Session(session_id=session_id, reason=reason)
            run = await self.executor.interrupt(args.session_id, reason=args.reason)
            return {"sessionId": args.session_id, "runId": run.run_id, "status": "interrupting"}

        return await _answer(go)

    async def abort(self, session_id: Any, reason: Any = None) -> Answer:
        """Stop the session's run for good: ``{"sessionId", "runId", "status"}``."""

        async def go() -> Answer:
            args = _Session(session_id=session_id, reason=reason)
            run = await self.executor.abort(args.session_id, reason=args.reason)
            return {"sessionId": args.session_id, "runId": run.run_id, "status": run.status.value}

        return await _answer(go)


def _submitted(submission: Any) -> Answer:
    return {
        "sessionId": submission.session_id,
        "toolCallId": submission.tool_call_id,
        "stillPending": list(submission.still_pending),
        "resumedRunId": None if submission.resumed is None else submission.resumed.run_id,
    }


async def _answer(call: Callable[[], Awaitable[Answer]]) -> Answer:
    """The call's result, or its failure as a value (see the module)."""
    try:
        return await call()
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first.get("loc", ())) or "arguments"
        return _error("invalid_request", f"{where}: {first.get('msg', 'invalid')}")
    except SessionNotFoundError as exc:
        return _error(exc.code, str(exc))
    except HelixError as exc:
        from .http.errors import status_for

        if status_for(exc) >= 500:
            logger.error("an RPC call failed", exc_info=exc)
            return _error("internal_error", "internal error")
        return _error(exc.code, str(exc))
    except Exception:
        logger.exception("an RPC call failed")
        return _error("internal_error", "internal error")


def _error(code: str, message: str) -> Answer:
    return {"error": {"code": code, "message": message}}
