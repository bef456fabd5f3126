"""The cron parser and the due-time arithmetic (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helix_agents.cron import parse_cron
from helix_agents.errors import ScheduleError
from helix_agents.schedules import build_schedule, next_due


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("* * * * *", ms(2026, 1, 1, 0, 0), ms(2026, 1, 1, 0, 1)),
        ("*/15 * * * *", ms(2026, 1, 1, 0, 7), ms(2026, 1, 1, 0, 15)),
        ("0 9 * * *", ms(2026, 1, 1, 9, 0), ms(2026, 1, 2, 9, 0)),
        ("30 2 1 * *", ms(2026, 1, 15), ms(2026, 2, 1, 2, 30)),
        ("0 0 * * mon", ms(2026, 12, 3), ms(2026, 12, 7)),  # 3 Dec 2026 is a Thursday
        ("0 0 * * 7", ms(2026, 12, 3), ms(2026, 12, 6)),  # 7 is Sunday too
        ("0 0 1 * mon", ms(2026, 12, 3), ms(2026, 12, 7)),  # either day field
        ("0 0 29 feb *", ms(2026, 1, 1), ms(2028, 2, 29)),  # the next leap day
        ("0 12 * jan-mar/2 *", ms(2026, 1, 31, 13), ms(2026, 3, 1, 12)),
        ("5,10-12 0 * * *", ms(2026, 1, 1, 0, 10), ms(2026, 1, 1, 0, 11)),
        ("@hourly", ms(2026, 1, 1, 0, 30), ms(2026, 1, 1, 1, 0)),
        ("@daily", ms(2026, 12, 31, 23, 59), ms(2027, 1, 1)),
        ("0 0 * 12 *", ms(2026, 12, 31, 1), ms(2027, 12, 1)),
        ("10/20 * * * *", ms(2026, 1, 1, 0, 31), ms(2026, 1, 1, 0, 50)),
    ],
)
def test_next_after(expr: str, after: int, expected: int) -> None:
    assert parse_cron(expr).next_after(after) == expected


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "*/0 * * * *",
        "5-1 * * * *",
        "a * * * *",
        "1,,2 * * * *",
        "@often",
        "0 0 31 feb *",  # matches no date
    ],
)
def test_bad_expressions_are_refused(expr: str) -> None:
    with pytest.raises(ScheduleError):
        parse_cron(expr)


@given(
    st.integers(min_value=ms(2000, 1, 1), max_value=ms(2090, 1, 1)),
    st.sampled_from(["*/7 * * * *", "0 */5 * * *", "15 3 * * 1-5", "0 0 1,15 * *", "@weekly"]),
)
def test_next_after_is_the_first_match(after: int, expr: str) -> None:
    cron = parse_cron(expr)
    found = cron.next_after(after)
    assert found > after
    assert found % 60_000 == 0
    when = datetime.fromtimestamp(found / 1000, UTC)
    assert when.minute in cron.minutes
    assert when.hour in cron.hours
    assert when.month in cron.months
    assert cron.matches_day(when)
    # No match in between: stepping minute by minute from after finds the same time first
    # (checked over a bounded window).
    probe = (after // 60_000 + 1) * 60_000
    for _ in range(min(2000, (found - probe) // 60_000)):
        t = datetime.fromtimestamp(probe / 1000, UTC)
        assert not (
            t.minute in cron.minutes
            and t.hour in cron.hours
            and t.month in cron.months
            and cron.matches_day(t)
        )
        probe += 60_000


def test_interval_due_times_keep_their_anchor() -> None:
    s = build_schedule(agent="a", message="m", now_ms=1_000, every_ms=10_000)
    assert s.next_due_ms == 11_000
    assert next_due(s, 11_000) == 21_000
    assert next_due(s, 54_321) == 61_000  # late: the next one on the grid, not now + 10 s
    assert next_due(s, 0) == 11_000
    past = build_schedule(agent="a", message="m", now_ms=25_000, every_ms=10_000, at_ms=1_000)
    assert past.next_due_ms == 31_000  # the grid from its first due time, not now
    on_grid = build_schedule(agent="a", message="m", now_ms=21_000, every_ms=10_000, at_ms=1_000)
    assert on_grid.next_due_ms == 21_000


def test_one_shot_due_times() -> None:
    s = build_schedule(agent="a", message="m", now_ms=1_000, delay_ms=500)
    assert s.kind == "once"
    assert s.next_due_ms == 1_500
    assert next_due(s, 1_499) == 1_500
    assert next_due(s, 1_500) is None
    with pytest.raises(ScheduleError):
        build_schedule(agent="a", message="m", now_ms=10_000_000, at_ms=1_000)
