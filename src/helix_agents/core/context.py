"""The ToolContext a tool receives while its step runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..chunks import CustomDataChunk
from .stream_writer import StreamWriter

__all__ = ["RunToolContext"]


class _TrackedState(dict[str, Any]):
    """The session's custom state, remembering which keys a tool set (the step's patch)."""

    def __init__(self, base: Mapping[str, Any]) -> None:
        super().__init__(base)
        self.patch: dict[str, Any] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.patch[key] = value

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.patch[key] = None

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.patch[key] = None
        return super().pop(key, *default)


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
    ) -> None:
        self._session_id = session_id
        self._run_id = run_id
        self._agent_name = agent_name
        self._tool_call_id = tool_call_id
        self._state = _TrackedState(custom_state)
        self._writer = writer
        self._check_interrupt = check_interrupt
        self.custom_usage: dict[str, float] = {}

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
    def state(self) -> dict[str, Any]:
        return self._state

    @property
    def state_patch(self) -> dict[str, Any]:
        return dict(self._state.patch)

    def update_state(self, values: Mapping[str, Any]) -> None:
        self._state.update(values)

    async def emit(self, name: str, data: Any, *, transient: bool = False) -> None:
        await self._writer.add(CustomDataChunk(name=name, data=data, transient=transient or None))

    def record_usage(self, kind: str, amount: float = 1) -> None:
        self.custom_usage[kind] = self.custom_usage.get(kind, 0) + amount

    async def is_interrupted(self) -> bool:
        if self._writer.stop_requested is not None:
            return True
        return await self._check_interrupt()
