"""``/mcp``: the registry's agents as MCP tools, over Streamable HTTP, on both hosts.

An MCP client (Claude Desktop, an IDE, another agent framework, the official ``mcp``
package) connects to ``<base>/mcp`` with the API's own authentication and sees one tool per
agent: ``message`` (the task) and an optional ``sessionId`` (a session to continue). A
``tools/call`` starts a turn and answers with the agent's answer once the turn ends
(completed, failed, or waiting on a human or a client tool: then the text says so and the
session id lets a client go on through the HTTP API).

The server is stateless: no ``Mcp-Session-Id``, every POST stands alone (a Worker serves it
from any isolate). A call whose request names a ``progressToken`` is answered as an event
stream: ``notifications/progress`` as the run moves (its steps, its tool calls), then the
result; without one, as one JSON response. GET (a server-initiated stream) is 405: this
server sends nothing unasked. ``server/discover`` (the 2026 revision's probe) is an unknown
method, which makes newer clients fall back to ``initialize``.

Notifications are answered 202 with no body. ``notifications/cancelled`` naming a
``tools/call`` in flight interrupts the run that call started (:mod:`.mcp_calls`); the call's
own answer then says the run ended ``interrupted``. Other notifications are ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..chunks import (
    OutputChunk,
    RunEndChunk,
    StepResetChunk,
    StepStartChunk,
    TextDeltaChunk,
    ToolErrorChunk,
    ToolInputAvailableChunk,
    ToolOutputChunk,
)
from ..errors import HelixError, StreamReaderLimitError
from ..mcp import _protocol as protocol
from ..streaming.follow import aclose_iterator, follow_batches
from ..tracing.propagation import incoming_trace_context
from .bodies import read_json
from .errors import BadRequestError, MethodNotAllowedError
from .mcp_calls import InFlightCalls, cancel_call, in_flight
from .sse_response import SSEResponse

if TYPE_CHECKING:
    from ..agent import Agent
    from ..executor import RunHandle
    from .context import ApiContext

__all__ = ["mcp_delete", "mcp_get", "mcp_paths", "mcp_post"]

_TOOL_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")

_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "The task or question for the agent."},
        "sessionId": {
            "type": "string",
            "description": "Continue this session (from an earlier answer); omit for a new one.",
        },
    },
    "required": ["message"],
    "additionalProperties": False,
}

_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sessionId": {"type": "string"},
        "status": {"type": "string"},
        "answer": {"type": "string"},
        "output": {},
        "error": {"type": "string"},
    },
    "required": ["sessionId", "status", "answer"],
}


async def mcp_post(request: Request) -> Response:
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    # What is not one JSON-RPC message is refused as the API refuses any bad body (400
    # with the API's error shape; 413 past the limit).
    message = await read_json(request, api.settings.max_body_bytes)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise BadRequestError(
            "expected one JSON-RPC 2.0 message (an object with jsonrpc: '2.0'); batches are "
            "not part of MCP since its 2025-06-18 revision"
        )
    method = message.get("method")
    request_id = message.get("id")
    if not isinstance(method, str):
        # A response from the client (to a request we never send): acknowledged.
        return Response(status_code=202)
    params = message.get("params")
    params = params if isinstance(params, dict) else {}
    if "id" not in message:
        # A notification: never answered with a body. A cancellation interrupts the run of
        # the call it names; the others (initialized, progress ...) are ignored.
        if method == "notifications/cancelled":
            await cancel_call(api, request, params, user)
        return Response(status_code=202)
    if method == "initialize":
        return _result(request_id, _initialize(params))
    if method == "ping":
        return _result(request_id, {})
    if method == "tools/list":
        return _result(request_id, {"tools": [_tool_of(a) for a in _agents(api)]})
    if method == "tools/call":
        return await _call(api, request, request_id, params, user)
    return _error(request_id, protocol.METHOD_NOT_FOUND, f"method {method!r} is not supported")


async def mcp_get(request: Request) -> Response:
    """No server-initiated stream (the specification's answer is 405)."""
    api: ApiContext = request.app.state.api
    await api.user(request)
    raise MethodNotAllowedError("GET /mcp: this MCP server sends nothing unasked; POST to it")


async def mcp_delete(request: Request) -> Response:
    """Ending a session: there is none to end (stateless); accepted."""
    api: ApiContext = request.app.state.api
    await api.user(request)
    return Response(status_code=204)


# -- the methods -------------------------------------------------------------------------


def _initialize(params: dict[str, Any]) -> dict[str, Any]:
    from .app import _version

    asked = params.get("protocolVersion")
    version = asked if asked in protocol.SUPPORTED_VERSIONS else protocol.LATEST_VERSION
    return {
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": False}},
        "serverInfo": {"name": "helix-agents", "version": _version()},
        "instructions": "Each tool is an agent: give it a task as 'message'; pass the "
        "'sessionId' of an earlier answer to continue that conversation.",
    }


def _agents(api: ApiContext) -> list[Agent]:
    return [a for a in api.executor.registry if _TOOL_NAME.fullmatch(a.name)]


def _tool_of(agent: Agent) -> dict[str, Any]:
    description = agent.description
    if not description and isinstance(agent.system_prompt, str) and agent.system_prompt:
        description = agent.system_prompt.strip().splitlines()[0][:300]
    return {
        "name": agent.name,
        "description": description or f"Run the agent {agent.name!r} on a task.",
        "inputSchema": _INPUT_SCHEMA,
        "outputSchema": _OUTPUT_SCHEMA,
    }


async def _call(
    api: ApiContext, request: Request, request_id: Any, params: dict[str, Any], user: str | None
) -> Response:
    name = params.get("name")
    arguments = params.get("arguments")
    arguments = arguments if isinstance(arguments, dict) else {}
    if not isinstance(name, str) or name not in {a.name for a in _agents(api)}:
        return _error(request_id, protocol.INVALID_PARAMS, f"unknown tool {name!r}")
    text = arguments.get("message")
    session_id = arguments.get("sessionId")
    unknown = sorted(set(arguments) - {"message", "sessionId"})
    if not isinstance(text, str) or not text.strip():
        return _error(request_id, protocol.INVALID_PARAMS, "arguments.message: a non-empty string")
    if session_id is not None and not isinstance(session_id, str):
        return _error(request_id, protocol.INVALID_PARAMS, "arguments.sessionId: a string")
    if unknown:
        return _error(request_id, protocol.INVALID_PARAMS, f"unknown arguments: {unknown}")
    try:
        if session_id is not None:
            state = await api.session(session_id, user)  # 404 for another user's session
            if state.agent_type != name:
                return _error(
                    request_id,
                    protocol.INVALID_PARAMS,
                    f"session {session_id!r} belongs to the agent {state.agent_type!r}",
                )
        handle = await api.executor.execute(
            name,
            text,
            session_id=session_id,
            user_id=user,
            trace_context=incoming_trace_context(request.headers),
        )
    except HelixError as exc:
        # A refusal to start (a session busy with a run, not found) is the tool's error:
        # the client's model reads it.
        return _result(request_id, _failure(session_id or "", str(exc)))
    meta = params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    # While the call is answered, a notifications/cancelled naming its id reaches its run.
    calls, key = in_flight(request), InFlightCalls.key(request, user, request_id)
    if token is None:
        outcome = _Outcome()
        with calls.track(key, handle.session_id, handle.run_id):
            async for _ in _follow(api, handle, outcome):
                pass
            return _result(request_id, await outcome.result(handle))
    return SSEResponse(
        _events(api, handle, request_id, token, calls, key),
        {"content-type": "text/event-stream", "cache-control": "no-cache"},
    )


async def _events(
    api: ApiContext,
    handle: RunHandle,
    request_id: Any,
    token: Any,
    calls: InFlightCalls,
    key: tuple[str, str, str],
) -> AsyncIterator[bytes]:
    outcome = _Outcome()
    count = 0
    with calls.track(key, handle.session_id, handle.run_id):
        async for note in _follow(api, handle, outcome):
            if note is None:
                yield b": keep-alive\n\n"
                continue
            count += 1
            yield _event(
                protocol.notification(
                    "notifications/progress",
                    {"progressToken": token, "progress": count, "message": note},
                )
            )
        yield _event(protocol.result_response(request_id, await outcome.result(handle)))


class _Outcome:
    """What the run's stream told: the last step's text, the output, the end."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.output: Any = None
        self.has_output = False
        self.end: RunEndChunk | None = None

    def ended(self) -> bool:
        return self.end is not None

    async def result(self, handle: RunHandle) -> dict[str, Any]:
        if self.end is not None:
            status, error = self.end.status, self.end.error
        else:
            record = await handle.result()
            status, error = str(record.status), None
        answer = "".join(self.text).strip()
        payload: dict[str, Any] = {
            "sessionId": handle.session_id,
            "status": status,
            "answer": answer,
        }
        if self.has_output:
            payload["output"] = self.output
        if status == "completed":
            text = answer or (json.dumps(self.output) if self.has_output else "")
            return _content(text or "(no answer)", payload, is_error=False)
        if status.startswith("suspended"):
            text = (
                f"The agent is waiting (status {status}): a tool call needs a human's "
                f"approval or a client's result. Session: {handle.session_id}."
            )
            return _content((answer + "\n\n" + text).strip(), payload, is_error=False)
        payload["error"] = error or status
        text = f"The run ended {status}: {error or 'no reason given'}"
        return _content(text, payload, is_error=True)


async def _follow(
    api: ApiContext, handle: RunHandle, outcome: _Outcome
) -> AsyncIterator[str | None]:
    """The run's stream until its end: a progress note per step and tool call (None: a
    quiet poll, for a keep-alive), the outcome filled in on the way."""
    cursor = 0
    while not outcome.ended():
        batches = follow_batches(
            api.executor.streams, handle.stream_id, cursor, poll=api.settings.keep_alive
        )
        try:
            async for batch in batches:
                if not batch:
                    yield None
                for item in batch:
                    cursor = item.seq
                    note = _note(item.chunk, outcome, handle.run_id)
                    if note is not None:
                        yield note
                    if outcome.ended():
                        return
            return  # the stream ended
        except StreamReaderLimitError:
            continue  # a Worker's reader stopped within its limits: follow on from here
        finally:
            await aclose_iterator(batches)


def _note(chunk: Any, outcome: _Outcome, run_id: str) -> str | None:
    if chunk.agent is not None:
        return None  # a sub-agent's forwarded chunks: its parent's progress says enough
    if isinstance(chunk, StepStartChunk):
        outcome.text = []
        return f"step {chunk.step}"
    if isinstance(chunk, StepResetChunk):
        outcome.text = []
        return None
    if isinstance(chunk, TextDeltaChunk):
        outcome.text.append(chunk.delta)
        return None
    if isinstance(chunk, ToolInputAvailableChunk):
        return f"calling {chunk.tool_name}"
    if isinstance(chunk, ToolOutputChunk):
        return "tool call done"
    if isinstance(chunk, ToolErrorChunk):
        return "tool call failed"
    if isinstance(chunk, OutputChunk):
        outcome.output, outcome.has_output = chunk.output, True
        return None
    if isinstance(chunk, RunEndChunk) and chunk.run_id == run_id:
        outcome.end = chunk
        return f"run {chunk.status}"
    return None


# -- JSON-RPC answers --------------------------------------------------------------------


def _content(text: str, structured: dict[str, Any], *, is_error: bool) -> dict[str, Any]:
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": structured,
        "isError": is_error,
    }


def _failure(session_id: str, message: str) -> dict[str, Any]:
    return _content(
        message,
        {"sessionId": session_id, "status": "not_started", "answer": "", "error": message},
        is_error=True,
    )


def _result(request_id: Any, result: dict[str, Any]) -> Response:
    return JSONResponse(protocol.result_response(request_id, result))


def _error(request_id: Any, code: int, message: str) -> Response:
    return JSONResponse(protocol.error_response(request_id, code, message))


def _event(message: dict[str, Any]) -> bytes:
    return f"event: message\ndata: {json.dumps(message, separators=(',', ':'))}\n\n".encode()


def mcp_paths(
    auth_errors: dict[str, Any], body_errors: dict[str, Any], error: Callable[[str], Any]
) -> dict[str, Any]:
    """``/mcp`` in the OpenAPI document (its messages are MCP's, described in words)."""
    rpc = {"type": "object", "description": "One JSON-RPC 2.0 message."}
    return {
        "/mcp": {
            "post": {
                "operationId": "mcp",
                "summary": "The agents as MCP tools (Streamable HTTP, stateless)",
                "description": "One JSON-RPC 2.0 message of the Model Context Protocol: "
                "`initialize`, `ping`, `tools/list` (one tool per agent: `message`, optional "
                "`sessionId`) and `tools/call` (runs a turn and answers with the agent's "
                "answer; with a `progressToken` the answer is an event stream of "
                "`notifications/progress`, then the result). Notifications are answered 202 "
                "with no body; `notifications/cancelled` naming a `tools/call` in flight "
                "interrupts the run it started. Other methods: JSON-RPC error -32601.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": rpc}}},
                "responses": {
                    "200": {
                        "description": "The JSON-RPC response, or an event stream ending with it.",
                        "content": {
                            "application/json": {"schema": rpc},
                            "text/event-stream": {"schema": {"type": "string"}},
                        },
                    },
                    "202": {"description": "A notification, accepted."},
                    **auth_errors,
                    **body_errors,
                },
            },
            "get": {
                "operationId": "mcpStream",
                "summary": "No server-initiated stream: 405",
                "responses": {
                    "405": error("This server sends nothing unasked (`method_not_allowed`)."),
                    **auth_errors,
                },
            },
            "delete": {
                "operationId": "mcpEnd",
                "summary": "End an MCP session (stateless: accepted)",
                "responses": {"204": {"description": "Accepted."}, **auth_errors},
            },
        }
    }
