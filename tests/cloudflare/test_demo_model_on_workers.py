"""The shipped Worker's examples run on the offline demo model until its ``env`` names a
real one: the resolver swaps ``"demo"`` as it swaps ``"test"``, and the demo model's
answers reach a client through the Workflow, the Durable Object and SSE."""

from __future__ import annotations

from typing import Any

from helix_agents.hosts.cloudflare.models import model_resolver
from helix_agents.models.demo import DemoModel
from helix_agents.models.openai import OpenAIChatModel
from helix_agents.testing.cloudflare.platform import FakeCloudflare, FakeEnv
from tests.cloudflare.entry_helpers import chunks_of, load_entry, read_sse, text_of


def test_the_entry_leaves_the_choice_to_the_workers_env() -> None:
    # Not os.environ: the examples are built with "demo", which model_from_env resolves.
    entry = load_entry()
    assert {agent.model for agent in entry.app.registry} == {"demo"}
    assert entry.app.model_from_env


def test_demo_is_replaced_by_the_configured_model() -> None:
    offline = model_resolver(FakeEnv(), model_from_env=True)("demo")
    assert isinstance(offline, DemoModel)
    assert offline.delta_delay == 0  # chunks are batched into DO writes anyway
    env = FakeEnv(OPENAI_API_KEY="sk", OPENAI_BASE_URL="https://llm.example/v1")
    configured = model_resolver(env, model_from_env=True)("demo")
    assert isinstance(configured, OpenAIChatModel)
    assert configured.base_url == "https://llm.example/v1"
    # Without model_from_env an agent's own choice stands.
    assert isinstance(model_resolver(env)("demo"), DemoModel)


async def test_the_examples_answer_a_sum_on_the_worker() -> None:
    entry = load_entry()
    # A Worker without a token serves no one unless it opts out (test_fail_closed.py).
    platform = FakeCloudflare(entry, vars={"HELIX_AUTH": "none"})
    try:
        response = await platform.fetch(
            "POST",
            "/chat",
            json={"agentType": "assistant", "message": "what is 12*7?", "sessionId": "sum"},
        )
        chunks: list[dict[str, Any]] = chunks_of(await read_sse(response))
        await platform.wait_for_instances()
        snapshot = await (await platform.fetch("GET", "/chat/sum")).json()
    finally:
        await platform.close()
    outputs = [c["output"] for c in chunks if c["type"] == "tool-output-available"]
    assert outputs == [84.0]
    assert text_of(chunks) == "Let me work out 12*7.12*7 = 84."
    assert snapshot["status"] == "completed"
    assert snapshot["messages"][-1]["parts"][-1]["text"] == "12*7 = 84."
