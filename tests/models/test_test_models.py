"""TestModel and FunctionModel: deterministic models that need no LLM."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from helix_agents.errors import ConfigurationError, ModelError
from helix_agents.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from helix_agents.ports.model import (
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolDefinition,
)
from helix_agents.testing import AgentInfo, FunctionModel, TestModel, call_tool
from helix_agents.usage import Usage
from tests.models.helpers import collect, reasonings, texts, tool_deltas


class SearchArgs(BaseModel):
    query: str = Field(min_length=3)
    limit: int = Field(default=10, ge=1, le=50)
    sort: Literal["relevance", "date"] = "relevance"


class Point(BaseModel):
    x: float
    y: float


class DrawArgs(BaseModel):
    points: list[Point] = Field(min_length=2)
    closed: bool = False
    label: str | None = None


class NoArgs(BaseModel):
    pass


class Report(BaseModel):
    """The final report."""

    title: str
    score: int = Field(ge=0, le=100)
    tags: list[str]


def definition(name: str, model: type[BaseModel]) -> ToolDefinition:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return ToolDefinition(name=name, description=f"The {name} tool.", parameters=schema)


TOOLS: dict[str, type[BaseModel]] = {"search": SearchArgs, "draw": DrawArgs, "ping": NoArgs}
TOOL_DEFS = [definition(name, model) for name, model in TOOLS.items()]


def request(messages: list[Message], **options: Any) -> ModelRequest:
    return ModelRequest(system="You test things.", messages=messages, **options)


def results_for(calls: list[ToolCall], content: Any = "ok") -> list[Message]:
    return [ToolResultMessage(tool_call_id=c.id, tool_name=c.name, content=content) for c in calls]


# -- TestModel -------------------------------------------------------------------------------


async def test_first_request_calls_every_tool_with_valid_arguments() -> None:
    _, response = await collect(TestModel(), request([UserMessage(content="go")], tools=TOOL_DEFS))
    assert [c.name for c in response.tool_calls] == ["search", "draw", "ping"]
    for call in response.tool_calls:
        TOOLS[call.name].model_validate(call.arguments)
    assert response.finish_reason == "tool-calls"
    assert response.text == ""


async def test_tool_calls_are_streamed_and_match_the_response() -> None:
    events, response = await collect(
        TestModel(), request([UserMessage(content="go")], tools=TOOL_DEFS)
    )
    deltas = tool_deltas(events)
    for index, call in enumerate(response.tool_calls):
        mine = [d for d in deltas if d.index == index]
        assert mine[0].id == call.id
        assert mine[0].name == call.name
        assert json.loads("".join(d.arguments_delta for d in mine)) == call.arguments
    assert len({c.id for c in response.tool_calls}) == 3


async def test_then_answers_with_a_summary_of_the_results() -> None:
    model = TestModel()
    first = request([UserMessage(content="go")], tools=TOOL_DEFS)
    _, calls = await collect(model, first)
    history: list[Message] = [
        UserMessage(content="go"),
        calls.to_message(),
        ToolResultMessage(
            tool_call_id=calls.tool_calls[0].id, tool_name="search", content={"hits": 2}
        ),
        ToolResultMessage(
            tool_call_id=calls.tool_calls[1].id, tool_name="draw", content="boom", status="error"
        ),
        ToolResultMessage(tool_call_id=calls.tool_calls[2].id, tool_name="ping", status="denied"),
    ]
    events, answer = await collect(model, request(history, tools=TOOL_DEFS))
    assert answer.tool_calls == []
    assert answer.finish_reason == "stop"
    assert answer.text == (
        'Tool results: search returned {"hits":2}; draw failed (boom); ping was denied.'
    )
    # Streamed word by word, and the deltas add up to the text.
    assert len(texts(events)) == len(answer.text.split())
    assert "".join(texts(events)) == answer.text


async def test_without_tools_it_answers_at_once() -> None:
    events, response = await collect(TestModel(), request([UserMessage(content="Hi there")]))
    assert response.text == "Test model reply to: Hi there"
    assert texts(events) == ["Test ", "model ", "reply ", "to: ", "Hi ", "there"]


async def test_each_turn_calls_the_tools_again() -> None:
    model = TestModel(call_tools=["ping"])
    _, first = await collect(model, request([UserMessage(content="one")], tools=TOOL_DEFS))
    history: list[Message] = [
        UserMessage(content="one"),
        first.to_message(),
        *results_for(first.tool_calls),
    ]
    _, answer = await collect(model, request(history, tools=TOOL_DEFS))
    history += [answer.to_message(), UserMessage(content="two")]
    _, again = await collect(model, request(history, tools=TOOL_DEFS))
    assert [c.name for c in again.tool_calls] == ["ping"]
    assert again.tool_calls[0].id != first.tool_calls[0].id


async def test_call_tools_limits_the_calls_and_custom_text_replaces_the_answer() -> None:
    model = TestModel(call_tools=["search"], custom_output_text="All done.")
    _, first = await collect(model, request([UserMessage(content="go")], tools=TOOL_DEFS))
    assert [c.name for c in first.tool_calls] == ["search"]
    history = [UserMessage(content="go"), first.to_message(), *results_for(first.tool_calls)]
    _, answer = await collect(model, request(history, tools=TOOL_DEFS))
    assert answer.text == "All done."


async def test_structured_output_ends_with_valid_output_tool_arguments() -> None:
    tools = [*TOOL_DEFS, definition("final_result", Report)]
    model = TestModel()
    _, first = await collect(
        model, request([UserMessage(content="go")], tools=tools, output_tool="final_result")
    )
    assert "final_result" not in [c.name for c in first.tool_calls]
    history = [UserMessage(content="go"), first.to_message(), *results_for(first.tool_calls)]
    _, final = await collect(model, request(history, tools=tools, output_tool="final_result"))
    [call] = final.tool_calls
    assert call.name == "final_result"
    Report.model_validate(call.arguments)


async def test_structured_output_without_other_tools_goes_straight_to_the_output() -> None:
    tools = [definition("final_result", Report)]
    model = TestModel(custom_output_args={"title": "T", "score": 1, "tags": []})
    _, final = await collect(
        model, request([UserMessage(content="go")], tools=tools, output_tool="final_result")
    )
    assert [(c.name, c.arguments) for c in final.tool_calls] == [
        ("final_result", {"title": "T", "score": 1, "tags": []})
    ]


async def test_usage_is_counted_deterministically() -> None:
    req = request([UserMessage(content="count these four words")])
    _, one = await collect(TestModel(), req)
    _, two = await collect(TestModel(), req)
    assert one.usage == two.usage
    assert one.usage.input_tokens == len(
        ["You", "test", "things.", "count", "these", "four", "words"]
    )
    assert one.usage.output_tokens == len(one.text.split())
    assert one.usage.total_tokens == one.usage.input_tokens + one.usage.output_tokens
    assert one.usage.requests == 1


async def test_same_request_same_response() -> None:
    req = request([UserMessage(content="go")], tools=TOOL_DEFS)
    assert (await collect(TestModel(), req))[1] == (await collect(TestModel(), req))[1]


async def test_a_schema_it_cannot_satisfy_is_a_configuration_error() -> None:
    impossible = ToolDefinition(
        "bad",
        "",
        {
            "type": "object",
            "properties": {"n": {"type": "integer", "minimum": 2, "maximum": 1}},
            "required": ["n"],
        },
    )
    with pytest.raises(ConfigurationError, match="'bad'"):
        await collect(TestModel(), request([UserMessage(content="go")], tools=[impossible]))


def test_test_model_is_a_model_and_not_a_test_class() -> None:
    assert isinstance(TestModel(), Model)
    assert TestModel.__test__ is False
    with pytest.raises(ConfigurationError):
        TestModel(call_tools="search")


# -- FunctionModel ---------------------------------------------------------------------------


async def test_a_three_line_function_calls_a_tool_then_answers() -> None:
    def weather(messages: list[Message], info: AgentInfo) -> ToolCall | str:
        if not info.tool_results:
            return call_tool("search", query="weather in Paris")
        return f"Found: {info.tool_results[0].content}"

    model = FunctionModel(weather)
    events, first = await collect(model, request([UserMessage(content="?")], tools=TOOL_DEFS))
    [call] = first.tool_calls
    assert (call.name, call.arguments) == ("search", {"query": "weather in Paris"})
    assert call.id, "a call without an id gets one"
    assert first.finish_reason == "tool-calls"
    assert tool_deltas(events)[0].id == call.id
    history = [UserMessage(content="?"), first.to_message(), *results_for([call], "sunny")]
    events, second = await collect(model, request(history, tools=TOOL_DEFS))
    assert second.text == "Found: sunny"
    assert texts(events) == ["Found: sunny"]
    assert second.usage.requests == 1
    assert second.usage.total_tokens > 0


async def test_info_carries_the_request() -> None:
    seen: dict[str, Any] = {}

    def spy(messages: list[Message], info: AgentInfo) -> str:
        seen.update(
            system=info.system,
            tools=[t.name for t in info.tools],
            function_tools=[t.name for t in info.function_tools],
            output=info.output_tool.name if info.output_tool else None,
            temperature=info.settings.temperature,
            last=info.last_user_message,
            count=len(messages),
        )
        return "ok"

    tools = [*TOOL_DEFS, definition("final_result", Report)]
    req = request(
        [UserMessage(content="hi")],
        tools=tools,
        output_tool="final_result",
        settings=ModelSettings(temperature=0.3),
    )
    await collect(FunctionModel(spy), req)
    assert seen == {
        "system": "You test things.",
        "tools": ["search", "draw", "ping", "final_result"],
        "function_tools": ["search", "draw", "ping"],
        "output": "final_result",
        "temperature": 0.3,
        "last": "hi",
        "count": 1,
    }


async def test_async_functions_and_full_responses() -> None:
    async def respond(messages: list[Message], info: AgentInfo) -> ModelResponse:
        return ModelResponse(
            text="thinking done",
            reasoning="because",
            tool_calls=[ToolCall(id="mine", name="ping")],
            usage=Usage(input_tokens=3, output_tokens=4, total_tokens=7, requests=1),
            finish_reason="tool-calls",
        )

    events, response = await collect(FunctionModel(respond), request([UserMessage(content="x")]))
    assert reasonings(events) == ["because"]
    assert texts(events) == ["thinking done"]
    assert response.tool_calls[0].id == "mine"
    assert response.usage.total_tokens == 7
    assert response.model_name == "function"


async def test_a_list_of_calls_gets_distinct_ids() -> None:
    model = FunctionModel(lambda m, i: [call_tool("ping"), call_tool("ping")])
    _, response = await collect(model, request([UserMessage(content="x")]))
    assert len({c.id for c in response.tool_calls}) == 2


async def test_a_stream_function_yields_text_reasoning_and_calls() -> None:
    async def stream(messages: list[Message], info: AgentInfo) -> AsyncIterator[Any]:
        yield ReasoningDelta("Plan: ")
        yield ReasoningDelta("search.")
        yield "Let me "
        yield TextDelta("look.")
        yield ToolCallDelta(index=0, name="search", arguments_delta='{"query": ')
        yield ToolCallDelta(index=0, arguments_delta='"cats"}')
        yield call_tool("ping")
        yield Usage(input_tokens=1, output_tokens=2, total_tokens=3)

    events, response = await collect(
        FunctionModel(stream_function=stream), request([UserMessage(content="x")])
    )
    assert reasonings(events) == ["Plan: ", "search."]
    assert texts(events) == ["Let me ", "look."]
    assert response.text == "Let me look."
    assert response.reasoning == "Plan: search."
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("search", {"query": "cats"}),
        ("ping", {}),
    ]
    assert len({c.id for c in response.tool_calls}) == 2
    assert all(d.id for d in tool_deltas(events) if d.name)
    assert response.usage == Usage(input_tokens=1, output_tokens=2, total_tokens=3, requests=1)
    assert response.finish_reason == "tool-calls"


async def test_stream_function_errors_propagate() -> None:
    async def failing(messages: list[Message], info: AgentInfo) -> AsyncIterator[str]:
        yield "partial "
        raise ModelError("provider went away")

    with pytest.raises(ModelError, match="went away"):
        await collect(FunctionModel(stream_function=failing), request([UserMessage(content="x")]))


async def test_bad_results_are_clear_errors() -> None:
    model = FunctionModel(lambda m, i: 42)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigurationError, match="returned int"):
        await collect(model, request([UserMessage(content="x")]))

    async def bad_stream(messages: list[Message], info: AgentInfo) -> AsyncIterator[Any]:
        yield 3.14

    with pytest.raises(ConfigurationError, match="yielded float"):
        await collect(
            FunctionModel(stream_function=bad_stream), request([UserMessage(content="x")])
        )
    with pytest.raises(ConfigurationError):
        FunctionModel()


async def test_assistant_history_is_visible_to_the_function() -> None:
    def echo_count(messages: list[Message], info: AgentInfo) -> str:
        assistants = [m for m in messages if isinstance(m, AssistantMessage)]
        return f"{len(assistants)} earlier answers"

    history: list[Message] = [
        UserMessage(content="a"),
        AssistantMessage(content="b"),
        UserMessage(content="c"),
    ]
    _, response = await collect(FunctionModel(echo_count), request(history))
    assert response.text == "1 earlier answers"
