"""Cron expressions, parsed and stepped in pure Python (UTC).

Five fields, ``minute hour day-of-month month day-of-week``, as in Vixie cron:

- ``*``, numbers, ranges ``a-b``, lists ``a,b,c``, steps ``*/n`` and ``a-b/n`` (and ``a/n``:
  from ``a`` to the field's end);
- month names ``jan``..``dec`` and day names ``sun``..``sat`` (case-insensitive); day of
  week 0 and 7 are both Sunday;
- the macros ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
  (``@midnight``) and ``@hourly``;
- when both day fields are restricted (neither starts with ``*``), a day matches if
  *either* matches (``0 0 1 * mon``: the 1st of each month and every Monday).

Times are UTC and whole minutes. No dependency: a cron library would have to be vendored
onto Pyodide for the Worker, and this is all the scheduler needs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import ScheduleError

__all__ = ["CronExpr", "parse_cron"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
#: (name, lowest, highest, names) of each field.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
#: How far ahead a next time is looked for: an expression that matches no real date (the
#: 31st of February) is refused rather than searched for ever.
_HORIZON_YEARS = 5


@dataclass(frozen=True, slots=True)
class CronExpr:
    """A parsed expression: the allowed values of each field."""

    source: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    days_restricted: bool
    weekdays_restricted: bool

    def matches_day(self, when: datetime) -> bool:
        in_month = when.day in self.days
        in_week = (when.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week

    def next_after(self, after_ms: int) -> int:
        """The first matching minute strictly after ``after_ms`` (epoch ms, UTC)."""
        start = datetime.fromtimestamp(after_ms / 1000, UTC).replace(second=0, microsecond=0)
        when = start + timedelta(minutes=1)
        limit = when.year + _HORIZON_YEARS
        while when.year <= limit:
            if when.month not in self.months:
                # The first minute of the next month.
                year, month = (
                    (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
                )
                when = when.replace(year=year, month=month, day=1, hour=0, minute=0)
                continue
            if not self.matches_day(when):
                when = (when + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if when.hour not in self.hours:
                when = (when + timedelta(hours=1)).replace(minute=0)
                continue
            if when.minute not in self.minutes:
                when += timedelta(minutes=1)
                continue
            return int(when.timestamp() * 1000)
        raise ScheduleError(f"cron expression {self.source!r} matches no date")


@functools.lru_cache(maxsize=256)
def parse_cron(expression: str) -> CronExpr:
    """Parse ``expression`` (see the module); ScheduleError names what is wrong."""
    if not isinstance(expression, str) or not expression.strip():
        raise ScheduleError("a cron expression is a string of five fields")
    text = expression.strip().lower()
    text = _MACROS.get(text, text)
    if text.startswith("@"):
        raise ScheduleError(f"unknown cron macro {expression.strip()!r}")
    parts = text.split()
    if len(parts) != 5:
        raise ScheduleError(
            f"cron expression {expression!r} has {len(parts)} fields; it needs five "
            "(minute hour day-of-month month day-of-week)"
        )
    values = [
        _field(part, name, low, high, names)
        for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True)
    ]
    weekdays = frozenset(d % 7 for d in values[4])
    expr = CronExpr(
        source=expression.strip(),
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    expr.next_after(0)  # an expression that matches no date fails here, not at a firing
    return expr


def _field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    out: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ScheduleError(f"cron {name}: an empty item in {text!r}")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            step = _number(step_text, name, names={})
            if step < 1:
                raise ScheduleError(f"cron {name}: a step must be at least 1, not {step}")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _number(a, name, names), _number(b, name, names)
        else:
            first = _number(base, name, names)
            last = high if slash else first
        for value in (first, last):
            if not low <= value <= high:
                raise ScheduleError(f"cron {name}: {value} is outside {low}-{high}")
        if first > last:
            raise ScheduleError(f"cron {name}: the range {base!r} runs backwards")
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _number(text: str, name: str, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ScheduleError(f"cron {name}: {text!r} is not a number")
    return int(text)
