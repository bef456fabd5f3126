"""Starting run instances: a turn, or the resume of one. Shared by the executor and by the
steps that start children (sub-agents, companions) or resume a suspended parent.

Everything here is idempotent so that a step that starts a run may be re-run after a crash:
instance ids are deterministic (``{session}--t{turn}`` and ``--r{n}`` where ``n`` follows
the run being resumed), starting an id that is already active returns it unchanged, and the
stream and instance creation tolerate an earlier attempt.

A resume's params are computed from the store (:meth:`RunStarter.plan_resume`): the calls
of the last response without a result, each with how it is settled. This function is the
security boundary of approvals: a call that waits on an approval runs only when the
session's pending list holds an ``approved`` decision for it; any other pending call keeps
waiting (``waiting_calls``), so no resume, interrupt or recovery can run it unapproved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..chunks import RunStartChunk
from ..errors import ConflictError, InstanceExistsError, SessionNotFoundError
from ..ids import parse_instance_id, run_instance_id, validate_session_id
from ..messages import AssistantMessage, Message, ToolResultMessage, UserMessage
from ..state import FINAL_STATUSES, RunRecord, RunStatus, SessionState
from ..usage import Usage
from .hierarchy import walk_hierarchy
from .params import ParentLink, PlannedCall, Resolution, RunParams

if TYPE_CHECKING:
    from ..agent import Agent, AgentRegistry
    from ..ports.launcher import Launcher
    from ..ports.streams import StreamManager
    from ..store import StateStore
    from ..tracing.propagation import TraceContext
    from .deps import RunDeps

__all__ = ["RunStarter", "message_id", "pending_tools"]

#: What a call that never ran says when a new turn moves on without it.
CANCELLED = "Not executed: the conversation moved on before this call was settled."


@dataclass
class RunStarter:
    registry: AgentRegistry
    store: StateStore
    streams: StreamManager
    launcher: Launcher
    clock: Callable[[], int]

    @classmethod
    def from_deps(cls, deps: RunDeps) -> RunStarter:
        if deps.launcher is None:
            from ..errors import ConfigurationError

            raise ConfigurationError("starting runs from a step needs RunDeps.launcher")
        return cls(deps.registry, deps.store, deps.streams, deps.launcher, deps.clock)

    # -- turns -------------------------------------------------------------------------------

    async def start_turn(
        self,
        agent: Agent,
        messages: Sequence[UserMessage],
        *,
        session_id: str,
        user_id: str | None = None,
        supersede: bool = False,
        metadata: dict[str, Any] | None = None,
        parent: ParentLink | None = None,
        parent_session_id: str | None = None,
        trace_parent: str | None = None,
        trace_state: str | None = None,
        seed: Sequence[Message] = (),
        custom_state: dict[str, Any] | None = None,
    ) -> RunParams:
        """Create the session if needed and start its next turn (see Executor.execute).
        ``trace_parent``: the span the run's trace continues from (a child's delegating
        call, or an HTTP caller's span, with its ``trace_state``). ``seed``: a history
        stored before ``messages``, in the same write (a session with messages refuses
        them: ConflictError). ``custom_state``: a new session's initial state (validated
        by the caller)."""
        validate_session_id(session_id)
        if not messages:
            raise ValueError("a run needs at least one user message")
        state = await self.store.load_session(session_id)
        if state is None:
            state = await self._create(
                session_id, agent, user_id, metadata or {}, parent_session_id, custom_state
            )
        else:
            check_owner(state, user_id)
            if state.agent_type != agent.name:
                raise ConflictError(
                    f"session {session_id!r} belongs to agent {state.agent_type!r}, "
                    f"not {agent.name!r}"
                )
        latest = await self.store.latest_run(session_id)
        turn = (latest.turn if latest else 0) + 1
        run_id = run_instance_id(session_id, turn)
        rows: list[tuple[int, Message]] = []
        first = await self.store.next_sequence(session_id)
        if seed:
            if first > 0:
                raise ConflictError(
                    f"session {session_id!r} already has messages: a history is given only "
                    "to a session without any"
                )
            rows += [(i, m) for i, m in enumerate(seed)]
            first = len(rows)
        if latest is not None and latest.status not in (RunStatus.ACTIVE, RunStatus.COMPLETED):
            # Calls of the previous turn that never got a result (a suspension the user did
            # not answer, an interrupt that was not resumed) are closed now, so that the
            # history stays valid for the model; none of them runs.
            history = await self.store.load_messages(session_id)
            _, unsettled = pending_tools(history)
            for item in unsettled:
                rows.append(
                    (
                        item.sequence,
                        ToolResultMessage(
                            tool_call_id=item.call.id,
                            tool_name=item.call.name,
                            content=CANCELLED,
                            status="error",
                        ),
                    )
                )
            if unsettled:
                first = max(first, max(item.sequence for item in unsettled) + 1)
        # Each user message keeps its turn: a retried request finds it by the message's id.
        rows += [
            (first + i, m if m.turn == turn else m.model_copy(update={"turn": turn}))
            for i, m in enumerate(messages)
        ]
        stream_id = parent.stream_id if parent is not None and parent.forward else run_id
        superseded = await self.store.begin_run(
            session_id, run_id, turn, stream_id=stream_id, messages=rows, supersede=supersede
        )
        if superseded is not None:
            await self.stop_instance(superseded)
        if state.status == RunStatus.SUSPENDED_AWAITING_CHILDREN:
            await self._abandon(state)
        return RunParams(
            session_id=session_id,
            agent_type=agent.name,
            run_id=run_id,
            turn=turn,
            stream_id=stream_id,
            base_sequence=first + len(messages),
            message_id=message_id(session_id, turn),
            user_id=user_id if user_id is not None else state.user_id,
            parent=parent,
            parent_session_id=state.parent_session_id,
            trace_parent=trace_parent,
            trace_state=trace_state if trace_parent is not None else None,
        )

    async def _create(
        self,
        session_id: str,
        agent: Agent,
        user_id: str | None,
        metadata: dict[str, Any],
        parent_session_id: str | None,
        custom_state: dict[str, Any] | None = None,
    ) -> SessionState:
        try:
            return await self.store.create_session(
                SessionState(
                    session_id=session_id,
                    agent_type=agent.name,
                    stream_id=session_id,
                    status=RunStatus.COMPLETED,
                    user_id=user_id,
                    metadata=metadata,
                    custom_state=custom_state or {},
                    parent_session_id=parent_session_id,
                    created_at=self.clock(),
                    updated_at=self.clock(),
                )
            )
        except ConflictError:
            # Created concurrently (or by an earlier attempt of the same step).
            state = await self.store.load_session(session_id)
            if state is None:  # pragma: no cover - deleted in between
                raise
            check_owner(state, user_id)
            return state

    async def _abandon(self, state: SessionState) -> None:
        """The children a suspended turn waited on wait for nobody once a new turn starts:
        they (and their own children) are aborted, so that no late answer runs them."""
        context = state.suspension_context
        children = list(context.suspended_awaiting_children) if context is not None else []
        async for child in walk_hierarchy(self.store, children, limit=1000):
            latest = await self.store.latest_run(child)
            if latest is not None and latest.status not in FINAL_STATUSES:
                ended = await self.store.abort(child, None, "the parent moved on to a new turn")
                if ended is not None and latest.status == RunStatus.ACTIVE:
                    await self.stop_instance(ended)

    # -- resumes -----------------------------------------------------------------------------

    async def plan_resume(
        self,
        session_id: str,
        *,
        run: RunRecord,
        parent: ParentLink | None = None,
        trace_parent: str | None = None,
    ) -> RunParams:
        """The params of the instance that resumes ``run`` (the session's latest run), or,
        when ``run`` is itself a resume that was never launched, of ``run``.
        ``trace_parent``: the span a child's resume continues from when its suspension
        kept none (an interrupt)."""
        state = await self.store.require_session(session_id)
        turn_runs = [r for r in await self.store.list_runs(session_id) if r.turn == run.turn]
        if run.status == RunStatus.ACTIVE:
            run_id = run.run_id  # recovering a run whose instance was never created
            _, _, resume_no = parse_instance_id(run_id)
        else:
            resume_no = parse_instance_id(run.run_id)[2] + 1
            run_id = run_instance_id(session_id, run.turn, resume_no)
        earlier = [r for r in turn_runs if r.run_id != run_id]
        start_step = max((r.step_count for r in earlier), default=0) + 1
        used = Usage()
        for r in earlier:
            used = used + await self.store.run_usage(r.run_id)
        history = await self.store.load_messages(session_id)
        base, unsettled = pending_tools(history)
        pending = {p.tool_call_id: p for p in state.pending_client_tool_calls}
        context = state.suspension_context
        expired = (context.detail or {}).get("expired") if context is not None else None
        to_run: list[PlannedCall] = []
        waiting: list[str] = []
        for item in unsettled:
            entry = pending.get(item.call.id)
            resolution: Resolution | None = None
            if expired:
                resolution = "expired"
            elif entry is None:
                resolution = None  # a server call: runs
            elif entry.kind == "approval" and entry.decision is not None:
                resolution = entry.decision
            elif entry.kind == "client" and entry.result_status is not None:
                resolution = "client"
            else:
                waiting.append(item.call.id)
                continue
            to_run.append(item.model_copy(update={"resolution": resolution}))
        stream_id = parent.stream_id if parent is not None and parent.forward else run_id
        # The suspended instance's span, so that the resume continues its trace (a root
        # session's instances would find it from their ids alone; a child's could not).
        tracing = (context.tracing_context or {}) if context is not None else {}
        trace_state = tracing.get("tracestate") if tracing.get("traceparent") else None
        trace_parent = tracing.get("traceparent") or trace_parent
        return RunParams(
            session_id=session_id,
            agent_type=state.agent_type,
            run_id=run_id,
            turn=run.turn,
            resume=resume_no,
            mode="resume",
            stream_id=stream_id,
            base_sequence=base,
            start_step=start_step,
            pending_tool_calls=to_run,
            message_id=message_id(session_id, run.turn),
            user_id=state.user_id,
            parent=parent,
            parent_session_id=state.parent_session_id,
            waiting_calls=waiting,
            expired=str(expired) if expired else None,
            usage_before=used,
            trace_parent=trace_parent if isinstance(trace_parent, str) else None,
            trace_state=trace_state if isinstance(trace_state, str) else None,
        )

    async def start_resume(
        self,
        session_id: str,
        *,
        statuses: frozenset[RunStatus],
        parent: ParentLink | None = None,
        clear_interrupt: bool = False,
        trace_parent: str | None = None,
        caller_trace: TraceContext | None = None,
    ) -> RunParams | None:
        """Resume the session's latest run if its status is one of ``statuses``.
        ``caller_trace``: the span of the HTTP request that resumes it; the resume joins
        that trace instead of continuing the suspended instance's.

        Returns the new instance's params, or None when there is nothing to resume (the
        latest run has another status: someone resumed it first)."""
        latest = await self.store.latest_run(session_id)
        if latest is None or latest.status not in statuses:
            return None
        params = await self.plan_resume(
            session_id, run=latest, parent=parent, trace_parent=trace_parent
        )
        if caller_trace is not None:
            params = params.model_copy(
                update={
                    "trace_parent": caller_trace.traceparent,
                    "trace_state": caller_trace.tracestate,
                }
            )
        if clear_interrupt:
            await self.store.clear_interrupt(session_id)
        try:
            await self.store.begin_run(
                session_id,
                params.run_id,
                params.turn,
                stream_id=params.stream_id,
                messages=[],
                supersede=False,
            )
        except ConflictError:
            if await self.store.get_run(params.run_id) is None:
                raise  # another run holds the session
            return None  # resumed (and perhaps finished) by someone else
        await self.launch(params)
        return params

    async def relaunch(self, run: RunRecord, *, parent: ParentLink | None = None) -> RunParams:
        """Launch an active run whose instance was never created (a crash, or a failure,
        between recording the run and creating its instance). Its params are rebuilt from
        the store exactly as they were computed: nothing of the run has happened yet."""
        _, _, resume_no = parse_instance_id(run.run_id)
        if resume_no:
            params = await self.plan_resume(run.session_id, run=run, parent=parent)
        else:
            state = await self.store.require_session(run.session_id)
            stream_id = parent.stream_id if parent is not None and parent.forward else run.run_id
            params = RunParams(
                session_id=run.session_id,
                agent_type=state.agent_type,
                run_id=run.run_id,
                turn=run.turn,
                stream_id=stream_id,
                base_sequence=await self.store.next_sequence(run.session_id),
                message_id=message_id(run.session_id, run.turn),
                user_id=state.user_id,
                parent=parent,
                parent_session_id=state.parent_session_id,
            )
        await self.launch(params)
        return params

    # -- instances ---------------------------------------------------------------------------

    async def launch(self, params: RunParams) -> None:
        """Create the run's stream (with its ``run-start``) and its instance. Idempotent."""
        if params.parent is not None and params.parent.forward:
            # The child writes into its parent's stream, marked as the child's: its own
            # run-start must not open a new message there.
            start = RunStartChunk(
                run_id=params.run_id,
                turn=params.turn,
                agent_type=params.agent_type,
                message_id=params.message_id,
                agent=params.agent_type,
                source_session_id=params.session_id,
            )
            try:
                await self.streams.write(params.stream_id, [start])
            except Exception:  # the parent's stream ended: the child still runs
                pass
        else:
            info = await self.streams.create(params.stream_id)
            if info.last_seq == 0:
                await self.streams.write(
                    params.stream_id,
                    [
                        RunStartChunk(
                            run_id=params.run_id,
                            turn=params.turn,
                            agent_type=params.agent_type,
                            message_id=params.message_id,
                        )
                    ],
                )
        try:
            await self.launcher.create(params.run_id, params.to_dict())
        except InstanceExistsError:
            pass

    async def stop_instance(self, run: RunRecord) -> None:
        """Terminate a run's instance and close its stream (after abort or supersede)."""
        from ..chunks import RunEndChunk

        try:
            await self.launcher.terminate(run.run_id)
        except Exception:  # already finished or gone: the store's status is what counts
            pass
        info = await self.streams.info(run.run_id)
        if info is not None and info.status not in ("ended", "failed"):
            try:
                await self.streams.write(
                    run.run_id,
                    [RunEndChunk(run_id=run.run_id, status=RunStatus.ABORTED.value)],
                    status="ended",
                )
            except Exception:  # the instance ended the stream first
                pass


def message_id(session_id: str, turn: int) -> str:
    """The UI message id of a turn's assistant message (stable across resumes)."""
    return f"{session_id}-t{turn}"


def check_owner(state: SessionState, user_id: str | None) -> None:
    # Another user's session does not exist for them: the same error as a missing one.
    if user_id is not None and state.user_id is not None and state.user_id != user_id:
        raise SessionNotFoundError(f"session {state.session_id!r} not found")


def pending_tools(history: list[tuple[int, Message]]) -> tuple[int, list[PlannedCall]]:
    """Where a resumed run continues: the next sequence, and the tool calls of the last
    assistant message that have no result yet."""
    next_seq = (history[-1][0] + 1) if history else 1
    for index in range(len(history) - 1, -1, -1):
        seq, message = history[index]
        if isinstance(message, AssistantMessage):
            if not message.tool_calls:
                return next_seq, []
            answered = {s for s, m in history[index + 1 :] if isinstance(m, ToolResultMessage)}
            pending = [
                PlannedCall(call=call, sequence=seq + 1 + i)
                for i, call in enumerate(message.tool_calls)
                if seq + 1 + i not in answered
            ]
            return max(next_seq, seq + 1 + len(message.tool_calls)), pending
        if isinstance(message, UserMessage):
            return next_seq, []
    return next_seq, []
