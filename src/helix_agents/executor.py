"""Starting and steering runs: the executor and its handles, written once for both hosts.

``execute`` starts a new session or the next turn of an existing one. Each turn is a new
instance ``{session}--t{turn}`` (each resume ``--r{n}``), so multi-turn sessions work on
Workflows' write-once instance ids. Starting a run is one atomic store write that refuses a
second active run on the session (409) unless the caller supersedes it; the user's message
is written in the same batch, so a refused start leaves nothing behind.

Humans in the loop (docs/hitl.md): ``submit_tool_result`` settles a call that waits on an
approval or a client result and resumes the run once nothing else waits;
``expire_suspensions`` (and ``sweep``, for a cron or a periodic task) fails suspensions
that waited too long. ``interrupt`` and ``abort`` reach a session's children too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .agent import Agent, AgentRegistry
from .branches import SessionBranches
from .chunks import RunEndChunk, SequencedChunk
from .clock import wall_clock_ms
from .core.hierarchy import walk_hierarchy
from .core.host_resources import HostResources
from .core.params import ParentLink, RunParams
from .core.partial import keep_streamed_answer
from .core.schedule_ops import ScheduleOps
from .core.starter import RunStarter, check_owner, message_id
from .core.submissions import UNSET, Submission, expire_suspensions, resume_ready, submit
from .core.suspension import notify_parent
from .errors import ConflictError, HelixError, SessionNotFoundError
from .messages import AssistantMessage, Message, ToolResultMessage, UserMessage
from .ports.launcher import Launcher
from .ports.streams import StopRequest, StreamManager, WaitsForEnd
from .schedules import BusyPolicy, CronJob, Firing, MisfirePolicy, Schedule
from .state import (
    FINAL_STATUSES,
    Checkpoint,
    PendingToolCall,
    RunRecord,
    RunStatus,
    SessionState,
)
from .store import StateStore
from .store.refs import DONE_STATUSES
from .tracing.propagation import TraceContext
from .usage import Usage, UsageRollup

__all__ = ["UNSET", "Executor", "RunHandle", "RunOutcome", "Submission", "UserInput"]

UserInput = str | UserMessage | Sequence[str | UserMessage]

#: How long one stream read waits for new chunks before it asks again.
_READ_WAIT = 15.0
#: How many sessions interrupt and abort reach: the session and its descendants.
_MAX_TREE = 1000


class Executor:
    """Starts, finds and steers runs over a store, a stream manager and a launcher."""

    def __init__(
        self,
        *,
        registry: AgentRegistry,
        store: StateStore,
        streams: StreamManager,
        launcher: Launcher,
        clock: Callable[[], int] = wall_clock_ms,
        resources: HostResources | None = None,
    ) -> None:
        self.registry = registry
        #: The host's variables and HTTP transport: what an abort reaches a remote child
        #: with (None: remote children are left to their own expiry).
        self.resources = resources
        self.store = store
        self.streams = streams
        self.launcher = launcher
        self.clock = clock
        self.starter = RunStarter(registry, store, streams, launcher, clock)
        self._schedules = ScheduleOps(registry, store, launcher, clock)
        self._branches = SessionBranches(store, registry)

    # -- starting runs ---------------------------------------------------------------------

    async def execute(
        self,
        agent: Agent | str,
        message: UserInput,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        supersede: bool = False,
        metadata: dict[str, Any] | None = None,
        messages: Sequence[Message] | None = None,
        state: Any = None,
        trace_context: TraceContext | None = None,
    ) -> RunHandle:
        """Start a new session, or the next turn of ``session_id``.

        A turn started while the previous one waits on decisions or client results (or
        was interrupted with calls unrun) closes those calls without running them, and
        abandons the children the previous turn waited on.

        Overrides (docs/executor.md, "Overrides"): ``messages`` is a history to start from,
        stored before ``message`` in the same write: for a new session, or one without
        messages (ConflictError otherwise; ValueError for a history whose calls and results
        do not pair up). ``state`` is the session's state: a new session's initial state,
        or an existing one's replaced before the turn (ConflictError while a run is
        active); validated against the agent's ``state_type`` (StateValidationError).
        ``trace_context``: the caller's span (docs/tracing.md): the run's trace joins it."""
        from .ids import new_session_id, validate_session_id

        agent = self.registry.get(agent) if isinstance(agent, str) else agent
        user_messages = _user_messages(message)
        history = _checked_history(messages or ())
        session_id = validate_session_id(session_id) if session_id else new_session_id()
        initial: dict[str, Any] | None = None
        if state is not None:
            initial = _state_value(agent, state)
            existing = await self.store.load_session(session_id)
            if existing is not None:
                check_owner(existing, user_id)
                await self.store.set_custom_state(session_id, initial)
        params = await self.starter.start_turn(
            agent,
            user_messages,
            session_id=session_id,
            user_id=user_id,
            supersede=supersede,
            metadata=metadata,
            seed=history,
            custom_state=initial,
            trace_parent=trace_context.traceparent if trace_context is not None else None,
            trace_state=trace_context.tracestate if trace_context is not None else None,
        )
        await self.starter.launch(params)
        return self._handle(params)

    async def send(self, session_id: str, message: UserInput, **kwargs: Any) -> RunHandle:
        """The next turn of an existing session."""
        state = await self._session(session_id, kwargs.get("user_id"))
        return await self.execute(state.agent_type, message, session_id=session_id, **kwargs)

    async def can_resume(self, session_id: str, *, user_id: str | None = None) -> bool:
        """Whether :meth:`resume` would continue a run now: the session's latest run was
        interrupted. (A run waiting on approvals or client results resumes by itself once
        they are submitted.)"""
        await self._session(session_id, user_id)
        latest = await self.store.latest_run(session_id)
        return latest is not None and latest.status == RunStatus.INTERRUPTED

    async def resume(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        message: UserInput | None = None,
        trace_context: TraceContext | None = None,
    ) -> RunHandle:
        """Continue an interrupted run where it stopped, as a new instance (its children,
        if it was waiting on any, are resumed by its tool steps).

        With ``message``, the conversation goes on from where the run stopped with that
        message instead: the calls the run left unrun are closed without running, and the
        message starts the session's next turn (ConflictError unless the run was
        interrupted, as without it). ``trace_context``: the caller's span, which the new
        instance's trace joins."""
        state = await self._session(session_id, user_id)
        if message is not None:
            if not await self.can_resume(session_id, user_id=user_id):
                latest = await self.store.latest_run(session_id)
                status = latest.status.value if latest else "none"
                raise ConflictError(
                    f"session {session_id!r} has no interrupted run (status: {status})"
                )
            await self.store.clear_interrupt(session_id)
            return await self.execute(
                state.agent_type,
                message,
                session_id=session_id,
                user_id=user_id,
                trace_context=trace_context,
            )
        params = await self.starter.start_resume(
            session_id,
            statuses=frozenset({RunStatus.INTERRUPTED}),
            clear_interrupt=True,
            caller_trace=trace_context,
        )
        if params is None:
            latest = await self.store.latest_run(session_id)
            status = latest.status.value if latest else "none"
            raise ConflictError(f"session {session_id!r} has no interrupted run (status: {status})")
        return self._handle(params)

    async def recover_lost_runs(self) -> list[str]:
        """Launch the instances of active runs that have none.

        Starting a run writes the run record first and creates its instance after; a crash
        in between leaves an active run that nothing runs. Its params are rebuilt from the
        store exactly as they were computed (nothing had run yet), and the instance is
        created. A child's run is linked to its parent's active run again (its chunks go to
        its own stream: the parent's may end first). Returns the run ids it launched.
        """
        launched: list[str] = []
        for run in await self.store.list_active_runs():
            if (await self.launcher.status(run.run_id)).status != "unknown":
                continue
            if await self.store.load_session(run.session_id) is None:
                continue
            await self.starter.relaunch(run, parent=await self._parent_link(run.session_id))
            launched.append(run.run_id)
        return launched

    async def _parent_link(self, session_id: str) -> ParentLink | None:
        ref = await self.store.find_parent(session_id)
        if ref is None:
            return None
        active = await self.store.active_run(ref.session_id)
        if active is None:
            return None
        return ParentLink(
            session_id=ref.session_id,
            run_id=active.run_id,
            stream_id=active.run_id,
            tool_call_id=ref.parent_tool_call_id,
            agent_type=ref.agent_type,
            forward=False,
        )

    # -- humans in the loop ------------------------------------------------------------------

    async def submit_tool_result(
        self,
        session_id: str,
        *,
        tool_call_id: str,
        approved: bool | None = None,
        reason: str | None = None,
        result: Any = UNSET,
        is_error: bool = False,
        approval_id: str | None = None,
        user_id: str | None = None,
        arguments: dict[str, Any] | None = None,
        trace_context: TraceContext | None = None,
    ) -> Submission:
        """Settle a call that waits: ``approved=True/False`` (with an optional ``reason``)
        for a call that needs approval, or ``result=...`` (``is_error=True`` for a failure)
        for a client tool. An approval may come with ``arguments``: the call then runs with
        them instead of the model's (checked against the tool's schema; the result's
        ``approval.arguments`` records them). The call may be pending in ``session_id`` or
        in a child session it started. When nothing else waits, the run resumes
        (``Submission.resumed``), joining ``trace_context`` (the caller's span) if given.

        Refused, changing nothing: another user's or an unknown session
        (SessionNotFoundError), a call that is not pending, already settled, or whose
        suspension expired (ConflictError), a malformed submission, a decision for a client
        tool, a result for a server tool or a result that fails the tool's output schema
        (ToolSubmissionError).
        """
        return await submit(
            self.starter,
            session_id,
            tool_call_id=tool_call_id,
            approved=approved,
            reason=reason,
            result=result,
            is_error=is_error,
            approval_id=approval_id,
            user_id=user_id,
            arguments=arguments,
            trace_context=trace_context,
        )

    def resumed_handle(self, submission: Submission) -> RunHandle | None:
        """The handle of the run a submission resumed, if it resumed one."""
        return None if submission.resumed is None else self._handle(submission.resumed)

    async def expire_suspensions(self, now: int | None = None, *, limit: int = 100) -> list[str]:
        """Fail the runs whose pending calls waited past their expiry (a Cloudflare cron
        calls this; the local host runs it periodically). Returns the sessions expired."""
        return await expire_suspensions(self.starter, now, limit=limit)

    async def sweep(self, now: int | None = None) -> dict[str, list[str]]:
        """The periodic housekeeping: expire suspensions, resume the ready ones that a
        crash left unresumed, and create the missing firing of each overdue schedule."""
        expired = await self.expire_suspensions(now)
        resumed = await resume_ready(self.starter)
        schedules = await self._schedules.recover(now)
        return {"expired": expired, "resumed": resumed, "schedules": schedules}

    # -- schedules (docs/triggers.md) ----------------------------------------------------------

    async def schedule(
        self,
        agent: Agent | str | None,
        message: str,
        *,
        at: datetime | int | float | None = None,
        delay: timedelta | int | float | None = None,
        cron: str | None = None,
        every: timedelta | int | float | None = None,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        on_busy: BusyPolicy = "queue",
        misfire: MisfirePolicy = "run_late",
        misfire_grace: timedelta | int | float | None = None,
    ) -> Schedule:
        """Start a turn of ``agent`` with ``message`` later: once ``at`` a time (an aware
        datetime or epoch ms) or after ``delay`` (seconds or a timedelta), on a ``cron``
        expression (UTC), or ``every`` interval (seconds or a timedelta; from ``at`` if
        given). In ``session_id`` (an existing session; ``agent`` may then be None), or in
        a new session per firing. ``on_busy``: a firing while the session has an active
        run waits (``queue``), is skipped (``skip``) or ends that run (``supersede``).
        ``misfire``: a due time that passed while the host was down fires late
        (``run_late``) or, more than ``misfire_grace`` late, is recorded as missed
        (``skip``). Raises ScheduleError for a schedule that cannot be."""
        return await self._schedules.create(
            agent,
            message,
            at=at,
            delay=delay,
            cron=cron,
            every=every,
            session_id=session_id,
            metadata=metadata,
            user_id=user_id,
            on_busy=on_busy,
            misfire=misfire,
            misfire_grace=misfire_grace,
        )

    async def list_schedules(
        self, *, user_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Schedule]:
        """Schedules ``user_id`` may see, newest first (``status``: active, done, cancelled)."""
        return await self._schedules.list_for(user_id=user_id, status=status, limit=limit)

    async def get_schedule(self, schedule_id: str, *, user_id: str | None = None) -> Schedule:
        """One schedule (ScheduleNotFoundError if missing or another user's)."""
        return await self._schedules.get(schedule_id, user_id=user_id)

    async def schedule_firings(
        self, schedule_id: str, *, user_id: str | None = None, limit: int = 20
    ) -> list[Firing]:
        """What became of the schedule's latest due times, newest first."""
        return await self._schedules.firings(schedule_id, user_id=user_id, limit=limit)

    async def cancel_schedule(self, schedule_id: str, *, user_id: str | None = None) -> Schedule:
        """Cancel a schedule: no firing after this one starts."""
        return await self._schedules.cancel(schedule_id, user_id=user_id)

    async def declare_schedules(self, jobs: Sequence[CronJob]) -> list[str]:
        """Make the cron jobs declared in code (idempotent; hosts call it on start)."""
        return await self._schedules.declare(jobs)

    # -- steering ----------------------------------------------------------------------------

    async def interrupt(
        self, session_id: str, *, reason: str | None = None, user_id: str | None = None
    ) -> RunRecord:
        """Ask the active run to stop (resumable): from now on no model call and no tool
        call of it starts, and a model call that is streaming is cut short, its text so far
        kept as the stored answer. The session's running children are asked too."""
        await self._session(session_id, user_id)
        first: RunRecord | None = None
        for sid in await self._tree(session_id):
            run = await self.store.active_run(sid)
            if run is None:
                continue
            first = first or run
            await self.store.request_interrupt(sid, reason)
            await self._request_stop(sid, "interrupt")
        if first is None:
            raise ConflictError(f"session {session_id!r} has no active run")
        return first

    async def abort(
        self, session_id: str, *, reason: str | None = None, user_id: str | None = None
    ) -> RunRecord:
        """Stop the session's run for good: the active one, or one that waits (suspended
        or interrupted). Its children are aborted too."""
        await self._session(session_id, user_id)
        ended = await self._abort_one(session_id, reason)
        if ended is None:
            raise ConflictError(f"session {session_id!r} has no run to abort")
        await self._abort_children(session_id, reason)
        await notify_parent(self.starter, session_id, ended.run_id, RunStatus.ABORTED)
        return ended

    async def _abort_one(self, session_id: str, reason: str | None) -> RunRecord | None:
        latest = await self.store.latest_run(session_id)
        if latest is None or latest.status in FINAL_STATUSES:
            return None
        was_active = latest.status == RunStatus.ACTIVE
        # Where the answer being streamed belongs, read before the run ends: nothing of
        # another turn can be stored there first.
        sequence = await self.store.next_sequence(session_id) if was_active else 0
        # Only the latest run: an earlier turn's run left interrupted or suspended (the user
        # moved on to a new turn) is not the one being stopped. The store first: from here
        # the run's steps can commit nothing, so what its stream holds is all there is.
        ended = await self.store.abort(session_id, latest.run_id, reason)
        if ended is None:
            return None
        if not was_active:
            await self._abort_remote_children(session_id, reason)
            return ended
        state = await self.store.load_session(session_id)
        own_stream = state is not None and state.stream_id == ended.run_id
        if own_stream:
            await self._stop_stream(ended.run_id, "abort")
        await self.starter.stop_instance(ended)
        if own_stream:
            # The text readers saw of a model call the abort cut short stays in the
            # session, as the step would have stored it.
            await keep_streamed_answer(
                self.store,
                self.streams,
                session_id=session_id,
                run_id=ended.run_id,
                stream_id=ended.run_id,
                sequence=sequence,
                message_id=message_id(session_id, ended.turn),
            )
        return ended

    async def _abort_children(self, session_id: str, reason: str | None) -> None:
        for sid in (await self._tree(session_id))[1:]:
            await self._abort_one(sid, reason)

    async def _abort_remote_children(self, session_id: str, reason: str | None) -> None:
        """A run that waited (suspended, interrupted) runs no step that would tell its
        remote children of the abort: this does. (A running one's step tells them.)"""
        if self.resources is None:
            return
        refs = await self.store.list_sub_sessions(session_id)
        remote = [r for r in refs if r.remote_json is not None and r.status not in DONE_STATUSES]
        if remote:
            # Imported here: the HTTP client comes with it, which an executor that never
            # aborts a remote child should not pay for at import.
            from .core.remote_subagent import abort_remote_children

            await abort_remote_children(
                self.store, self.registry, self.resources, session_id, remote, reason
            )

    async def _request_stop(self, session_id: str, kind: Any) -> None:
        state = await self.store.load_session(session_id)
        if state is None:
            return
        active = await self.store.active_run(session_id)
        if active is None or active.run_id != state.stream_id:
            # A child writing into its parent's stream: a stop request there would reach
            # the parent's steps too; the child reads its own flag from the store.
            return
        await self._stop_stream(state.stream_id, kind)

    async def _stop_stream(self, stream_id: str, kind: StopRequest) -> None:
        try:
            await self.streams.request_stop(stream_id, kind)
        except HelixError:
            pass  # the stream is gone or ended: the store's flag is what counts

    async def _tree(self, session_id: str) -> list[str]:
        """The session and its descendants, parents before children."""
        return [sid async for sid in walk_hierarchy(self.store, [session_id], limit=_MAX_TREE)]

    # -- state and checkpoints (branches.py, docs/checkpoints.md) -----------------------------

    async def state(self, session_id: str, *, user_id: str | None = None) -> dict[str, Any]:
        """The session's state as JSON (its agent's ``state_type`` validated)."""
        return await self._branches.state(session_id, user_id=user_id)

    async def set_state(
        self, session_id: str, value: Any, *, user_id: str | None = None
    ) -> dict[str, Any]:
        """Replace the session's state between runs, validated against the agent's
        ``state_type`` (StateValidationError); ConflictError while a run is active."""
        return await self._branches.set_state(session_id, value, user_id=user_id)

    async def checkpoints(self, session_id: str, *, user_id: str | None = None) -> list[Checkpoint]:
        """The session's checkpoints, oldest first (and its end, while no run is active)."""
        return await self._branches.checkpoints(session_id, user_id=user_id)

    async def rewind(
        self, session_id: str, checkpoint: int, *, user_id: str | None = None
    ) -> SessionState:
        """Take the session back to a checkpoint (a sequence): later messages are deleted,
        its state restored; ConflictError while a run is active."""
        return await self._branches.rewind(session_id, checkpoint, user_id=user_id)

    async def fork(
        self,
        session_id: str,
        checkpoint: int,
        *,
        new_session_id: str | None = None,
        user_id: str | None = None,
    ) -> SessionState:
        """A new session branched from a checkpoint: its messages and state, the origin in
        ``metadata["forkedFrom"]``. Returns the new session."""
        return await self._branches.fork(
            session_id, checkpoint, new_session_id=new_session_id, user_id=user_id
        )

    # -- reading -----------------------------------------------------------------------------

    async def get_handle(self, session_id: str, *, user_id: str | None = None) -> RunHandle | None:
        """The handle of the session's latest run, rebuilt from storage."""
        state = await self.store.load_session(session_id)
        if state is None:
            return None
        check_owner(state, user_id)
        latest = await self.store.latest_run(session_id)
        if latest is None:
            return None
        return RunHandle(self, session_id, latest.run_id, latest.turn, stream_id=state.stream_id)

    async def runs(self, session_id: str, *, user_id: str | None = None) -> list[RunRecord]:
        """The session's runs (each turn and each resume of one), oldest first."""
        await self._session(session_id, user_id)
        return await self.store.list_runs(session_id)

    async def current_run(self, session_id: str, *, user_id: str | None = None) -> RunRecord | None:
        """The run that holds the session now (active), or None."""
        await self._session(session_id, user_id)
        return await self.store.active_run(session_id)

    async def get_session(self, session_id: str, *, user_id: str | None = None) -> SessionState:
        """The session, if ``user_id`` may see it (SessionNotFoundError otherwise)."""
        return await self._session(session_id, user_id)

    async def _session(self, session_id: str, user_id: str | None) -> SessionState:
        state = await self.store.load_session(session_id)
        if state is None:
            raise SessionNotFoundError(f"session {session_id!r} not found")
        check_owner(state, user_id)
        return state

    def _handle(self, params: RunParams) -> RunHandle:
        return RunHandle(
            self, params.session_id, params.run_id, params.turn, stream_id=params.stream_id
        )


@dataclass(frozen=True)
class RunOutcome:
    """What a run came to (:meth:`RunHandle.outcome`): ``output`` when it completed,
    ``error`` and ``failure_reason`` when it failed, and the calls it waits on (approvals,
    client tools) when it is suspended."""

    run: RunRecord
    status: RunStatus
    output: Any = None
    error: str | None = None
    failure_reason: str | None = None
    pending: list[PendingToolCall] = field(default_factory=list)


class RunHandle:
    """A run of a session: follow its stream, wait for its result, steer it."""

    def __init__(
        self,
        executor: Executor,
        session_id: str,
        run_id: str,
        turn: int,
        *,
        stream_id: str | None = None,
    ) -> None:
        self._executor = executor
        self.session_id = session_id
        self.run_id = run_id
        self.turn = turn
        self.stream_id = stream_id or run_id

    def __repr__(self) -> str:
        return f"RunHandle(session_id={self.session_id!r}, run_id={self.run_id!r})"

    async def stream(self, from_sequence: int = 0) -> AsyncIterator[SequencedChunk]:
        """The run's stream after ``from_sequence``, live until the stream ends. (A child
        that streams into its parent's stream: until its own ``run-end``.)"""
        streams = self._executor.streams
        after = from_sequence
        shared = self.stream_id != self.run_id
        while True:
            result = await streams.read(self.stream_id, after=after, timeout=_READ_WAIT)
            for item in result.chunks:
                after = item.seq
                yield item
                chunk = item.chunk
                if shared and isinstance(chunk, RunEndChunk) and chunk.run_id == self.run_id:
                    return
            if not result.chunks and result.status in ("ended", "failed"):
                return

    async def result(self, timeout: float | None = None) -> RunRecord:
        """Wait until this instance is done (final, interrupted or suspended)."""

        async def wait() -> RunRecord:
            store = self._executor.store
            if self.stream_id != self.run_id:
                # A child in its parent's stream: its record says when it is done.
                while True:
                    run = await store.get_run(self.run_id)
                    if run is not None and run.status != RunStatus.ACTIVE:
                        return run
                    await asyncio.sleep(0.05)
            await self._stream_end()
            run = await store.get_run(self.run_id)
            assert run is not None
            return run

        return await asyncio.wait_for(wait(), timeout)

    async def _stream_end(self) -> None:
        """Wait until this run's own stream is final. Only its progress and status are
        read, not its chunks: :meth:`result` used to follow :meth:`stream`, an async
        generator resumed per chunk, on every step of the run. A final stream holds all its
        chunks (the last ones and the status are one write), so its run is done."""
        streams = self._executor.streams
        if isinstance(streams, WaitsForEnd):
            # Woken once, at the end, and not counted as a reader of the run's text.
            while await streams.wait_final(self.stream_id, _READ_WAIT) not in ("ended", "failed"):
                pass
            return
        after = await self._last_seq()  # from here on: the end is all this waits for
        while True:
            result = await streams.read(self.stream_id, after=after, timeout=_READ_WAIT)
            if result.status in ("ended", "failed"):
                return
            if result.chunks:
                after = result.chunks[-1].seq

    async def outcome(self, timeout: float | None = None) -> RunOutcome:
        """Wait as :meth:`result` does, then what the run came to: its status, output or
        error, and what it waits on when suspended (read from the session, which the
        run's end wrote; a later turn's run overwrites it)."""
        run = await self.result(timeout)
        state = await self.get_state()
        return RunOutcome(
            run=run,
            status=run.status,
            output=state.output if run.status == RunStatus.COMPLETED else None,
            error=state.error if run.status == RunStatus.FAILED else None,
            failure_reason=state.failure_reason if run.status == RunStatus.FAILED else None,
            pending=list(state.pending_client_tool_calls) if run.status.is_suspended else [],
        )

    async def _last_seq(self) -> int:
        info = await self._executor.streams.info(self.stream_id)
        return info.last_seq if info else 0

    async def get_state(self) -> SessionState:
        state = await self._executor.store.load_session(self.session_id)
        if state is None:
            raise SessionNotFoundError(f"session {self.session_id!r} not found")
        return state

    async def messages(self) -> list[Message]:
        return [m for _, m in await self._executor.store.load_messages(self.session_id)]

    async def usage(self, *, include_sub_sessions: bool = True) -> UsageRollup:
        """The session's usage, with its sub-agents' and companions' by default."""
        return await self._executor.store.usage_rollup(
            self.session_id, include_sub_sessions=include_sub_sessions
        )

    async def run_usage(self) -> Usage:
        """What this instance (this run) used."""
        return await self._executor.store.run_usage(self.run_id)

    async def interrupt(self, reason: str | None = None) -> None:
        await self._executor.interrupt(self.session_id, reason=reason)

    async def abort(self, reason: str | None = None) -> None:
        await self._executor.abort(self.session_id, reason=reason)

    async def resume(self, message: UserInput | None = None) -> RunHandle:
        return await self._executor.resume(self.session_id, message=message)

    async def can_resume(self) -> bool:
        return await self._executor.can_resume(self.session_id)

    async def send(self, message: UserInput) -> RunHandle:
        return await self._executor.send(self.session_id, message)

    async def submit_tool_result(self, tool_call_id: str, **kwargs: Any) -> Submission:
        return await self._executor.submit_tool_result(
            self.session_id, tool_call_id=tool_call_id, **kwargs
        )


def _checked_history(messages: Sequence[Message]) -> list[Message]:
    """A history given to ``execute``: messages whose tool calls and results pair up (each
    result after its call, each call answered), so that the model can be sent it."""
    out = list(messages)
    open_calls: set[str] = set()
    for message in out:
        if isinstance(message, AssistantMessage):
            if open_calls:
                raise ValueError(f"tool calls without a result: {sorted(open_calls)}")
            open_calls = {call.id for call in message.tool_calls}
        elif isinstance(message, ToolResultMessage):
            if message.tool_call_id not in open_calls:
                raise ValueError(
                    f"a tool result for {message.tool_call_id!r} follows no call of that id"
                )
            open_calls.discard(message.tool_call_id)
        elif isinstance(message, UserMessage):
            if open_calls:
                raise ValueError(f"tool calls without a result: {sorted(open_calls)}")
        else:
            raise ValueError(f"not a message: {message!r}")
    if open_calls:
        raise ValueError(f"tool calls without a result: {sorted(open_calls)}")
    return out


def _state_value(agent: Agent, value: Any) -> dict[str, Any]:
    """``state`` for ``execute``: the agent's ``state_type`` validated, or any JSON object."""
    from pydantic import BaseModel

    from .branches import validate_object
    from .typed_state import validate_state

    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    state_type = getattr(agent, "state_type", None)
    if state_type is not None:
        return validate_state(state_type, value).model_dump(mode="json")
    return dict(validate_object(value))


def _user_messages(message: UserInput) -> list[UserMessage]:
    items: Sequence[str | UserMessage] = (
        [message] if isinstance(message, str | UserMessage) else message
    )
    out = [UserMessage(content=m) if isinstance(m, str) else m for m in items]
    if not out:
        raise ValueError("a run needs at least one user message")
    return out
