"""Workflows durations: ``"10 seconds"``, ``"2 minutes"``, ``"1 day"``, or a number of ms.

Cloudflare Workflows accepts a duration wherever ``step.sleep``, ``wait_for_event``'s
timeout, and a step config's ``retries.delay`` and ``timeout`` take one: a number is
milliseconds, a string is ``"<number> <unit>"`` with the unit ``second``, ``minute``,
``hour``, ``day``, ``week``, ``month`` or ``year``, singular or plural. The local engine and
the fakes of the Cloudflare bindings both parse durations here, so they agree on every
value.

Workflows resolves the string units as the ``itty-time`` library does (a month is 30 days,
a year 365.25 days), and so does this module. We are stricter than ``itty-time`` in one
way on purpose: an unknown unit is an error, where ``itty-time`` would silently read
``"5 secs"`` as 5 ms.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from .errors import ConfigurationError

__all__ = ["DurationLike", "format_duration", "parse_duration"]

DurationLike = int | float | str

_SECOND = 1_000.0
_DAY = 86_400_000.0
_UNITS = {
    "ms": 1.0,
    "millisecond": 1.0,
    "second": _SECOND,
    "minute": 60 * _SECOND,
    "hour": 3_600 * _SECOND,
    "day": _DAY,
    "week": 7 * _DAY,
    "month": 30 * _DAY,
    "year": 365.25 * _DAY,
}
_DURATION_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:\s+([a-zA-Z]+))?\s*$")


def parse_duration(value: DurationLike, *, what: str = "duration") -> float:
    """The duration ``value`` in milliseconds (a float, never negative).

    Raises :class:`ConfigurationError` naming ``what`` for anything that is not a
    non-negative finite number or a ``"<number> <unit>"`` string.
    """
    if isinstance(value, bool):  # bool is an int; True ms is surely a mistake
        raise ConfigurationError(f"{what} must be a number of ms or a string, not a bool")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ConfigurationError(f"{what} must be a finite number of ms >= 0, got {value!r}")
        return float(value)
    if isinstance(value, str):
        return _parse_string(value, what)
    raise ConfigurationError(
        f"{what} must be a number of ms or a string such as '10 seconds', "
        f"got {type(value).__name__}"
    )


@lru_cache(maxsize=256)
def _parse_string(text: str, what: str) -> float:
    match = _DURATION_RE.match(text)
    if match is None:
        raise ConfigurationError(
            f"{what} {text!r} is not a duration: use '<number> <unit>' "
            "(second, minute, hour, day, week, month, year) or a number of ms"
        )
    number, unit = match.groups()
    if unit is None:  # a bare number in a string is ms, as in Workflows
        return float(number)
    unit = unit.lower()
    factor = _UNITS.get(unit)
    if factor is None and unit.endswith("s"):
        factor = _UNITS.get(unit[:-1])
    if factor is None:
        raise ConfigurationError(
            f"{what} {text!r} has an unknown unit {unit!r}: use second, minute, hour, day, "
            "week, month or year"
        )
    return float(number) * factor


def format_duration(ms: float) -> str:
    """A short human form of ``ms`` for error messages: ``"10 seconds"``, ``"250 ms"``."""
    for unit, factor in (("day", _DAY), ("hour", 3_600_000.0), ("minute", 60_000.0)):
        if ms >= factor and ms % factor == 0:
            count = int(ms // factor)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    if ms >= _SECOND and ms % _SECOND == 0:
        count = int(ms // _SECOND)
        return f"{count} second{'s' if count != 1 else ''}"
    return f"{ms:g} ms"
