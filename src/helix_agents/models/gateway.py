"""Cloudflare AI Gateway in front of a model: configured from the model string or the env.

AI Gateway (caching, rate limits, logs, analytics) sits between a Worker and the model
provider. For an OpenAI-compatible model it is a base URL,
``https://gateway.ai.cloudflare.com/v1/{account_id}/{gateway_id}/{provider}``, and, for an
authenticated gateway, a ``cf-aig-authorization: Bearer <token>`` header beside the
provider's own key; for Workers AI over the ``AI`` binding it is the binding's ``gateway``
option (``env.AI.run(model, inputs, {"gateway": {"id": ...}})``), which needs no account id
or token.

Where it comes from, the model string first:

- ``"openai:gpt-4o-mini?gateway=my-gateway"`` or ``?gateway=<account_id>/<gateway_id>``;
  ``&provider=groq`` picks another OpenAI-compatible provider path (default ``openai``);
  ``?gateway=none`` keeps a model off a gateway the env configures;
- ``"workers-ai:@cf/meta/llama-3.1-8b-instruct?gateway=my-gateway"``;
- else the env (the process environment locally, the Worker's vars and secrets on
  Cloudflare): ``CF_AI_GATEWAY`` (a gateway id, or ``<account_id>/<gateway_id>``), with
  ``CF_ACCOUNT_ID`` for the account when the id comes alone, ``CF_AIG_TOKEN`` for an
  authenticated gateway, ``CF_AI_GATEWAY_SKIP_CACHE`` / ``CF_AI_GATEWAY_CACHE_TTL``
  (seconds) for its cache, and ``CF_AI_GATEWAY_URL`` to replace
  ``https://gateway.ai.cloudflare.com/v1`` (a self-hosted or test endpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from ..errors import ConfigurationError

__all__ = ["DEFAULT_GATEWAY_URL", "AIGateway", "gateway_for", "split_model_params"]

DEFAULT_GATEWAY_URL = "https://gateway.ai.cloudflare.com/v1"

#: The variables read (named once, for tests/docs/test_env_vars.py too).
GATEWAY_VAR = "CF_AI_GATEWAY"
ACCOUNT_VAR = "CF_ACCOUNT_ID"
TOKEN_VAR = "CF_AIG_TOKEN"
SKIP_CACHE_VAR = "CF_AI_GATEWAY_SKIP_CACHE"
CACHE_TTL_VAR = "CF_AI_GATEWAY_CACHE_TTL"
GATEWAY_URL_VAR = "CF_AI_GATEWAY_URL"

Lookup = Callable[[str], "str | None"]

_PARAMS = frozenset({"gateway", "provider", "skip_cache", "cache_ttl"})


@dataclass(frozen=True)
class AIGateway:
    gateway_id: str
    account_id: str | None = None
    #: The gateway's own token (authenticated gateways), sent as ``cf-aig-authorization``.
    token: str | None = None
    #: The provider path of an OpenAI-compatible model (``openai``, ``groq``, ``compat``...).
    provider: str = "openai"
    skip_cache: bool = False
    cache_ttl: int | None = None
    base_url: str = DEFAULT_GATEWAY_URL

    def provider_url(self) -> str:
        """The base URL of an OpenAI-compatible model behind the gateway."""
        if not self.account_id:
            raise ConfigurationError(
                f"AI Gateway {self.gateway_id!r}: an OpenAI-compatible model needs the account "
                "id: set CF_ACCOUNT_ID, or name the gateway '<account_id>/<gateway_id>'"
            )
        parts = (self.account_id, self.gateway_id, self.provider)
        return "/".join([self.base_url.rstrip("/"), *(quote(p, safe="") for p in parts)])

    def headers(self) -> dict[str, str]:
        """The headers of a request through the gateway (REST: OpenAI-compatible models)."""
        headers: dict[str, str] = {}
        if self.token:
            headers["cf-aig-authorization"] = f"Bearer {self.token}"
        if self.skip_cache:
            headers["cf-aig-skip-cache"] = "true"
        if self.cache_ttl is not None:
            headers["cf-aig-cache-ttl"] = str(self.cache_ttl)
        return headers

    def binding_options(self) -> dict[str, Any]:
        """The Workers AI binding's third argument: ``{"gateway": {...}}``."""
        gateway: dict[str, Any] = {"id": self.gateway_id}
        if self.skip_cache:
            gateway["skipCache"] = True
        if self.cache_ttl is not None:
            gateway["cacheTtl"] = self.cache_ttl
        return {"gateway": gateway}


def split_model_params(name: str) -> tuple[str, dict[str, str]]:
    """A model name without its ``?key=value&...`` params, and the params."""
    bare, sep, query = name.partition("?")
    if not sep:
        return name, {}
    params = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise ConfigurationError(
            f"model {name!r}: unknown parameter(s) {', '.join(unknown)}; expected "
            f"{', '.join(sorted(_PARAMS))}"
        )
    return bare.strip(), params


def gateway_for(
    params: Mapping[str, str], env: Mapping[str, str] | Lookup | None = None
) -> AIGateway | None:
    """The gateway a model goes through: its string's ``params`` first, then ``env``."""
    if env is None:
        lookup: Lookup = lambda name: None  # noqa: E731
    elif isinstance(env, Mapping):
        lookup = env.get
    else:
        lookup = env

    def var(name: str) -> str | None:
        value = lookup(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    spec = params.get("gateway", "").strip() or var(GATEWAY_VAR)
    if not spec or spec.lower() == "none":
        return None
    account, sep, gateway_id = spec.partition("/")
    if not sep:
        account, gateway_id = var(ACCOUNT_VAR) or "", spec
    if not gateway_id or "/" in gateway_id:
        raise ConfigurationError(
            f"AI Gateway {spec!r}: expected a gateway id or '<account_id>/<gateway_id>'"
        )
    skip = params.get("skip_cache") or var(SKIP_CACHE_VAR) or ""
    ttl_text = params.get("cache_ttl") or var(CACHE_TTL_VAR)
    ttl: int | None = None
    if ttl_text is not None:
        try:
            ttl = int(ttl_text)
        except ValueError:
            raise ConfigurationError(f"AI Gateway cache TTL is seconds, got {ttl_text!r}") from None
    base = var(GATEWAY_URL_VAR) or DEFAULT_GATEWAY_URL
    if not base.startswith(("http://", "https://")):
        raise ConfigurationError(f"CF_AI_GATEWAY_URL must be http(s)://..., got {base!r}")
    return AIGateway(
        gateway_id=gateway_id,
        account_id=account or None,
        token=var(TOKEN_VAR),
        provider=params.get("provider", "").strip() or "openai",
        skip_cache=skip.lower() in ("1", "true", "yes"),
        cache_ttl=ttl,
        base_url=base,
    )
