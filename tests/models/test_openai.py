"""OpenAIChatModel over real HTTP against the local OpenAI-compatible test server."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from email.utils import formatdate

import httpx
import pytest

from helix_agents.errors import (
    ConfigurationError,
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
    ModelProtocolError,
    ModelRateLimitedError,
    ModelStreamInterruptedError,
)
from helix_agents.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from helix_agents.models.openai import OpenAIChatModel
from helix_agents.ports.model import (
    ModelEvent,
    ModelRequest,
    ModelSettings,
    TextDelta,
    ToolDefinition,
)
from tests.models.conftest import SleepRecorder
from tests.models.helpers import ask, collect, drain, reasonings, texts, tool_deltas
from tests.support.openai_server import (
    OpenAIServer,
    Raw,
    Reply,
    ToolCallSpec,
    reply_error,
    reply_text,
    reply_tool_calls,
)

# The adapter under test talks to a local server or a fake binding.
pytestmark = pytest.mark.model_requests

MakeModel = Callable[..., OpenAIChatModel]

WEATHER = ToolDefinition(
    name="get_weather",
    description="The weather in a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


# -- streaming -------------------------------------------------------------------------------


async def test_streams_text_deltas_usage_and_finish_reason(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(reply_text("Hel", "lo, ", "world!", usage=(12, 5)))
    events, response = await collect(make_model(), ask("Say hello"))

    assert texts(events) == ["Hel", "lo, ", "world!"]
    assert response.text == "Hello, world!"
    assert response.finish_reason == "stop"
    assert response.usage.input_tokens == 12
    assert response.usage.output_tokens == 5
    assert response.usage.total_tokens == 17
    assert response.usage.requests == 1
    assert response.model_name == "test-model"
    assert response.tool_calls == []


async def test_sends_a_streaming_request_with_usage_and_auth(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(reply_text("ok"))
    await collect(make_model(), ask("Say hello", system="You are terse."))

    [sent] = openai_server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer test-key"
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == {
        "model": "test-model",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_streams_reasoning_before_text(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(reply_text("42", reasoning=["Let me ", "think."]))
    events, response = await collect(make_model(), ask())

    assert reasonings(events) == ["Let me ", "think."]
    assert texts(events) == ["42"]
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ReasoningDelta") < kinds.index("TextDelta")
    assert response.reasoning == "Let me think."
    assert response.text == "42"


async def test_reads_the_alternative_reasoning_field(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(Reply(deltas=[{"reasoning": "hmm"}, {"content": "yes"}]))
    events, response = await collect(make_model(), ask())
    assert reasonings(events) == ["hmm"]
    assert response.reasoning == "hmm"


async def test_streams_several_interleaved_tool_calls(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(
        reply_tool_calls(
            ToolCallSpec("call_a", "get_weather", {"city": "Paris", "unit": "celsius"}),
            ToolCallSpec("call_b", "get_time", {"zone": "Europe/Paris"}),
            pieces=4,
        )
    )
    events, response = await collect(make_model(), ask("Weather and time?", tools=[WEATHER]))

    deltas = tool_deltas(events)
    # The first delta of each call names it; later ones only carry argument text.
    firsts = {d.index: d for d in deltas if d.id is not None}
    assert {i: (d.id, d.name) for i, d in firsts.items()} == {
        0: ("call_a", "get_weather"),
        1: ("call_b", "get_time"),
    }
    indexes = [d.index for d in deltas]
    assert indexes != sorted(indexes), "the server interleaves the two calls"
    for index, spec_args in (
        (0, {"city": "Paris", "unit": "celsius"}),
        (1, {"zone": "Europe/Paris"}),
    ):
        streamed = "".join(d.arguments_delta for d in deltas if d.index == index)
        assert json.loads(streamed) == spec_args
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris", "unit": "celsius"}),
        ("call_b", "get_time", {"zone": "Europe/Paris"}),
    ]
    assert response.finish_reason == "tool-calls"


async def test_text_and_tool_calls_in_one_response(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(
        reply_tool_calls(ToolCallSpec("c1", "get_weather", {"city": "Oslo"}), text="Checking.")
    )
    events, response = await collect(make_model(), ask(tools=[WEATHER]))
    assert texts(events) == ["Checking."]
    assert response.text == "Checking."
    assert response.tool_calls[0].arguments == {"city": "Oslo"}


async def test_arguments_that_are_not_json_are_kept_raw(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    fragment = {
        "index": 0,
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{city: Paris"},
    }
    openai_server.script(Reply(deltas=[{"tool_calls": [fragment]}], finish_reason="tool_calls"))
    _, response = await collect(make_model(), ask(tools=[WEATHER]))
    [call] = response.tool_calls
    assert call.arguments == {}
    assert call.raw_arguments == "{city: Paris"


async def test_tool_calls_without_index_or_with_repeated_ids(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    # Some servers send whole calls without an index; others repeat the id on every piece.
    whole = [
        {
            "tool_calls": [
                {
                    "id": "a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ]
        },
        {
            "tool_calls": [
                {
                    "id": "b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                }
            ]
        },
    ]
    repeated = [
        {
            "tool_calls": [
                {"index": 0, "id": "c", "function": {"name": "get_weather", "arguments": '{"ci'}}
            ]
        },
        {"tool_calls": [{"index": 0, "id": "c", "function": {"arguments": 'ty":"Nice"}'}}]},
    ]
    openai_server.script(
        Reply(deltas=list(whole), finish_reason="tool_calls"),
        Reply(deltas=list(repeated), finish_reason="tool_calls"),
    )
    _, first = await collect(make_model(), ask(tools=[WEATHER]))
    assert [(c.id, c.arguments) for c in first.tool_calls] == [
        ("a", {"city": "Oslo"}),
        ("b", {"city": "Rome"}),
    ]
    _, second = await collect(make_model(), ask(tools=[WEATHER]))
    assert [(c.id, c.arguments) for c in second.tool_calls] == [("c", {"city": "Nice"})]


@pytest.mark.parametrize(
    ("wire", "ours"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content-filter"),
        ("something_new", "other"),
    ],
)
async def test_maps_finish_reasons(
    openai_server: OpenAIServer, make_model: MakeModel, wire: str, ours: str
) -> None:
    openai_server.script(reply_text("x", finish_reason=wire))
    _, response = await collect(make_model(), ask())
    assert response.finish_reason == ours


async def test_accepts_a_whole_completion_when_the_server_does_not_stream(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(
        reply_tool_calls(
            ToolCallSpec("c9", "get_weather", {"city": "Rome"}), text="On it.", json_only=True
        )
    )
    events, response = await collect(make_model(), ask(tools=[WEATHER]))
    assert texts(events) == ["On it."]
    assert [(c.id, c.arguments) for c in response.tool_calls] == [("c9", {"city": "Rome"})]
    assert response.usage.total_tokens == 18


async def test_without_stream_usage_the_option_is_not_sent(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(reply_text("ok"))
    _, response = await collect(make_model(stream_usage=False), ask())
    assert "stream_options" not in openai_server.requests[0].body
    # The server sends no usage chunk then; the request is still counted.
    assert response.usage.requests == 1
    assert response.usage.total_tokens == 0


async def test_a_consumer_may_stop_early(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(reply_text("one ", "two ", "three"), reply_text("again"))
    model = make_model()
    async for event in model.stream(ask()):
        assert isinstance(event, TextDelta)
        break
    # The connection was released: the next request works normally.
    _, response = await collect(model, ask())
    assert response.text == "again"


async def test_uses_a_given_http_client_and_leaves_it_open(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(reply_text("a"), reply_text("b"))
    async with httpx.AsyncClient(headers={"x-from-client": "yes"}) as client:
        model = make_model(http_client=client)
        assert (await collect(model, ask()))[1].text == "a"
        assert (await collect(model, ask()))[1].text == "b"
        assert not client.is_closed
    assert openai_server.requests[0].headers["x-from-client"] == "yes"


# -- the request body ------------------------------------------------------------------------


async def test_converts_the_history_to_the_wire_format(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    history: list[Message] = [
        UserMessage(content="Weather in Paris and Oslo?"),
        AssistantMessage(
            content="",
            tool_calls=[
                ToolCall(id="c1", name="get_weather", arguments={"city": "Paris"}),
                ToolCall(id="c2", name="get_weather", arguments={"city": "Oslo"}),
                ToolCall(id="c3", name="get_weather", raw_arguments="{oops"),
            ],
        ),
        ToolResultMessage(tool_call_id="c1", tool_name="get_weather", content={"temp": 21}),
        ToolResultMessage(
            tool_call_id="c2", tool_name="get_weather", content="boom", status="error"
        ),
        ToolResultMessage(
            tool_call_id="c3", tool_name="get_weather", content=None, status="denied"
        ),
        AssistantMessage(content="Paris is warm.", reasoning="not sent back"),
        UserMessage(content="Thanks"),
    ]
    openai_server.script(reply_text("You're welcome."))
    await collect(make_model(), ModelRequest(system="sys", messages=history, tools=[WEATHER]))

    body = openai_server.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
                {
                    "id": "c3",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{oops"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp":21}'},
        {"role": "tool", "tool_call_id": "c2", "content": "Error: boom"},
        {"role": "tool", "tool_call_id": "c3", "content": "The user denied this tool call."},
        {"role": "assistant", "content": "Paris is warm."},
        {"role": "user", "content": "Thanks"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert "tool_choice" not in body


async def test_an_only_output_tool_is_forced_by_name(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    output = ToolDefinition("final_result", "The answer.", {"type": "object", "properties": {}})
    openai_server.script(reply_tool_calls(ToolCallSpec("c1", "final_result", {})))
    await collect(make_model(), ask(tools=[output], output_tool="final_result"))
    assert openai_server.requests[0].body["tool_choice"] == {
        "type": "function",
        "function": {"name": "final_result"},
    }


async def test_an_output_tool_beside_other_tools_requires_a_tool_call(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    output = ToolDefinition("final_result", "The answer.", {"type": "object", "properties": {}})
    openai_server.script(reply_tool_calls(ToolCallSpec("c1", "get_weather", {"city": "Oslo"})))
    await collect(make_model(), ask(tools=[WEATHER, output], output_tool="final_result"))
    assert openai_server.requests[0].body["tool_choice"] == "required"


async def test_settings_go_into_the_body(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(reply_text("ok"))
    settings = ModelSettings(temperature=0.2, max_tokens=64, extra={"top_p": 0.9, "seed": 7})
    await collect(make_model(), ask(settings=settings))
    body = openai_server.requests[0].body
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["seed"]) == (
        0.2,
        64,
        0.9,
        7,
    )


# -- retries ---------------------------------------------------------------------------------


async def test_429_with_retry_after_then_success(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(
        reply_error(429, "Rate limit reached for requests", retry_after="2", error_type="requests"),
        reply_text("finally"),
    )
    events, response = await collect(make_model(), ask())
    assert response.text == "finally"
    assert texts(events) == ["finally"]
    assert sleeps.calls == [2.0]
    assert len(openai_server.requests) == 2
    assert openai_server.requests[0].body == openai_server.requests[1].body


async def test_retry_after_as_an_http_date(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    now = 1_700_000_000.0
    openai_server.script(
        reply_error(429, "slow down", retry_after=formatdate(now + 30, usegmt=True)),
        reply_text("ok"),
    )
    await collect(make_model(clock=lambda: now), ask())
    assert sleeps.calls == [30.0]


async def test_retry_after_ms_header(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(
        reply_error(429, "slow down", headers={"retry-after-ms": "250"}), reply_text("ok")
    )
    await collect(make_model(), ask())
    assert sleeps.calls == [0.25]


async def test_retry_after_is_capped(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(
        reply_error(429, "come back tomorrow", retry_after="86400"), reply_text("ok")
    )
    await collect(make_model(), ask())
    assert sleeps.calls == [60.0]


async def test_server_errors_back_off_exponentially_with_jitter(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(
        reply_error(500, "The server had an error", error_type="server_error"),
        reply_error(502, "Bad gateway", error_type="server_error"),
        reply_error(503, "Overloaded", error_type="server_error"),
        reply_text("up again"),
    )
    _, response = await collect(make_model(), ask())
    assert response.text == "up again"
    # jitter() is 0.5: half of 0.5, 1 and 2 seconds.
    assert sleeps.calls == [0.25, 0.5, 1.0]


async def test_429_after_the_retries_raises_rate_limited(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(*[reply_error(429, "Rate limit reached", retry_after="1")] * 3)
    with pytest.raises(ModelRateLimitedError) as caught:
        await collect(make_model(max_retries=2), ask())
    assert caught.value.status_code == 429
    assert "Rate limit reached" in str(caught.value)
    assert len(openai_server.requests) == 3
    assert sleeps.calls == [1.0, 1.0]


async def test_500_after_the_retries_raises_http_error(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(*[reply_error(500, "The server had an error")] * 2)
    with pytest.raises(ModelHTTPError) as caught:
        await collect(make_model(max_retries=1), ask())
    assert caught.value.status_code == 500
    assert not isinstance(caught.value, ModelRateLimitedError)
    assert "The server had an error" in str(caught.value)


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_other_4xx_fail_at_once_with_the_providers_message(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder, status: int
) -> None:
    openai_server.script(reply_error(status, "Invalid 'messages[0].role': bad role."))
    with pytest.raises(ModelHTTPError) as caught:
        await collect(make_model(), ask())
    assert caught.value.status_code == status
    assert "Invalid 'messages[0].role': bad role." in str(caught.value)
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert len(openai_server.requests) == 1
    assert sleeps.calls == []


async def test_a_wrong_api_key_is_a_401(openai_server: OpenAIServer, make_model: MakeModel) -> None:
    with pytest.raises(ModelHTTPError) as caught:
        await collect(make_model(api_key="wrong"), ask())
    assert caught.value.status_code == 401
    assert "Incorrect API key" in str(caught.value)


async def test_connection_dropped_before_any_event_is_retried(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    # The first chunk only carries the role: nothing reaches the consumer before the drop.
    openai_server.script(reply_text("lost", drop_after=1), reply_text("second try"))
    events, response = await collect(make_model(), ask())
    assert texts(events) == ["second try"]
    assert response.text == "second try"
    assert len(openai_server.requests) == 2
    assert len(sleeps.calls) == 1


async def test_connection_dropped_after_deltas_raises_for_a_step_retry(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(
        reply_text("Hello ", "there ", "friend", drop_after=3), reply_text("unused")
    )
    seen: list[ModelEvent] = []
    with pytest.raises(ModelStreamInterruptedError) as caught:
        await drain(make_model(), ask(), seen)
    assert texts(seen) == ["Hello ", "there "]
    assert isinstance(caught.value, ModelError)
    # No second request: replaying would stream "Hello there" twice.
    assert len(openai_server.requests) == 1
    assert sleeps.calls == []


async def test_a_stream_that_ends_without_done_or_finish_is_a_drop(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(
        reply_text(finish_reason=None, usage=None, done=False), reply_text("complete")
    )
    _, response = await collect(make_model(), ask())
    assert response.text == "complete"
    assert len(openai_server.requests) == 2


async def test_a_stream_without_done_but_with_a_finish_reason_is_complete(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(reply_text("fine", done=False))
    _, response = await collect(make_model(), ask())
    assert response.text == "fine"
    assert len(openai_server.requests) == 1


async def test_an_error_object_in_the_stream(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    overloaded = {"error": {"message": "The model is overloaded", "type": "server_error"}}
    # Before any delta it is retried; after some, it interrupts the stream.
    openai_server.script(
        Reply(deltas=[overloaded]),
        reply_text("recovered"),
        Reply(deltas=[{"content": "half"}, overloaded]),
    )
    model = make_model()
    assert (await collect(model, ask()))[1].text == "recovered"
    with pytest.raises(ModelStreamInterruptedError, match="overloaded"):
        await collect(model, ask())


async def test_refused_connections_are_retried_then_reported(
    make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on that port any more.
    model = make_model(base_url=f"http://127.0.0.1:{port}/v1", max_retries=3)
    with pytest.raises(ModelConnectionError, match="connection failed"):
        await collect(model, ask())
    assert sleeps.calls == [0.25, 0.5, 1.0]


# -- malformed responses and timeouts -------------------------------------------------------


async def test_a_malformed_chunk_raises_a_protocol_error(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(Reply(deltas=[{"content": "fine "}, Raw("{not json")]))
    seen: list[ModelEvent] = []
    with pytest.raises(ModelProtocolError, match="not JSON"):
        await drain(make_model(), ask(), seen)
    assert texts(seen) == ["fine "]


@pytest.mark.parametrize(
    "payload",
    [
        '["a list"]',
        '{"choices": "nope"}',
        '{"choices": [{"index": 0, "delta": {"content": 5}}]}',
        '{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": "zero"}]}}]}',
        '{"choices": [{"index": 0, "delta": "text"}]}',
        '{"choices": [], "usage": {"prompt_tokens": "many"}}',
    ],
)
async def test_chunks_of_the_wrong_shape_raise_protocol_errors(
    openai_server: OpenAIServer, make_model: MakeModel, payload: str
) -> None:
    openai_server.script(Reply(deltas=[Raw(payload)]))
    with pytest.raises(ModelProtocolError):
        await collect(make_model(), ask())
    assert len(openai_server.requests) == 1


async def test_a_slow_server_times_out(
    openai_server: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    # Generous margins both ways: the fast reply must never time out on a loaded machine.
    openai_server.script(reply_text("too late", delay=60.0), reply_text("in time"))
    model = make_model(timeout=1.0, max_retries=1)
    _, response = await collect(model, ask())
    assert response.text == "in time"
    assert len(sleeps.calls) == 1


async def test_a_timeout_after_the_retries_is_a_connection_error(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    openai_server.script(reply_text("too late", delay=60.0))
    with pytest.raises(ModelConnectionError, match="timed out"):
        await collect(make_model(max_retries=0), ask(settings=ModelSettings(timeout=0.5)))


async def test_a_stall_mid_stream_interrupts_it(
    openai_server: OpenAIServer, make_model: MakeModel
) -> None:
    # The role chunk and "quick " come at once, then the server goes quiet for longer than
    # the read timeout.
    openai_server.script(reply_text("quick ", "then slow", stall_after=2, stall_for=60.0))
    with pytest.raises(ModelStreamInterruptedError, match="timed out"):
        await collect(make_model(timeout=1.0, max_retries=0), ask())


# -- configuration ---------------------------------------------------------------------------


def test_base_url_and_key_come_from_the_environment_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    model = OpenAIChatModel("gpt-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere/v1")
    assert model.url == "http://127.0.0.1:9/v1/chat/completions"
    assert model._request_headers()["authorization"] == "Bearer sk-env"
    assert model.name == "openai:gpt-test"


def test_openai_itself_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        OpenAIChatModel("gpt-4o-mini")


def test_a_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = OpenAIChatModel("llama3", base_url="http://127.0.0.1:11434/v1")
    assert "authorization" not in model._request_headers()


@pytest.mark.parametrize(
    "options",
    [{"base_url": "ftp://example.com"}, {"timeout": 0}, {"max_retries": -1}],
)
def test_bad_options_are_configuration_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        OpenAIChatModel("m", api_key="k", **options)  # type: ignore[arg-type]


def test_the_model_is_a_model() -> None:
    from helix_agents.ports.model import Model

    assert isinstance(OpenAIChatModel("m", api_key="k"), Model)
