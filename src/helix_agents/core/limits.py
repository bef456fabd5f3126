"""An agent's usage limits (:class:`~helix_agents.agent.UsageLimits`), checked per turn.

The counts come from step results (each model step returns what its call used; the loop
adds the tool calls it ran) plus what earlier instances of the same turn used
(``RunParams.usage_before``), so a check is deterministic on replay and costs no read.
Requests are checked before a model call (the call that would exceed is not made); tokens
and tool calls after a response (its tool calls are then not run). Either way the run ends
``failed`` with ``failure_reason="usage_limit"`` and a message that names the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..usage import Usage

if TYPE_CHECKING:
    from ..agent import UsageLimits

__all__ = ["FAILURE_REASON", "after_response", "before_request"]

FAILURE_REASON = "usage_limit"


def before_request(limits: UsageLimits | None, used: Usage) -> str | None:
    """The error when one more model request would exceed the limit, else None."""
    if limits is None or limits.max_requests is None:
        return None
    if used.requests + 1 > limits.max_requests:
        return (
            f"The agent reached its limit of {limits.max_requests} model requests "
            f"(used {used.requests})."
        )
    return None


def after_response(limits: UsageLimits | None, used: Usage, tool_calls: int) -> str | None:
    """The error when the usage so far (this response included) exceeds a limit, or when
    running ``tool_calls`` more tools would; else None."""
    if limits is None:
        return None
    if limits.max_total_tokens is not None and used.total_tokens > limits.max_total_tokens:
        return (
            f"The agent exceeded its limit of {limits.max_total_tokens} total tokens "
            f"(used {used.total_tokens})."
        )
    if limits.max_tool_calls is not None and used.tool_calls + tool_calls > limits.max_tool_calls:
        return (
            f"The agent would exceed its limit of {limits.max_tool_calls} tool calls "
            f"({used.tool_calls} made, {tool_calls} more requested)."
        )
    return None
