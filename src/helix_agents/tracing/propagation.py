"""The caller's trace context, from the W3C Trace Context headers of an HTTP request.

A request that starts or resumes a run may carry ``traceparent`` (and ``tracestate``): the
run then joins the caller's trace, its run span a child of the caller's span. The headers
are checked here as the W3C recommendation says a receiver must: a ``traceparent`` that is
not valid is ignored (the run starts a trace of its own, as without one), never refused,
and a ``tracestate`` counts only beside a valid ``traceparent``. Nothing here raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["TraceContext", "incoming_trace_context", "parse_tracestate", "parse_w3c_traceparent"]

# version-traceid-parentid-flags, lowercase hex; a later version may append fields.
_TRACEPARENT: Final = re.compile(
    r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[!-~]*)?$"
)
# One list member: ``key=value`` (a multi-tenant key is ``tenant@system``).
_MEMBER: Final = re.compile(
    r"^(?:[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}|[a-z][a-z0-9_\-*/]{0,255})"
    r"=[ -+\--<>-~]{0,255}[!-+\--<>-~]$"
)
#: At most this many list members, and characters, in a ``tracestate`` kept.
MAX_STATE_MEMBERS: Final = 32
MAX_STATE_LENGTH: Final = 512


@dataclass(frozen=True)
class TraceContext:
    """A caller's span: ``traceparent`` (normalized, version ``00``) and its
    ``tracestate`` (None when absent or not valid)."""

    traceparent: str
    tracestate: str | None = None


def parse_w3c_traceparent(value: str | None) -> str | None:
    """``value`` as a version-00 ``traceparent`` if it is a valid one, else None.

    Invalid: not lowercase hex in the right lengths, version ``ff``, a version-00 header
    with more fields, an all-zero trace id or span id."""
    if not value or len(value) > 512:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if not trace_id.strip("0") or not span_id.strip("0"):
        return None
    # A later version is read as version 00 (its first four fields), as the spec says.
    return f"00-{trace_id}-{span_id}-{flags}"


def parse_tracestate(value: str | None) -> str | None:
    """``value`` with empty members dropped if every member is a valid ``key=value``, its
    keys unique, at most 32 members and 512 characters; else None (all of it is dropped, as
    a receiver does with a malformed ``tracestate``)."""
    if not value:
        return None
    members = [m.strip() for m in value.split(",") if m.strip()]
    if not members or len(members) > MAX_STATE_MEMBERS:
        return None
    keys = set()
    for member in members:
        if _MEMBER.match(member) is None:
            return None
        keys.add(member.partition("=")[0])
    if len(keys) != len(members):
        return None
    joined = ",".join(members)
    return joined if len(joined) <= MAX_STATE_LENGTH else None


def incoming_trace_context(headers: Mapping[str, str]) -> TraceContext | None:
    """The caller's trace context in ``headers`` (looked up lowercase, as Starlette's
    headers are), or None when there is no valid ``traceparent``."""
    traceparent = parse_w3c_traceparent(headers.get("traceparent"))
    if traceparent is None:
        return None
    return TraceContext(traceparent, parse_tracestate(headers.get("tracestate")))
