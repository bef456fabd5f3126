"""infer_model: from a string (or a Model) to a Model."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from helix_agents.errors import ConfigurationError
from helix_agents.models import infer_model
from helix_agents.models.openai import OpenAIChatModel
from helix_agents.models.workers_ai import WorkersAIModel
from helix_agents.ports.model import Model, is_model
from helix_agents.testing import FakeAIBinding, FunctionModel, TestModel


def test_a_model_instance_passes_through() -> None:
    model = FunctionModel(lambda messages, info: "hi")
    assert infer_model(model) is model


def test_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    model = infer_model("openai:gpt-4o-mini")
    assert isinstance(model, OpenAIChatModel)
    assert model.model_name == "gpt-4o-mini"
    assert model.name == "openai:gpt-4o-mini"
    assert model.base_url == "http://127.0.0.1:1/v1"


async def test_openai_over_a_given_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    transport = httpx.AsyncHTTPTransport()
    model = infer_model("openai:gpt-4o-mini", http_transport=transport)
    assert isinstance(model, OpenAIChatModel)
    assert model._transport is transport
    await transport.aclose()


def test_workers_ai() -> None:
    binding = FakeAIBinding()
    model = infer_model("workers-ai:@cf/meta/llama-3.1-8b-instruct", ai_binding=binding)
    assert isinstance(model, WorkersAIModel)
    assert model.binding is binding
    assert model.model_name == "@cf/meta/llama-3.1-8b-instruct"


def test_workers_ai_without_a_binding_says_so() -> None:
    with pytest.raises(ConfigurationError, match="needs the Workers AI binding"):
        infer_model("workers-ai:@cf/meta/llama-3.1-8b-instruct")


def test_test() -> None:
    assert isinstance(infer_model("test"), TestModel)


@pytest.mark.parametrize(
    "spec", ["gpt-4o", "anthropic:claude", "openai:", "workers-ai:", "", "TEST!"]
)
def test_anything_else_lists_what_is_accepted(spec: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        infer_model(spec, ai_binding=FakeAIBinding())
    message = str(caught.value)
    assert spec in message or "name the model" in message


def test_not_a_model_at_all() -> None:
    with pytest.raises(ConfigurationError, match="'openai:<model>'"):
        infer_model(42)  # type: ignore[arg-type]


class _Named:
    name = "named"


class _Streams:
    def stream(self, request: object) -> None: ...


class _OptedOut:
    name = "opted-out"
    stream = None


class _Both(_Named, _Streams):
    pass


class _Instance:
    def __init__(self) -> None:
        self.name = "instance"
        self.stream = lambda request: None


@pytest.mark.parametrize(
    "value",
    [
        _Named(),
        _Streams(),
        _OptedOut(),
        _Both(),
        _Instance(),
        42,
        None,
        FunctionModel(lambda messages, info: "hi"),
        TestModel(),
    ],
)
def test_is_model_agrees_with_the_protocols_isinstance(value: object) -> None:
    # infer_model checks with is_model, the protocol's own check made cheap: they must agree.
    assert is_model(value) is isinstance(value, Model)


def test_importing_the_models_package_does_not_import_httpx() -> None:
    # httpx costs tens of milliseconds to import; only the OpenAI adapter needs it.
    code = (
        "import sys, helix_agents; before = 'httpx' in sys.modules; "
        "import helix_agents.models, helix_agents.models.workers_ai; "
        "print(before or 'httpx' not in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"
