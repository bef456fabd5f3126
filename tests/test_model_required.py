"""No silent model: an agent without one fails its run with a clear configuration error, and
under ``forbid_model_requests`` (every test but those marked ``model_requests``) a real
adapter refuses to send a request before anything leaves the process."""

from __future__ import annotations

from pathlib import Path

import pytest

from helix_agents import Agent, AgentRegistry
from helix_agents.errors import (
    ConfigurationError,
    ModelNotConfiguredError,
    ModelRequestsForbiddenError,
    NonRetryableError,
)
from helix_agents.hosts.local import LocalHost
from helix_agents.models import OpenAIChatModel, WorkersAIModel, require_model
from helix_agents.models._requests import model_requests_allowed
from helix_agents.ports.model import ModelRequest
from helix_agents.testing import (
    FakeAIBinding,
    TestModel,
    allow_model_requests,
    forbid_model_requests,
)


def test_an_agent_has_no_model_by_default() -> None:
    agent = Agent(name="bare")
    assert agent.model is None
    with pytest.raises(
        ModelNotConfiguredError, match=r"agent 'bare' has no model: set Agent\(model="
    ):
        require_model(agent.name, agent.model)
    error = ModelNotConfiguredError("x")
    assert isinstance(error, ConfigurationError)
    assert isinstance(error, NonRetryableError)


async def test_a_run_without_a_model_fails_at_once_with_the_reason(tmp_path: Path) -> None:
    host = await LocalHost(AgentRegistry([Agent(name="bare")]), tmp_path / "data").start()
    try:
        handle = await host.executor.execute("bare", "hello")
        run = await handle.result(timeout=30)
        assert run.status == "failed"
        state = await handle.get_state()
        assert "agent 'bare' has no model" in (state.error or "")
        # Not retried: the model step ran one attempt.
        steps = host.engine.journal.load_steps(handle.run_id)
        assert [row.attempts for row in steps if row.name.endswith("/model")] == [1]
    finally:
        await host.close()


def test_the_suite_runs_with_model_requests_forbidden() -> None:
    # tests/conftest.py holds the switch for every test not marked model_requests.
    assert not model_requests_allowed()
    with allow_model_requests():
        assert model_requests_allowed()
    assert not model_requests_allowed()


async def _first_event(model: object) -> None:
    request = ModelRequest(system="", messages=[], tools=[])
    async for _ in model.stream(request):  # type: ignore[attr-defined]
        break


async def test_the_real_adapters_refuse_before_any_request() -> None:
    # An unroutable address: had the request been sent, the error would be a connection one.
    openai = OpenAIChatModel("gpt-4o-mini", base_url="http://192.0.2.1:9/v1", api_key="k")
    with pytest.raises(ModelRequestsForbiddenError, match="openai:gpt-4o-mini: real model"):
        await _first_event(openai)
    binding = FakeAIBinding()
    with pytest.raises(ModelRequestsForbiddenError, match="forbid_model_requests"):
        await _first_event(WorkersAIModel("@cf/meta/llama-3.3-70b-instruct-fp8-fast", binding))
    assert binding.calls == []


async def test_a_run_on_a_real_model_fails_clearly_under_the_switch(tmp_path: Path) -> None:
    agent = Agent(
        name="real", model=OpenAIChatModel("gpt-4o-mini", base_url="http://192.0.2.1:9/v1")
    )
    host = await LocalHost(AgentRegistry([agent]), tmp_path / "data").start()
    try:
        handle = await host.executor.execute("real", "hello")
        run = await handle.result(timeout=30)
        assert run.status == "failed"
        state = await handle.get_state()
        assert "real model requests are forbidden" in (state.error or "")
    finally:
        await host.close()


async def test_the_test_models_are_never_refused(tmp_path: Path) -> None:
    with forbid_model_requests():
        host = await LocalHost(
            AgentRegistry([Agent(name="t", model=TestModel())]), tmp_path / "data"
        ).start()
        try:
            run = await (await host.executor.execute("t", "hello")).result(timeout=30)
            assert run.status == "completed"
        finally:
            await host.close()
