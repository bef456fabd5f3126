"""Durability on the real Python Worker: SIGKILL the whole workerd process group at random
moments, restart it on the same persisted state, and check every run.

``test_runs_survive_kills_of_the_worker``: runs of ``crasher`` (crash_agents.py) stream,
call tools whose effects go to a recorder outside the Worker, wait on a sub-agent and
continue after an approval, while the Worker is killed again and again (seeded; the seed is
printed) and started on the same state. After each start the interrupted instances are
woken through the local explorer API (production's engine resumes them by itself). Every
run has an SSE reader that comes back with ``Last-Event-ID`` after each break. Then:

- every run completes; its messages and its child's are dense (sequences 0..n-1, none
  twice) and have the expected shape;
- every completed tool call's effect was applied: its key is in the recorder, the stored
  result names the key's last execution (nothing ran after the result was saved), and no
  key belongs to a call that is not stored. Executions beyond the first are in-flight tools
  a kill cut before their result was saved (at-least-once): the key makes the effect once;
- each reader's message equals the stored one (the snapshot), and so does a late reader's
  replay of the whole turn from cursor 0.

``test_hibernating_websockets_survive_a_kill``: WebSocket readers follow runs whose model
stays silent long enough for workerd to evict the stream Durable Object (its sockets
hibernate); the Worker is killed, restarted; the readers reconnect with their cursor and
rebuild exactly the stored message, and the object's SQLite storage survived (its
construction counter goes on, a reader from 0 replays the chunks written before the kill).

Longer soaks: ``HELIX_CRASH_REAL_RUNS``, ``HELIX_CRASH_REAL_KILLS``, ``HELIX_CRASH_SEED``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from helix_agents.messages import AssistantMessage, ToolResultMessage, UserMessage
from tests.support.crashing import stored_messages
from tests.support.ui_message import UIMessageAssembler
from tests.worker_real.app import CONSTRUCTIONS_PATH, mount_path
from tests.worker_real.crash_agents import slow_text

from .crashing import BROKEN, CrashingWorker, Recorder, SseReader, StreamBroke, d1_database
from .harness import WorkerPool

RUNS = int(os.environ.get("HELIX_CRASH_REAL_RUNS", "12"))
KILLS = int(os.environ.get("HELIX_CRASH_REAL_KILLS", "8"))
#: A Worker start takes ~6 s on an idle machine, up to ~30 s on a loaded one.
pytestmark = [
    pytest.mark.worker_real,
    pytest.mark.crash,
    pytest.mark.timeout(max(600, 120 + 45 * KILLS + 10 * RUNS)),
]
SEED = int(os.environ.get("HELIX_CRASH_SEED", "20261202"))
#: Seconds the Worker serves between a start and the next kill.
UPTIME = (0.5, 4.0)
#: New runs start in this many waves, one after each of the first starts.
WAVES = 3
#: The shape of a completed ``crasher`` run and of its child's.
PARENT_KINDS = ["User"] + ["Assistant", "ToolResult", "ToolResult"] + ["Assistant", "ToolResult"] * 2 + ["Assistant"]  # fmt: skip
CHILD_KINDS = ["User", "Assistant", "ToolResult", "Assistant"]


@pytest.fixture
def tooling(worker_pool: WorkerPool) -> WorkerPool:
    """The Node tooling is there (else the tier skips); the pool itself stays unused."""
    return worker_pool


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture
async def crashing(tmp_path: Path, recorder: Recorder, tooling: WorkerPool) -> Any:
    workers: list[CrashingWorker] = []

    def make(agents: list[str]) -> CrashingWorker:
        worker = CrashingWorker(tmp_path / f"w{len(workers)}", recorder, agents)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.worker.kill()


# -- many runs, many kills -------------------------------------------------------------------


class Figures:
    def __init__(self) -> None:
        self.approvals = 0
        self.start_retries = 0
        self.cuts: Counter[str] = Counter()  # what a kill cut, by the client's request


async def drive(
    index: int, worker: CrashingWorker, reader: SseReader, figures: Figures
) -> dict[str, Any]:
    """Start run ``index``, read it to its end through every kill, approve what it asks;
    its final snapshot."""
    session = reader.session
    body = {
        "message": f"job {index}",
        "sessionId": session,
        "messageId": f"{session}-m",
        "agentType": "crasher",
    }
    broke = False  # the last response broke off: the next one is a reattachment
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
        while True:  # the turn's start: retried with the same message id (the same turn)
            await worker.up.wait()
            try:
                async with client.stream("POST", "/chat", json=body) as res:
                    assert res.status_code == 200, await res.aread()
                    await reader.consume(res)
                break
            except (*BROKEN, StreamBroke):
                figures.cuts["start"] += 1
                if reader.cursor is not None:
                    broke = True
                    break  # the turn started: reattach
                figures.start_retries += 1
                await asyncio.sleep(0.1)
        while True:
            await worker.up.wait()
            try:
                async with client.stream(
                    "GET", f"/chat/{session}/stream", headers=reader.headers()
                ) as res:
                    if res.status_code == 200:
                        reader.reattached += broke
                        broke = False
                        await reader.consume(res)
                        continue
                    assert res.status_code == 204, (res.status_code, await res.aread())
                snapshot = (await client.get(f"/chat/{session}")).raise_for_status().json()
                status = snapshot["status"]
                if status == "completed":
                    return dict(snapshot)
                assert status == "active" or status.startswith("suspended"), snapshot
                if await approve(client, reader, snapshot):
                    figures.approvals += 1
                await asyncio.sleep(0.2)
            except (*BROKEN, StreamBroke):
                figures.cuts["read"] += 1
                broke = True
                await asyncio.sleep(0.1)


async def approve(client: httpx.AsyncClient, reader: SseReader, snapshot: dict[str, Any]) -> bool:
    """Approve the call the run waits on, if it still waits; whether this approved it. The
    reader is the deciding client: it holds the decision in its message, as ``useChat``'s
    ``addToolApprovalResponse`` does (v6 streams no chunk for it)."""
    if not snapshot["messages"] or snapshot["messages"][-1]["role"] != "assistant":
        return False
    asked = [p for p in snapshot["messages"][-1]["parts"] if p.get("state") == "approval-requested"]
    for part in asked:
        # As useChat: the decision is in the client's message first, then sent (a kill may
        # cut the answer: the decision then already counts).
        reader.decided(part["toolCallId"], part["approval"]["id"])
        res = await client.post(
            f"/chat/{reader.session}/submit-tool-result",
            json={"toolCallId": part["toolCallId"], "approved": True},
        )
        # 409: already settled (our own answer, which a kill cut before it reached us).
        assert res.status_code in (200, 409), res.text
        if res.status_code == 200:
            return True
    return False


async def kill_at_random(
    worker: CrashingWorker, rng: random.Random, kills: int, start_wave: Any
) -> None:
    for n in range(kills):
        await asyncio.sleep(rng.uniform(*UPTIME))
        await worker.kill()
        await worker.start()
        if n + 1 < WAVES:
            start_wave(n + 1)


async def test_runs_survive_kills_of_the_worker(
    crashing: Any, recorder: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = SEED
    rng = random.Random(seed)
    with capsys.disabled():
        print(f"\ncrash-real: seed {seed} (HELIX_CRASH_SEED), {RUNS} runs, {KILLS} kills")
    began = time.monotonic()
    worker: CrashingWorker = crashing(["crasher"])
    await worker.start(wake=False)
    figures = Figures()
    readers = [SseReader(f"cr{i}") for i in range(RUNS)]
    drivers: dict[int, asyncio.Task[dict[str, Any]]] = {}

    def start_wave(wave: int) -> None:
        for i in range(wave, RUNS, WAVES):
            drivers[i] = asyncio.ensure_future(drive(i, worker, readers[i], figures))

    start_wave(0)
    killer = asyncio.ensure_future(kill_at_random(worker, rng, KILLS, start_wave))
    try:
        await asyncio.wait_for(killer, timeout=60 + KILLS * 45)
        for wave in range(max(1, KILLS + 1), WAVES):  # fewer kills than waves: start the rest
            start_wave(wave)
        async with asyncio.timeout(240 + RUNS * 5):
            snapshots = await asyncio.gather(*(drivers[i] for i in range(RUNS)))
    except BaseException:
        await report_stall(worker, readers)
        raise
    finally:
        killer.cancel()
        for task in drivers.values():
            task.cancel()
    # A late reader replays each whole turn from its start.
    late = [await replay_from_zero(worker, r.session) for r in readers]
    await worker.stop()
    elapsed = time.monotonic() - began

    effects = recorder.snapshot()
    db = d1_database(worker.state_dir)
    completed_calls: set[str] = set()
    mismatches = 0
    for i, (reader, snapshot) in enumerate(zip(readers, snapshots, strict=True)):
        session = reader.session
        assert snapshot["status"] == "completed", snapshot
        stored = snapshot["messages"][-1]
        # The delegation's data-subagent part is checked against the child's record, then
        # the readers' whole messages must equal the snapshot's (which has it too).
        [child] = [r["sub_session_id"] for r in db.execute(
            "SELECT sub_session_id FROM __agents_sub_session_refs WHERE session_id = ?",
            [session],
        )]  # fmt: skip
        check_subagent_part(stored, stored, child)
        got = [check_subagent_part(m, stored, child) for m in (reader.message.message, late[i])]
        mismatches += sum(m != stored for m in got)
        assert got[0] == stored, difference(session, got[0], stored)
        assert got[1] == stored, difference(session, got[1], stored)
        messages = stored_messages(db, session)  # dense: 0..n-1, none twice
        assert kinds(messages) == PARENT_KINDS, (session, kinds(messages))
        assert isinstance(messages[0], UserMessage)
        assert messages[0].content == f"job {i}"
        child_messages = stored_messages(db, child)
        assert kinds(child_messages) == CHILD_KINDS, (child, kinds(child_messages))
        for owner, stored_list in ((session, messages), (child, child_messages)):
            completed_calls |= check_effects(owner, stored_list, effects)
        final = messages[-1]
        assert isinstance(final, AssistantMessage)
        assert "done: a#" in final.content
        assert "helped: child#" in final.content
    # No effect of a call that is not stored: each recorded key is a completed call's.
    assert set(effects) == completed_calls
    executions = sum(len(runs) for runs in effects.values())
    again = sum(len(runs) - 1 for runs in effects.values())
    reattached = sum(r.reattached for r in readers)
    with capsys.disabled():
        print(
            f"crash-real: {RUNS} runs (+{RUNS} sub-agent runs) completed, {worker.kills} kills, "
            f"{len(worker.starts)} starts ({sum(worker.starts):.0f} s), "
            f"{worker.woken} instances woken, {figures.approvals} approvals; "
            f"{len(completed_calls)} tool effects applied once each "
            f"({executions} executions, {again} in-flight re-runs absorbed by the key); "
            f"{len(readers)} SSE readers, {reattached} reattachments with Last-Event-ID, "
            f"{sum(r.responses for r in readers)} responses, cuts {dict(figures.cuts)}, "
            f"{figures.start_retries} turn starts retried with their message id, "
            f"{len(late)} late replays; mismatches {mismatches}; {elapsed:.0f} s"
        )
    assert worker.kills == KILLS
    assert mismatches == 0


def check_subagent_part(
    message: dict[str, Any] | None, stored: dict[str, Any], child: str
) -> dict[str, Any] | None:
    """``message``, after checking its ``data-subagent`` part: one, after the delegating
    call's part, naming the child session, completed, with the call's output."""
    if message is None:
        return None
    parts = message["parts"]
    found = [n for n, p in enumerate(parts) if p["type"] == "data-subagent"]
    assert len(found) == 1, parts
    frame = parts[found[0]]
    [call] = [p for p in stored["parts"] if p["type"] == "tool-ask_crash_helper"]
    assert parts[found[0] - 1]["toolCallId"] == call["toolCallId"] == frame["id"], parts
    assert frame["data"] == {
        "toolCallId": call["toolCallId"],
        "sessionId": child,
        "agentType": "crash_helper",
        "status": "completed",
        "output": call["output"],
    }
    return message


def difference(session: str, got: dict[str, Any] | None, stored: dict[str, Any]) -> str:
    """The first part where a reader's message and the stored one differ."""
    if got is None or got["id"] != stored["id"]:
        return f"{session}: message {got and got['id']} != {stored['id']}"
    pairs = zip(got["parts"], stored["parts"], strict=False)
    for n, (mine, theirs) in enumerate(pairs):
        if mine != theirs:
            return f"{session}: part {n}: {mine} != {theirs}"
    return f"{session}: {len(got['parts'])} parts != {len(stored['parts'])}"


def kinds(messages: list[Any]) -> list[str]:
    return [type(m).__name__.removesuffix("Message") for m in messages]


def check_effects(session: str, messages: list[Any], effects: dict[str, list[str]]) -> set[str]:
    """The keys of ``session``'s completed effect calls, each checked against the recorder."""
    calls = {c.id: c for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls}
    keys: set[str] = set()
    for result in (m for m in messages if isinstance(m, ToolResultMessage)):
        call = calls[result.tool_call_id]
        if call.name not in ("effect", "approved_effect"):
            continue
        assert result.status == "success", result
        key = f"{session}/{call.id}"
        label, _, n = str(result.content).partition("#")
        runs = effects.get(key, [])
        assert label == call.arguments["label"], (key, label)
        assert runs, f"{key}: a completed call whose effect the recorder never saw"
        # The stored result came from the key's last execution: nothing ran after its save.
        assert int(n) == len(runs), (key, n, runs)
        keys.add(key)
    return keys


async def replay_from_zero(worker: CrashingWorker, session: str) -> dict[str, Any] | None:
    """The turn replayed whole (cursor 0) to a client of the AI SDK 7 stream, which carries
    the approval's decision (v6 has no chunk for it: docs/hitl.md), through the same
    Worker's app mounted with ``ui_version=7``."""
    reader = SseReader(session, UIMessageAssembler(ui_version=7), cursor=0)
    base = worker.url + mount_path(json.dumps({"agents": ["crasher"], "http": {"ui_version": 7}}))
    async with (
        httpx.AsyncClient(base_url=base, timeout=60) as client,
        client.stream("GET", f"/chat/{session}/stream", headers=reader.headers()) as res,
    ):
        assert res.status_code == 200, (session, res.status_code)
        await reader.consume(res)
    return reader.message.message


async def report_stall(worker: CrashingWorker, readers: list[SseReader]) -> None:
    """What a stalled or failed session looked like (the test's output)."""
    lines = [f"kills {worker.kills}, up {worker.up.is_set()}"]
    try:
        async with httpx.AsyncClient(base_url=worker.url, timeout=10) as client:
            for reader in readers:
                res = await client.get(f"/chat/{reader.session}")
                lines.append(f"{reader.session}: {res.json().get('status')} cursor {reader.cursor}")
        states = Counter(i["status"] for i in await asyncio.to_thread(worker.instances))
        lines.append(f"instances: {dict(states)}")
    except Exception as exc:
        lines.append(f"(no more: {exc!r})")
    lines.append(worker.worker.log_tail(30))
    print("\n".join(lines))


# -- hibernating WebSockets ------------------------------------------------------------------

#: Sessions followed over WebSockets, and readers per session.
WS_SESSIONS, WS_READERS = 2, 2
#: workerd evicts an idle Durable Object 10 s after its last request (test_hibernation.py).
IDLE = 12.0


class WsReader:
    """A reader of ``/chat/{id}/ws`` that reconnects with ``?from=<last seq>``."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.message = UIMessageAssembler()
        self.seq = 0
        self.connections = 0
        self.end: dict[str, Any] | None = None

    async def follow(self, worker: CrashingWorker) -> None:
        """Read frames until the run's end."""
        url = "ws" + worker.url[len("http") :] + f"/chat/{self.session}/ws?from={self.seq}"
        async with connect(url, ping_interval=None, open_timeout=30) as ws:
            self.connections += 1
            async for text in ws:
                frame = json.loads(text)
                if "done" in frame:
                    assert frame.get("status") == "completed", frame
                    self.end = frame
                    return
                assert "error" not in frame, frame
                self.message.apply(frame["chunk"])
                self.seq = frame["seq"]

    @property
    def text(self) -> str:
        parts = (self.message.message or {}).get("parts", [])
        return "".join(p.get("text", "") for p in parts if p["type"] == "text")


async def test_hibernating_websockets_survive_a_kill(
    crashing: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    worker: CrashingWorker = crashing(["crash_slow"])
    await worker.start(wake=False)
    sessions = [f"hw{i}" for i in range(WS_SESSIONS)]
    readers = [WsReader(s) for s in sessions for _ in range(WS_READERS)]
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
        for session in sessions:
            async with client.stream(
                "POST",
                "/chat",
                json={"message": "go", "sessionId": session, "agentType": "crash_slow"},
            ) as res:
                assert res.status_code == 200
        # The readers follow until the first words are in; the model then stays silent.
        first = slow_text(6)[: len("a0 a1 a2 a3 a4 a5 ")]
        tasks = [asyncio.ensure_future(r.follow(worker)) for r in readers]
        for _ in range(600):  # 30 s
            if all(r.text == first for r in readers):
                break
            await asyncio.sleep(0.05)
        assert [r.text for r in readers] == [first] * len(readers)
        before = {s: await constructions(client, s) for s in sessions}
        # Nothing calls the objects now: they are evicted and their sockets hibernate.
        await asyncio.sleep(IDLE)
        await worker.kill()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, ConnectionClosed | OSError) for r in results), results
        assert all(r.end is None for r in readers)
        seen = [r.seq for r in readers]

        # Started again: the readers reconnect with their cursor before the run goes on
        # (its instance still waits to be woken), then the run is woken.
        await worker.start(wake=False)
        late = WsReader(sessions[0])  # a new reader from 0: the chunks written before the kill
        everyone = [*readers, late]
        tasks = [asyncio.ensure_future(follow_through(r, worker)) for r in everyone]
        await asyncio.sleep(1.0)
        woken = await worker.wake()
        async with asyncio.timeout(120):
            await asyncio.gather(*tasks)
        after = {s: await constructions(client, s) for s in sessions}
        snapshots = {s: (await client.get(f"/chat/{s}")).json() for s in sessions}
    await worker.stop()

    for reader in everyone:
        stored = snapshots[reader.session]
        assert stored["status"] == "completed", stored
        assert reader.message.message == stored["messages"][-1], reader.session
        assert reader.text == slow_text(6)
    for session in sessions:
        # The object's SQLite storage survived the kill: its counter went on from `before`.
        assert after[session] > before[session] >= 1, (before, after)
    with capsys.disabled():
        print(
            f"\ncrash-real websockets: {len(readers)} hibernating sockets over "
            f"{len(sessions)} sessions, 1 kill, {len(woken)} instances woken; readers "
            f"reconnected from seq {seen}, {sum(r.connections for r in everyone)} connections; "
            f"constructions {before} -> {after}; every message equals the snapshot"
        )


async def follow_through(reader: WsReader, worker: CrashingWorker) -> None:
    """Reconnect (the Worker may still be starting) until the run's end."""
    while reader.end is None:
        try:
            await reader.follow(worker)
        except (ConnectionClosed, InvalidHandshake, InvalidStatus, OSError):
            await asyncio.sleep(0.2)


async def constructions(client: httpx.AsyncClient, session: str) -> int:
    res = await client.get(CONSTRUCTIONS_PATH, params={"session": session})
    res.raise_for_status()
    count: int = res.json()["constructions"]
    return count


# -- a pause through the engine --------------------------------------------------------------


async def test_a_paused_instance_resumes_where_it_was(
    crashing: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pausing an instance while its model step runs: the engine lets the step finish, then
    aborts ``run`` ("Aborting engine: User called pause"). That abort is no failure of the
    run: resumed, the instance replays its steps and the run completes (it used to run the
    loop's fail step inside the abort and end the run ``failed``). Waking an instance after
    a kill pauses it too, and one that an alarm already woke may be running for real."""
    worker: CrashingWorker = crashing(["crash_slow"])
    await worker.start(wake=False)
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
        body = {"message": "go", "sessionId": "pz0", "agentType": "crash_slow"}
        async with client.stream("POST", "/chat", json=body) as res:
            assert res.status_code == 200
        # The model step is in its silence: pause (it takes effect once the step ended).
        await asyncio.sleep(2.0)
        await asyncio.to_thread(worker.set_status, "pz0--t1", "pause")
        await worker.until("pz0--t1", "paused", timeout=60)
        await asyncio.to_thread(worker.set_status, "pz0--t1", "resume")
        reader = SseReader("pz0", cursor=0)
        async with client.stream("GET", "/chat/pz0/stream", headers=reader.headers()) as res:
            assert res.status_code == 200
            await reader.consume(res)
        snapshot = (await client.get("/chat/pz0")).json()
    assert snapshot["status"] == "completed", snapshot
    assert snapshot["messages"][-1] == reader.message.message
    assert snapshot["output"] == slow_text(6)
