"""The Launcher port over a Workflow binding (``env.AGENT_WORKFLOW``).

The Python SDK's binding takes one dict for ``create({"id", "params"})``, hands back
instance handles from ``create`` and ``get(id)``, and names the event method
``send_event``. What it throws is JS text (``instance.not_found``,
``instance.already_exists: ...``); this module turns that into our errors and checks what it
can before a round trip: the id rules and the 1 MiB limit on params and event payloads.

``send_event`` and ``terminate`` first read the instance's status, so that steering an
instance that already finished fails the same way on every platform version (a
StepError), whatever text Workflows would have used. Both are rare operations (an interrupt,
an abort), so the extra call does not matter.
"""

from __future__ import annotations

import re
from typing import Any, Final, get_args

from ...error_codec import encoded_error_summary as error_summary
from ...errors import (
    ConfigurationError,
    InstanceExistsError,
    InstanceNotFoundError,
    InvalidIdError,
    StepError,
    ValueTooLargeError,
)
from ...ids import validate_instance_id
from ...ports.launcher import InstanceState, InstanceStatus
from ...workflow_rules import encode_payload, validate_event_type
from .carrier import find_carried, js_error_text
from .step import plain

__all__ = ["WorkflowLauncher"]

_STATES: Final = frozenset(get_args(InstanceState))
_FINAL: Final = frozenset({"complete", "errored", "terminated"})
#: The last line of a Python traceback: ``module.Class: message``.
_TRACEBACK_LAST = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*)(?::\s?(.*))?$", re.S)


class WorkflowLauncher:
    """The Launcher port over ``binding``, the SDK's wrapper of a Workflow binding."""

    def __init__(self, binding: Any) -> None:
        if binding is None or not callable(getattr(binding, "create", None)):
            raise ConfigurationError(
                "WorkflowLauncher needs a Workflow binding (env.AGENT_WORKFLOW): add a "
                "[[workflows]] binding to wrangler.toml"
            )
        self.binding = binding

    async def create(self, instance_id: str, params: dict[str, Any]) -> None:
        validate_instance_id(instance_id)
        encode_payload(params, f"the params of instance {instance_id!r}")
        try:
            await self.binding.create({"id": instance_id, "params": params})
        except Exception as exc:
            raise _translate(exc, instance_id) from exc

    async def status(self, instance_id: str) -> InstanceStatus:
        try:
            validate_instance_id(instance_id)
        except InvalidIdError:
            return InstanceStatus("unknown")
        handle = await self._get(instance_id)
        if handle is None:
            return InstanceStatus("unknown")
        return await _status(handle, instance_id)

    async def send_event(self, instance_id: str, event_type: str, payload: Any = None) -> None:
        validate_event_type(event_type)
        encode_payload(payload, f"the payload of event {event_type!r}")
        handle = await self._live(instance_id, "send an event to")
        try:
            await handle.send_event({"type": event_type, "payload": payload})
        except Exception as exc:
            raise _translate(exc, instance_id) from exc

    async def terminate(self, instance_id: str) -> None:
        handle = await self._live(instance_id, "terminate")
        try:
            await handle.terminate()
        except Exception as exc:
            raise _translate(exc, instance_id) from exc

    async def _get(self, instance_id: str) -> Any | None:
        try:
            return await self.binding.get(instance_id)
        except Exception as exc:
            error = _translate(exc, instance_id)
            if isinstance(error, InstanceNotFoundError):
                return None
            raise error from exc

    async def _live(self, instance_id: str, what: str) -> Any:
        validate_instance_id(instance_id)
        handle = await self._get(instance_id)
        if handle is None:
            raise InstanceNotFoundError(f"no instance {instance_id!r}")
        current = await _status(handle, instance_id)
        if current.status in _FINAL:
            raise StepError(f"cannot {what} instance {instance_id!r}: it is {current.status}")
        return handle


async def _status(handle: Any, instance_id: str) -> InstanceStatus:
    try:
        raw = plain(await handle.status())
    except Exception as exc:
        failure = _translate(exc, instance_id)
        if isinstance(failure, InstanceNotFoundError):
            return InstanceStatus("unknown")
        raise failure from exc
    if not isinstance(raw, dict):
        raise StepError(f"instance {instance_id!r}: unexpected status {raw!r}")
    state = str(raw.get("status") or "unknown")
    if state == "waitingForPause":
        state = "running"
    if state not in _STATES:
        state = "unknown"
    error = raw.get("error")
    return InstanceStatus(
        state,  # type: ignore[arg-type]
        output=raw.get("output"),
        error=_error(error) if error else None,
    )


def _error(error: Any) -> dict[str, str]:
    """An instance's ``error`` as ``{"name", "message"}`` of the original Python error."""
    if isinstance(error, dict):
        name = str(error.get("name") or "Error")
        message = str(error.get("message") or "")
    else:
        name, message = "Error", str(error)
    carried = find_carried(message)
    if carried is not None:
        return error_summary(carried)
    if "Traceback (most recent call last)" in message:
        # A Python error that escaped without our carrier: its traceback's last line.
        last = message.rstrip().splitlines()[-1]
        match = _TRACEBACK_LAST.match(last.strip())
        if match:
            return {"name": match[1], "message": match[2] or ""}
    return {"name": name, "message": message}


def _translate(exc: BaseException, instance_id: str) -> Exception:
    if isinstance(exc, InvalidIdError | StepError | ValueTooLargeError | ConfigurationError):
        return exc
    text = js_error_text(exc)
    lowered = text.lower()
    if "already_exists" in lowered or "already exists" in lowered:
        return InstanceExistsError(
            f"instance {instance_id!r} already exists: instance ids are write-once"
        )
    if "not_found" in lowered or "not found" in lowered:
        return InstanceNotFoundError(f"no instance {instance_id!r}")
    if "invalid_id" in lowered or "invalid id" in lowered:  # the local engine: "has invalid id"
        return InvalidIdError(f"instance id {instance_id!r} was refused: {text}")
    return StepError(f"Workflows refused an operation on instance {instance_id!r}: {text}")
