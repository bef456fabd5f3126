"""Persistent companions: named children that keep their session across calls.

An agent that declares ``companions=[...]`` gets six tools (declared in
:mod:`helix_agents.subagents`, built by the registry):

- ``spawn_agent(agent_type, name, message, wait=True)``: start the companion ``name``, or,
  if it exists and is idle, send it ``message`` as its next turn (its session, and so its
  memory, is preserved: re-spawning a completed companion continues it);
- ``send_message(name, message, wait=True)``: the next turn of an existing companion;
- ``wait_for_result(name)``: wait for the companion's current turn and return its output;
- ``list_children()``, ``get_child_status(name)``, ``terminate_child(name)``.

With ``wait=True`` a call blocks (durably, see :mod:`.children`) until the companion's turn
ends, and the companion's chunks are forwarded to the parent's stream; with ``wait=False``
the call returns at once and the companion streams to its own stream.
A companion's session id is derived from the parent's session and the name. The delegation
step (:mod:`.delegation_step`) runs a companion tool's call through :func:`run_companion`.
"""

from __future__ import annotations

from typing import Any

from ..chunks import ToolErrorChunk, ToolOutputChunk
from ..errors import HelixError
from ..state import FINAL_STATUSES
from ..subagents import COMPANION_TOOL_NAMES, CompanionTool
from ..tools import ToolArgumentsError
from .children import ChildRef, DelegatedCall, child_session_id, finish_with_child, open_child
from .params import ToolStepResult

__all__ = ["COMPANION_TOOL_NAMES", "run_companion"]


class _Refused(Exception):
    """A companion request the model must correct (told as the call's error result)."""


async def run_companion(call: DelegatedCall, tool: CompanionTool) -> ToolStepResult:
    """Run one companion operation (``tool.op``) for the call."""
    try:
        args = tool.validate_arguments(call.planned.call.arguments).model_dump()
    except ToolArgumentsError as exc:
        return await _error(call, exc.message, input_error=True)
    try:
        if tool.op in ("spawn", "send", "wait"):
            return await _run(call, tool, args)
        if tool.op == "list":
            output: Any = await _list(call)
        elif tool.op == "status":
            output = await _status(call, args["name"])
        else:
            output = await _terminate(call, args["name"])
    except (_Refused, HelixError) as exc:
        return await _error(call, str(exc))
    await call.writer.add(ToolOutputChunk(tool_call_id=call.call_id, output=output))
    await call.write_result(output, "success")
    return ToolStepResult(status="success")


# -- the ops ---------------------------------------------------------------------------------


def _child(call: DelegatedCall, name: str, agent_type: str, blocking: bool) -> ChildRef:
    return ChildRef(
        session_id=child_session_id(call.session_id, name, prefix="cmp"),
        agent_type=agent_type,
        mode="persistent",
        name=name,
        blocking=blocking,
    )


async def _known(call: DelegatedCall, name: str) -> str:
    ref = await call.run.deps.store.find_sub_session_by_name(call.session_id, name)
    if ref is None or ref.mode != "persistent":
        raise _Refused(f"There is no companion named {name!r}. Spawn it first.")
    return ref.agent_type


async def _run(call: DelegatedCall, tool: CompanionTool, args: dict[str, Any]) -> ToolStepResult:
    store = call.run.deps.store
    name = args["name"]
    message: str | None = args.get("message")
    if tool.op == "spawn":
        agent_type = args["agent_type"]
        if agent_type not in tool.agent_names:
            raise _Refused(
                f"Unknown companion agent {agent_type!r}; choose one of "
                f"{', '.join(tool.agent_names)}."
            )
        ref = await store.find_sub_session_by_name(call.session_id, name)
        if ref is not None and ref.agent_type != agent_type:
            raise _Refused(
                f"The companion {name!r} is a {ref.agent_type!r} agent, not {agent_type!r}."
            )
    else:
        agent_type = await _known(call, name)
    blocking = bool(args.get("wait", True))
    child = _child(call, name, agent_type, blocking)
    if message is not None:
        latest = await store.latest_run(child.session_id)
        busy = latest is not None and latest.status not in FINAL_STATUSES
        if busy and not await store.turn_started_by(child.session_id, call.call_id):
            assert latest is not None
            raise _Refused(
                f"The companion {name!r} is busy ({latest.status.value}). Call "
                "wait_for_result first."
            )
    opened = await open_child(call, child, message=message)
    if opened is None:
        return await finish_with_child(call, child.session_id)
    if opened.status == "waiting" and not blocking:
        output = {"name": name, "sessionId": child.session_id, "status": "running"}
        await call.writer.add(ToolOutputChunk(tool_call_id=call.call_id, output=output))
        await call.write_result(output, "success")
        return ToolStepResult(status="success")
    return opened


async def _list(call: DelegatedCall) -> list[dict[str, Any]]:
    store = call.run.deps.store
    out = []
    for ref in await store.list_sub_sessions(call.session_id, mode="persistent"):
        state = await store.load_session(ref.sub_session_id)
        out.append(
            {
                "name": ref.name,
                "agentType": ref.agent_type,
                "sessionId": ref.sub_session_id,
                "status": state.status.value if state is not None else ref.status,
            }
        )
    return out


async def _status(call: DelegatedCall, name: str) -> dict[str, Any]:
    await _known(call, name)
    child = child_session_id(call.session_id, name, prefix="cmp")
    state = await call.run.deps.store.require_session(child)
    info: dict[str, Any] = {"name": name, "status": state.status.value}
    if state.output is not None:
        info["output"] = state.output
    if state.error:
        info["error"] = state.error
    return info


async def _terminate(call: DelegatedCall, name: str) -> dict[str, Any]:
    await _known(call, name)
    store = call.run.deps.store
    parent = call.session_id
    child = child_session_id(parent, name, prefix="cmp")
    latest = await store.latest_run(child)
    if latest is not None and latest.status not in FINAL_STATUSES:
        await store.abort(child, None, "terminated by its parent")
        await call.run.starter().stop_instance(latest)
    await store.update_sub_session(parent, child, "terminated")
    return {"name": name, "status": "terminated"}


async def _error(call: DelegatedCall, message: str, *, input_error: bool = False) -> ToolStepResult:
    planned = call.planned.call
    await call.writer.add(
        ToolErrorChunk(
            tool_call_id=planned.id,
            error=message,
            input_error=input_error or None,
            tool_name=planned.name if input_error else None,
            input=planned.arguments if input_error else None,
        )
    )
    await call.write_result(message, "error")
    return ToolStepResult(status="error")
