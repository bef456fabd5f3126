"""DemoModel: the scripted offline model of the bundled examples, at the Model port.

Requests are built from the example agents' own tool definitions and system prompts, and
tool results from the example tools' real functions, so the script meets the schemas and
outputs it meets under ``helix dev``. The local-host and CLI flows are in
tests/hitl/test_examples.py, tests/http/test_examples_over_http.py and tests/cli.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from helix_agents import examples
from helix_agents.agent import Agent
from helix_agents.errors import ConfigurationError
from helix_agents.messages import AssistantMessage, Message, ToolResultMessage, UserMessage
from helix_agents.models import _demo_parse as parse
from helix_agents.models import infer_model
from helix_agents.models.demo import DEMO_DELAY, DemoModel
from helix_agents.ports.model import Model, ModelRequest, ModelResponse, ToolDefinition
from tests.models.helpers import collect, texts, tool_deltas

MODEL = DemoModel()
AGENTS = {agent.name: agent for agent in examples.example_registry(MODEL)}
TOOLS = {"calculate", "get_weather", "remember", "check_service", "deploy", "search"}


def request_for(agent: Agent | str, messages: list[Message]) -> ModelRequest:
    agent = AGENTS[agent] if isinstance(agent, str) else agent
    return ModelRequest(
        system=agent.system_prompt if isinstance(agent.system_prompt, str) else "Be helpful.",
        messages=messages,
        tools=agent.tool_definitions(),
        output_tool=agent.output_tool_name,
    )


async def respond(agent: Agent | str, messages: list[Message]) -> ModelResponse:
    return (await collect(MODEL, request_for(agent, messages)))[1]


def run_tools(response: ModelResponse, **overrides: Any) -> list[Message]:
    """The response as history, then each call's result from the example tool itself
    (``overrides`` gives a tool's result content, or a (content, status) pair, instead)."""
    out: list[Message] = [response.to_message()]
    for call in response.tool_calls:
        content: Any
        status = "success"
        if call.name in overrides:
            given = overrides[call.name]
            content, status = given if isinstance(given, tuple) else (given, "success")
        else:
            function = getattr(examples, call.name).function
            try:
                content = function(**call.arguments)
            except ValueError as exc:
                content, status = str(exc), "error"
        out.append(
            ToolResultMessage(
                tool_call_id=call.id, tool_name=call.name, content=content, status=status
            )
        )
    return out


def calls(response: ModelResponse) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, c.arguments) for c in response.tool_calls]


# -- the first response of a turn ------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "message", "expected"),
    [
        ("assistant", "what is 12*7?", [("calculate", {"expression": "12*7"})]),
        ("assistant", "What's 12 x 7", [("calculate", {"expression": "12 * 7"})]),
        (
            "assistant",
            "how much is (3 plus 4) times 2?",
            [("calculate", {"expression": "(3 + 4) * 2"})],
        ),
        ("assistant", "2^10 please", [("calculate", {"expression": "2 ** 10"})]),
        ("assistant", "weather in new york today?", [("get_weather", {"city": "New York"})]),
        (
            "assistant",
            "Is it raining in San Francisco",
            [("get_weather", {"city": "San Francisco"})],
        ),
        (
            "assistant",
            "remember that my favourite colour is green",
            [("remember", {"key": "favourite_colour", "value": "green"})],
        ),
        (
            "assistant",
            "Remember to buy milk.",
            [("remember", {"key": "note", "value": "to buy milk"})],
        ),
        (
            "assistant",
            "what is 2+2 and the weather in Paris?",
            [("calculate", {"expression": "2+2"}), ("get_weather", {"city": "Paris"})],
        ),
        ("ops", "deploy billing 1.5.0", [("check_service", {"service": "billing"})]),
        ("ops", "check the service payments", [("check_service", {"service": "payments"})]),
        ("ops", "is search healthy?", [("check_service", {"service": "search"})]),
        ("manager", "What is 6*7?", [("ask_assistant", {"message": "What is 6*7?"})]),
        ("manager", "hi", [("ask_assistant", {"message": "hi"})]),
        ("planner", "Plan a week in Rome", [("get_weather", {"city": "Rome"})]),
        ("planner", "plan a trip", [("get_weather", {"city": "Lisbon"})]),
    ],
)
async def test_what_it_calls_first(agent: str, message: str, expected: list[Any]) -> None:
    response = await respond(agent, [UserMessage(content=message)])
    assert calls(response) == expected
    assert response.finish_reason == "tool-calls"
    # Every call is one the agent offers, with arguments its schema accepts.
    for call in response.tool_calls:
        tool = AGENTS[agent].get_tool(call.name)
        assert tool is not None
        tool.args_model.model_validate(call.arguments)


@pytest.mark.parametrize(
    ("agent", "message", "says"),
    [
        ("assistant", "hello", "Hello! I'm the offline demo model of helix-agents"),
        ("assistant", "tell me a joke", "Sorry, I can't answer that."),
        ("assistant", "what's the weather like?", "Which city?"),
        ("assistant", "what is my name?", "I don't know your name yet"),
        ("ops", "deploy", "Which service, and which version?"),
        ("assistant", "version 1.5.0 in 3 days on 2024-05-01", "Sorry"),
    ],
)
async def test_what_it_says_without_a_tool(agent: str, message: str, says: str) -> None:
    response = await respond(agent, [UserMessage(content=message)])
    assert response.tool_calls == []
    assert response.finish_reason == "stop"
    assert response.text.startswith(says)


async def test_the_fallback_says_what_it_is_and_how_to_get_a_real_model() -> None:
    text = (await respond("assistant", [UserMessage(content="hi")])).text
    assert "OPENAI_API_KEY" in text
    assert "OPENAI_BASE_URL" in text
    assert "README" in text
    assert '"what is 12*7?"' in text
    assert '"remember that my name is Ada"' in text
    ops = (await respond("ops", [UserMessage(content="hi")])).text
    assert '"check billing" or "deploy billing 1.5.0"' in ops


# -- after the tools ran ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "answer"),
    [
        ("what is 12*7", "12*7 = 84."),
        ("what's 10 divided by 4", "10 / 4 = 2.5."),
        ("what is 1/0", "I could not work out 1/0: ZeroDivisionError: float division by zero."),
        ("What is the weather in Tokyo?", "In Tokyo it is 22 °C and sunny."),
        ("Remember that my name is Ada", "Noted: your name is Ada."),
    ],
)
async def test_answers_from_the_results(message: str, answer: str) -> None:
    history: list[Message] = [UserMessage(content=message)]
    first = await respond("assistant", history)
    # What the loop records for a tool that raises, and for one that needs its context.
    overrides: dict[str, Any] = {"remember": "remembered name"}
    if message == "what is 1/0":
        overrides["calculate"] = ("ZeroDivisionError: float division by zero", "error")
    history += run_tools(first, **overrides)
    final = await respond("assistant", history)
    assert final.tool_calls == []
    assert final.text == answer


async def test_reads_remembered_facts_from_the_system_prompt() -> None:
    request = request_for("assistant", [UserMessage(content="What's my name?")])
    system = "You are a helpful assistant.\nKnown facts: {'name': 'Ada'}"
    request = ModelRequest(system=system, messages=request.messages, tools=request.tools)
    assert (await collect(MODEL, request))[1].text == "Your name is Ada."


@pytest.mark.parametrize(
    ("message", "version"), [("deploy billing 1.5.0", "1.5.0"), ("ship billing", "1.4.3")]
)
async def test_ops_deploys_after_a_healthy_check(message: str, version: str) -> None:
    history: list[Message] = [UserMessage(content=message)]
    history += run_tools(await respond("ops", history))
    deploy = await respond("ops", history)
    assert calls(deploy) == [("deploy", {"service": "billing", "version": version})]
    assert deploy.text == f"billing is healthy on 1.4.2. Deploying {version} needs your approval."
    history += run_tools(deploy, deploy=(None, "denied"))
    final = await respond("ops", history)
    assert final.tool_calls == []
    assert final.text == (f"The deploy of billing {version} was not approved, so I stopped there.")


async def test_ops_does_not_deploy_an_unhealthy_service() -> None:
    history: list[Message] = [UserMessage(content="deploy billing 2.0")]
    unhealthy = {"service": "billing", "healthy": False, "version": "1.4.2"}
    history += run_tools(await respond("ops", history), check_service=unhealthy)
    final = await respond("ops", history)
    assert final.tool_calls == []
    assert final.text == "billing is not healthy and runs version 1.4.2."


async def test_the_manager_relays_its_sub_agent() -> None:
    history: list[Message] = [UserMessage(content="What is 6*7?")]
    history += run_tools(await respond("manager", history), ask_assistant="6*7 = 42.")
    final = await respond("manager", history)
    assert final.text == "The assistant answered: 6*7 = 42."


# -- structured output -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "city", "days"),
    [("Plan two days in Tokyo", "Tokyo", 2), ("Plan 30 days in London", "London", 14)],
)
async def test_the_planner_delivers_a_valid_plan(message: str, city: str, days: int) -> None:
    history: list[Message] = [UserMessage(content=message)]
    history += run_tools(await respond("planner", history))
    final = await respond("planner", history)
    [(name, arguments)] = calls(final)
    assert name == "final_result"
    plan = examples.TripPlan.model_validate(arguments)
    assert (plan.city, plan.days, len(plan.activities)) == (city, days, days)
    assert final.text.startswith(f"Here is a {days}-day plan for {city}.")
    if city == "London":  # rain in the example's weather: the plan says so
        assert plan.activities[0].startswith("rain is forecast")


class Report(BaseModel):
    """Not a trip: the script knows none of these fields."""

    title: str = Field(min_length=3)
    score: int = Field(ge=0, le=100)
    tags: list[str] = Field(min_length=1)


async def test_any_output_schema_gets_valid_output_and_a_refusal_a_fallback() -> None:
    reporter = Agent(name="reporter", model=MODEL, output_type=Report)
    history: list[Message] = [UserMessage(content="report please")]
    first = await respond(reporter, history)
    [(name, arguments)] = calls(first)
    assert name == "final_result"
    Report.model_validate(arguments)
    # Had the output been refused, the next try is the schema's own example.
    refused = ToolResultMessage(
        tool_call_id=first.tool_calls[0].id,
        tool_name="final_result",
        content="Invalid final result",
        status="error",
    )
    again = await respond(reporter, [*history, first.to_message(), refused])
    Report.model_validate(again.tool_calls[0].arguments)


async def test_a_clock_tool_is_called_for_the_time() -> None:
    no_arguments = {"type": "object", "properties": {}}
    tools = [
        ToolDefinition(name=name, description=name, parameters=no_arguments)
        for name in ("update_cache", "knowledge", "current_time")
    ]
    history: list[Message] = [UserMessage(content="What time is it?")]
    first = (await collect(MODEL, ModelRequest(system="", messages=history, tools=tools)))[1]
    # "update" and "knowledge" hide "date" and "now", but are no clocks.
    assert calls(first) == [("current_time", {})]
    history += run_tools(first, current_time="10:30")
    final = (await collect(MODEL, ModelRequest(system="", messages=history, tools=tools)))[1]
    assert final.text == "It is 10:30."


@pytest.mark.parametrize(
    "message",
    [
        "(" * 100_000 + "1+1",
        "remember " + "a " * 100_000,
        "deploy " + "x-" * 100_000,
        "what is my " + "name " * 100_000 + "?",
    ],
)
async def test_long_messages_are_read_in_part_and_passed_on_whole(message: str) -> None:
    # The rules read the start of a message only, and skip a run of brackets too long to be
    # a sum before balancing it (which is quadratic): without, the first case took seconds,
    # and a 1 MiB body of brackets would take minutes.
    for agent in ("assistant", "ops", "planner"):
        response = await respond(agent, [UserMessage(content=message)])
        assert response.tool_calls or response.text
    delegated = await respond("manager", [UserMessage(content=message)])
    assert delegated.tool_calls[0].arguments == {"message": message.strip()}


# -- the Model port: streaming, its pace, determinism --------------------------------------------


async def test_streams_text_in_many_deltas_paced_by_its_sleep() -> None:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    model = DemoModel(delta_delay=0.05, sleep=sleep)
    events, response = await collect(model, request_for("assistant", [UserMessage(content="hi")]))
    pieces = texts(events)
    assert len(pieces) > 20
    assert "".join(pieces) == response.text
    # A pause between two pieces, none before the first: the answer starts at once.
    assert waited == [0.05] * (len(pieces) - 1)


async def test_tool_calls_stream_and_match_the_response() -> None:
    events, response = await collect(
        MODEL, request_for("assistant", [UserMessage(content="2+2 and the weather in Paris")])
    )
    deltas = tool_deltas(events)
    assert [(d.index, d.id, d.name) for d in deltas] == [
        (i, c.id, c.name) for i, c in enumerate(response.tool_calls)
    ]
    assert [json.loads(d.arguments_delta) for d in deltas] == [
        c.arguments for c in response.tool_calls
    ]
    assert "".join(texts(events)) == response.text
    assert response.usage.requests == 1
    assert response.model_name == "demo"


async def test_the_same_request_gets_the_same_response() -> None:
    history: list[Message] = [UserMessage(content="what is 3*3 and the weather in Paris")]
    request = request_for("assistant", history)
    one_events, one = await collect(DemoModel(), request)
    two_events, two = await collect(DemoModel(), request)
    assert one == two
    assert one_events == two_events
    # Ids stay unique across a session: a later request numbers its calls afresh.
    history += run_tools(one)
    history += [AssistantMessage(content="3*3 = 9."), UserMessage(content="and 4*4?")]
    later = await respond("assistant", history)
    assert not {c.id for c in later.tool_calls} & {c.id for c in one.tool_calls}


def test_it_is_a_model_named_by_demo() -> None:
    assert isinstance(MODEL, Model)
    named = infer_model("demo")
    assert isinstance(named, DemoModel)
    assert named.delta_delay == 0  # no waiting unless asked for
    with pytest.raises(ConfigurationError, match="delta_delay"):
        DemoModel(delta_delay=-1)


def test_the_examples_stream_at_a_reading_pace_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HELIX_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    paced = {agent.model for agent in examples.example_registry()}
    # One model for all of them (the manager's assistant included), waiting between pieces.
    [model] = paced
    assert isinstance(model, DemoModel)
    assert model.delta_delay == DEMO_DELAY > 0
    assert {agent.model for agent in examples.example_registry("demo")} == {"demo"}


def test_the_example_agents_use_only_tools_the_script_knows() -> None:
    offered = {t for agent in AGENTS.values() for t in agent.tool_map}
    assert offered == TOOLS | {"ask_assistant"}


# -- the parsers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("what is 12*7", "12*7"),
        ("(about 3+4)", "3+4"),
        ("7 minus 10 plus 1", "7 - 10 + 1"),
        ("12 \u00d7 3 \u00f7 4", "12 * 3 / 4"),
        ("17 mod 5", "17 % 5"),
        ("version 1.5.0", None),
        ("3 days in Rome", None),
        ("on 2024-05-01", None),
        ("-5", None),
        ("hello", None),
        ("1 + " * 150 + "1", None),  # too long to bother the calculator with
    ],
)
def test_arithmetic(text: str, expression: str | None) -> None:
    assert parse.arithmetic(text) == expression


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("weather in Paris?", "Paris"),
        ("a trip to New York for 3 days", "New York"),
        ("weather in san francisco tomorrow", "San Francisco"),
        ("what is the weather today", None),
        ("plan a trip for me", None),
    ],
)
def test_city(text: str, city: str | None) -> None:
    assert parse.city(text) == city


@pytest.mark.parametrize(
    ("text", "days"),
    [("two days", 2), ("a 5-day trip", 5), ("a week", 7), ("the weekend", 2), ("soon", None)],
)
def test_days(text: str, days: int | None) -> None:
    assert parse.days(text) == days


def test_known_facts_tolerate_anything() -> None:
    assert parse.known_facts("Known facts: {'a': 1}") == {"a": "1"}
    assert parse.known_facts("Known facts: {not python}") == {}
    assert parse.known_facts("Known facts: {}") == {}
    assert parse.known_facts("nothing") == {}
