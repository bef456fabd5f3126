"""Usage accounting: what one model request, one step, one run or one session cost."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import Record

__all__ = ["Usage", "UsageKind", "UsageRecord", "UsageRollup"]

UsageKind = Literal["model", "tool", "custom", "subagent"]


class Usage(Record):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    requests: int = 0
    tool_calls: int = 0
    #: Custom counters recorded by tools (``ctx.record_usage("searches", 1)``).
    custom: dict[str, float] = Field(default_factory=dict)

    def __add__(self, other: Usage) -> Usage:
        custom = dict(self.custom)
        for key, value in other.custom.items():
            custom[key] = custom.get(key, 0) + value
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            requests=self.requests + other.requests,
            tool_calls=self.tool_calls + other.tool_calls,
            custom=custom,
        )

    @property
    def is_empty(self) -> bool:
        """Equal to ``Usage()``: every counter zero, no custom counter. Compared field by
        field (asked of every step's usage): building a ``Usage`` and comparing models costs
        ten times as much."""
        return (
            self.input_tokens == 0
            and self.output_tokens == 0
            and self.total_tokens == 0
            and self.requests == 0
            and self.tool_calls == 0
            and not self.custom
        )


class UsageRecord(Record):
    """One row of ``__agents_usage``: usage recorded by one step of one run.

    ``record_id`` is deterministic (the step name), so re-recording after a crash is a no-op.
    """

    record_id: str
    session_id: str
    run_id: str
    kind: UsageKind = "model"
    model: str | None = None
    usage: Usage = Field(default_factory=Usage)
    created_at: int = 0
    metadata: dict[str, Any] | None = None


class UsageRollup(Record):
    """Usage of a session, optionally with its sub-sessions' (recursively)."""

    session_id: str
    usage: Usage = Field(default_factory=Usage)
    by_session: dict[str, Usage] = Field(default_factory=dict)
