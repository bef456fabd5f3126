"""A hierarchy of sessions walked from the top: sessions and their sub-sessions, breadth
first, each once, up to a bound.

One walk serves everything that reaches below a session: finding a pending call (a
sub-agent's call is answered through the session the client talks to), interrupting or
aborting a session with its children, and abandoning the children a suspended turn waited
on when a new turn starts. The bound is the caller's: it guards against a cycle or a runaway
tree in bad data, and each use has its own idea of how far is too far.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import StateStore

__all__ = ["walk_hierarchy"]


async def walk_hierarchy(
    store: StateStore, roots: Iterable[str], *, limit: int
) -> AsyncIterator[str]:
    """``roots``, then their sub-sessions breadth first, each once, at most ``limit`` of
    them. A session's sub-sessions are listed when the caller asks for the next one, after
    it has handled that session: a caller that stops early lists nothing more, and one that
    ends a session's run before moving on reads its children after that."""
    queue = list(roots)
    seen: set[str] = set()
    while queue and len(seen) < limit:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        yield current
        queue += [ref.sub_session_id for ref in await store.list_sub_sessions(current)]
