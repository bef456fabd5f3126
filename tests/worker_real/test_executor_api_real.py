"""The executor's API and ``summarize_older`` on the real Python Worker (local workerd,
offline), over the Worker's HTTP API, on D1 and the agent Workflow (the local host's tests:
tests/history/test_summaries.py, tests/http/test_paging.py, tests/http/test_control.py).

- ``summarize_older(..., keep_last=1)``: on turn 3 every model request carries the summary
  in place of turns 1 and 2, the summarizer runs once for the turn's instance (its journaled
  step is read back, not run again, by the instance's later steps) and reads turn 2's
  stored summary and turn 2 only; its calls count in the session's usage; the stored
  history and the snapshot keep every message and no summary.
- Hidden context (``context`` with ``metadata {"hidden": true}``) reaches the model but
  not the snapshot; the history route keeps it.
- ``GET /sessions/{id}/runs``: newest first, with ``current`` while a run is active and
  ``canResume`` once it was interrupted; ``POST /chat/{id}/resume`` continues it as a new
  run; a new message after an interrupt (``POST /chat``, the executor's
  ``resume(message=...)`` over HTTP) starts the next turn instead.

The tests share one Worker: the HTTP suites' env (no extra Worker start in a full run),
their configuration under its own mount path; each test uses its own session ids.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from helix_agents.history import SUMMARY_HEADING
from tests.http.test_control import Reader
from tests.worker_real.app import CATALOG, SESSIONS_PATH, mount_path
from tests.worker_real.executor_agents import SUMMING

from .harness import RealWorker, WorkerPool, config_of
from .relay import Relayed

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]

#: The one item under which this module's tests take their Worker (so they share it).
ITEM = "tests/worker_real/test_executor_api_real.py"
GATED = "gated"


@dataclass
class Api:
    """A test's client of the Worker's API, what ``summing``'s models reported to the
    relay, and ``gated``'s gate (a new one each :meth:`new_gate`)."""

    http: httpx.AsyncClient
    worker: RealWorker
    pool: WorkerPool
    reports: list[Any]
    since: int

    def new_gate(self, words: int = 3) -> threading.Event:
        """``gated`` says ``words`` words, then waits for the returned gate."""
        return self.pool.relay.register(self.worker.slot, Relayed(GATED, {"words": words}))

    def kind(self, kind: str) -> list[Any]:
        return [r for r in self.reports if r["kind"] == kind]


@pytest.fixture
async def api(worker_pool: WorkerPool) -> AsyncIterator[Api]:
    config, _ = config_of((CATALOG[SUMMING], CATALOG[GATED]), {})
    real = await asyncio.to_thread(worker_pool.get, config.env, ITEM)
    reports: list[Any] = []
    worker_pool.relay.register(real.slot, Relayed(SUMMING, executed=reports))
    base = real.url + mount_path(config.app)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            yield Api(http, real, worker_pool, reports, real.log_length())
    finally:
        # As the suites' servers end (harness.RealServers.close): every gate opened, and
        # the sessions left behind recorded.
        worker_pool.relay.release(real.slot)
        async with httpx.AsyncClient(base_url=real.url, timeout=30) as client:
            res = await client.get(SESSIONS_PATH)
        res.raise_for_status()
        real.served(ITEM, set(res.json()["sessions"]))


def sid(name: str) -> str:
    return f"x{uuid.uuid4().hex[:8]}-{name}"


async def chat(http: httpx.AsyncClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = await http.post("/chat", json=body, headers={"accept": "text/event-stream"})
    assert response.status_code == 200, response.text
    return [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["delta"] for c in chunks if c.get("type") == "text-delta")


async def settled(http: httpx.AsyncClient, session: str, timeout: float = 60) -> dict[str, Any]:
    """The session's snapshot once no run is active."""
    deadline = time.monotonic() + timeout
    while True:
        snap: dict[str, Any] = (await http.get(f"/chat/{session}")).json()
        if snap["status"] != "active":
            return snap
        assert time.monotonic() < deadline, f"{session} is still active"
        await asyncio.sleep(0.1)


async def runs_of(http: httpx.AsyncClient, session: str) -> dict[str, Any]:
    res = await http.get(f"/sessions/{session}/runs")
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


async def test_summarize_older_on_the_real_worker(api: Api) -> None:
    session = sid("sum")
    for turn, question in enumerate(["q1", "q2", "q3"], 1):
        body = {"agentType": SUMMING, "sessionId": session, "message": question}
        assert text_of(await chat(api.http, body)).startswith("seen "), turn
        # keep_last=1 keeps the turn being answered: turn 1 has nothing older (no summary
        # step at all), and each later turn's instance summarizes once.
        assert len(api.kind("summary")) == turn - 1, turn

    turn1 = (
        'User: q1\nAssistant:  [called look {"topic":"x"}]\nTool look (success): all about x\n'
        "Assistant: seen 3"
    )
    turn2 = (
        'User: q2\nAssistant:  [called look {"topic":"x"}]\nTool look (success): all about x\n'
        "Assistant: seen 4"
    )
    # Turn 3 summarized only turn 2, on top of turn 2's stored summary of turn 1.
    since = f"{SUMMARY_HEADING}\nasked q1\n\n[The conversation since]\n{turn2}"
    assert [s["transcript"] for s in api.kind("summary")] == [turn1, since]
    models = [r["messages"] for r in api.kind("model")]
    assert len(models) == 6  # two model steps a turn, each run once
    # Turn 2's requests: the summary of turn 1, then turn 2.
    assert models[2] == [f"U:{SUMMARY_HEADING}\nasked q1", "U:q2"]
    assert models[3] == [*models[2], "A:", "T:all about x"]
    # Turn 3's: the summary of turns 1 and 2 (the same in both steps: the instance's
    # journaled summary step was read back, not run again), then turn 3.
    note = f"U:{SUMMARY_HEADING}\nasked q1, q2"
    assert models[4] == [note, "U:q3"]
    assert models[5] == [note, "U:q3", "A:", "T:all about x"]
    assert not any("q1" in m or "q2" in m for m in models[4][1:] + models[5][1:])

    # The stored history and the snapshot: every message, no summary.
    page = (await api.http.get(f"/sessions/{session}/messages")).json()
    stored = [m["message"] for m in page["messages"]]
    assert len(stored) == 12
    assert [m["content"] for m in stored if m["role"] == "user"] == ["q1", "q2", "q3"]
    assert not any(SUMMARY_HEADING in json.dumps(m) for m in stored)
    snap = await settled(api.http, session)
    assert snap["status"] == "completed"
    users = [m for m in snap["messages"] if m["role"] == "user"]
    assert [u["parts"][0]["text"] for u in users] == ["q1", "q2", "q3"]
    assert SUMMARY_HEADING not in json.dumps(snap)
    assert snap["usage"]["requests"] == 8  # six model steps and two summaries
    assert api.worker.error_lines(api.since) == []


async def test_hidden_context_reaches_the_model_not_the_snapshot(api: Api) -> None:
    session = sid("hid")
    body = {
        "agentType": SUMMING,
        "sessionId": session,
        "message": "what time is it?",
        "metadata": {"source": "mobile"},
        "context": [
            {"content": "the user's timezone is Europe/Paris", "metadata": {"hidden": True}},
            {"content": "(pasted) a quote"},
        ],
    }
    await chat(api.http, body)
    [request, _] = [r["messages"] for r in api.kind("model")]
    assert request == [
        "U:the user's timezone is Europe/Paris",
        "U:(pasted) a quote",
        "U:what time is it?",
    ]
    snap = await settled(api.http, session)
    users = [m for m in snap["messages"] if m["role"] == "user"]
    assert [u["parts"][0]["text"] for u in users] == ["(pasted) a quote", "what time is it?"]
    assert users[1]["metadata"] == {"source": "mobile"}
    assert "Europe/Paris" not in json.dumps(snap)
    # The history route shows the stored history, the hidden message included.
    page = (await api.http.get(f"/sessions/{session}/messages")).json()
    first = page["messages"][0]["message"]
    assert first["content"] == "the user's timezone is Europe/Paris"
    assert first["metadata"] == {"hidden": True}
    # The next turn summarizes the first (keep_last=1): the hidden message and the visible
    # ones sent with it are one turn, summarized whole.
    await chat(api.http, {"agentType": SUMMING, "sessionId": session, "message": "and now?"})
    [summary] = api.kind("summary")
    assert summary["transcript"].split("\n")[:3] == [
        "User: the user's timezone is Europe/Paris",
        "User: (pasted) a quote",
        "User: what time is it?",
    ]
    asked = "asked the user's timezone is Europe/Paris, (pasted) a quote, what time is it?"
    assert api.kind("model")[-2]["messages"] == [f"U:{SUMMARY_HEADING}\n{asked}", "U:and now?"]
    assert api.worker.error_lines(api.since) == []


async def interrupt_midway(api: Api, session: str, message: str) -> None:
    """Start a ``gated`` turn, check the runs while it is active, interrupt it."""
    http = api.http
    body = {"agentType": GATED, "sessionId": session, "message": message}
    async with http.stream("POST", "/chat", json=body) as res:
        assert res.status_code == 200
        reader = Reader(res)
        await reader.until(lambda c: c.get("delta") == "a2 ")
        active = await runs_of(http, session)
        assert active["current"] is not None
        assert active["current"]["status"] == "active"
        assert active["current"]["runId"] == active["runs"][0]["runId"]
        assert active["canResume"] is False
        accepted = await http.post(f"/chat/{session}/interrupt", json={"reason": "wait"})
        assert accepted.status_code == 202, accepted.text
        rest = await reader.until()
        assert reader.done
        assert rest[-1] == {"type": "finish", "finishReason": "other"}
    snap = await settled(http, session)
    assert snap["status"] == "interrupted"


async def test_runs_interrupt_resume_over_http(api: Api) -> None:
    http = api.http
    session = sid("runs")
    gate = api.new_gate()
    await interrupt_midway(api, session, "go")
    runs = await runs_of(http, session)
    [t1] = runs["runs"]
    assert (t1["turn"], t1["status"], runs["current"], runs["canResume"]) == (
        1,
        "interrupted",
        None,
        True,
    )

    # Resume: the interrupted turn goes on as a new run (the gate open now).
    gate.set()
    res = await http.post(f"/chat/{session}/resume")
    assert res.status_code == 202, res.text
    resumed = res.json()
    assert (resumed["turn"], resumed["status"]) == (1, "active")
    assert resumed["runId"] != t1["runId"]
    snap = await settled(http, session)
    assert snap["status"] == "completed"
    runs = await runs_of(http, session)
    assert [(r["runId"], r["status"]) for r in runs["runs"]] == [
        (resumed["runId"], "completed"),
        (t1["runId"], "interrupted"),
    ]
    assert (runs["current"], runs["canResume"]) == (None, False)
    again = await http.post(f"/chat/{session}/resume")
    assert again.status_code == 409  # nothing interrupted to resume

    # Interrupted again (turn 2), then a new message instead of a resume: turn 3.
    gate = api.new_gate()
    await interrupt_midway(api, session, "more")
    assert (await runs_of(http, session))["canResume"] is True
    gate.set()
    chunks = await chat(http, {"agentType": GATED, "sessionId": session, "message": "next"})
    assert text_of(chunks) == "a0 a1 a2 b0 b1 b2 "
    runs = await runs_of(http, session)
    assert [(r["turn"], r["status"]) for r in runs["runs"]] == [
        (3, "completed"),
        (2, "interrupted"),
        (1, "completed"),
        (1, "interrupted"),
    ]
    assert (runs["current"], runs["canResume"]) == (None, False)
    snap = await settled(http, session)
    users = [m for m in snap["messages"] if m["role"] == "user"]
    assert [u["parts"][0]["text"] for u in users] == ["go", "more", "next"]
    assert (await http.get(f"/sessions/{sid('none')}/runs")).status_code == 404
    assert api.worker.error_lines(api.since) == []
