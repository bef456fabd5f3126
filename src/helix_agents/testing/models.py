"""Deterministic models for tests: no LLM, no network, no randomness.

Not fakes of anything: they are the models a test (or a user's own test suite) runs agents
on, and stay in this package, which a deployed Worker leaves out (docs/deploy.md); the demo
model the bundled examples use is :mod:`helix_agents.models.demo`, and the pieces both share
are in :mod:`helix_agents.models._offline`.

- :class:`TestModel` exercises an agent end to end: on the first request of a turn it calls
  every tool offered, with arguments valid for each tool's JSON schema; once the results are
  in, it answers in text (streamed word by word) or, with structured output, calls the output
  tool with valid arguments.
- :class:`FunctionModel` lets a Python function decide each response, streamed or not::

      def model(messages, info):
          if not info.tool_results:
              return call_tool("get_weather", city="Paris")
          return "It is sunny in Paris."
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ..errors import ConfigurationError
from ..messages import Message, ToolCall, ToolResultMessage, UserMessage
from ..models._assemble import ResponseAssembler
from ..models._offline import WORDS as _WORDS
from ..models._offline import compact as _compact
from ..models._offline import example_arguments
from ..models._offline import usage_in_words as _usage
from ..models._offline import with_ids as _with_ids
from ..ports.model import (
    ModelEvent,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolDefinition,
)
from ..usage import Usage

__all__ = [
    "AgentInfo",
    "FunctionModel",
    "StreamItem",
    "TestModel",
    "call_tool",
    "example_arguments",
]


@dataclass(frozen=True)
class AgentInfo:
    """What a :class:`FunctionModel`'s function knows about the request besides the messages."""

    request: ModelRequest

    @property
    def system(self) -> str:
        return self.request.system

    @property
    def tools(self) -> list[ToolDefinition]:
        """Every tool offered, the output tool included."""
        return list(self.request.tools)

    @property
    def function_tools(self) -> list[ToolDefinition]:
        """The tools offered, without the output tool."""
        return [t for t in self.request.tools if t.name != self.request.output_tool]

    @property
    def output_tool(self) -> ToolDefinition | None:
        """The structured-output tool the model must end with, if any."""
        name = self.request.output_tool
        return next((t for t in self.request.tools if t.name == name), None)

    @property
    def settings(self) -> ModelSettings:
        return self.request.settings

    @property
    def tool_results(self) -> list[ToolResultMessage]:
        """The tool results since the last user message: empty on a turn's first request."""
        return _turn_tool_results(self.request.messages)

    @property
    def last_user_message(self) -> str | None:
        for message in reversed(self.request.messages):
            if isinstance(message, UserMessage):
                return message.content
        return None

    def tool(self, name: str) -> ToolDefinition | None:
        return next((t for t in self.request.tools if t.name == name), None)


def call_tool(name: str, /, **arguments: Any) -> ToolCall:
    """A tool call for a :class:`FunctionModel` to return; the model gives it an id."""
    return ToolCall(id="", name=name, arguments=arguments)


# -- TestModel -------------------------------------------------------------------------------


class TestModel:
    """Calls every tool once, then answers; finishes through the output tool when asked to.

    ``call_tools`` limits the tools called to the names given. ``custom_output_text``
    replaces the default answer (a summary of the tool results); ``custom_output_args`` the
    generated output-tool arguments. ``delta_delay`` (seconds) spaces out the streamed deltas
    for demos; it is zero by default, so the model costs nothing but CPU.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        *,
        call_tools: Literal["all"] | Sequence[str] = "all",
        custom_output_text: str | None = None,
        custom_output_args: dict[str, Any] | None = None,
        delta_delay: float = 0.0,
        name: str = "test",
    ) -> None:
        if call_tools != "all" and isinstance(call_tools, str):
            raise ConfigurationError("call_tools must be 'all' or a list of tool names")
        self.call_tools = call_tools
        self.custom_output_text = custom_output_text
        self.custom_output_args = custom_output_args
        self.delta_delay = delta_delay
        self.name = name

    def __repr__(self) -> str:
        return f"TestModel(call_tools={self.call_tools!r})"

    def _tools_to_call(self, request: ModelRequest) -> list[ToolDefinition]:
        return [
            t
            for t in request.tools
            if t.name != request.output_tool
            and (self.call_tools == "all" or t.name in self.call_tools)
        ]

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        calls: list[ToolCall] = []
        text = ""
        to_call = self._tools_to_call(request)
        if to_call and not _turn_tool_results(request.messages):
            calls = [ToolCall(id="", name=t.name, arguments=example_arguments(t)) for t in to_call]
        elif request.output_tool is not None:
            output = next((t for t in request.tools if t.name == request.output_tool), None)
            if self.custom_output_args is not None:
                arguments = dict(self.custom_output_args)
            elif output is not None:
                arguments = example_arguments(output)
            else:
                arguments = {}
            calls = [ToolCall(id="", name=request.output_tool, arguments=arguments)]
        else:
            text = (
                self.custom_output_text
                if self.custom_output_text is not None
                else _default_answer(request.messages)
            )
        calls = _with_ids(calls, request.messages)
        for piece in _WORDS.findall(text):
            await self._pause()
            yield TextDelta(piece)
        for index, call in enumerate(calls):
            # Two pieces per call, so that streamed tool input is visible too.
            encoded = _compact(call.arguments)
            half = len(encoded) // 2
            await self._pause()
            yield ToolCallDelta(
                index=index, id=call.id, name=call.name, arguments_delta=encoded[:half]
            )
            await self._pause()
            yield ToolCallDelta(index=index, arguments_delta=encoded[half:])
        yield ModelResponse(
            text=text,
            tool_calls=calls,
            usage=_usage(request, text, calls),
            finish_reason="tool-calls" if calls else "stop",
            model_name=self.name,
        )

    async def _pause(self) -> None:
        if self.delta_delay > 0:
            await asyncio.sleep(self.delta_delay)


def _default_answer(messages: Sequence[Message]) -> str:
    results = _turn_tool_results(messages)
    if results:
        parts = []
        for result in results:
            content = result.content
            text = content if isinstance(content, str) else _compact(content)
            if result.status == "success":
                parts.append(f"{result.tool_name} returned {text}")
            elif result.status == "error":
                parts.append(f"{result.tool_name} failed ({text})")
            else:
                parts.append(f"{result.tool_name} was denied")
        return "Tool results: " + "; ".join(parts) + "."
    last = next((m.content for m in reversed(messages) if isinstance(m, UserMessage)), None)
    if last is None:
        return "Hello from the test model."
    quoted = last if len(last) <= 200 else last[:197] + "..."
    return f"Test model reply to: {quoted}"


# -- FunctionModel ---------------------------------------------------------------------------

#: What a FunctionModel's function may return.
FunctionResult: TypeAlias = ModelResponse | str | ToolCall | Sequence[ToolCall]
#: What a FunctionModel's stream function may yield.
StreamItem: TypeAlias = str | TextDelta | ReasoningDelta | ToolCallDelta | ToolCall | Usage
ResponseFunction: TypeAlias = Callable[
    [list[Message], AgentInfo], FunctionResult | Awaitable[FunctionResult]
]
StreamFunction: TypeAlias = Callable[[list[Message], AgentInfo], AsyncIterator[StreamItem]]


class FunctionModel:
    """A model whose every response is decided by Python.

    ``function(messages, info)`` (sync or async) returns a :class:`ModelResponse`, a string
    (the text), a :class:`ToolCall` (see :func:`call_tool`) or a list of them.
    ``stream_function(messages, info)`` is an async generator yielding text (``str`` or
    :class:`TextDelta`), :class:`ReasoningDelta`, :class:`ToolCallDelta` pieces, whole
    :class:`ToolCall` objects and optionally a :class:`Usage`; the final response is assembled
    from them. When both are given, ``stream_function`` is used. Tool calls without an id get
    a deterministic one; usage not given is counted in words.
    """

    def __init__(
        self,
        function: ResponseFunction | None = None,
        *,
        stream_function: StreamFunction | None = None,
        name: str = "function",
    ) -> None:
        if function is None and stream_function is None:
            raise ConfigurationError("FunctionModel needs a function or a stream_function")
        self.function = function
        self.stream_function = stream_function
        self.name = name

    def __repr__(self) -> str:
        target = self.stream_function or self.function
        return f"FunctionModel({getattr(target, '__name__', target)!r})"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        messages = list(request.messages)
        info = AgentInfo(request)
        if self.stream_function is not None:
            async with aclosing(self._streamed(messages, info)) as events:
                async for event in events:
                    yield event
            return
        assert self.function is not None
        result = self.function(messages, info)
        if inspect.isawaitable(result):
            result = await result
        response = _normalise(result, request, self.name)
        if response.reasoning:
            yield ReasoningDelta(response.reasoning)
        if response.text:
            yield TextDelta(response.text)
        for index, call in enumerate(response.tool_calls):
            yield ToolCallDelta(
                index=index, id=call.id, name=call.name, arguments_delta=_compact(call.arguments)
            )
        yield response

    async def _streamed(
        self, messages: list[Message], info: AgentInfo
    ) -> AsyncGenerator[ModelEvent, None]:
        assert self.stream_function is not None
        request = info.request
        assembler = ResponseAssembler(call_id_prefix=f"call_{len(request.messages)}")
        usage: Usage | None = None
        async for item in self.stream_function(messages, info):
            event: ModelEvent | None
            if isinstance(item, str):
                event = assembler.add_text(item)
            elif isinstance(item, TextDelta):
                event = assembler.add_text(item.text)
            elif isinstance(item, ReasoningDelta):
                event = assembler.add_reasoning(item.text)
            elif isinstance(item, ToolCallDelta):
                event = assembler.add_tool_call(
                    index=item.index, id=item.id, name=item.name, arguments=item.arguments_delta
                )
            elif isinstance(item, ToolCall):
                event = assembler.add_tool_call(
                    index=assembler.next_index(),
                    id=item.id or None,
                    name=item.name,
                    arguments=item.raw_arguments if item.raw_arguments else item.arguments,
                )
            elif isinstance(item, Usage):
                usage = item
                event = None
            else:
                raise ConfigurationError(
                    f"a FunctionModel stream function yielded {type(item).__name__}; expected "
                    "str, TextDelta, ReasoningDelta, ToolCallDelta, ToolCall or Usage"
                )
            if event is not None:
                yield event
        assembler.model_name = self.name
        response = assembler.build()
        if usage is None:
            usage = _usage(request, response.text, response.tool_calls)
        else:
            usage = usage.model_copy(update={"requests": max(usage.requests, 1)})
        yield dataclasses.replace(response, usage=usage)


def _normalise(result: Any, request: ModelRequest, name: str) -> ModelResponse:
    # A text or calls are taken as they are, not first made a ModelResponse of their own
    # (whose default usage would be one more Usage built on every call).
    text, reasoning, finish, model_name = "", None, "stop", None
    usage: Usage | None = None
    if isinstance(result, ModelResponse):
        text, reasoning, calls = result.text, result.reasoning, result.tool_calls
        finish, model_name = result.finish_reason, result.model_name
        usage = None if result.usage.is_empty else result.usage
    elif isinstance(result, str):
        text, calls = result, []
    elif isinstance(result, ToolCall):
        calls = [result]
    elif isinstance(result, Sequence) and all(isinstance(c, ToolCall) for c in result):
        calls = list(result)
    else:
        raise ConfigurationError(
            f"a FunctionModel function returned {type(result).__name__}; expected a "
            "ModelResponse, a str, a ToolCall or a list of ToolCalls"
        )
    calls = _with_ids(calls, request.messages)
    if calls and finish == "stop":
        finish = "tool-calls"
    return ModelResponse(
        text=text,
        reasoning=reasoning,
        tool_calls=calls,
        usage=usage if usage is not None else _usage(request, text, calls),
        finish_reason=finish,
        model_name=model_name or name,
    )


# -- shared ----------------------------------------------------------------------------------


def _turn_tool_results(messages: Sequence[Message]) -> list[ToolResultMessage]:
    results: list[ToolResultMessage] = []
    for message in reversed(messages):
        if isinstance(message, UserMessage):
            break
        if isinstance(message, ToolResultMessage):
            results.append(message)
    results.reverse()
    return results
