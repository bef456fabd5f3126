"""Which model an agent runs on inside the Worker.

A Worker's configuration is its ``env`` (vars and secrets), not ``os.environ``, and it
reaches the network through ``fetch``; so the resolver reads ``OPENAI_API_KEY`` /
``OPENAI_BASE_URL`` from ``env``, gives the OpenAI-compatible adapter the
:class:`~.fetch_transport.WorkersFetchTransport`, and gives Workers AI models the ``AI``
binding.

An :class:`~helix_agents.models.OpenAIChatModel` an agent was given as an instance, without
a client or transport of its own, is given the fetch transport too.

With ``model_from_env`` (what the bundled examples use), an agent whose model is one of the
offline ``"test"`` and ``"demo"`` models runs instead on the model the Worker is configured for:
``HELIX_MODEL`` (e.g. ``workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast`` or
``openai:gpt-4o-mini``), else OpenAI (``HELIX_OPENAI_MODEL``, default ``gpt-4o-mini``) when
``OPENAI_API_KEY`` is set, else Workers AI (``HELIX_WORKERS_AI_MODEL``) when that var and
the ``AI`` binding are there; otherwise it stays the offline model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import ConfigurationError
from ...ports.model import Model

__all__ = ["env_var", "model_resolver"]

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
#: The model strings that ``model_from_env`` replaces with the configured model.
_OFFLINE = frozenset({"test", "demo"})


def env_var(env: Any, name: str) -> str | None:
    """A string var or secret of the Worker's ``env`` (None when unset or not a string)."""
    try:
        value = getattr(env, name)
    except Exception:  # a missing JS property, or an env without it
        return None
    return value if isinstance(value, str) and value else None


def model_resolver(
    env: Any, *, model_from_env: bool = False, ai_binding: str = "AI"
) -> Callable[[Model | str], Model]:
    """The ``resolve_model`` of the Cloudflare host (see the module docstring)."""
    cache: dict[str, Model] = {}

    def resolve(spec: Model | str) -> Model:
        if not isinstance(spec, str):
            from ...models import infer_model

            return _over_fetch(infer_model(spec))
        if model_from_env and spec.strip() in _OFFLINE:
            spec = _configured(env) or spec
        model = cache.get(spec)
        if model is None:
            model = cache[spec] = _build(env, spec, ai_binding)
        return model

    return resolve


def _over_fetch(model: Model) -> Model:
    """An OpenAI-compatible model built by the user without a client or transport gets the
    Workers ``fetch`` transport: inside a Worker, httpx's own transport cannot connect."""
    import sys

    # Importing the adapter brings httpx (36 modules, about 0.27 s under Pyodide): if nothing
    # imported it yet, ``model`` cannot be one of its instances.
    adapter = sys.modules.get("helix_agents.models.openai")
    if adapter is None:
        return model
    OpenAIChatModel = adapter.OpenAIChatModel
    if isinstance(model, OpenAIChatModel) and model._client is None and model._transport is None:
        from .fetch_transport import WorkersFetchTransport

        model._transport = WorkersFetchTransport()
    return model


def _configured(env: Any) -> str | None:
    explicit = env_var(env, "HELIX_MODEL")
    if explicit:
        return explicit
    if env_var(env, "OPENAI_API_KEY"):
        return "openai:" + (env_var(env, "HELIX_OPENAI_MODEL") or DEFAULT_OPENAI_MODEL)
    workers_ai = env_var(env, "HELIX_WORKERS_AI_MODEL")
    if workers_ai and _binding(env, "AI") is not None:
        return "workers-ai:" + workers_ai
    return None


def _build(env: Any, spec: str, ai_binding: str) -> Model:
    from ...models import infer_model

    provider, sep, name = spec.partition(":")
    if sep and provider.strip().lower() == "openai":
        # Imported only here: the transport and the adapter bring httpx.
        from ...models.gateway import gateway_for, split_model_params
        from ...models.openai import OpenAIChatModel
        from .fetch_transport import WorkersFetchTransport

        name, params = split_model_params(name.strip())
        if not name:
            raise ConfigurationError(f"model {spec!r}: name the model, e.g. 'openai:gpt-4o-mini'")
        # Through AI Gateway when the string or the env says so (models/gateway.py).
        gateway = gateway_for(params, lambda var: env_var(env, var))
        return OpenAIChatModel(
            name,
            base_url=gateway.provider_url() if gateway else env_var(env, "OPENAI_BASE_URL"),
            api_key=env_var(env, "OPENAI_API_KEY"),
            headers=gateway.headers() if gateway else None,
            transport=WorkersFetchTransport(),
        )
    return infer_model(
        spec, ai_binding=_binding(env, ai_binding), env=lambda var: env_var(env, var)
    )


def _binding(env: Any, name: str) -> Any:
    try:
        return getattr(env, name)
    except Exception:
        return None
