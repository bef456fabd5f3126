"""The ToolContext a tool receives while its step runs."""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..chunks import CustomDataChunk, SourceChunk
from ..json_patch import diff
from ..messages import Source
from ..typed_state import validate_state
from .host_resources import HostResources
from .stream_writer import StreamWriter

if TYPE_CHECKING:
    from ..agent import Agent
    from ..services import Services

__all__ = ["STATE_PATCH_PART", "RunToolContext"]


class _TrackedState(dict[str, Any]):
    """A private deep copy of the session's custom state for one tool call.

    The step's patch is what differs at the end of the call: every top-level key whose JSON
    differs from what the tool was given (so in-place changes to nested values count, as
    ``state["items"].append(x)`` or ``state["a"]["b"] = 1``), and ``None`` for each key that
    was removed. Being a copy, what the tool changes reaches nobody else (a concurrent call,
    a retry of this step) before the step's write."""

    def __init__(self, base: Mapping[str, Any]) -> None:
        # An empty state (most agents') has nothing to copy or fingerprint.
        super().__init__(copy.deepcopy(dict(base)) if base else ())
        self._before = {key: _fingerprint(value) for key, value in self.items()}

    @property
    def patch(self) -> dict[str, Any]:
        patch: dict[str, Any] = {key: None for key in self._before if key not in self}
        for key, value in self.items():
            if key not in self._before or _fingerprint(value) != self._before[key]:
                patch[key] = value
        return patch


#: The data part a tool step's state change streams as (``data-state-patch`` in the UI).
STATE_PATCH_PART = "state-patch"

_ABSENT = object()


def _as_json(value: Any) -> Any:
    """``value`` as plain JSON, or None when it is not JSON (the store refuses it then)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return None


def _fingerprint(value: Any) -> str | object:
    """A value's canonical JSON; a fresh object (never equal) when it has none, so that a
    value the store cannot keep is still part of the patch and refused there."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        return object()


class RunToolContext:
    """Implements :class:`helix_agents.tools.ToolContext` for one tool call."""

    def __init__(
        self,
        *,
        session_id: str,
        run_id: str,
        agent_name: str,
        tool_call_id: str,
        custom_state: Mapping[str, Any],
        writer: StreamWriter,
        check_interrupt: Callable[[], Awaitable[bool]],
        resources: HostResources | None = None,
        agent: Agent | None = None,
    ) -> None:
        self._session_id = session_id
        self._run_id = run_id
        self._agent_name = agent_name
        self._tool_call_id = tool_call_id
        self._state = _TrackedState(custom_state)
        # A typed state is the model over the same JSON; the stored JSON stays the base of
        # the step's patch (keys first set to their defaults are written then).
        self._state_type = None if agent is None else agent.state_type
        self._typed: BaseModel | None = None
        if self._state_type is not None:
            self._typed = validate_state(self._state_type, custom_state)
            self._before: Any = self._typed.model_dump(mode="json")
        else:
            # An empty state's JSON is {} (the round trip of _as_json, skipped).
            self._before = _as_json(dict(custom_state)) if custom_state else {}
        self._writer = writer
        self._check_interrupt = check_interrupt
        self.custom_usage: dict[str, float] = {}
        #: The sources this call cited, in order: kept with its result (the snapshot's parts).
        self.sources: list[Source] = []
        self._resources = resources if resources is not None else HostResources()
        self._agent = agent

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def agent_name(self) -> str:
        return self._agent_name

    @property
    def tool_call_id(self) -> str:
        return self._tool_call_id

    @property
    def state(self) -> Any:
        return self._typed if self._typed is not None else self._state

    @property
    def deps(self) -> Any:
        # Built by the host on first use (once per host), never carried in a step result.
        return None if self._agent is None else self._resources.deps_for(self._agent)

    @property
    def services(self) -> Services:
        return self._resources.services

    @property
    def scheduler(self) -> Any:
        """The host's schedule operations, or None (not part of ``ToolContext``: only
        ``schedule_toolkit`` reads it)."""
        return self._resources.scheduler

    @property
    def env(self) -> Any:
        return self._resources.env

    @property
    def state_patch(self) -> dict[str, Any]:
        """The top-level keys this call changed (``None``: removed), what its step writes.
        A typed state is validated first: :class:`StateValidationError` if the tool left it
        invalid."""
        if self._typed is None or self._state_type is None:
            return self._state.patch
        after = self._typed_json()
        stored = self._state  # the stored JSON, untouched in typed mode
        patch: dict[str, Any] = {}
        for key, value in after.items():
            old = stored.get(key, _ABSENT)
            if value is None and old is _ABSENT:
                continue
            if old is _ABSENT or _fingerprint(value) != _fingerprint(old):
                patch[key] = value
        return patch

    def state_json_patch(self) -> list[dict[str, Any]]:
        """This call's change of the state as JSON Patch operations (RFC 6902), from the
        state as it was given to the call to the state as it is now."""
        after = self._typed_json() if self._typed is not None else _as_json(dict(self._state))
        if self._before is None or after is None:
            return []
        return diff(self._before, after)

    def _typed_json(self) -> dict[str, Any]:
        assert self._typed is not None
        assert self._state_type is not None
        # Assignments are not validated by pydantic by default: validate the result.
        dumped = self._typed.model_dump(mode="json", warnings=False)
        return validate_state(self._state_type, dumped).model_dump(mode="json")

    def update_state(self, values: Mapping[str, Any]) -> None:
        if self._typed is None or self._state_type is None:
            self._state.update(values)
            return
        merged = validate_state(
            self._state_type, {**self._typed.model_dump(mode="json"), **dict(values)}
        )
        for key in values:
            if key not in self._state_type.model_fields:
                from ..errors import StateValidationError

                raise StateValidationError(f"{self._state_type.__name__} has no field {key!r}")
            setattr(self._typed, key, getattr(merged, key))

    async def emit(self, name: str, data: Any, *, transient: bool = False) -> None:
        await self._writer.add(CustomDataChunk(name=name, data=data, transient=transient or None))

    async def emit_source(
        self,
        source_id: str,
        *,
        url: str | None = None,
        title: str | None = None,
        media_type: str | None = None,
        filename: str | None = None,
    ) -> None:
        if any(s.source_id == source_id for s in self.sources):
            return  # one part per source and call, however often it was cited
        source = Source(
            source_id=source_id, url=url, title=title, media_type=media_type, filename=filename
        )
        self.sources.append(source)
        await self._writer.add(
            SourceChunk(
                source_id=source_id,
                tool_call_id=self._tool_call_id,
                url=url,
                title=title,
                media_type=media_type,
                filename=filename,
            )
        )

    def record_usage(self, kind: str, amount: float = 1) -> None:
        self.custom_usage[kind] = self.custom_usage.get(kind, 0) + amount

    async def is_interrupted(self) -> bool:
        if self._writer.stop_requested is not None:
            return True
        return await self._check_interrupt()
