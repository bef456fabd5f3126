"""A fake of the Workers AI binding (``env.AI``), for tests in CPython.

It follows the binding's documented behaviour: ``await run(model, inputs, options?)``
validates its inputs (a dict crossing into JS: no tuples or bytearrays, messages with string
content), answers with a JSON object ``{"response", "tool_calls", "usage"}``, or, when
``inputs["stream"]`` is true, with a ReadableStream of Server-Sent Events
(``data: {"response": "..."}`` frames, then ``data: [DONE]``) whose reader hands out
Uint8Array-like chunks (``value.to_bytes()``). The same scripted :class:`AIReply` is
rendered either way, so one script serves both modes; a :class:`FakeReadableStream` or an
exception can be scripted directly for anything unusual.

Why a fake: the local runtime has no Workers AI of its own (``wrangler dev`` sends ``env.AI``
to Cloudflare, which needs an account and the network, and tests reach neither), so this
is the only way to run the adapter's streaming and tool-call paths offline. Test code: a
Worker's upload leaves :mod:`helix_agents.testing` out (docs/deploy.md).
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AICall",
    "AIReply",
    "FakeAIBinding",
    "FakeAIError",
    "FakeReadResult",
    "FakeReadableStream",
    "FakeStreamReader",
    "FakeUint8Array",
]

_ROLES = {"system", "user", "assistant", "tool"}


class FakeAIError(Exception):
    """What the binding throws (an ``AiError`` / ``InferenceUpstreamError`` in a Worker,
    surfacing in Python as a JsException whose text is the JS error's)."""


class FakeUint8Array:
    """A chunk as Pyodide hands it over: a proxy with ``to_bytes()``."""

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)

    def to_bytes(self) -> bytes:
        return self._data

    @property
    def length(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class FakeReadResult:
    done: bool
    value: FakeUint8Array | None = None


class FakeStreamReader:
    def __init__(self, stream: FakeReadableStream) -> None:
        self._stream = stream

    async def read(self) -> FakeReadResult:
        return await self._stream._read()

    async def cancel(self, reason: Any = None) -> None:
        self._stream.cancelled = True

    def releaseLock(self) -> None:
        self._stream.locked = False


class FakeReadableStream:
    """A ReadableStream of byte chunks. ``error_after`` makes the read after that many chunks
    throw (a connection lost upstream)."""

    def __init__(self, chunks: Sequence[bytes], *, error_after: int | None = None) -> None:
        self._chunks = deque(bytes(c) for c in chunks)
        self._error_after = error_after
        self._reads = 0
        self.locked = False
        self.cancelled = False

    def getReader(self) -> FakeStreamReader:
        if self.locked:
            raise TypeError(
                "ReadableStreamDefaultReader constructor can only accept readable streams that are not yet locked to a reader"
            )
        self.locked = True
        return FakeStreamReader(self)

    async def _read(self) -> FakeReadResult:
        if self.cancelled:
            return FakeReadResult(done=True)
        if self._error_after is not None and self._reads >= self._error_after:
            raise FakeAIError("Network connection lost.")
        self._reads += 1
        if not self._chunks:
            return FakeReadResult(done=True)
        return FakeReadResult(done=False, value=FakeUint8Array(self._chunks.popleft()))


@dataclass
class AIReply:
    """A scripted answer, rendered as JSON or as SSE depending on ``inputs["stream"]``.

    ``tool_calls`` are ``{"name": ..., "arguments": {...}}`` (add ``"id"`` to set one).
    ``dialect="openai"`` streams ``choices[0].delta`` frames instead of native ones.
    ``chunk_size`` splits the SSE bytes into chunks of that many bytes, cutting through
    lines and characters; ``error_after`` breaks the stream after that many chunks;
    ``done=False`` leaves out the final ``data: [DONE]``.
    """

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] | None = None
    dialect: Literal["native", "openai"] = "native"
    chunk_size: int | None = None
    error_after: int | None = None
    done: bool = True

    def usage_object(self) -> dict[str, int]:
        if self.usage is not None:
            return dict(self.usage)
        completion = len(self.text.split()) + len(self.tool_calls)
        return {
            "prompt_tokens": 10,
            "completion_tokens": completion,
            "total_tokens": 10 + completion,
        }

    def to_json(self) -> dict[str, Any]:
        """The non-streamed answer, in the documented output shape."""
        if self.dialect == "openai":
            message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
            if self.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": call.get("id", f"chatcmpl-tool-{index}"),
                        "type": "function",
                        "function": {
                            "name": call["name"],
                            "arguments": json.dumps(call.get("arguments", {})),
                        },
                    }
                    for index, call in enumerate(self.tool_calls)
                ]
            finish = "tool_calls" if self.tool_calls else "stop"
            return {
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": self.usage_object(),
            }
        body: dict[str, Any] = {"response": self.text if self.text or not self.tool_calls else None}
        if self.tool_calls:
            body["tool_calls"] = [dict(call) for call in self.tool_calls]
        body["usage"] = self.usage_object()
        return body

    def frames(self) -> list[dict[str, Any]]:
        """The streamed answer's ``data:`` payloads (without ``[DONE]``)."""
        words = _split_words(self.text)
        frames: list[dict[str, Any]] = []
        if self.dialect == "openai":
            for word in words:
                frames.append(
                    {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                )
            for index, call in enumerate(self.tool_calls):
                arguments = json.dumps(call.get("arguments", {}))
                half = len(arguments) // 2
                first = {
                    "index": index,
                    "id": call.get("id", f"chatcmpl-tool-{index}"),
                    "type": "function",
                    "function": {"name": call["name"], "arguments": arguments[:half]},
                }
                frames.append(
                    {
                        "choices": [
                            {"index": 0, "delta": {"tool_calls": [first]}, "finish_reason": None}
                        ]
                    }
                )
                rest = {"index": index, "function": {"arguments": arguments[half:]}}
                frames.append(
                    {
                        "choices": [
                            {"index": 0, "delta": {"tool_calls": [rest]}, "finish_reason": None}
                        ]
                    }
                )
            finish = "tool_calls" if self.tool_calls else "stop"
            frames.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
            frames.append({"choices": [], "usage": self.usage_object()})
            return frames
        for word in words:
            frames.append(
                {"response": word, "p": "abcdefghijklmnopqrstuvwxyz0123456789"[: len(word) % 7 + 1]}
            )
        for index, call in enumerate(self.tool_calls):
            # Start, argument pieces, then the null "finalisation" fragment the binding sends.
            arguments = json.dumps(call.get("arguments", {}))
            half = len(arguments) // 2
            start: dict[str, Any] = {
                "index": index,
                "type": "function",
                "function": {"name": call["name"]},
            }
            start["id"] = call.get("id")
            frames.append({"response": "", "tool_calls": [start]})
            frames.append(
                {
                    "response": "",
                    "tool_calls": [{"index": index, "function": {"arguments": arguments[:half]}}],
                }
            )
            frames.append(
                {
                    "response": "",
                    "tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}],
                }
            )
            frames.append(
                {
                    "response": "",
                    "tool_calls": [{"id": None, "type": None, "function": {"name": None}}],
                }
            )
        frames.append({"response": "", "usage": self.usage_object()})
        return frames

    def to_stream(self) -> FakeReadableStream:
        body = "".join(f"data: {json.dumps(frame)}\n\n" for frame in self.frames())
        if self.done:
            body += "data: [DONE]\n\n"
        data = body.encode("utf-8")
        size = self.chunk_size or max(len(data), 1)
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        return FakeReadableStream(chunks, error_after=self.error_after)


def _split_words(text: str) -> list[str]:
    pieces: list[str] = []
    current = ""
    for char in text:
        current += char
        if char == " ":
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


@dataclass(frozen=True)
class AICall:
    model: str
    inputs: dict[str, Any]
    options: dict[str, Any] | None


Scripted = (
    AIReply
    | FakeReadableStream
    | dict[str, Any]
    | str
    | BaseException
    | Callable[[str, dict[str, Any]], Any]
)


class FakeAIBinding:
    """``env.AI`` for tests: answers ``run`` from a script, records every call.

    Script items (used in order, one per call): an :class:`AIReply`; a dict (returned as the
    JSON answer); a :class:`FakeReadableStream` (returned as it is); an exception (thrown); or
    a function ``(model, inputs) -> any of those``.
    """

    def __init__(self, *script: Scripted) -> None:
        self._script: deque[Scripted] = deque(script)
        self.calls: list[AICall] = []

    def add(self, *items: Scripted) -> None:
        self._script.extend(items)

    @property
    def pending(self) -> int:
        return len(self._script)

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> Any:
        _check_crosses_into_js(inputs, "inputs")
        if options is not None:
            _check_crosses_into_js(options, "options")
        if not isinstance(model, str) or not model.startswith(("@cf/", "@hf/")):
            raise FakeAIError(f"AiError: 5007: No such model {model}")
        _check_inputs(inputs)
        self.calls.append(AICall(model, copy.deepcopy(inputs), copy.deepcopy(options)))
        if not self._script:
            raise FakeAIError(
                "InferenceUpstreamError: the fake binding has no scripted response left"
            )
        item = self._script.popleft()
        if callable(item) and not isinstance(item, BaseException | AIReply | FakeReadableStream):
            item = item(model, inputs)
        if isinstance(item, BaseException):
            raise item
        stream = bool(inputs.get("stream"))
        if isinstance(item, AIReply):
            return item.to_stream() if stream else item.to_json()
        return copy.deepcopy(item) if isinstance(item, dict) else item


def _check_crosses_into_js(value: Any, where: str) -> None:
    """python_to_rpc refuses tuples and bytearrays (workers SDK, §1.5 of the facts)."""
    if isinstance(value, tuple | bytearray):
        raise TypeError(f"{where}: {type(value).__name__} cannot be converted to a JS value")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: object keys must be strings, got {key!r}")
            _check_crosses_into_js(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_crosses_into_js(item, f"{where}[{index}]")


def _check_inputs(inputs: Any) -> None:
    """The text-generation input schema's checks that a caller can get wrong."""
    if not isinstance(inputs, dict):
        raise FakeAIError("AiError: 5006: Error: type at '/' must be object")
    if "messages" not in inputs and "prompt" not in inputs:
        raise FakeAIError(
            "AiError: 5006: Error: required properties at '/' are 'prompt' or 'messages'"
        )
    messages = inputs.get("messages", [])
    if not isinstance(messages, list):
        raise FakeAIError("AiError: 5006: Error: type at '/messages' must be array")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise FakeAIError(f"AiError: 5006: Error: type at '/messages/{index}' must be object")
        if message.get("role") not in _ROLES:
            raise FakeAIError(f"AiError: 5006: Error: invalid role at '/messages/{index}/role'")
        if not isinstance(message.get("content"), str):
            raise FakeAIError(
                f"AiError: 5006: Error: type at '/messages/{index}/content' must be string"
            )
    tools = inputs.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise FakeAIError("AiError: 5006: Error: type at '/tools' must be array")
        for index, tool in enumerate(tools):
            function = tool.get("function", tool) if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise FakeAIError(
                    f"AiError: 5006: Error: required properties at '/tools/{index}' are 'name'"
                )
