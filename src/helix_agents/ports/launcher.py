"""The Launcher port: starts and controls run instances (a Workflow binding's shape).

Contract:

- ``create(instance_id, params)`` starts an instance; ids are write-once (creating an id that
  exists raises InstanceExistsError even after it finished) and follow Workflows' rules: at
  most 100 characters matching ``^[a-zA-Z0-9_][a-zA-Z0-9-_]*$`` (InvalidIdError otherwise).
  ``params`` is JSON of at most 1 MiB.
- ``status`` reports the Workflows status (``queued``, ``running``, ``paused``, ``errored``,
  ``terminated``, ``complete``, ``waiting``, ``unknown``) with ``output`` or ``error``.
- ``send_event`` delivers an event to a ``wait_for_event`` of the instance (buffered if the
  instance is not waiting yet); ``terminate`` stops it for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["InstanceState", "InstanceStatus", "Launcher"]

InstanceState = Literal[
    "queued", "running", "paused", "errored", "terminated", "complete", "waiting", "unknown"
]


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    status: InstanceState
    output: Any = None
    error: dict[str, str] | None = None


@runtime_checkable
class Launcher(Protocol):
    async def create(self, instance_id: str, params: dict[str, Any]) -> None: ...

    async def status(self, instance_id: str) -> InstanceStatus: ...

    async def send_event(self, instance_id: str, event_type: str, payload: Any = None) -> None: ...

    async def terminate(self, instance_id: str) -> None: ...
