"""Typed session state: an agent's ``state_type`` (a pydantic model whose fields all have
defaults) over the V9 ``custom_state`` column, which keeps holding plain JSON.

The stored JSON is the model's ``model_dump(mode="json")``, written key by key as before
(a tool's step writes the top-level keys it changed, with its result: see
``core/context.py``). Reading validates it against the model, so keys the store does not
hold yet read as their defaults. A field set to ``None`` is stored as absent and reads
back as its default: give a field that may be ``None`` the default ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from .errors import ConfigurationError, StateValidationError

if TYPE_CHECKING:
    from .agent import Agent, AgentRegistry
    from .state import SessionState

__all__ = ["check_state_type", "session_state_json", "state_json", "validate_state"]


def check_state_type(agent_name: str, state_type: Any) -> None:
    """Refuse a ``state_type`` that is not a pydantic model buildable from its defaults."""
    if not (isinstance(state_type, type) and issubclass(state_type, BaseModel)):
        raise ConfigurationError(f"agent {agent_name!r}: state_type must be a pydantic model")
    try:
        state_type()
    except ValidationError as exc:
        raise ConfigurationError(
            f"agent {agent_name!r}: every field of state_type {state_type.__name__} needs a "
            f"default (a new session starts from them): {exc.errors()[0]['loc']}"
        ) from exc


def validate_state(state_type: type[BaseModel], value: Any) -> BaseModel:
    """``value`` as the model; :class:`StateValidationError` naming the fields it fails."""
    if not isinstance(value, Mapping):
        raise StateValidationError(
            f"the state of {state_type.__name__} must be a JSON object, not {type(value).__name__}"
        )
    try:
        return state_type.model_validate(dict(value))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise StateValidationError(
            f"the state does not fit {state_type.__name__}: {problems}"
        ) from exc


def state_json(agent: Agent | None, stored: Mapping[str, Any]) -> dict[str, Any]:
    """A session's state as clients see it: with a ``state_type``, the validated model's
    JSON (defaults filled in); without one, the stored object as it is."""
    state_type = None if agent is None else agent.state_type
    if state_type is None:
        return dict(stored)
    return validate_state(state_type, stored).model_dump(mode="json")


def session_state_json(registry: AgentRegistry, session: SessionState) -> dict[str, Any]:
    """:func:`state_json` of a session, for a reader that must not fail over it (the
    snapshot): the stored object when its agent is not served here or the stored state no
    longer fits the model."""
    from .errors import UnknownAgentError

    try:
        return state_json(registry.get(session.agent_type), session.custom_state)
    except (UnknownAgentError, StateValidationError):
        return dict(session.custom_state)
