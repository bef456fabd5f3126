"""A session's state as clients see and edit it, and its checkpoints: rewind and fork.

What :class:`~helix_agents.executor.Executor`'s ``state``, ``set_state``, ``checkpoints``,
``rewind`` and ``fork`` do, over the store (``store/checkpoints.py``) and the registry (an
agent's ``state_type`` validates a human's edit and shapes what clients read). The rules
are in docs/checkpoints.md.
"""

from __future__ import annotations

from typing import Any

from .agent import Agent, AgentRegistry
from .core.starter import check_owner
from .errors import StateValidationError, UnknownAgentError
from .ids import new_session_id as fresh_session_id
from .state import Checkpoint, SessionState
from .store import StateStore
from .typed_state import session_state_json, state_json, validate_state

__all__ = ["SessionBranches"]


class SessionBranches:
    """The state and checkpoint operations of one executor."""

    def __init__(self, store: StateStore, registry: AgentRegistry) -> None:
        self.store = store
        self.registry = registry

    async def state(self, session_id: str, *, user_id: str | None = None) -> dict[str, Any]:
        """The session's state as JSON: its agent's ``state_type`` validated (defaults
        filled in), or the stored object."""
        session = await self._session(session_id, user_id)
        return session_state_json(self.registry, session)

    async def set_state(
        self, session_id: str, value: Any, *, user_id: str | None = None
    ) -> dict[str, Any]:
        """Replace the session's state with ``value`` (validated against the agent's
        ``state_type``: :class:`StateValidationError`), while no run is active
        (:class:`ConflictError`). Returns the state as stored."""
        session = await self._session(session_id, user_id)
        agent = self._agent(session)
        if agent is not None and agent.state_type is not None:
            stored = validate_state(agent.state_type, value).model_dump(mode="json")
        else:
            stored = dict(validate_object(value))
        saved = await self.store.set_custom_state(session_id, stored)
        return state_json(agent, saved.custom_state)

    async def checkpoints(self, session_id: str, *, user_id: str | None = None) -> list[Checkpoint]:
        await self._session(session_id, user_id)
        return await self.store.list_checkpoints(session_id)

    async def rewind(
        self, session_id: str, checkpoint: int, *, user_id: str | None = None
    ) -> SessionState:
        await self._session(session_id, user_id)
        return await self.store.rewind(session_id, checkpoint)

    async def fork(
        self,
        session_id: str,
        checkpoint: int,
        *,
        new_session_id: str | None = None,
        user_id: str | None = None,
    ) -> SessionState:
        await self._session(session_id, user_id)
        target = new_session_id if new_session_id is not None else fresh_session_id()
        return await self.store.fork(session_id, checkpoint, target, user_id=user_id)

    async def _session(self, session_id: str, user_id: str | None) -> SessionState:
        session = await self.store.require_session(session_id)
        check_owner(session, user_id)
        return session

    def _agent(self, session: SessionState) -> Agent | None:
        try:
            return self.registry.get(session.agent_type)
        except UnknownAgentError:
            return None  # an agent this host does not serve: its state, untyped


def validate_object(value: Any) -> dict[str, Any]:
    """An untyped state: any JSON object."""
    if not isinstance(value, dict):
        raise StateValidationError(
            f"a session's state is a JSON object, not {type(value).__name__}"
        )
    return value
