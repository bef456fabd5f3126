"""Ids and names: sessions, run instances, step names.

Workflows instance ids are at most 100 characters matching ``^[a-zA-Z0-9_][a-zA-Z0-9-_]*$``.
Each user turn is an instance ``{session}--t{turn}`` and each resume after a suspension is
``{session}--t{turn}--r{n}`` (docs/invariants.md invariant 5), so a session id is kept to 64
characters of the same alphabet, which leaves room for the suffixes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time

from .errors import InvalidIdError
from .workflow_rules import ID_RE as _ID_RE
from .workflow_rules import INSTANCE_ID_MAX

__all__ = [
    "INSTANCE_ID_MAX",
    "SESSION_ID_MAX",
    "call_id_scope",
    "collect_step_name",
    "expire_step_name",
    "fail_step_name",
    "mcp_tools_step_name",
    "model_step_name",
    "new_session_id",
    "parse_instance_id",
    "run_instance_id",
    "step_prefix",
    "summary_step_name",
    "suspend_step_name",
    "tool_step_name",
    "validate_instance_id",
    "validate_session_id",
    "wait_step_name",
]

SESSION_ID_MAX = 64
_MS_MASK = (1 << 48) - 1
_INSTANCE_RE = re.compile(r"^(?P<session>.+?)--t(?P<turn>\d+)(?:--r(?P<resume>\d+))?$")


def validate_instance_id(instance_id: str) -> str:
    if not isinstance(instance_id, str) or not instance_id:
        raise InvalidIdError("instance id must be a non-empty string")
    if len(instance_id) > INSTANCE_ID_MAX:
        raise InvalidIdError(
            f"instance id is {len(instance_id)} characters; the limit is {INSTANCE_ID_MAX}"
        )
    if not _ID_RE.match(instance_id):
        raise InvalidIdError(f"instance id {instance_id!r} must match ^[a-zA-Z0-9_][a-zA-Z0-9-_]*$")
    return instance_id


def validate_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not session_id:
        raise InvalidIdError("session id must be a non-empty string")
    if len(session_id) > SESSION_ID_MAX:
        raise InvalidIdError(
            f"session id is {len(session_id)} characters; the limit is {SESSION_ID_MAX}"
        )
    if not _ID_RE.match(session_id):
        raise InvalidIdError(f"session id {session_id!r} must match ^[a-zA-Z0-9_][a-zA-Z0-9-_]*$")
    return session_id


def new_session_id() -> str:
    """A fresh session id, ``s_`` and 32 hex digits: the time in milliseconds (12 digits),
    then 80 random bits. Call it outside steps only (it is not deterministic).

    Time first, as in a UUIDv7, so that a new session's keys (its messages, usage, runs,
    journal rows and stream chunks are all keyed by the session id first) sort after the
    older sessions' and go at the right edge of every index: an insert in the middle of a
    B-tree splits pages and rewrites its neighbours, a quarter more bytes per step
    (docs/benchmarks.md)."""
    return f"s_{int(time.time() * 1000) & _MS_MASK:012x}{secrets.token_hex(10)}"


def run_instance_id(session_id: str, turn: int, resume: int = 0) -> str:
    """``{session}--t{turn}`` for a turn, ``{session}--t{turn}--r{n}`` for its n-th resume."""
    base = f"{session_id}--t{turn}"
    return validate_instance_id(f"{base}--r{resume}" if resume else base)


def parse_instance_id(instance_id: str) -> tuple[str, int, int]:
    """The inverse of :func:`run_instance_id`: ``(session_id, turn, resume)``."""
    match = _INSTANCE_RE.match(instance_id)
    if not match:
        raise InvalidIdError(f"{instance_id!r} is not a run instance id")
    return match["session"], int(match["turn"]), int(match["resume"] or 0)


def call_id_scope(session_id: str, parent_session_id: str | None) -> str | None:
    """What a child session's tool call ids carry so that they stay unique in its parent's
    hierarchy (None for a top-level session).

    A child's calls are answered through the session the client talks to, and appear on the
    parent's stream: two children whose models both number their first call ``call_1_0``
    must not share it. So a child's call is named ``{provider id}~{scope}``, the scope being
    8 hex digits of the child's session id (deterministic: a retried step names it the
    same way)."""
    if parent_session_id is None:
        return None
    return hashlib.sha256(session_id.encode()).hexdigest()[:8]


# Step names. An instance's journal is keyed by them, so they never change shape: every
# step of agent step SS of turn T is ``turn-T/step-SS/<kind>[/<tool call id>]``, and a
# suspension names its step by the prefix alone.


def step_prefix(turn: int, step: int) -> str:
    """``turn-T/step-SS``: agent step ``step`` of turn ``turn`` (a suspension's step id)."""
    return f"turn-{turn}/step-{step:02d}"


def model_step_name(turn: int, step: int) -> str:
    return f"{step_prefix(turn, step)}/model"


def tool_step_name(turn: int, step: int, tool_call_id: str) -> str:
    return f"{step_prefix(turn, step)}/tool/{tool_call_id}"


def wait_step_name(turn: int, step: int, tool_call_id: str) -> str:
    """The durable wait for the end of the child a call delegated to."""
    return f"{step_prefix(turn, step)}/wait/{tool_call_id}"


def collect_step_name(turn: int, step: int, tool_call_id: str) -> str:
    """The step that writes a delegating call's result once its child ended."""
    return f"{step_prefix(turn, step)}/collect/{tool_call_id}"


def suspend_step_name(turn: int, step: int) -> str:
    return f"{step_prefix(turn, step)}/suspend"


def expire_step_name(turn: int, step: int) -> str:
    return f"{step_prefix(turn, step)}/expire"


def mcp_tools_step_name(turn: int, step: int) -> str:
    """The step that lists an agent's MCP tools, once per run instance (``step``: its first
    agent step)."""
    return f"{step_prefix(turn, step)}/mcp-tools"


def summary_step_name(turn: int, step: int) -> str:
    """The step that summarizes the older history for ``summarize_older``, once per run
    instance (``step``: its first agent step)."""
    return f"{step_prefix(turn, step)}/summary"


def fail_step_name(turn: int, step: int) -> str:
    return f"{step_prefix(turn, step)}/fail"
