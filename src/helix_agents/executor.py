"""Starting and steering runs: the executor and its handles, written once for both hosts.

``execute`` starts a new session or the next turn of an existing one. Each turn is a new
instance ``{session}--t{turn}`` (each resume ``--r{n}``), so multi-turn sessions work on
Workflows' write-once instance ids. Starting a run is one atomic store write that refuses a
second active run on the session (409) unless the caller supersedes it; the user's message
is written in the same batch, so a refused start leaves nothing behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from .agent import Agent, AgentRegistry
from .chunks import RunStartChunk, SequencedChunk
from .core.deps import wall_clock_ms
from .core.params import PlannedCall, RunParams
from .errors import ConflictError, InstanceExistsError, SessionNotFoundError
from .ids import new_session_id, parse_instance_id, run_instance_id, validate_session_id
from .messages import AssistantMessage, Message, ToolResultMessage, UserMessage
from .ports.launcher import Launcher
from .ports.streams import StreamManager
from .state import RunRecord, RunStatus, SessionState
from .store import StateStore
from .usage import UsageRollup

__all__ = ["Executor", "RunHandle", "UserInput"]

UserInput = str | UserMessage | Sequence[str | UserMessage]

#: How long one stream read waits for new chunks before it asks again.
_READ_WAIT = 15.0


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
    ) -> None:
        self.registry = registry
        self.store = store
        self.streams = streams
        self.launcher = launcher
        self.clock = clock

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
    ) -> RunHandle:
        """Start a new session, or the next turn of ``session_id``."""
        agent = self.registry.get(agent) if isinstance(agent, str) else agent
        messages = _user_messages(message)
        session_id = validate_session_id(session_id) if session_id else new_session_id()
        state = await self.store.load_session(session_id)
        if state is None:
            state = await self.store.create_session(
                SessionState(
                    session_id=session_id,
                    agent_type=agent.name,
                    stream_id=session_id,
                    status=RunStatus.COMPLETED,
                    user_id=user_id,
                    metadata=metadata or {},
                    created_at=self.clock(),
                    updated_at=self.clock(),
                )
            )
        else:
            _check_owner(state, user_id)
            if state.agent_type != agent.name:
                raise ConflictError(
                    f"session {session_id!r} belongs to agent {state.agent_type!r}, "
                    f"not {agent.name!r}"
                )
        latest = await self.store.latest_run(session_id)
        turn = (latest.turn if latest else 0) + 1
        run_id = run_instance_id(session_id, turn)
        first = await self.store.next_sequence(session_id)
        rows = [(first + i, m) for i, m in enumerate(messages)]
        superseded = await self.store.begin_run(
            session_id, run_id, turn, stream_id=run_id, messages=rows, supersede=supersede
        )
        if superseded is not None:
            await self._stop_instance(superseded)
        params = RunParams(
            session_id=session_id,
            agent_type=agent.name,
            run_id=run_id,
            turn=turn,
            stream_id=run_id,
            base_sequence=first + len(rows),
            message_id=_message_id(session_id, turn),
            user_id=user_id,
        )
        return await self._launch(params)

    async def send(self, session_id: str, message: UserInput, **kwargs: Any) -> RunHandle:
        """The next turn of an existing session."""
        state = await self._session(session_id, kwargs.get("user_id"))
        return await self.execute(state.agent_type, message, session_id=session_id, **kwargs)

    async def resume(self, session_id: str, *, user_id: str | None = None) -> RunHandle:
        """Continue an interrupted run where it stopped, as a new instance."""
        state = await self._session(session_id, user_id)
        latest = await self.store.latest_run(session_id)
        if latest is None or latest.status != RunStatus.INTERRUPTED:
            status = latest.status if latest else "none"
            raise ConflictError(f"session {session_id!r} has no interrupted run (status: {status})")
        runs = [r for r in await self.store.list_runs(session_id) if r.turn == latest.turn]
        resume_no = len(runs)
        run_id = run_instance_id(session_id, latest.turn, resume_no)
        start_step = max(r.step_count for r in runs) + 1
        history = await self.store.load_messages(session_id)
        base, pending = _pending_tools(history)
        await self.store.clear_interrupt(session_id)
        await self.store.begin_run(
            session_id, run_id, latest.turn, stream_id=run_id, messages=[], supersede=False
        )
        params = RunParams(
            session_id=session_id,
            agent_type=state.agent_type,
            run_id=run_id,
            turn=latest.turn,
            resume=resume_no,
            mode="resume",
            stream_id=run_id,
            base_sequence=base,
            start_step=start_step,
            pending_tool_calls=pending,
            message_id=_message_id(session_id, latest.turn),
            user_id=user_id,
        )
        return await self._launch(params)

    async def _launch(self, params: RunParams) -> RunHandle:
        """Create the run's stream (with its ``run-start``) and its instance. Idempotent, so
        a launch interrupted by a crash can be completed by :meth:`recover_lost_runs`."""
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
        return RunHandle(self, params.session_id, params.run_id, params.turn)

    async def recover_lost_runs(self) -> list[str]:
        """Launch the instances of active runs that have none.

        Starting a run writes the run record first and creates its instance after; a crash
        in between leaves an active run that nothing runs. Its params are rebuilt from the
        store exactly as :meth:`execute` / :meth:`resume` computed them (nothing had run
        yet), and the instance is created. Returns the run ids it launched.
        """
        launched: list[str] = []
        for run in await self.store.list_active_runs():
            if (await self.launcher.status(run.run_id)).status != "unknown":
                continue
            state = await self.store.load_session(run.session_id)
            if state is None:
                continue
            _, _, resume_no = parse_instance_id(run.run_id)
            pending: list[PlannedCall] = []
            if resume_no == 0:
                base, start_step = await self.store.next_sequence(run.session_id), 1
            else:
                earlier = [
                    r
                    for r in await self.store.list_runs(run.session_id)
                    if r.turn == run.turn and r.run_id != run.run_id
                ]
                start_step = max((r.step_count for r in earlier), default=0) + 1
                base, pending = _pending_tools(await self.store.load_messages(run.session_id))
            params = RunParams(
                session_id=run.session_id,
                agent_type=state.agent_type,
                run_id=run.run_id,
                turn=run.turn,
                resume=resume_no,
                mode="resume" if resume_no else "fresh",
                stream_id=run.run_id,
                base_sequence=base,
                start_step=start_step,
                pending_tool_calls=pending,
                message_id=_message_id(run.session_id, run.turn),
                user_id=state.user_id,
            )
            await self._launch(params)
            launched.append(run.run_id)
        return launched

    # -- steering ----------------------------------------------------------------------------

    async def interrupt(
        self, session_id: str, *, reason: str | None = None, user_id: str | None = None
    ) -> RunRecord:
        """Ask the active run to stop at its next safe point (resumable)."""
        await self._session(session_id, user_id)
        run = await self._active_run(session_id)
        await self.store.request_interrupt(session_id, reason)
        await self.streams.request_stop(run.run_id, "interrupt")
        return run

    async def abort(
        self, session_id: str, *, reason: str | None = None, user_id: str | None = None
    ) -> RunRecord:
        """Stop the active run now, for good."""
        await self._session(session_id, user_id)
        run = await self._active_run(session_id)
        await self.store.abort(session_id, run.run_id, reason)
        await self.streams.request_stop(run.run_id, "abort")
        await self._stop_instance(run)
        return run

    async def _stop_instance(self, run: RunRecord) -> None:
        """Terminate a run's instance and close its stream (after abort or supersede)."""
        from .chunks import RunEndChunk

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
                )
                await self.streams.set_status(run.run_id, "ended")
            except Exception:  # the instance ended the stream first
                pass

    # -- reading -----------------------------------------------------------------------------

    async def get_handle(self, session_id: str, *, user_id: str | None = None) -> RunHandle | None:
        """The handle of the session's latest run, rebuilt from storage."""
        state = await self.store.load_session(session_id)
        if state is None:
            return None
        _check_owner(state, user_id)
        latest = await self.store.latest_run(session_id)
        if latest is None:
            return None
        return RunHandle(self, session_id, latest.run_id, latest.turn)

    async def _session(self, session_id: str, user_id: str | None) -> SessionState:
        state = await self.store.load_session(session_id)
        if state is None:
            raise SessionNotFoundError(f"session {session_id!r} not found")
        _check_owner(state, user_id)
        return state

    async def _active_run(self, session_id: str) -> RunRecord:
        run = await self.store.active_run(session_id)
        if run is None:
            raise ConflictError(f"session {session_id!r} has no active run")
        return run


class RunHandle:
    """A run of a session: follow its stream, wait for its result, steer it."""

    def __init__(self, executor: Executor, session_id: str, run_id: str, turn: int) -> None:
        self._executor = executor
        self.session_id = session_id
        self.run_id = run_id
        self.turn = turn

    @property
    def stream_id(self) -> str:
        return self.run_id

    def __repr__(self) -> str:
        return f"RunHandle(session_id={self.session_id!r}, run_id={self.run_id!r})"

    async def stream(self, from_sequence: int = 0) -> AsyncIterator[SequencedChunk]:
        """The run's chunks after ``from_sequence``, then live until the run's instance ends."""
        streams = self._executor.streams
        after = from_sequence
        while True:
            result = await streams.read(self.stream_id, after=after, timeout=_READ_WAIT)
            for item in result.chunks:
                after = item.seq
                yield item
            if not result.chunks and result.status in ("ended", "failed"):
                return

    async def result(self, timeout: float | None = None) -> RunRecord:
        """Wait until this instance is done (final, interrupted or suspended)."""

        async def wait() -> RunRecord:
            async for _ in self.stream(await self._last_seq()):
                pass
            run = await self._executor.store.get_run(self.run_id)
            assert run is not None
            return run

        return await asyncio.wait_for(wait(), timeout)

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
        return await self._executor.store.usage_rollup(
            self.session_id, include_sub_sessions=include_sub_sessions
        )

    async def interrupt(self, reason: str | None = None) -> None:
        await self._executor.interrupt(self.session_id, reason=reason)

    async def abort(self, reason: str | None = None) -> None:
        await self._executor.abort(self.session_id, reason=reason)

    async def resume(self) -> RunHandle:
        return await self._executor.resume(self.session_id)

    async def send(self, message: UserInput) -> RunHandle:
        return await self._executor.send(self.session_id, message)


def _user_messages(message: UserInput) -> list[UserMessage]:
    items: Sequence[str | UserMessage] = (
        [message] if isinstance(message, str | UserMessage) else message
    )
    out = [UserMessage(content=m) if isinstance(m, str) else m for m in items]
    if not out:
        raise ValueError("a run needs at least one user message")
    return out


def _message_id(session_id: str, turn: int) -> str:
    return f"{session_id}-t{turn}"


def _check_owner(state: SessionState, user_id: str | None) -> None:
    # Another user's session does not exist for them: the same error as a missing one.
    if user_id is not None and state.user_id is not None and state.user_id != user_id:
        raise SessionNotFoundError(f"session {state.session_id!r} not found")


def _pending_tools(history: list[tuple[int, Message]]) -> tuple[int, list[PlannedCall]]:
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
