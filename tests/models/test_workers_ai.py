"""WorkersAIModel against FakeAIBinding, the fake of the JS ``AI`` binding."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helix_agents.errors import (
    ConfigurationError,
    ModelError,
    ModelProtocolError,
    ModelStreamInterruptedError,
)
from helix_agents.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from helix_agents.models.workers_ai import WorkersAIModel
from helix_agents.ports.model import Model, ModelEvent, ModelRequest, ModelSettings, ToolDefinition
from helix_agents.testing import AIReply, FakeAIBinding, FakeAIError, FakeReadableStream
from tests.models.helpers import ask, collect, drain, texts, tool_deltas

# The adapter under test talks to a local server or a fake binding.
pytestmark = pytest.mark.model_requests

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"

WEATHER = ToolDefinition(
    name="get_weather",
    description="The weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def model_over(binding: FakeAIBinding, **options: Any) -> WorkersAIModel:
    return WorkersAIModel(MODEL, binding, **options)


# -- streaming -------------------------------------------------------------------------------


async def test_streams_native_frames() -> None:
    binding = FakeAIBinding(
        AIReply(
            text="Hello from the edge",
            usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        )
    )
    events, response = await collect(model_over(binding), ask("hi"))
    assert texts(events) == ["Hello ", "from ", "the ", "edge"]
    assert response.text == "Hello from the edge"
    assert (
        response.usage.input_tokens,
        response.usage.output_tokens,
        response.usage.total_tokens,
    ) == (9, 4, 13)
    assert response.finish_reason == "stop"
    assert response.model_name == MODEL


async def test_sends_messages_and_stream_true() -> None:
    binding = FakeAIBinding(AIReply(text="ok"))
    settings = ModelSettings(temperature=0.1, max_tokens=100, extra={"seed": 3})
    await collect(model_over(binding), ask("hi", system="Be nice.", settings=settings))
    [call] = binding.calls
    assert call.model == MODEL
    assert call.options is None
    assert call.inputs == {
        "messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "hi"}],
        "stream": True,
        "temperature": 0.1,
        "max_tokens": 100,
        "seed": 3,
    }


async def test_chunks_cut_anywhere_still_decode() -> None:
    text = "Héllo wörld — naïve café 🌍 done"
    binding = FakeAIBinding(AIReply(text=text, chunk_size=1), AIReply(text=text, chunk_size=7))
    for _ in range(2):
        events, response = await collect(model_over(binding), ask())
        assert response.text == text
        assert "".join(texts(events)) == text


async def test_streams_openai_style_frames() -> None:
    binding = FakeAIBinding(
        AIReply(
            text="Checking the weather",
            tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}],
            dialect="openai",
        )
    )
    events, response = await collect(model_over(binding), ask(tools=[WEATHER]))
    assert "".join(texts(events)) == "Checking the weather"
    [call] = response.tool_calls
    assert (call.id, call.name, call.arguments) == (
        "chatcmpl-tool-0",
        "get_weather",
        {"city": "Oslo"},
    )
    assert response.finish_reason == "tool-calls"


async def test_streamed_native_tool_calls_get_ids_and_parsed_arguments() -> None:
    binding = FakeAIBinding(
        AIReply(
            tool_calls=[
                {"name": "get_weather", "arguments": {"city": "Paris"}},
                {"name": "get_weather", "arguments": {"city": "Rome"}, "id": "given"},
            ],
            chunk_size=5,
        )
    )
    events, response = await collect(model_over(binding), ask(tools=[WEATHER]))
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert response.tool_calls[1].id == "given"
    assert response.tool_calls[0].id.startswith("call_")
    firsts = [d for d in tool_deltas(events) if d.id is not None]
    assert [d.id for d in firsts] == [c.id for c in response.tool_calls]
    assert response.finish_reason == "tool-calls"
    sent_tools = binding.calls[0].inputs["tools"]
    assert sent_tools == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER.parameters,
            },
        }
    ]


async def test_tool_history_is_sent_in_the_binding_format() -> None:
    history: list[Message] = [
        UserMessage(content="Weather?"),
        AssistantMessage(
            tool_calls=[ToolCall(id="c1", name="get_weather", arguments={"city": "Oslo"})]
        ),
        ToolResultMessage(tool_call_id="c1", tool_name="get_weather", content={"temp": -3}),
    ]
    binding = FakeAIBinding(AIReply(text="Cold."))
    await collect(model_over(binding), ModelRequest(system="", messages=history, tools=[WEATHER]))
    assert binding.calls[0].inputs["messages"] == [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            # The binding refuses null content.
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp":-3}', "name": "get_weather"},
    ]


async def test_whole_tool_calls_without_index_in_one_frame() -> None:
    frame = {
        "response": "",
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Oslo"}},
            {"name": "get_weather", "arguments": {"city": "Bergen"}},
        ],
    }
    body = f"data: {json.dumps(frame)}\n\ndata: [DONE]\n\n".encode()
    _, response = await collect(model_over(FakeAIBinding(FakeReadableStream([body]))), ask())
    assert [c.arguments for c in response.tool_calls] == [{"city": "Oslo"}, {"city": "Bergen"}]
    assert len({c.id for c in response.tool_calls}) == 2


# -- not streamed ----------------------------------------------------------------------------


async def test_json_answers_with_text_and_tool_calls() -> None:
    binding = FakeAIBinding(
        AIReply(text="", tool_calls=[{"name": "get_weather", "arguments": {"city": "Lima"}}]),
        AIReply(
            text="It is warm.",
            usage={"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23},
        ),
    )
    model = model_over(binding, stream=False)
    events, first = await collect(model, ask(tools=[WEATHER]))
    assert "stream" not in binding.calls[0].inputs
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("get_weather", {"city": "Lima"})]
    assert tool_deltas(events)[0].id == first.tool_calls[0].id
    events, second = await collect(model, ask())
    assert texts(events) == ["It is warm."]
    assert second.usage.total_tokens == 23


async def test_json_answers_in_the_openai_dialect() -> None:
    binding = FakeAIBinding(AIReply(text="Sure.", dialect="openai"))
    _, response = await collect(model_over(binding, stream=False), ask())
    assert response.text == "Sure."


async def test_a_json_answer_even_when_streaming_was_asked_for() -> None:
    # Some models ignore stream: True; the adapter reads whatever comes back.
    binding = FakeAIBinding(
        {"response": {"answer": 42}, "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    )
    _, response = await collect(model_over(binding), ask())
    assert json.loads(response.text) == {"answer": 42}
    assert response.usage.total_tokens == 2


async def test_options_are_passed_as_the_third_argument() -> None:
    binding = FakeAIBinding(AIReply(text="ok"))
    await collect(model_over(binding, options={"gateway": {"id": "my-gateway"}}), ask())
    assert binding.calls[0].options == {"gateway": {"id": "my-gateway"}}


# -- failures --------------------------------------------------------------------------------


async def test_binding_errors_become_model_errors() -> None:
    binding = FakeAIBinding(
        FakeAIError("InferenceUpstreamError: 3040: Capacity temporarily exceeded")
    )
    with pytest.raises(ModelError, match="Capacity temporarily exceeded") as caught:
        await collect(model_over(binding), ask())
    assert not isinstance(caught.value, ModelStreamInterruptedError)


async def test_the_fake_validates_inputs_like_the_binding() -> None:
    binding = FakeAIBinding(AIReply(text="never"))
    with pytest.raises(FakeAIError, match="5006"):
        await binding.run(MODEL, {"messages": [{"role": "user", "content": None}]})
    with pytest.raises(TypeError, match="tuple"):
        await binding.run(MODEL, {"messages": [("user", "hi")]})
    with pytest.raises(FakeAIError, match="5007"):
        await binding.run("gpt-4o", {"messages": []})
    assert binding.calls == []


async def test_an_unknown_model_through_the_adapter_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="No such model"):
        await collect(WorkersAIModel("llama", FakeAIBinding(AIReply(text="x"))), ask())


async def test_a_stream_failing_before_any_delta_is_a_plain_model_error() -> None:
    binding = FakeAIBinding(AIReply(text="never seen", error_after=0))
    with pytest.raises(ModelError, match="Network connection lost") as caught:
        await collect(model_over(binding), ask())
    assert not isinstance(caught.value, ModelStreamInterruptedError)


async def test_a_stream_failing_after_deltas_asks_for_a_step_retry() -> None:
    binding = FakeAIBinding(AIReply(text="one two three four five", chunk_size=60, error_after=2))
    seen: list[ModelEvent] = []
    with pytest.raises(ModelStreamInterruptedError, match="Network connection lost"):
        await drain(model_over(binding), ask(), seen)
    assert texts(seen), "some text went out before the failure"


async def test_a_stream_cut_before_done_is_an_error() -> None:
    binding = FakeAIBinding(AIReply(text="cut short", done=False))
    with pytest.raises(ModelStreamInterruptedError, match="before \\[DONE\\]"):
        await collect(model_over(binding), ask())


async def test_an_error_frame_in_the_stream() -> None:
    stream = FakeReadableStream(
        [b'data: {"response": "hi "}\n\n', b'data: {"error": {"message": "model crashed"}}\n\n']
    )
    seen: list[ModelEvent] = []
    with pytest.raises(ModelStreamInterruptedError, match="model crashed"):
        await drain(model_over(FakeAIBinding(stream)), ask(), seen)


@pytest.mark.parametrize(
    "body",
    [
        b"data: {not json}\n\n",
        b"data: [1, 2]\n\n",
        b'data: {"response": "x", "tool_calls": "nope"}\n\n',
        b'data: {"response": "x", "usage": {"prompt_tokens": "many"}}\n\n',
        b"data: \xff\xfe\n\n",
    ],
)
async def test_malformed_frames_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ModelProtocolError):
        await collect(model_over(FakeAIBinding(FakeReadableStream([body]))), ask())


async def test_an_unexpected_answer_is_a_protocol_error() -> None:
    with pytest.raises(ModelProtocolError):
        await collect(model_over(FakeAIBinding(lambda model, inputs: 42)), ask())


async def test_leaving_early_cancels_the_stream() -> None:
    reply = AIReply(text="a b c d e f g", chunk_size=10)
    stream = reply.to_stream()
    model = model_over(FakeAIBinding(stream))
    async with _closing(model.stream(ask())) as events:
        async for _ in events:
            break
    assert stream.cancelled


async def test_a_stream_can_only_be_read_once() -> None:
    stream = AIReply(text="x").to_stream()
    stream.getReader()
    with pytest.raises(TypeError, match="locked"):
        stream.getReader()


# -- construction ----------------------------------------------------------------------------


def test_a_missing_binding_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"env\.AI"):
        WorkersAIModel(MODEL, None)
    with pytest.raises(ConfigurationError):
        WorkersAIModel(MODEL, object())


def test_the_adapter_is_a_model() -> None:
    model = model_over(FakeAIBinding())
    assert isinstance(model, Model)
    assert model.name == f"workers-ai:{MODEL}"


def _closing(agen: Any) -> Any:
    from contextlib import aclosing

    return aclosing(agen)
