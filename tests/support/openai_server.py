"""A local OpenAI-compatible chat-completions server, written for the tests.

It speaks the protocol for real, over a socket on 127.0.0.1: ``POST /v1/chat/completions``
answers with ``chat.completion.chunk`` Server-Sent Events (text, reasoning, tool calls whose
arguments arrive in pieces, the usage chunk when ``stream_options.include_usage`` asks for
it, ``data: [DONE]``), or with one ``chat.completion`` when ``stream`` is false. Each
request takes the next scripted :class:`Reply`, which can also misbehave: an error status
with an OpenAI-style body and ``Retry-After``, a malformed chunk, a connection dropped after
some chunks, a server too slow to answer or one that stalls mid-stream. Every request is recorded so tests can assert on
what the client sent.

It runs under uvicorn in a thread of its own (with its own event loop), so the tests' event
loops and the server never block each other.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.serving import LocalServer

__all__ = [
    "OpenAIServer",
    "Raw",
    "RecordedRequest",
    "Reply",
    "ToolCallSpec",
    "reply_error",
    "reply_text",
    "reply_tool_calls",
]


@dataclass(frozen=True)
class Raw:
    """A ``data:`` payload sent as it is (for malformed chunks)."""

    data: str


@dataclass
class Reply:
    """One scripted response.

    ``deltas`` are the ``choices[0].delta`` objects of the stream, in order (a :class:`Raw`
    is sent verbatim instead of a chunk; a dict with ``"error"`` at the top is sent as an
    in-stream error object). ``drop_after`` closes the connection, mid-body, after that many
    chunks; ``delay`` holds the response back (before the status line), ``frame_delay``
    spaces the chunks, ``stall_after`` pauses ``stall_for`` seconds after that many chunks; ``json_only`` answers with a whole completion even when asked to
    stream. A ``status`` other than 200 answers with ``body`` as JSON.
    """

    deltas: list[dict[str, Any] | Raw] = field(default_factory=list)
    finish_reason: str | None = "stop"
    usage: tuple[int, int] | None = (11, 7)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop_after: int | None = None
    delay: float = 0.0
    frame_delay: float = 0.0
    stall_after: int | None = None
    stall_for: float = 0.0
    done: bool = True
    json_only: bool = False
    model: str = "test-model"


@dataclass(frozen=True)
class ToolCallSpec:
    id: str
    name: str
    arguments: dict[str, Any]


def reply_text(*pieces: str, reasoning: Sequence[str] = (), **options: Any) -> Reply:
    deltas: list[dict[str, Any] | Raw] = [{"role": "assistant", "content": ""}]
    deltas += [{"reasoning_content": piece} for piece in reasoning]
    deltas += [{"content": piece} for piece in pieces]
    return Reply(deltas=deltas, **options)


def reply_tool_calls(
    *calls: ToolCallSpec, pieces: int = 3, interleave: bool = True, text: str = "", **options: Any
) -> Reply:
    """Tool calls as a real server streams them: the first fragment of each call has its id
    and name with empty arguments, then the arguments arrive in ``pieces`` pieces, the calls'
    fragments interleaved by index."""
    deltas: list[dict[str, Any] | Raw] = [{"role": "assistant", "content": None}]
    if text:
        deltas.append({"content": text})
    per_call: list[list[dict[str, Any]]] = []
    for index, call in enumerate(calls):
        encoded = json.dumps(call.arguments)
        size = max(1, -(-len(encoded) // pieces))
        fragments: list[dict[str, Any]] = [
            {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
        ]
        fragments += [
            {"index": index, "function": {"arguments": encoded[i : i + size]}}
            for i in range(0, len(encoded), size)
        ]
        per_call.append(fragments)
    if interleave:
        longest = max((len(f) for f in per_call), default=0)
        order = [f[i] for i in range(longest) for f in per_call if i < len(f)]
    else:
        order = [fragment for fragments in per_call for fragment in fragments]
    deltas += [{"tool_calls": [fragment]} for fragment in order]
    options.setdefault("finish_reason", "tool_calls")
    return Reply(deltas=deltas, **options)


def reply_error(
    status: int,
    message: str,
    *,
    retry_after: str | None = None,
    error_type: str = "invalid_request_error",
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    all_headers = dict(headers or {})
    if retry_after is not None:
        all_headers["retry-after"] = retry_after
    body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return Reply(status=status, body=body, headers=all_headers)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _Dropped(Exception):
    """Raised inside the body generator: uvicorn then closes the connection mid-body."""


class OpenAIServer(LocalServer):
    def __init__(self, *, api_key: str | None = "test-key") -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        #: Per streamed reply, in order: ``(frames sent, whether the stream was sent whole)``
        #: once its body generator ended (a client that hung up cuts it short).
        self.streams: list[tuple[int, bool]] = []
        self._script: deque[Reply] = deque()
        #: Errors the next embeddings requests answer with, in order: (status, message, headers).
        self.embedding_errors: deque[tuple[int, str, dict[str, str]]] = deque()
        #: The dimensions of ``/v1/embeddings`` vectors when a request does not ask for some.
        self.embedding_dimensions = 64
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                # Cloudflare AI Gateway's layout, ``{base}/{account}/{gateway}/{provider}``
                # with the base at the server's root (``CF_AI_GATEWAY_URL``): the same
                # completions, the request's path recorded.
                Route(
                    "/{account}/{gateway}/{provider}/chat/completions",
                    self._completions,
                    methods=["POST"],
                ),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- control from the tests -----------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.streams.clear()
            self.embedding_errors.clear()

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the OpenAI test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- the protocol ---------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "test-model", "object": "model"}]})

    def _error(self, status: int, message: str, code: str | None = None) -> Response:
        body = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
        return JSONResponse(body, status_code=status)

    async def _embeddings(self, request: Request) -> Response:
        """``POST /v1/embeddings``: deterministic vectors (the offline hashing embedder),
        ``usage.prompt_tokens`` counted in words, ``data`` items with their ``index``."""
        from helix_agents.hosts.local.embeddings import HashingEmbedder

        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(
                RecordedRequest(request.method, request.url.path, dict(request.headers), body)
            )
            failure = self.embedding_errors.popleft() if self.embedding_errors else None
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return self._error(401, "Incorrect API key provided.", "invalid_api_key")
        if failure is not None:
            status, message, headers = failure
            response = self._error(status, message)
            response.headers.update(headers)
            return response
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return self._error(400, "you must provide a model parameter")
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self._error(400, "'input' must be a string or a non-empty array of strings")
        dimensions = body.get("dimensions", self.embedding_dimensions)
        embedder = HashingEmbedder(int(dimensions))
        data = [
            {"object": "embedding", "index": i, "embedding": embedder.embed_one(t)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": list(reversed(data)),  # servers need not keep the order: index does
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _completions(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(
                RecordedRequest(request.method, request.url.path, dict(request.headers), body)
            )
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return self._error(401, "Incorrect API key provided.", "invalid_api_key")
        if not isinstance(body, dict):
            return self._error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body.get("model"), str):
            return self._error(400, "you must provide a model parameter")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "'messages' must be a non-empty array")
        with self._lock:
            reply = self._script.popleft() if self._script else None
        if reply is None:
            return self._error(418, "the test server has no scripted reply for this request")
        if reply.delay and await _client_left_during(request, reply.delay):
            return Response(status_code=499)
        if reply.status != 200:
            return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)
        if body.get("stream") is True and not reply.json_only:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._chunks(reply, include_usage),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache", **reply.headers},
            )
        return JSONResponse(_completion(reply), headers=reply.headers)

    async def _chunks(self, reply: Reply, include_usage: bool) -> AsyncIterator[bytes]:
        created = int(time.time())
        frames: list[str] = []
        for delta in reply.deltas:
            if isinstance(delta, Raw):
                frames.append(delta.data)
            elif "error" in delta and len(delta) == 1:
                frames.append(json.dumps(delta))
            else:
                frames.append(json.dumps(_chunk(reply, created, delta, None)))
        if reply.finish_reason is not None:
            frames.append(json.dumps(_chunk(reply, created, {}, reply.finish_reason)))
        if include_usage and reply.usage is not None:
            usage_chunk = _chunk(reply, created, None, None)
            usage_chunk["choices"] = []
            usage_chunk["usage"] = _usage(reply.usage)
            frames.append(json.dumps(usage_chunk))
        sent, whole = 0, False
        try:
            for frame in frames:
                if reply.drop_after is not None and sent >= reply.drop_after:
                    raise _Dropped
                if reply.frame_delay:
                    await asyncio.sleep(reply.frame_delay)
                if reply.stall_after is not None and sent == reply.stall_after:
                    await asyncio.sleep(reply.stall_for)
                yield f"data: {frame}\n\n".encode()
                sent += 1
            if reply.drop_after is not None and sent >= reply.drop_after:
                raise _Dropped
            if reply.done:
                yield b"data: [DONE]\n\n"
            whole = True
        finally:
            with self._lock:
                self.streams.append((sent, whole))


async def _client_left_during(request: Request, seconds: float) -> bool:
    """Wait, but stop as soon as the client hangs up (a timed-out client), so that the
    server's shutdown never waits for a handler sleeping for nobody."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(0.02)
    return False


def _usage(usage: tuple[int, int]) -> dict[str, int]:
    prompt, completion = usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunk(
    reply: Reply, created: int, delta: dict[str, Any] | None, finish: str | None
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": created,
        "model": reply.model,
        "system_fingerprint": "fp_test",
        "choices": [],
    }
    if delta is not None:
        chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return chunk


def _completion(reply: Reply) -> dict[str, Any]:
    """The non-streamed form of the same reply: the deltas merged into one message."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for delta in reply.deltas:
        if isinstance(delta, Raw):
            continue
        if delta.get("content"):
            content.append(delta["content"])
        if delta.get("reasoning_content"):
            reasoning.append(delta["reasoning_content"])
        for fragment in delta.get("tool_calls") or []:
            call = calls.setdefault(
                fragment["index"],
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            call["id"] = fragment.get("id") or call["id"]
            function = fragment.get("function") or {}
            call["function"]["name"] = function.get("name") or call["function"]["name"]
            call["function"]["arguments"] += function.get("arguments") or ""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    result: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}
        ],
    }
    if reply.usage is not None:
        result["usage"] = _usage(reply.usage)
    return result
