"""``schedule_toolkit``: a tool with which an agent schedules its own follow-up.

The tool makes a one-shot schedule on the agent's own session (docs/triggers.md): when it
comes due, ``message`` arrives as a user message and the agent takes a turn. The schedule
belongs to the session's owner, waits for a run still active at its due time
(``on_busy="queue"``), and its id comes from the session and the tool call, so a tool step
re-run after a crash finds the schedule it made instead of making a second one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigurationError, HelixError, ToolError
from ..tools import Tool, ToolContext, tool

__all__ = ["followup_schedule_id", "schedule_toolkit"]


def followup_schedule_id(session_id: str, tool_call_id: str) -> str:
    """The schedule a follow-up call makes (stable across retries of its step)."""
    digest = hashlib.blake2b(f"{session_id}\n{tool_call_id}".encode(), digest_size=12).hexdigest()
    return f"sch_{digest}"


def schedule_toolkit(
    *,
    name: str = "schedule_followup",
    min_delay_seconds: float = 1.0,
    max_delay_seconds: float = 30 * 86_400.0,
) -> list[Tool]:
    """A tool that schedules a follow-up turn of the calling session, between
    ``min_delay_seconds`` and ``max_delay_seconds`` from now."""
    if not 0 <= min_delay_seconds <= max_delay_seconds:
        raise ConfigurationError("schedule_toolkit: 0 <= min_delay_seconds <= max_delay_seconds")

    @tool(name=name)
    async def schedule_followup(
        ctx: ToolContext,
        message: str,
        delay_seconds: float | None = None,
        at: str | None = None,
    ) -> dict[str, Any]:
        """Schedule a follow-up of this conversation: later, `message` arrives as a user
        message and you take a turn then (to check back, remind, retry). Give either
        delay_seconds or at.

        Args:
            message: What you should be told when the time comes, in full.
            delay_seconds: In how many seconds.
            at: Or when: an ISO 8601 time with its offset, e.g. 2026-12-03T09:00:00Z.
        """
        scheduler = getattr(ctx, "scheduler", None)
        if scheduler is None:
            raise ToolError("this host runs no schedules")
        if (delay_seconds is None) == (at is None):
            raise ToolError("give either delay_seconds or at, not both and not neither")
        when: datetime | None = None
        if at is not None:
            try:
                when = datetime.fromisoformat(at)
            except ValueError:
                raise ToolError(f"at {at!r} is not an ISO 8601 time") from None
            if when.tzinfo is None:
                raise ToolError("at needs its offset (Z for UTC)")
            delay = when.timestamp() - scheduler.clock() / 1000
        else:
            delay = float(delay_seconds)  # type: ignore[arg-type]
        if not min_delay_seconds <= delay <= max_delay_seconds:
            raise ToolError(
                f"the follow-up must be between {min_delay_seconds:.0f} and "
                f"{max_delay_seconds:.0f} seconds from now"
            )
        try:
            schedule = await scheduler.create(
                None,
                message,
                at=when,
                delay=None if when is not None else delay,
                session_id=ctx.session_id,
                schedule_id=followup_schedule_id(ctx.session_id, ctx.tool_call_id),
                metadata={"scheduledBy": {"runId": ctx.run_id, "toolCallId": ctx.tool_call_id}},
            )
        except HelixError as exc:
            raise ToolError(str(exc)) from None
        ctx.record_usage("schedules", 1)
        return {
            "scheduled": True,
            "scheduleId": schedule.schedule_id,
            "dueAt": datetime.fromtimestamp(schedule.next_due_ms / 1000, UTC).isoformat(),
        }

    return [schedule_followup]
