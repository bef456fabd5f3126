"""Fixtures for the model adapter tests: the local OpenAI-compatible server and a model
pointed at it whose backoff sleeps are recorded instead of waited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from helix_agents.models.openai import OpenAIChatModel
from tests.support.openai_server import OpenAIServer


@pytest.fixture(scope="session")
def _openai_server_process() -> Iterator[OpenAIServer]:
    with OpenAIServer(api_key="test-key") as server:
        yield server


@pytest.fixture
def openai_server(_openai_server_process: OpenAIServer) -> Iterator[OpenAIServer]:
    yield from _openai_server_process.emptied()


class SleepRecorder:
    """Stands in for asyncio.sleep in the retry loop: remembers the waits, waits for none."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_model(
    openai_server: OpenAIServer, sleeps: SleepRecorder
) -> Callable[..., OpenAIChatModel]:
    def make(**options: Any) -> OpenAIChatModel:
        options.setdefault("base_url", openai_server.base_url)
        options.setdefault("api_key", "test-key")
        options.setdefault("sleep", sleeps)
        options.setdefault("jitter", lambda: 0.5)
        options.setdefault("timeout", 10.0)
        return OpenAIChatModel("test-model", **options)

    return make
