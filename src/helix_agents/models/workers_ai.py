"""The Workers AI adapter, over the ``AI`` binding (``env.AI``) of a Cloudflare Worker.

``await binding.run(model, inputs, options?)`` answers with a JSON object, or, for
``stream: True``, with a JS ``ReadableStream`` of Server-Sent Events. The stream is read
duck-typed (``getReader()``, ``await reader.read()`` giving ``.done`` and ``.value``, bytes
via ``value.to_bytes()``), so this module never imports ``js`` and runs on CPython against
:class:`helix_agents.testing.workers_ai.FakeAIBinding`.

Models answer in two dialects, and both are read: the native one (``{"response": "..."}``
frames, ``tool_calls`` as ``{"name", "arguments"}``) and the OpenAI one (``choices[0].delta``)
that newer models use. The binding's errors carry no reliable status, so this adapter does
not retry: a failure becomes a ModelError and the durable step retries the model call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from ..errors import (
    ConfigurationError,
    ModelError,
    ModelProtocolError,
    ModelStreamInterruptedError,
)
from ..ports.model import ModelEvent, ModelRequest
from ._assemble import ResponseAssembler
from ._openai_format import (
    ErrorFrame,
    apply_chunk,
    apply_completion,
    apply_tool_calls,
    parse_usage,
    to_openai_messages,
    to_openai_tools,
)
from ._requests import check_model_request
from ._sse import SSEDecoder

__all__ = ["WorkersAIModel"]


class WorkersAIModel:
    """A Model over the Workers AI binding.

    ``stream=False`` asks for one JSON answer instead of SSE (some models do not stream with
    tools); either way the adapter reads whatever the binding returns. ``options`` is the
    binding's third argument (e.g. ``{"gateway": {"id": "my-gateway"}}``).
    """

    def __init__(
        self,
        model_name: str,
        binding: Any,
        *,
        stream: bool = True,
        options: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if not model_name:
            raise ConfigurationError("WorkersAIModel needs a model name, e.g. '@cf/meta/...'")
        if binding is None or not callable(getattr(binding, "run", None)):
            raise ConfigurationError(
                f"WorkersAIModel({model_name!r}) needs the Workers AI binding (env.AI), an "
                f"object with an async run(model, inputs) method; got {binding!r}"
            )
        self.model_name = model_name
        self.binding = binding
        self.streaming = stream
        self.options = dict(options) if options else None
        self.name = name or f"workers-ai:{model_name}"

    def __repr__(self) -> str:
        return f"WorkersAIModel({self.model_name!r})"

    def inputs(self, request: ModelRequest) -> dict[str, Any]:
        """The ``inputs`` object passed to ``binding.run``. Only dicts, lists, str, numbers,
        bools and None: tuples and bytearrays cannot cross into JS."""
        inputs: dict[str, Any] = {
            "messages": to_openai_messages(
                request.system, request.messages, null_content=False, tool_names=True
            )
        }
        if request.tools:
            inputs["tools"] = to_openai_tools(request.tools)
        if self.streaming:
            inputs["stream"] = True
        settings = request.settings
        if settings.temperature is not None:
            inputs["temperature"] = settings.temperature
        if settings.max_tokens is not None:
            inputs["max_tokens"] = settings.max_tokens
        inputs.update(settings.extra)
        return inputs

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        check_model_request(self.name)
        inputs = self.inputs(request)
        try:
            if self.options is not None:
                result = await self.binding.run(self.model_name, inputs, self.options)
            else:
                result = await self.binding.run(self.model_name, inputs)
        except Exception as exc:  # a JsException in a Worker; its text names the JS error
            raise ModelError(f"{self.name}: {_error_text(exc)}") from None
        # Ids are made up for calls that come without one; the history length keeps them
        # unique within a session and stable if the same request is answered again.
        assembler = ResponseAssembler(call_id_prefix=f"call_{len(request.messages)}")
        if hasattr(result, "getReader"):
            # aclosing: a consumer that leaves early must release the JS stream now, not
            # whenever the inner generator happens to be collected.
            async with aclosing(self._read_stream(result, assembler)) as events:
                async for event in events:
                    yield event
        else:
            for event in _apply_object(_to_py(result), assembler, self.name):
                yield event
        if assembler.model_name is None:
            assembler.model_name = self.model_name
        yield assembler.build()

    async def _read_stream(
        self, body: Any, assembler: ResponseAssembler
    ) -> AsyncGenerator[ModelEvent, None]:
        reader = body.getReader()
        decoder = SSEDecoder()
        yielded = False
        saw_done = False
        eof = False

        def failure(message: str) -> ModelError:
            # Once deltas went out, only a retry of the whole step can hide them.
            if yielded:
                return ModelStreamInterruptedError(f"{self.name}: {message}")
            return ModelError(f"{self.name}: {message}")

        try:
            while not (saw_done or eof):
                try:
                    chunk = await reader.read()
                except Exception as exc:
                    raise failure(f"reading the stream failed: {_error_text(exc)}") from None
                if getattr(chunk, "done", False):
                    eof = True
                    events = decoder.close()
                else:
                    events = decoder.feed(_to_bytes(getattr(chunk, "value", None)))
                for sse in events:
                    data = sse.data.strip()
                    if data == "[DONE]":
                        saw_done = True
                        break
                    if not data:
                        continue
                    try:
                        for event in _apply_frame(_frame(data, self.name), assembler):
                            yielded = True
                            yield event
                    except ErrorFrame as frame_error:
                        raise failure(f"the model failed: {frame_error}") from None
        finally:
            if not eof:
                # Stopped before the end (done, failed, or the consumer left): release the
                # stream so the binding stops generating for nobody.
                await _cancel(reader)
        if not saw_done and assembler.finish_reason is None:
            raise failure("the stream ended before [DONE]")


def _frame(data: str, name: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise ModelProtocolError(f"{name}: a stream frame is not JSON: {data[:200]!r}") from None


def _native_text(value: Any) -> str:
    """The native ``response`` field: a string, but a JSON object with ``response_format``,
    a number now and then, and null when the model only called tools."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _apply_native(
    body: dict[str, Any], assembler: ResponseAssembler, what: str
) -> list[ModelEvent]:
    events: list[ModelEvent] = []
    text = assembler.add_text(_native_text(body.get("response")))
    if text is not None:
        events.append(text)
    events.extend(apply_tool_calls(body.get("tool_calls"), assembler, what))
    usage = parse_usage(body.get("usage"))
    if usage is not None:
        assembler.set_usage(usage)
    finish = body.get("finish_reason")
    if isinstance(finish, str):
        assembler.finish_reason = finish
    return events


def _apply_frame(frame: Any, assembler: ResponseAssembler) -> list[ModelEvent]:
    if not isinstance(frame, dict):
        raise ModelProtocolError(f"a stream frame is not a JSON object: {frame!r:.200}")
    if "choices" in frame or frame.get("error") is not None:
        return apply_chunk(frame, assembler)
    return _apply_native(frame, assembler, "stream frame")


def _apply_object(result: Any, assembler: ResponseAssembler, name: str) -> list[ModelEvent]:
    """A non-streamed answer."""
    if isinstance(result, str):
        # Not a documented shape, but cheap to accept: a model that returned bare text.
        event = assembler.add_text(result)
        return [event] if event is not None else []
    if not isinstance(result, dict):
        raise ModelProtocolError(f"{name}: unexpected answer from the binding: {result!r:.200}")
    try:
        if "choices" in result or result.get("error") is not None:
            return apply_completion(result, assembler)
        return _apply_native(result, assembler, "answer")
    except ErrorFrame as frame_error:
        raise ModelError(f"{name}: the model failed: {frame_error}") from None


def _to_py(value: Any) -> Any:
    """A JS object as Python. The PyPI workers SDK already converts binding results (to a
    dict subclass); the runtime's built-in SDK hands back a JsProxy with ``to_py``."""
    to_py = getattr(value, "to_py", None)
    if callable(to_py) and not isinstance(value, dict):
        return to_py()
    return value


def _to_bytes(value: Any) -> bytes:
    """A chunk of the stream: a Uint8Array proxy in a Worker (``to_bytes``), bytes in tests."""
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    to_bytes = getattr(value, "to_bytes", None)
    if callable(to_bytes):
        data = to_bytes()
        if isinstance(data, bytes | bytearray | memoryview):
            return bytes(data)
    raise ModelProtocolError(f"a stream chunk is not bytes: {type(value).__name__}")


async def _cancel(reader: Any) -> None:
    cancel = getattr(reader, "cancel", None)
    if not callable(cancel):
        return
    try:
        pending = cancel()
        if hasattr(pending, "__await__"):
            await pending
    except Exception:
        # Best effort: the stream may already be closed or errored; nothing to report.
        return


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
