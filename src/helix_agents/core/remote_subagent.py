"""A remote sub-agent's call: the task run by another helix-agents deployment over HTTP.

A :class:`~helix_agents.subagents.RemoteSubagentTool` call runs in its delegation step
(``turn-T/step-SS/tool/<call>``), start to end, in that one step:

1. the child's session id is derived from the parent's session and the call
   (``{parent}-remote-{call}``, or ``remote_<hash>`` when that is no valid session id), and
   the sub-session reference is recorded, with ``remote_json`` (url, agent type, session and
   message id), **before** anything is sent;
2. the remote is asked for the session's snapshot. No session: the turn is started with
   ``POST /chat`` and a message id derived from the call, which the remote API makes
   idempotent (a stored message id starts nothing and answers with that turn's stream).
   A running turn is followed, an interrupted one resumed, an ended one is the outcome.
   So a retried or replayed step never starts a second remote run;
3. the remote's UI chunks are proxied into the parent's stream as the transient
   ``data-subagent-chunk`` parts a local child's chunks become, framed by the call's
   ``data-subagent`` part; a broken stream is followed again from its last event id;
4. an interrupt (or abort) of the parent is sent to the remote, and the call ends
   ``interrupted`` (no result: the parent's resume runs it again, which resumes the remote);
5. past the tool's ``timeout``, counted from the reference's ``started_at`` (so a replay
   keeps the first attempt's deadline; from the latest answer after a suspension), the
   remote run is aborted and the model gets an error result;
6. when the remote turn ends, its usage (the remote snapshot's, the child's session being
   the call's alone) is recorded under the child's session, once (an id from the call);
7. a remote that stops for a human makes the call ``suspended``: what it waits on is
   mirrored into the reference (:mod:`.remote_answers`), the client answers through the
   parent, and the parent's resumed step sends the answers before it follows the remote.

The wait is one long step rather than ``wait_for_event``: a remote deployment cannot send
this one's Workflow an event. The tool sets the step's own timeout a minute above its
``timeout``; while it waits the step holds one streaming request and spends no CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from ..agent import AgentRegistry
from ..chunks import (
    CustomDataChunk,
    SubagentEndChunk,
    SubagentStartChunk,
    ToolErrorChunk,
    ToolOutputChunk,
)
from ..clock import wall_clock_ms
from ..durations import parse_duration
from ..errors import ConfigurationError, InvalidIdError, StepError, StreamError, ToolError
from ..ids import validate_session_id
from ..ports.streams import StopRequest
from ..state import SubSessionRef
from ..store import StateStore
from ..subagents import RemoteSubagentTool
from ..usage import Usage, UsageRecord
from .children import DelegatedCall, child_session_id
from .host_resources import HostResources
from .params import ToolStepResult
from .remote_answers import answer_body, pending_of_snapshot, remote_answered
from .remote_http import RemoteAgentClient, RemoteEvent, RemoteRefusedError
from .subagents import task_message

__all__ = ["abort_remote_children", "remote_session_id", "start_remote_subagent"]

_FINAL = frozenset({"completed", "failed", "aborted"})
#: After a stop is sent, how long the remote gets to end its stream.
_STOP_GRACE = 30.0
#: Reconnecting to an unreachable remote: the first pause, doubled up to the last.
_FIRST_RETRY = 0.25
_LAST_RETRY = 5.0
_STOP_POLL = 1.0


def remote_session_id(parent_session_id: str, tool_call_id: str) -> str:
    """``{parent}-remote-{call}`` when that is a valid session id, else a derived one."""
    candidate = f"{parent_session_id}-remote-{tool_call_id}"
    try:
        return validate_session_id(candidate)
    except InvalidIdError:
        return child_session_id(parent_session_id, tool_call_id, prefix="remote")


async def abort_remote_children(
    store: StateStore,
    registry: AgentRegistry,
    resources: HostResources,
    session_id: str,
    refs: list[SubSessionRef],
    reason: str | None,
) -> None:
    """Abort the remote children ``refs`` of ``session_id``, an aborted session.

    A session that waits (suspended on a remote's question, or interrupted) runs no step
    that would tell its remote children, so the abort does: each is sent an abort with
    its tool's url and token, and its reference ends ``aborted``. Best effort, as a running
    call's stop is: a remote that cannot be reached is left to its own expiry.
    """
    state = await store.load_session(session_id)
    if state is None or state.agent_type not in registry:
        return
    tools = [t for t in registry.get(state.agent_type).tools if isinstance(t, RemoteSubagentTool)]
    why = f"the parent session {session_id!r} was aborted" + (f": {reason}" if reason else "")
    for ref in refs:
        remote = ref.remote_json or {}
        for tool in tools:
            try:
                url, token = tool.resolve(resources.vars)
            except ConfigurationError:
                continue  # its url variable is gone: it cannot be what started this one
            if tool.agent_type == ref.agent_type and remote.get("url", url) == url:
                break
        else:
            continue  # the tool is gone from the agent: nothing to reach the remote with
        client = _client(tool, resources, url, token)
        try:
            with contextlib.suppress(httpx.TransportError, ToolError):
                await client.abort(ref.sub_session_id, why)
        finally:
            await client.aclose()
        await store.update_sub_session(session_id, ref.sub_session_id, "aborted")


def _client(
    tool: RemoteSubagentTool, resources: HostResources, url: str, token: str | None
) -> RemoteAgentClient:
    """The HTTP client of the remote ``tool`` reaches (the tool's own transport, else the
    host's: the Worker's ``fetch``)."""
    return RemoteAgentClient(url, token=token, transport=tool.transport or resources.http_transport)


async def start_remote_subagent(call: DelegatedCall, tool: RemoteSubagentTool) -> ToolStepResult:
    message = await task_message(call, tool)
    if message is None:
        return ToolStepResult(status="error")
    store = call.run.deps.store
    resources = call.run.deps.resources
    url, token = tool.resolve(resources.vars)
    child = remote_session_id(call.session_id, call.call_id)
    remote = {
        "url": url,
        "agentType": tool.agent_type,
        "sessionId": child,
        "messageId": f"{child}-task",
    }
    await store.add_sub_session(
        SubSessionRef(
            session_id=call.session_id,
            sub_session_id=child,
            agent_type=tool.agent_type,
            parent_tool_call_id=call.call_id,
            remote_json=remote,
        )
    )
    ref = await store.get_sub_session(call.session_id, child)
    assert ref is not None
    # Answered while suspended: the answers are sent first, and the clock starts again.
    answers, ref = await _take_answers(call, ref)
    # A replay goes where the first attempt went, and keeps its deadline.
    url = str((ref.remote_json or remote).get("url", url))
    since = (ref.remote_json or {}).get("clockFrom")
    deadline = (since if isinstance(since, int) else ref.started_at) + parse_duration(tool.timeout)
    client = _client(tool, resources, url, token)
    try:
        remote_call = _RemoteCall(call, tool, client, url, child, message, remote["messageId"])
        remote_call.answers = answers
        return await remote_call.run(deadline)
    finally:
        await client.aclose()


async def _take_answers(
    call: DelegatedCall, ref: SubSessionRef
) -> tuple[dict[str, Any], SubSessionRef]:
    """The answers a suspended remote child got through this deployment, once every call it
    waited on has one: marked ``forwarding`` (with the new start of the call's clock) before
    they are sent, so that a replay sends them again and keeps that clock."""
    store = call.run.deps.store
    for _ in range(8):
        remote = dict(ref.remote_json or {})
        if ref.status != "suspended" or not remote_answered(ref):
            return {}, ref
        answers = dict(remote.get("answers") or {})
        if remote.get("forwarding"):
            return answers, ref
        remote.update(
            forwarding=True,
            clockFrom=call.run.deps.clock(),
            version=int(remote.get("version") or 0) + 1,
        )
        if await store.swap_remote_json(call.session_id, ref.sub_session_id, remote):
            return answers, ref.model_copy(update={"remote_json": remote})
        again = await store.get_sub_session(call.session_id, ref.sub_session_id)
        assert again is not None
        ref = again
    raise StepError(f"the reference of {ref.sub_session_id!r} keeps changing")  # pragma: no cover


class _RemoteCall:
    def __init__(
        self,
        call: DelegatedCall,
        tool: RemoteSubagentTool,
        client: RemoteAgentClient,
        url: str,
        child: str,
        message: str,
        message_id: str,
    ) -> None:
        self.call = call
        self.tool = tool
        self.client = client
        self.url = url
        self.child = child
        self.message = message
        self.message_id = message_id
        #: The last event id proxied: where a reconnection reads on.
        self.cursor: int | None = None
        self.announced = False
        self.last_error: str | None = None
        #: A stop was sent: the remote's stream is about to end; retry nothing.
        self.stopping = False
        #: Answers to send before anything else (the remote child was suspended).
        self.answers: dict[str, Any] = {}

    async def run(self, deadline: float) -> ToolStepResult:
        remaining = (deadline - wall_clock_ms()) / 1000.0
        if remaining <= 0:
            return await self._timed_out()
        drive = asyncio.ensure_future(self._drive())
        stop = asyncio.ensure_future(self._wait_stop())
        try:
            done, _ = await asyncio.wait(
                {drive, stop}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if drive in done:
                return await self._finish(drive.result())
            if stop in done:
                kind = stop.result()
                self.stopping = True
                await self._send_stop(kind)
                # The remote's stream ends once its run stopped: proxy that end too (how
                # the drive ends does not matter any more: the call has no result).
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(drive), _STOP_GRACE)
                await self._update_ref("interrupted")
                return ToolStepResult(status="interrupted", child_session_id=self.child)
            return await self._timed_out()
        except asyncio.CancelledError:
            # The instance is being stopped (the parent aborted): the remote run stops too.
            control = await self.call.run.deps.store.get_control(self.call.session_id)
            if control.aborted:
                await self._send_stop("abort")
            raise
        finally:
            for task in (drive, stop):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    # -- following the remote -------------------------------------------------------------

    async def _drive(self) -> dict[str, Any]:
        """Start, resume or find the remote turn and proxy its stream to its end; the
        final snapshot. Retries while the remote is unreachable (the caller's deadline
        bounds it)."""
        first = True
        delay = _FIRST_RETRY
        while True:
            try:
                if self.answers:
                    await self._send_answers()
                snapshot = await self.client.snapshot(self.child)
                status = None if snapshot is None else snapshot.get("status")
                # Only the call's first look resumes an interrupted remote (the parent's
                # resume runs the call again); one it finds later was stopped meanwhile.
                may_resume, first = first and not self.stopping, False
                if snapshot is None:
                    await self._announce()
                    async with self.client.start(
                        agent_type=self.tool.agent_type,
                        message=self.message,
                        session_id=self.child,
                        message_id=self.message_id,
                    ) as events:
                        await self._proxy(events)
                elif status == "active":
                    await self._announce()
                    async with self.client.follow(self.child, after=self.cursor) as stream:
                        if stream is not None:
                            await self._proxy(stream)
                elif status == "interrupted" and may_resume:
                    await self._announce()
                    async with self.client.resume(self.child) as resumed:
                        if resumed is not None:
                            await self._proxy(resumed)
                else:
                    assert snapshot is not None
                    return snapshot
                delay = _FIRST_RETRY
            except RemoteRefusedError as exc:
                if exc.permanent:
                    return {"status": "refused", "error": str(exc)}
                self.last_error = str(exc)
            except (httpx.TransportError, ToolError) as exc:
                self.last_error = str(exc) or type(exc).__name__
            else:
                continue
            # The remote is unreachable, or refused for now: ask it again shortly (the
            # deadline bounds the retries), unless the call is being stopped.
            if self.stopping:
                return {"status": "interrupted"}
            await asyncio.sleep(delay)
            delay = min(2 * delay, _LAST_RETRY)

    async def _proxy(self, events: AsyncIterator[RemoteEvent]) -> None:
        writer = self.call.writer
        async for event in events:
            if event.id is not None:
                self.cursor = event.id
            await writer.add(
                CustomDataChunk(
                    name="subagent-chunk",
                    data={
                        "agent": self.tool.agent_type,
                        "sessionId": self.child,
                        "chunk": event.chunk,
                    },
                    transient=True,
                )
            )

    async def _announce(self) -> None:
        if not self.announced:
            self.announced = True
            await self.call.writer.add(
                SubagentStartChunk(
                    child_session_id=self.child,
                    child_agent_type=self.tool.agent_type,
                    tool_call_id=self.call.call_id,
                )
            )

    async def _wait_stop(self) -> StopRequest:
        """The parent's interrupt or abort, as soon as one is requested."""
        run = self.call.run
        writer = self.call.writer
        # Short waits first, as the model step's watch: a wait this call gives up on (it
        # ended) stays open in the stream's object until its own end.
        wait = 1.0
        while True:
            if writer.stop_requested is not None:
                return writer.stop_requested
            if run.forwarded:
                # A child writing into its parent's stream reads its own flag.
                control = await run.deps.store.get_control(run.params.session_id)
                if control.aborted:
                    return "abort"
                if control.interrupt is not None:
                    return "interrupt"
                await asyncio.sleep(_STOP_POLL)
                continue
            try:
                kind = await run.deps.streams.wait_stop(writer.stream_id, wait)
            except StreamError:
                await asyncio.sleep(_STOP_POLL)
                continue
            if kind is not None:
                writer.note_stop(kind)
                return kind
            wait = min(2 * wait, 30.0)

    async def _send_stop(self, kind: StopRequest) -> None:
        what = "aborted" if kind == "abort" else "interrupted"
        reason = f"the parent session {self.call.session_id!r} was {what}"
        with contextlib.suppress(httpx.TransportError, ToolError):
            if kind == "abort":
                await self.client.abort(self.child, reason)
            else:
                await self.client.interrupt(self.child, reason)

    # -- a remote child that waits on a human ------------------------------------------------

    async def _send_answers(self) -> None:
        """Send the answers the parent's client gave (one request each; a call the remote
        already settled, on a replay, is refused and skipped), proxying the stream of the
        turn the last one resumes, then clear them."""
        await self._announce()
        for call_id, answer in self.answers.items():
            # The answer that resumes the remote answers with the resumed turn's stream.
            async with self.client.submit(self.child, answer_body(call_id, answer)) as events:
                if events is not None:
                    await self._proxy(events)
        await self._swap_ref(
            lambda remote: {
                k: v for k, v in remote.items() if k not in ("pending", "answers", "forwarding")
            },
            status="active",
        )
        self.answers = {}

    async def _suspend(self, pending: list[dict[str, Any]]) -> None:
        """Mirror what the remote waits on into the reference: the parent's session can
        then take the answers (core/remote_answers.py)."""
        now = self.call.run.deps.clock()
        waiting = {p["toolCallId"] for p in pending}

        def change(remote: dict[str, Any]) -> dict[str, Any]:
            # A replayed step mirrors again: an answer already taken for a call that still
            # waits is kept (its client was told it was accepted).
            kept = {k: v for k, v in (remote.get("answers") or {}).items() if k in waiting}
            others = {k: v for k, v in remote.items() if k != "forwarding"}
            return {**others, "pending": pending, "answers": kept, "clockFrom": now}

        await self._swap_ref(change, status="suspended")

    async def _swap_ref(
        self, change: Callable[[dict[str, Any]], dict[str, Any]], *, status: str
    ) -> None:
        store = self.call.run.deps.store
        for _ in range(8):
            ref = await store.get_sub_session(self.call.session_id, self.child)
            assert ref is not None
            remote = change(dict(ref.remote_json or {}))
            remote["version"] = int((ref.remote_json or {}).get("version") or 0) + 1
            if await store.swap_remote_json(
                self.call.session_id, self.child, remote, status=status
            ):
                return
        raise StepError(  # pragma: no cover - eight lost races in a row
            f"the reference of {self.child!r} keeps changing"
        )

    # -- the call's result ----------------------------------------------------------------

    async def _finish(self, snapshot: dict[str, Any]) -> ToolStepResult:
        status = str(snapshot.get("status"))
        agent = self.tool.agent_type
        writer = self.call.writer
        call_id = self.call.call_id
        if status == "completed":
            await self._record_usage(snapshot)
            output = snapshot.get("output")
            await self._end(status, output)
            await writer.add(ToolOutputChunk(tool_call_id=call_id, output=output))
            await self.call.write_result(output, "success", usage=Usage(tool_calls=1))
            await self._update_ref(status)
            return ToolStepResult(status="success")
        error = snapshot.get("error")
        if status in _FINAL:
            await self._record_usage(snapshot)
            what = "was aborted" if status == "aborted" else "failed"
            content = f"The agent {agent!r} {what}" + (f": {error}" if error else ".")
            await self._end(status, None)
        elif status == "refused":
            content = f"The remote agent {agent!r} at {self.url} refused the task: {error}"
        elif status == "interrupted":
            content = f"The remote agent {agent!r} was interrupted on its own host."
        elif pending := pending_of_snapshot(snapshot):
            # It waits on a human: the parent's call suspends, as a local child's does.
            await self._suspend(pending)
            return ToolStepResult(status="suspended", child_session_id=self.child)
        else:
            # It waits on something this deployment cannot see (a call of the remote's own
            # child): answered on the remote only.
            content = (
                f"The remote agent {agent!r} stopped to wait for an answer ({status}); "
                f"answer it on {self.url} (session {self.child!r})."
            )
        await writer.add(ToolErrorChunk(tool_call_id=call_id, error=content))
        await self.call.write_result(content, "error", usage=Usage(tool_calls=1))
        await self._update_ref(status if status in _FINAL else "failed")
        return ToolStepResult(status="error")

    async def _timed_out(self) -> ToolStepResult:
        with contextlib.suppress(httpx.TransportError, ToolError):
            await self.client.abort(self.child, f"timed out after {self.tool.timeout}")
            # What the remote spent before it was stopped is spent all the same.
            snapshot = await self.client.snapshot(self.child)
            if snapshot is not None and snapshot.get("status") in _FINAL:
                await self._record_usage(snapshot)
        message = (
            f"The agent in session {self.child!r} did not finish within "
            f"{self.tool.timeout} and was stopped."
        )
        if not self.announced and self.last_error:
            message += f" The remote agent could not be reached: {self.last_error}"
        await self._end("aborted", None)
        await self.call.writer.add(ToolErrorChunk(tool_call_id=self.call.call_id, error=message))
        await self.call.write_result(message, "error", usage=Usage(tool_calls=1))
        await self._update_ref("aborted")
        return ToolStepResult(status="error")

    async def _record_usage(self, snapshot: dict[str, Any]) -> None:
        """The remote turn's usage, recorded in this deployment under the child's session,
        so the parent's rollup (``by_session``) counts it as a local child's.

        The remote child's session exists for this one call, so its snapshot's usage (its
        own sub-sessions' included) is the call's whole cost, across the remote's resumes.
        Read once the remote turn ended (its last step recorded its usage before its end).
        The record's id is derived from the parent's session and the call: a replayed
        step, or the resumed parent finishing the call, records nothing twice."""
        raw = snapshot.get("usage")
        if not isinstance(raw, dict):
            return
        try:
            usage = Usage.model_validate(raw)
        except ValueError:
            return  # not this runtime's usage: count nothing rather than fail the call
        if usage.is_empty:
            return
        run = self.call.run
        remote_run = snapshot.get("runId")
        await run.deps.store.record_usage(
            UsageRecord(
                record_id=f"{self.call.session_id}/remote/{self.call.call_id}",
                session_id=self.child,
                run_id=remote_run if isinstance(remote_run, str) else self.child,
                kind="subagent",
                usage=usage,
                created_at=run.deps.clock(),
                metadata={
                    "remote": self.url,
                    "parentRunId": run.params.run_id,
                    "toolCallId": self.call.call_id,
                },
            )
        )

    async def _end(self, status: str, output: Any) -> None:
        await self.call.writer.add(
            SubagentEndChunk(
                child_session_id=self.child,
                child_agent_type=self.tool.agent_type,
                tool_call_id=self.call.call_id,
                status=status,
                output=output,
            )
        )

    async def _update_ref(self, status: str) -> None:
        await self.call.run.deps.store.update_sub_session(self.call.session_id, self.child, status)
