"""Tracing's configuration, from the standard ``OTEL_*`` variables.

Read from ``os.environ`` on the local host and from the Worker's ``env`` (vars and secrets) on
Cloudflare; both hand :func:`tracing_config` a lookup. Tracing is on only when an OTLP
endpoint is configured and the SDK is not disabled: unconfigured, nothing is recorded and
nothing is sent.

- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``: the full URL spans are POSTed to, as it is;
- ``OTEL_EXPORTER_OTLP_ENDPOINT``: the collector's base URL (``/v1/traces`` is appended);
- ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` / ``OTEL_EXPORTER_OTLP_HEADERS``: ``k=v,k2=v2``,
  values percent-decoded (e.g. ``authorization=Bearer%20abc``);
- ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` / ``OTEL_EXPORTER_OTLP_TIMEOUT``: milliseconds;
- ``OTEL_SERVICE_NAME`` (default ``helix-agents``) and ``OTEL_RESOURCE_ATTRIBUTES``;
- ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turn it off.

The encoding is OTLP/HTTP JSON whatever ``OTEL_EXPORTER_OTLP_PROTOCOL`` says (every OTLP/HTTP
receiver accepts it, and it needs no protobuf runtime in the Worker).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..errors import ConfigurationError

__all__ = ["TracingConfig", "tracing_config"]

#: The variables read (named once, for tests/docs/test_env_vars.py too).
DISABLED_VAR = "OTEL_SDK_DISABLED"
EXPORTER_VAR = "OTEL_TRACES_EXPORTER"
TRACES_ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_HEADERS_VAR = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
HEADERS_VAR = "OTEL_EXPORTER_OTLP_HEADERS"
RESOURCE_VAR = "OTEL_RESOURCE_ATTRIBUTES"
SERVICE_NAME_VAR = "OTEL_SERVICE_NAME"
TRACES_TIMEOUT_VAR = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
TIMEOUT_VAR = "OTEL_EXPORTER_OTLP_TIMEOUT"

Lookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class TracingConfig:
    """Where spans go and what they say about the service."""

    #: The URL spans are POSTed to (``.../v1/traces``).
    endpoint: str
    headers: dict[str, str] = field(default_factory=dict)
    service_name: str = "helix-agents"
    resource: dict[str, str] = field(default_factory=dict)
    #: Seconds one export may take; an export that fails or times out is dropped.
    timeout: float = 10.0
    #: The httpx transport exports go over (the Worker's ``fetch`` on Cloudflare), or None.
    transport: Any = None


def tracing_config(
    source: Mapping[str, str] | Lookup, *, transport: Any = None
) -> TracingConfig | None:
    """The configuration the ``OTEL_*`` variables of ``source`` describe, or None when
    tracing is off (no endpoint, or disabled)."""
    get: Lookup = source.get if isinstance(source, Mapping) else source

    def var(name: str) -> str | None:
        value = get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    if (var(DISABLED_VAR) or "").lower() == "true":
        return None
    if (var(EXPORTER_VAR) or "otlp").lower() == "none":
        return None
    endpoint = var(TRACES_ENDPOINT_VAR)
    if endpoint is None:
        base = var(ENDPOINT_VAR)
        if base is None:
            return None
        endpoint = base.rstrip("/") + "/v1/traces"
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"the OTLP traces endpoint must be http(s)://..., got {endpoint!r}"
        )
    headers = _pairs(
        var(TRACES_HEADERS_VAR) or var(HEADERS_VAR) or "",
        "OTEL_EXPORTER_OTLP_HEADERS",
    )
    resource = _pairs(var(RESOURCE_VAR) or "", "OTEL_RESOURCE_ATTRIBUTES")
    service = var(SERVICE_NAME_VAR) or resource.get("service.name") or "helix-agents"
    raw_timeout = var(TRACES_TIMEOUT_VAR) or var(TIMEOUT_VAR)
    timeout = 10.0
    if raw_timeout is not None:
        try:
            timeout = float(raw_timeout) / 1000.0
        except ValueError:
            raise ConfigurationError(
                f"OTEL_EXPORTER_OTLP_TIMEOUT is milliseconds, got {raw_timeout!r}"
            ) from None
        if not timeout > 0:
            raise ConfigurationError(
                f"OTEL_EXPORTER_OTLP_TIMEOUT must be positive: {raw_timeout!r}"
            )
    return TracingConfig(
        endpoint=endpoint,
        headers=headers,
        service_name=service,
        resource=resource,
        timeout=timeout,
        transport=transport,
    )


def _pairs(text: str, what: str) -> dict[str, str]:
    """``k=v,k2=v2`` (the W3C baggage-like list the OTel spec uses), percent-decoded."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"{what}: expected key=value pairs, got {item.strip()!r}")
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs
