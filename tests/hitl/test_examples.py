"""The bundled examples on the offline demo model, through a real local host: each agent
does what a person trying ``helix dev`` would ask of it, approvals and sub-agents included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from helix_agents.examples import TripPlan, example_model, example_registry
from helix_agents.messages import AssistantMessage, ToolResultMessage
from helix_agents.models.demo import DemoModel
from helix_agents.state import RunStatus

pytestmark = pytest.mark.timeout(60)


def examples() -> Any:
    return example_registry(DemoModel())


def answer(messages: list[Any]) -> str:
    """The last thing the agent said."""
    said = [m.content for m in messages if isinstance(m, AssistantMessage) and m.content]
    return said[-1]


def results(messages: list[Any]) -> list[ToolResultMessage]:
    return [m for m in messages if isinstance(m, ToolResultMessage)]


async def test_assistant_calculates_and_answers(make_host: Callable[..., Any]) -> None:
    host = await make_host(*examples())
    handle = await host.executor.execute("assistant", "what is 12*7?")
    assert (await handle.result()).status == RunStatus.COMPLETED
    messages = await handle.messages()
    [result] = results(messages)
    assert (result.tool_name, result.status, result.content) == ("calculate", "success", 84.0)
    assert answer(messages) == "12*7 = 84."


async def test_assistant_remembers_across_turns(make_host: Callable[..., Any]) -> None:
    host = await make_host(*examples())
    first = await host.executor.execute("assistant", "Remember that my name is Ada.")
    assert (await first.result()).status == RunStatus.COMPLETED
    assert answer(await first.messages()) == "Noted: your name is Ada."
    # The example's system prompt lists the notes; the demo model reads them back.
    second = await host.executor.execute(
        "assistant", "What is my name?", session_id=first.session_id
    )
    assert (await second.result()).status == RunStatus.COMPLETED
    assert answer(await second.messages()) == "Your name is Ada."


async def test_planner_output_is_a_valid_plan(make_host: Callable[..., Any]) -> None:
    host = await make_host(*examples())
    handle = await host.executor.execute("planner", "Plan two days in Tokyo")
    assert (await handle.result()).status == RunStatus.COMPLETED
    plan = TripPlan.model_validate((await handle.get_state()).output)
    assert (plan.city, plan.days, len(plan.activities)) == ("Tokyo", 2, 2)
    # It looked the weather up first, as its prompt says.
    assert [r.tool_name for r in results(await handle.messages())] == [
        "get_weather",
        "final_result",
    ]


@pytest.mark.parametrize(
    ("approved", "status", "said"),
    [
        (True, "success", "Done: billing 1.5.0 is rolling out."),
        (False, "denied", "The deploy of billing 1.5.0 was not approved, so I stopped there."),
    ],
)
async def test_ops_checks_then_waits_for_approval(
    make_host: Callable[..., Any], approved: bool, status: str, said: str
) -> None:
    host = await make_host(*examples())
    handle = await host.executor.execute("ops", "deploy billing 1.5.0")
    # The check ran in a step of its own; the deploy waits for a human.
    assert (await handle.result()).status == RunStatus.SUSPENDED_CLIENT_TOOL
    [pending] = (await handle.get_state()).pending_client_tool_calls
    assert (pending.tool_name, pending.kind) == ("deploy", "approval")
    submission = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=pending.tool_call_id, approved=approved
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    assert (await resumed.result()).status == RunStatus.COMPLETED
    messages = await resumed.messages()
    assert [(r.tool_name, r.status) for r in results(messages)] == [
        ("check_service", "success"),
        ("deploy", status),
    ]
    assert answer(messages) == said


async def test_manager_delegates_to_the_assistant(make_host: Callable[..., Any]) -> None:
    host = await make_host(*examples())
    handle = await host.executor.execute("manager", "What is the weather in Paris?")
    assert (await handle.result()).status == RunStatus.COMPLETED
    [child] = await host.store.list_sub_sessions(handle.session_id)
    assert child.agent_type == "assistant"
    assert (await host.store.require_session(child.sub_session_id)).status == "completed"
    assert answer(await handle.messages()) == (
        "The assistant answered: In Paris it is 18 °C and cloudy."
    )
    usage = await handle.usage()
    assert set(usage.by_session) == {handle.session_id, child.sub_session_id}


def test_the_examples_model_comes_from_the_environment() -> None:
    assert example_model({}) == "demo"
    assert example_model({"OPENAI_API_KEY": "sk"}) == "openai:gpt-4o-mini"
    # A local OpenAI-compatible server may need no key.
    assert example_model({"OPENAI_BASE_URL": "http://127.0.0.1:1234/v1"}) == "openai:gpt-4o-mini"
    assert example_model({"OPENAI_API_KEY": "sk", "HELIX_OPENAI_MODEL": "m"}) == "openai:m"
    assert example_model({"HELIX_MODEL": "test", "OPENAI_API_KEY": "sk"}) == "test"
    registry = example_registry("demo")
    assert {agent.model for agent in registry} == {"demo"}
