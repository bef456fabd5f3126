"""Invocations and their subrequests, as the platform counts and caps them.

Every request a Worker serves is one *invocation*, and so is each call into a Durable Object
and each run of a Workflow instance. What an invocation asks of other services is a
*subrequest*: a Durable Object RPC call or ``stub.fetch`` (a WebSocket upgrade included), a
D1 query or batch, a Workflow binding call, an outbound ``fetch``. Messages over a WebSocket
that is already open are not subrequests. A Worker invocation may make at most 1,000 of
them; the next one fails with the platform's ``Too many subrequests by single Worker
invocation.``

The fakes count each subrequest on the invocation that made it (:func:`count_subrequest`,
through a context variable, so the tasks an invocation starts count on it too), and run the
work of another invocation in its own context (:func:`start_in`). Workflow instances are
counted but not capped here: their limit (10,000 per instance) spans replays that the fake
runs as separate tasks.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import Counter
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

from .jsvalues import js_error

__all__ = [
    "SUBREQUEST_LIMIT",
    "TOO_MANY_SUBREQUESTS",
    "Invocation",
    "count_subrequest",
    "current_invocation",
    "start_in",
]

T = TypeVar("T")

SUBREQUEST_LIMIT: Final = 1000
TOO_MANY_SUBREQUESTS: Final = "Too many subrequests by single Worker invocation."

_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "helix_fake_invocation", default=None
)


class Invocation:
    """One invocation: what it is (``kind``, ``name``) and the subrequests it made."""

    def __init__(self, kind: str, name: str, *, limit: int | None = SUBREQUEST_LIMIT) -> None:
        self.kind = kind
        self.name = name
        self.limit = limit
        #: Subrequests by what they went to (``durable_object``, ``d1``, ``workflow``, ...).
        self.subrequests: Counter[str] = Counter()
        #: Subrequests refused because the limit was reached.
        self.refused = 0

    @property
    def total(self) -> int:
        return sum(self.subrequests.values())

    def count(self, target: str) -> None:
        if self.limit is not None and self.total >= self.limit:
            self.refused += 1
            raise js_error("Error", TOO_MANY_SUBREQUESTS)
        self.subrequests[target] += 1

    def __repr__(self) -> str:
        return f"<Invocation {self.kind} {self.name!r}: {self.total} subrequests>"


def current_invocation() -> Invocation | None:
    """The invocation the running code belongs to (None outside any)."""
    return _current.get()


def count_subrequest(target: str) -> None:
    """Count one subrequest on the current invocation (raises past its limit)."""
    invocation = _current.get()
    if invocation is not None:
        invocation.count(target)


def start_in(invocation: Invocation | None, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run ``coro`` as a task of ``invocation`` (None: of no invocation), whatever the
    caller's invocation is."""
    context = contextvars.copy_context()
    context.run(_current.set, invocation)
    return asyncio.get_running_loop().create_task(coro, context=context)
