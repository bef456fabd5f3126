"""FallbackModel over real HTTP: two local OpenAI-compatible servers, the first one failing.

The session's test server plays the first provider, a second server of the same kind the
other; each is a real server on a socket, so the errors are the adapter's own (503s after
its retries, refused connections, a stream cut after it started).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.errors import (
    ConfigurationError,
    ModelHTTPError,
    ModelStreamInterruptedError,
)
from helix_agents.hosts.local import LocalHost
from helix_agents.models import DemoModel, FallbackModel
from helix_agents.models.fallback import is_provider_error
from helix_agents.models.openai import OpenAIChatModel
from helix_agents.ports.model import ModelEvent
from tests.models.conftest import SleepRecorder
from tests.models.helpers import ask, collect, drain, texts
from tests.support.openai_server import OpenAIServer, reply_error, reply_text

pytestmark = [pytest.mark.model_requests, pytest.mark.timeout(60)]

MakeModel = Callable[..., OpenAIChatModel]


@pytest.fixture(scope="module")
def _second_process() -> Iterator[OpenAIServer]:
    with OpenAIServer(api_key="other-key") as server:
        yield server


@pytest.fixture
def second(_second_process: OpenAIServer) -> Iterator[OpenAIServer]:
    yield from _second_process.emptied()


def _other(server: OpenAIServer, sleeps: SleepRecorder, **options: object) -> OpenAIChatModel:
    return OpenAIChatModel(
        "other-model",
        base_url=server.base_url,
        api_key="other-key",
        sleep=sleeps,
        name="openai:other-model",
        **options,  # type: ignore[arg-type]
    )


async def test_survives_the_first_providers_503s(
    openai_server: OpenAIServer, second: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(reply_error(503, "overloaded"), reply_error(503, "still overloaded"))
    second.script(reply_text("Hello ", "from the other one."))
    model = FallbackModel(make_model(max_retries=1), _other(second, sleeps))
    deltas, response = await collect(model, ask())
    assert "".join(texts(deltas)) == "Hello from the other one."
    assert response.served_by == "openai:other-model"
    assert len(response.failed_over) == 1
    assert response.failed_over[0].startswith("openai:test-model: HTTP 503: still overloaded")
    assert response.usage.input_tokens == 11
    assert response.usage.output_tokens == 7
    # The first provider was asked twice (its own retry), the second once.
    assert len(openai_server.requests) == 2
    assert len(second.requests) == 1
    assert second.requests[0].headers["authorization"] == "Bearer other-key"
    assert second.requests[0].body["model"] == "other-model"


async def test_primary_answering_is_recorded_as_served_by_it(
    openai_server: OpenAIServer, second: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(reply_text("first"))
    model = FallbackModel(make_model(), _other(second, sleeps))
    _, response = await collect(model, ask())
    assert response.text == "first"
    assert response.served_by == "openai:test-model"
    assert response.failed_over == ()
    assert second.requests == []


async def test_a_refusal_is_an_answer_not_a_failure(
    openai_server: OpenAIServer, second: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(reply_text("I can't help with that.", finish_reason="content_filter"))
    model = FallbackModel(make_model(), _other(second, sleeps))
    _, response = await collect(model, ask())
    assert response.finish_reason == "content-filter"
    assert response.text == "I can't help with that."
    assert second.requests == []


async def test_a_bad_request_is_not_passed_on(
    openai_server: OpenAIServer, second: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(reply_error(400, "messages[0] is invalid"))
    model = FallbackModel(make_model(), _other(second, sleeps))
    with pytest.raises(ModelHTTPError) as caught:
        await collect(model, ask())
    assert caught.value.status_code == 400
    assert second.requests == []


async def test_a_refused_connection_falls_back(second: OpenAIServer, sleeps: SleepRecorder) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    dead = OpenAIChatModel(
        "dead", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0
    )
    second.script(reply_text("still here"))
    _, response = await collect(FallbackModel(dead, _other(second, sleeps)), ask())
    assert response.text == "still here"
    assert "connection failed" in response.failed_over[0]


async def test_no_fallback_once_the_first_model_has_streamed(
    openai_server: OpenAIServer, second: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(reply_text("Half ", "an ", "answer", drop_after=2))
    events: list[ModelEvent] = []
    model = FallbackModel(make_model(), _other(second, sleeps))
    with pytest.raises(ModelStreamInterruptedError):
        await drain(model, ask(), events)
    assert texts(events)  # what was streamed came from the first model only
    assert second.requests == []


async def test_every_model_failing_raises_the_last_error_with_the_others_noted(
    openai_server: OpenAIServer, second: OpenAIServer, make_model: MakeModel, sleeps: SleepRecorder
) -> None:
    openai_server.script(reply_error(502, "bad gateway"))
    second.script(reply_error(503, "down too"))
    model = FallbackModel(make_model(max_retries=0), _other(second, sleeps, max_retries=0))
    with pytest.raises(ModelHTTPError) as caught:
        await collect(model, ask())
    assert caught.value.status_code == 503
    assert "down too" in str(caught.value)
    notes = getattr(caught.value, "__notes__", [])
    assert any("HTTP 502: bad gateway" in note for note in notes)


def test_which_errors_are_the_providers() -> None:
    assert is_provider_error(ModelHTTPError("x", status_code=503))
    assert is_provider_error(ModelHTTPError("x", status_code=429))
    assert not is_provider_error(ModelHTTPError("x", status_code=400))
    assert not is_provider_error(ModelHTTPError("x", status_code=401))
    assert not is_provider_error(ModelStreamInterruptedError("x"))
    with pytest.raises(ConfigurationError):
        FallbackModel("openai:a")


async def test_a_run_records_which_model_answered(
    openai_server: OpenAIServer,
    second: OpenAIServer,
    make_model: MakeModel,
    sleeps: SleepRecorder,
    tmp_path: Path,
) -> None:
    """The done criterion: a run on a fallback model survives its first provider's 503s,
    and its usage record names the model that answered and the one that failed."""
    openai_server.script(reply_error(503, "overloaded"), reply_error(503, "overloaded"))
    second.script(reply_text("Answered ", "anyway."))
    model = FallbackModel(make_model(max_retries=1), _other(second, sleeps))
    agent = Agent(name="fb", model=model)
    async with LocalHost([agent], tmp_path) as host:
        handle = await host.executor.execute("fb", "hello")
        run = await handle.result()
        records = await host.store.usage_records(run.session_id, run_id=run.run_id)
        messages = await host.store.load_messages(run.session_id)
    assert run.status == "completed"
    assert messages[-1][1].content == "Answered anyway."
    (record,) = [r for r in records if r.kind == "model"]
    assert record.model == "openai:other-model"
    assert record.usage.input_tokens == 11
    assert record.usage.output_tokens == 7
    assert record.metadata is not None
    assert record.metadata["model"] == model.name
    assert record.metadata["failedOver"][0].startswith("openai:test-model: HTTP 503")


async def test_string_members_are_resolved_by_the_host(tmp_path: Path) -> None:
    from helix_agents.testing import FunctionModel

    def overloaded(messages: Any, info: Any) -> str:
        raise ModelHTTPError("down: HTTP 503", status_code=503)

    model = FallbackModel(FunctionModel(overloaded, name="first"), "test")
    resolved: list[object] = []

    def resolve(spec: object) -> object:
        resolved.append(spec)
        from helix_agents.models import infer_model

        return infer_model(spec)  # type: ignore[arg-type]

    agent = Agent(name="fb2", model=model)
    async with LocalHost([agent], tmp_path, resolve_model=resolve) as host:  # type: ignore[arg-type]
        run = await (await host.executor.execute("fb2", "hello")).result()
        [record] = await host.store.usage_records(run.session_id, run_id=run.run_id)
    assert run.status == "completed"
    assert "test" in resolved  # the host's resolver built the string member
    assert record.model == "test"
    assert record.metadata is not None
    assert record.metadata["failedOver"] == ["first: down: HTTP 503"]


def test_files_reach_a_fallback_only_if_every_member_reads_them() -> None:
    def model(name: str) -> OpenAIChatModel:
        return OpenAIChatModel(name, base_url="http://127.0.0.1:9/v1", api_key="k")

    assert FallbackModel(model("a"), model("b")).accepts_files is True
    assert FallbackModel(model("a"), model("b"), DemoModel()).accepts_files is False
    assert FallbackModel(model("a"), "openai:gpt-4o-mini").accepts_files is False
