"""Cloudflare Workflows' rule book, written once: what the platform accepts and refuses.

The local engine (``hosts/local/engine*.py``), the Cloudflare adapter
(``hosts/cloudflare/step.py``, ``launcher.py``) and the fake of Workflows
(``testing/cloudflare/workflows.py``) all check against this module, so that the three
refuse the same things at the same limits ([D1's rules](db/rules.py) are the same idea for
the database). The adapter checks before a round trip so that a mistake is our clear
:class:`~helix_agents.errors.ConfigurationError` rather than JavaScript's text; the fake
turns a refusal into the platform's own error text.

The rules (docs/platform.md, platform facts P1 to P4):

- a step's result, an instance's params and an event's payload are JSON of at most 1 MiB;
- a step name is a non-empty string of at most 256 characters without control characters;
  an event type is a non-empty string of at most 100 characters;
- a sleep and a ``wait_for_event`` timeout are at most 365 days;
- an instance id is 1 to 100 characters matching ``^[a-zA-Z0-9_][a-zA-Z0-9-_]*$``; a
  workflow name is 1 to 64 characters of the same alphabet;
- a step config is ``{"retries": {"limit", "delay", "backoff"}, "timeout"}`` merged over
  the documented defaults (5 retries, 10 s, exponential, 10 minutes per attempt), key by
  key as Workflows merges it; ``retries.limit`` counts retries, not attempts (``0`` is
  one attempt) and is at most 10,000.

The wait before the next attempt, after ``n`` attempts have failed, is ``delay`` for
``constant``, ``delay * n`` for ``linear`` and ``delay * 2 ** (n - 1)`` for
``exponential`` (the formula of Workflows' own local engine).

Nothing here touches a clock, a database or JavaScript, so every side can share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

from .durations import DurationLike, format_duration, parse_duration
from .errors import (
    ConfigurationError,
    StepError,
    StepResultTooLargeError,
    ValueTooLargeError,
)

__all__ = [
    "DEFAULT_STEP_CONFIG",
    "DEFAULT_TIMEOUT_MS",
    "ID_RE",
    "INSTANCE_ID_MAX",
    "MAX_EVENT_TYPE_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_RETRY_LIMIT",
    "MAX_SLEEP_MS",
    "MAX_STEP_NAME_LENGTH",
    "MAX_WORKFLOW_NAME_LENGTH",
    "ResolvedStepConfig",
    "claim_step_name",
    "encode_payload",
    "encode_result",
    "is_instance_id",
    "is_too_large",
    "resolve_step_config",
    "validate_event_type",
    "validate_step_name",
    "validate_wait",
    "validate_workflow_name",
]

#: The limit on a step's result, an instance's params and an event's payload (JSON bytes).
MAX_PAYLOAD_BYTES: Final = 1024 * 1024
MAX_STEP_NAME_LENGTH: Final = 256
MAX_EVENT_TYPE_LENGTH: Final = 100
#: The longest sleep or ``wait_for_event`` timeout: 365 days.
MAX_SLEEP_MS: Final = 365 * 86_400_000.0
MAX_RETRY_LIMIT: Final = 10_000
INSTANCE_ID_MAX: Final = 100
MAX_WORKFLOW_NAME_LENGTH: Final = 64
#: The alphabet of instance ids and workflow names (session ids reuse it).
ID_RE: Final = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_-]*$")

#: Cloudflare's documented defaults for ``step.do``.
DEFAULT_STEP_CONFIG: Final[dict[str, Any]] = {
    "retries": {"limit": 5, "delay": 10_000, "backoff": "exponential"},
    "timeout": "10 minutes",
}
#: The documented default attempt timeout (10 minutes).
DEFAULT_TIMEOUT_MS: Final = 600_000.0

_CONTROL = re.compile(r"[\x00-\x1f]")
_BACKOFFS = frozenset({"constant", "linear", "exponential"})
_CONFIG_KEYS = frozenset({"retries", "timeout", "sensitive"})
_RETRY_KEYS = frozenset({"limit", "delay", "backoff"})


# -- step configs ----------------------------------------------------------------------------


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
    limit=5, delay_ms=10_000.0, backoff="exponential", timeout_ms=DEFAULT_TIMEOUT_MS
)


def resolve_step_config(config: Mapping[str, Any] | None) -> ResolvedStepConfig:
    """Validate ``config`` and merge it over the defaults (ConfigurationError if invalid)."""
    if config is None:
        return _DEFAULT
    # Every step.do resolves its config, and a run passes the same few config objects
    # (module constants, an agent's own) on every step: a config is resolved once per
    # object and its answer reused while the object still reads the same. repr() is that
    # reading: it tells True from 1 and 1.0 and "1" apart, where == would not
    # (``{"limit": True} == {"limit": 1}``), and catches a dict changed in place (what
    # _resolve reads in it is dicts, ints, floats and strs: their repr is their value).
    # Only plain dicts are remembered; anything else is resolved every time.
    if type(config) is dict:
        seen = _RESOLVED.get(id(config))
        if seen is not None and seen[0] is config and seen[1] == repr(config):
            return seen[2]
        resolved = _resolve(config) if config else _DEFAULT
        retries = config.get("retries")
        if retries is None or type(retries) is dict:
            if len(_RESOLVED) >= _RESOLVED_MAX:
                _RESOLVED.clear()
            # The config itself is kept with its answer: its id is not reused meanwhile.
            _RESOLVED[id(config)] = (config, repr(config), resolved)
        return resolved
    if not isinstance(config, Mapping):
        raise ConfigurationError(f"a step config must be a dict, got {type(config).__name__}")
    return _resolve(config) if config else _DEFAULT


#: id(config) -> (config, repr(config) when resolved, its resolution): resolve_step_config.
_RESOLVED: dict[int, tuple[dict[str, Any], str, ResolvedStepConfig]] = {}
#: Configs remembered at most (then forgotten all at once): a caller that builds a new
#: dict for each step gains nothing from the cache, and must not grow it.
_RESOLVED_MAX = 64


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


# -- names and durations ---------------------------------------------------------------------


def _bounded(value: object, noun: str, article: str, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{article} {noun} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ConfigurationError(f"{noun} is {len(value)} characters; the limit is {limit}")
    return value


def validate_step_name(name: object) -> str:
    """A non-empty string of at most 256 characters, no control characters."""
    checked = _bounded(name, "step name", "a", MAX_STEP_NAME_LENGTH)
    if _CONTROL.search(checked):
        raise ConfigurationError(f"step name {checked!r} contains control characters")
    return checked


def claim_step_name(claimed: set[str], name: object, where: str) -> str:
    """Validate ``name`` and add it to the names ``claimed`` by one run of an instance
    (``where`` names it in the error). Names are unique within an instance: Workflows would
    silently count a second use as another step, which a replay cannot tell apart."""
    checked = validate_step_name(name)
    if checked in claimed:
        raise StepError(
            f"step name {checked!r} is used twice in {where}: step names must be unique "
            "within an instance"
        )
    claimed.add(checked)
    return checked


def validate_event_type(event_type: object) -> str:
    """A non-empty string of at most 100 characters."""
    return _bounded(event_type, "event type", "an", MAX_EVENT_TYPE_LENGTH)


def validate_wait(duration: DurationLike, what: str) -> float:
    """A sleep's duration or a wait's timeout in ms, at most 365 days; ``what`` names it
    (``"sleep 'x'"``, ``"wait_for_event 'x' timeout"``)."""
    ms = parse_duration(duration, what=what)
    if ms > MAX_SLEEP_MS:
        raise ConfigurationError(f"{what} is {format_duration(ms)}; the limit is 365 days")
    return ms


def is_instance_id(value: object) -> TypeGuard[str]:
    """Whether Workflows accepts ``value`` as an instance id (1 to 100 characters of the
    alphabet); :func:`helix_agents.ids.validate_instance_id` says why not."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= INSTANCE_ID_MAX
        and ID_RE.match(value) is not None
    )


def validate_workflow_name(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_WORKFLOW_NAME_LENGTH:
        raise ConfigurationError(
            f"a workflow name must be 1 to {MAX_WORKFLOW_NAME_LENGTH} characters, got {name!r}"
        )
    if not ID_RE.match(name):
        raise ConfigurationError(f"workflow name {name!r} must match ^[a-zA-Z0-9_][a-zA-Z0-9-_]*$")
    return name


# -- JSON values and their size --------------------------------------------------------------


#: ``json.dumps`` with these options, built once: every step's result goes through it, and
#: ``json.dumps`` with options builds an encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def is_too_large(text: str) -> int | None:
    """The size in bytes of the JSON ``text`` if it is over 1 MiB, else None."""
    # A str of n characters is at most 4n bytes in UTF-8: skip the encode when that fits.
    if len(text) * 4 <= MAX_PAYLOAD_BYTES:
        return None
    size = len(text.encode("utf-8"))
    return size if size > MAX_PAYLOAD_BYTES else None


def encode_result(value: Any, what: str) -> str:
    """A step's result (or an instance's output) as compact JSON: StepError if it is not
    JSON, StepResultTooLargeError past 1 MiB (a StepError: retrying would not help)."""
    return _encode(value, what, payload=False)


def encode_payload(value: Any, what: str) -> str:
    """An instance's params or an event's payload as compact JSON: ConfigurationError if it
    is not JSON, ValueTooLargeError past 1 MiB (the caller's mistake, refused up front)."""
    return _encode(value, what, payload=True)


def _encode(value: Any, what: str, *, payload: bool) -> str:
    try:
        text = _dumps(value)
    except (TypeError, ValueError) as exc:
        error = ConfigurationError if payload else StepError
        raise error(f"{what} is not JSON: {exc}") from None
    size = is_too_large(text)
    if size is None:
        return text
    message = f"{what} is {size} bytes of JSON; the limit is 1 MiB ({MAX_PAYLOAD_BYTES} bytes)"
    if payload:
        raise ValueTooLargeError(message, size=size, limit=MAX_PAYLOAD_BYTES)
    raise StepResultTooLargeError(message)
