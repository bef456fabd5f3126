"""Model adapters, and :func:`infer_model` to pick one from a string.

The adapters load lazily: ``import helix_agents.models`` does not import httpx, so an agent
that only uses the Workers AI binding or a test model never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, ModelNotConfiguredError
from ..ports.model import Model, is_model

if TYPE_CHECKING:
    import httpx

    from .demo import DemoModel
    from .fallback import FallbackModel
    from .gateway import AIGateway
    from .openai import OpenAIChatModel
    from .workers_ai import WorkersAIModel

__all__ = [
    "DemoModel",
    "FallbackModel",
    "OpenAIChatModel",
    "WorkersAIModel",
    "infer_model",
    "require_model",
]

_ACCEPTED = "a Model instance, 'openai:<model>', 'workers-ai:<model>', 'test' or 'demo'"


def infer_model(
    spec: Model | str,
    *,
    ai_binding: Any = None,
    http_client: httpx.AsyncClient | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    env: Mapping[str, str] | Callable[[str], str | None] | None = None,
) -> Model:
    """The model named by ``spec``.

    - a Model instance is returned as it is;
    - ``"openai:<model>"``: :class:`OpenAIChatModel` (``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``
      from the environment), over ``http_client`` or ``http_transport`` when given (the
      Cloudflare host passes a transport over the Workers ``fetch``);
    - ``"workers-ai:<model>"``: :class:`WorkersAIModel` over ``ai_binding`` (``env.AI``);
    - ``"test"``: :class:`helix_agents.testing.TestModel`, where that package is installed
      (a deployed Worker leaves it out: there, a configuration error says so);
    - ``"demo"``: :class:`~.demo.DemoModel` (what the bundled examples run on offline).

    ``openai:`` and ``workers-ai:`` models go through Cloudflare AI Gateway when their string
    says so (``"openai:gpt-4o-mini?gateway=<account_id>/<gateway_id>"``) or ``env`` (default:
    the process environment) sets ``CF_AI_GATEWAY`` (:mod:`.gateway`).
    """
    if not isinstance(spec, str):
        if is_model(spec):  # isinstance(spec, Model), without the protocol check's cost
            return spec
        raise ConfigurationError(f"cannot use {spec!r} as a model: expected {_ACCEPTED}")
    provider, sep, name = spec.partition(":")
    provider = provider.strip().lower()
    name = name.strip()
    if spec.strip() == "test":
        return _test_model()
    if spec.strip() == "demo":
        from .demo import DemoModel

        return DemoModel()
    gateway: AIGateway | None = None
    lookup = _lookup(env)
    if sep and provider in ("openai", "workers-ai"):
        from .gateway import gateway_for, split_model_params

        name, params = split_model_params(name)
        gateway = gateway_for(params, lookup)
    if sep and provider == "openai":
        if not name:
            raise ConfigurationError(f"model {spec!r}: name the model, e.g. 'openai:gpt-4o-mini'")
        from .openai import OpenAIChatModel

        return OpenAIChatModel(
            name,
            base_url=gateway.provider_url() if gateway else lookup("OPENAI_BASE_URL"),
            api_key=lookup("OPENAI_API_KEY"),
            headers=gateway.headers() if gateway else None,
            http_client=http_client,
            transport=http_transport,
        )
    if sep and provider == "workers-ai":
        if not name:
            raise ConfigurationError(
                f"model {spec!r}: name the model, e.g. 'workers-ai:@cf/meta/llama-3.3-70b-"
                "instruct-fp8-fast'"
            )
        if ai_binding is None:
            raise ConfigurationError(
                f"model {spec!r} needs the Workers AI binding: add an [ai] binding named AI "
                "to wrangler.toml (it only exists on the Cloudflare host)"
            )
        from .workers_ai import WorkersAIModel

        options = gateway.binding_options() if gateway is not None else None
        return WorkersAIModel(name, ai_binding, options=options)
    raise ConfigurationError(f"unknown model {spec!r}: expected {_ACCEPTED}")


def _lookup(
    env: Mapping[str, str] | Callable[[str], str | None] | None,
) -> Callable[[str], str | None]:
    source = os.environ if env is None else env
    get = source.get if isinstance(source, Mapping) else source
    return lambda name: get(name) or None


def require_model(agent_name: str, spec: Model | str | None) -> Model | str:
    """An agent's ``model``, or :class:`ModelNotConfiguredError` when it has none: there
    is no silent default (a test double answering in production, or a real model in tests)."""
    if spec is None:
        raise ModelNotConfiguredError(
            f"agent {agent_name!r} has no model: set Agent(model=...) to 'openai:<model>', "
            "'workers-ai:<model>', 'demo' or a Model instance (in tests, "
            "helix_agents.testing.TestModel() or FunctionModel(...))"
        )
    return spec


def _test_model() -> Model:
    try:
        from ..testing.models import TestModel
    except ModuleNotFoundError as exc:
        testing = __name__.rpartition(".")[0] + ".testing"
        if exc.name is None or not (exc.name + ".").startswith(testing + "."):
            raise  # something else is missing: not ours to explain
        # A Worker's upload leaves helix_agents.testing out (docs/deploy.md): the string
        # most often comes from HELIX_MODEL, so the message names it and what it may hold.
        raise ConfigurationError(
            "model 'test' is the test double helix_agents.testing.TestModel, which this "
            "deployment does not include (a Worker's upload leaves helix_agents.testing "
            "out); set HELIX_MODEL (or the agent's model) to 'demo', 'openai:<model>' or "
            "'workers-ai:<model>'"
        ) from None
    return TestModel()


def __getattr__(name: str) -> Any:
    # Lazy exports: the adapter modules import their dependencies only when asked for.
    if name == "DemoModel":
        from .demo import DemoModel

        return DemoModel
    if name == "FallbackModel":
        from .fallback import FallbackModel

        return FallbackModel
    if name == "OpenAIChatModel":
        from .openai import OpenAIChatModel

        return OpenAIChatModel
    if name == "WorkersAIModel":
        from .workers_ai import WorkersAIModel

        return WorkersAIModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
