"""Step configs as Workflows reads them: defaults, validation, and the retry backoff.

Without a config, ``step.do`` retries 5 times (6 attempts in all), waiting 10 seconds
and doubling the wait each time, and gives each attempt 10 minutes: Cloudflare's
documented defaults (developers.cloudflare.com/workflows/build/sleeping-and-retrying).
A config given in part is merged over those defaults, key by key, as Workflows does.

The wait before the next attempt, after ``n`` attempts have failed, is ``delay`` for
``constant``, ``delay * n`` for ``linear`` and ``delay * 2 ** (n - 1)`` for
``exponential`` (the formula of Workflows' own local engine in workers-sdk).
``retries.limit`` counts retries, not attempts: ``limit: 0`` means one attempt.

Nothing here touches a clock or a database, so the fakes of the Cloudflare bindings can
share it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ...durations import parse_duration
from ...errors import ConfigurationError

__all__ = [
    "DEFAULT_STEP_CONFIG",
    "MAX_RETRY_LIMIT",
    "MAX_SLEEP_MS",
    "MAX_STEP_NAME_LENGTH",
    "ResolvedStepConfig",
    "resolve_step_config",
    "validate_step_name",
]

#: Cloudflare's documented defaults for ``step.do``.
DEFAULT_STEP_CONFIG: Final[dict[str, Any]] = {
    "retries": {"limit": 5, "delay": 10_000, "backoff": "exponential"},
    "timeout": "10 minutes",
}
#: Workflows' limits: retries per step, the longest sleep, a step name's length.
MAX_RETRY_LIMIT: Final = 10_000
MAX_SLEEP_MS: Final = 365 * 86_400_000.0
MAX_STEP_NAME_LENGTH: Final = 256

_CONTROL = re.compile(r"[\x00-\x1f]")
_BACKOFFS = frozenset({"constant", "linear", "exponential"})
_CONFIG_KEYS = frozenset({"retries", "timeout", "sensitive"})
_RETRY_KEYS = frozenset({"limit", "delay", "backoff"})


@dataclass(frozen=True, slots=True)
class ResolvedStepConfig:
    limit: int
    delay_ms: float
    backoff: str
    timeout_ms: float

    def retry_delay_ms(self, failed_attempts: int) -> float:
        """How long to wait after ``failed_attempts`` (>= 1) attempts have failed.

        Capped at Workflows' longest sleep (365 days), which also keeps a long exponential
        series from overflowing a float.
        """
        if self.backoff == "exponential":
            delay = self.delay_ms * 2.0 ** min(failed_attempts - 1, 64)
        elif self.backoff == "linear":
            delay = self.delay_ms * failed_attempts
        else:
            delay = self.delay_ms
        return min(delay, MAX_SLEEP_MS)


_DEFAULT = ResolvedStepConfig(
    limit=5, delay_ms=10_000.0, backoff="exponential", timeout_ms=600_000.0
)


def resolve_step_config(config: Mapping[str, Any] | None) -> ResolvedStepConfig:
    """Validate ``config`` and merge it over the defaults (ConfigurationError if invalid)."""
    if config is None:
        return _DEFAULT
    if not isinstance(config, Mapping):
        raise ConfigurationError(f"a step config must be a dict, got {type(config).__name__}")
    return _resolve(config) if config else _DEFAULT


def _resolve(config: Mapping[str, Any]) -> ResolvedStepConfig:
    unknown = set(config) - _CONFIG_KEYS
    if unknown:
        raise ConfigurationError(
            f"unknown step config keys {sorted(unknown)}: use 'retries' and 'timeout'"
        )
    limit, delay, backoff = _DEFAULT.limit, _DEFAULT.delay_ms, _DEFAULT.backoff
    retries = config.get("retries")
    if retries is not None:
        if not isinstance(retries, Mapping):
            raise ConfigurationError("step config 'retries' must be a dict {limit, delay, backoff}")
        unknown = set(retries) - _RETRY_KEYS
        if unknown:
            raise ConfigurationError(
                f"unknown keys {sorted(unknown)} in step config 'retries': "
                "use 'limit', 'delay' and 'backoff'"
            )
        if "limit" in retries:
            limit = retries["limit"]
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise ConfigurationError(f"retries.limit must be an integer, got {limit!r}")
            if not 0 <= limit <= MAX_RETRY_LIMIT:
                raise ConfigurationError(
                    f"retries.limit must be between 0 and {MAX_RETRY_LIMIT}, got {limit}"
                )
        if "delay" in retries:
            delay = parse_duration(retries["delay"], what="retries.delay")
        if "backoff" in retries:
            backoff = retries["backoff"]
            if backoff not in _BACKOFFS:
                raise ConfigurationError(
                    f"retries.backoff must be 'constant', 'linear' or 'exponential', got {backoff!r}"
                )
    timeout = _DEFAULT.timeout_ms
    if config.get("timeout") is not None:
        timeout = parse_duration(config["timeout"], what="step timeout")
        if timeout <= 0:
            raise ConfigurationError("a step timeout must be more than 0")
    return ResolvedStepConfig(limit=limit, delay_ms=delay, backoff=backoff, timeout_ms=timeout)


def validate_step_name(name: object) -> str:
    """Workflows' step-name rule: a string of at most 256 characters, no control characters."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a step name must be a non-empty string, got {name!r}")
    if len(name) > MAX_STEP_NAME_LENGTH:
        raise ConfigurationError(
            f"step name is {len(name)} characters; the limit is {MAX_STEP_NAME_LENGTH}"
        )
    if _CONTROL.search(name):
        raise ConfigurationError(f"step name {name!r} contains control characters")
    return name
