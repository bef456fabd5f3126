"""Workflows durations: numbers are ms, strings are '<number> <unit>'."""

from __future__ import annotations

import pytest

from helix_agents.durations import format_duration, parse_duration
from helix_agents.errors import ConfigurationError


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (0, 0.0),
        (250, 250.0),
        (1.5, 1.5),
        ("250", 250.0),
        ("1 second", 1_000.0),
        ("10 seconds", 10_000.0),
        ("2 minutes", 120_000.0),
        ("1.5 hours", 5_400_000.0),
        ("1 day", 86_400_000.0),
        ("2 weeks", 14 * 86_400_000.0),
        ("1 month", 30 * 86_400_000.0),
        ("1 year", 365.25 * 86_400_000.0),
        ("5 ms", 5.0),
        ("  3 Minutes ", 180_000.0),
    ],
)
def test_parse(value: int | float | str, ms: float) -> None:
    assert parse_duration(value) == ms


@pytest.mark.parametrize(
    "bad",
    ["", "soon", "5 secs", "10seconds", "-1 second", "1 fortnight", -1, float("nan"), True, None],
)
def test_bad_durations_are_clear_errors(bad: object) -> None:
    with pytest.raises(ConfigurationError, match=r"retries\.delay"):
        parse_duration(bad, what="retries.delay")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (10_000, "10 seconds"),
        (1_000, "1 second"),
        (600_000, "10 minutes"),
        (86_400_000, "1 day"),
        (250, "250 ms"),
    ],
)
def test_format(ms: float, text: str) -> None:
    assert format_duration(ms) == text
