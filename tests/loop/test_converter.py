"""The data converter (core/converter.py): step results typed on both sides of the journal,
and journal entries in the shapes older versions wrote still replay."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from helix_agents import Agent, AgentRegistry, tool
from helix_agents.core.converter import decode, encode
from helix_agents.core.deps import RunDeps
from helix_agents.core.loop import run_agent_workflow
from helix_agents.core.params import EndStepResult, ModelStepResult, RunResult, ToolStepResult
from helix_agents.hosts.local.host import LocalHost
from helix_agents.ports.step import StepConfig, StepContext
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool

_NO_USAGE = {
    "inputTokens": 0,
    "outputTokens": 0,
    "totalTokens": 0,
    "requests": 0,
    "toolCalls": 0,
    "custom": {},
}

#: A final model step's entry as versions before the converter wrote it: the result's dict,
#: then ``output`` and ``error`` set on it (None included).
OLD_FINAL = {
    "final": True,
    "status": "completed",
    "toolCalls": [],
    "nextSequence": 5,
    "waitingCalls": [],
    "usage": _NO_USAGE,
    "output": "done",
    "error": None,
}
OLD_GOING_ON = {
    "final": False,
    "toolCalls": [{"call": {"id": "c1", "name": "add", "arguments": {"a": 1}}, "sequence": 2}],
    "nextSequence": 3,
    "waitingCalls": ["c2"],
    "usage": {**_NO_USAGE, "inputTokens": 5, "requests": 1},
}


def test_old_model_step_entries_decode_to_typed_results() -> None:
    final = decode(ModelStepResult, OLD_FINAL)
    assert final.final
    assert final.status is RunStatus.COMPLETED
    assert (final.output, final.error, final.next_sequence) == ("done", None, 5)
    going_on = decode(ModelStepResult, OLD_GOING_ON)
    assert not going_on.final
    assert going_on.status is None
    assert [(c.call.id, c.call.arguments, c.sequence) for c in going_on.tool_calls] == [
        ("c1", {"a": 1}, 2)
    ]
    assert going_on.waiting_calls == ["c2"]
    assert (going_on.usage.requests, going_on.usage.input_tokens) == (1, 5)
    # What the converter writes today decodes to the same result, and a non-final entry is
    # written exactly as before.
    assert decode(ModelStepResult, encode(final)) == final
    assert encode(going_on) == OLD_GOING_ON


def test_old_ending_step_entries_decode_to_typed_results() -> None:
    # suspend wrote {"status"}, expire {"status", "error"}, fail {"status", "error": None}
    # for a run its failed step had already ended.
    assert decode(EndStepResult, {"status": "suspended_step_partial"}) == EndStepResult(
        status=RunStatus.SUSPENDED_STEP_PARTIAL
    )
    expired = decode(EndStepResult, {"status": "failed", "error": "The suspension expired."})
    assert (expired.status, expired.error) == (RunStatus.FAILED, "The suspension expired.")
    ended = decode(EndStepResult, {"status": "completed", "error": None})
    assert (ended.status, ended.error) == (RunStatus.COMPLETED, None)
    assert encode(expired) == {"status": "failed", "error": "The suspension expired."}


def test_tool_step_entries_round_trip() -> None:
    entry = {"status": "success", "statePatch": {"k": 1}}
    assert encode(decode(ToolStepResult, entry)) == entry


class JournalStep:
    """A replay from a journal alone: every step's result is the stored entry; a step whose
    body would have to run fails the test."""

    def __init__(self, entries: dict[str, Any]) -> None:
        self.entries = entries
        self.replayed: list[str] = []

    async def do(
        self,
        name: str,
        fn: Callable[[StepContext], Awaitable[Any]],
        config: StepConfig | None = None,
    ) -> Any:
        assert name in self.entries, f"step {name!r} would run again"
        self.replayed.append(name)
        return self.entries[name]

    async def sleep(self, name: str, duration: int | float | str) -> None:
        raise AssertionError(name)

    async def wait_for_event(
        self, name: str, event_type: str, timeout: int | float | str = "24 hours"
    ) -> dict[str, Any]:
        raise AssertionError(name)


async def test_a_journal_in_the_old_shape_replays_to_the_same_output(tmp_path: Path) -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return [call_tool("add", a=2, b=3)]
        return f"it is {info.tool_results[0].content}"

    agent = Agent(name="adder", tools=[add], model=FunctionModel(model))
    host = await LocalHost(AgentRegistry([agent]), tmp_path / "data").start()
    try:
        handle = await host.executor.execute("adder", "add")
        run = await handle.result()
        assert run.status == "completed"
        registry, store, streams = host.registry, host.store, host.streams
        # The run ended in the store inside its last step; the journal records that step
        # when the step returns.
        for _ in range(500):
            if (await host.engine.status(handle.run_id)).status == "complete":
                break
            await asyncio.sleep(0.01)
        with sqlite3.connect(tmp_path / "data" / "state.db") as db:
            (params,) = db.execute(
                "SELECT params FROM engine_instances WHERE id = ?", (handle.run_id,)
            ).fetchone()
            rows = db.execute(
                "SELECT name, result FROM engine_steps WHERE instance_id = ? ORDER BY ordinal",
                (handle.run_id,),
            ).fetchall()
        entries = {name: json.loads(result) for name, result in rows}
        assert list(entries) == [
            "turn-1/step-01/model",
            "turn-1/step-01/tool/" + entries["turn-1/step-01/model"]["toolCalls"][0]["call"]["id"],
            "turn-1/step-02/model",
        ]
        # Rewrite the final model step's entry as the versions before the converter wrote
        # it (its output and error keys set after conversion, None included).
        final = entries["turn-1/step-02/model"]
        assert final["status"] == "completed"
        final.setdefault("output", None)
        final.setdefault("error", None)
        payload = json.loads(params)
        payload = payload.get("payload", payload)
        step = JournalStep(entries)
        deps = RunDeps(registry=registry, store=store, streams=streams, resolve_model=lambda m: m)  # type: ignore[arg-type, return-value]
        output = await run_agent_workflow(payload, step, deps)  # type: ignore[arg-type]
        assert step.replayed == list(entries)
        replayed = RunResult.from_dict(output)
        assert replayed.status is RunStatus.COMPLETED
        assert replayed.output == "it is 5"
        assert replayed.output == (await handle.get_state()).output
    finally:
        await host.close()
