"""SSE framing, the headers, resume cursors, and a stream turned into SSE bytes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import Headers

from helix_agents.chunks import (
    CustomDataChunk,
    RunEndChunk,
    RunStartChunk,
    SequencedChunk,
    StepResetChunk,
    StepStartChunk,
    TextDeltaChunk,
    TextEndChunk,
    TextStartChunk,
)
from helix_agents.errors import InvalidCursorError, StreamError
from helix_agents.hosts.local.streams import LocalStreamManager
from helix_agents.streaming.sse import (
    DONE,
    KEEP_ALIVE,
    UI_MESSAGE_STREAM_HEADERS,
    encode_event,
    encode_sse,
    parse_cursor,
    resume_cursor,
    sse_stream,
)
from helix_agents.streaming.ui_schema import check_ui_chunk
from tests.conformance.streams_suite import GUARD


def parse_sse(body: bytes) -> list[dict[str, Any]]:
    """A strict reader of our SSE output: events as {"id", "data"} or {"comment"}."""
    text = body.decode()
    assert text.endswith("\n\n")
    events = []
    for block in text[:-2].split("\n\n"):
        event: dict[str, Any] = {}
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "":
                event["comment"] = value
            else:
                assert field in ("id", "data"), line
                assert field not in event, line
                event[field] = value
        events.append(event)
    return events


def test_the_headers_are_exactly_the_protocols() -> None:
    assert dict(UI_MESSAGE_STREAM_HEADERS) == {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-vercel-ai-ui-message-stream": "v1",
        "x-accel-buffering": "no",
    }
    with pytest.raises(TypeError):
        UI_MESSAGE_STREAM_HEADERS["x"] = "y"  # type: ignore[index]


def test_an_event_is_an_id_and_compact_json() -> None:
    event = encode_event({"type": "text-delta", "id": "t", "delta": "héllo\n\u2028"}, 42)
    assert event == (
        b'id: 42\ndata: {"type":"text-delta","id":"t","delta":"h\xc3\xa9llo\\n\xe2\x80\xa8"}\n\n'
    )
    assert encode_event({"type": "start-step"}) == b'data: {"type":"start-step"}\n\n'


def test_values_json_cannot_hold_do_not_break_the_stream() -> None:
    event = encode_event({"type": "data-x", "data": {"nan": float("nan"), "t": (1, 2)}}, 1)
    data = json.loads(event.decode().split("data: ", 1)[1])
    assert data == {"type": "data-x", "data": {"nan": "NaN", "t": [1, 2]}}


def test_done_and_keep_alive() -> None:
    assert DONE == b"data: [DONE]\n\n"
    assert KEEP_ALIVE == b": keep-alive\n\n"


@pytest.mark.parametrize(("value", "cursor"), [("0", 0), ("42", 42), (" 7\t", 7), ("007", 7)])
def test_cursors(value: str, cursor: int) -> None:
    assert parse_cursor(value) == cursor


@pytest.mark.parametrize(
    "value",
    ["", " ", "-1", "+1", "1.5", "1e3", "0x10", "abc", "\uff11\uff12", "1 2", str(2**53), None, 3],
)
def test_bad_cursors_are_clear_errors(value: Any) -> None:
    with pytest.raises(InvalidCursorError, match="Last-Event-ID"):
        parse_cursor(value, source="Last-Event-ID")


def test_resume_cursor_precedence() -> None:
    assert resume_cursor({}) is None
    assert resume_cursor({}, {"other": "1"}) is None
    assert resume_cursor({}, {"from": "3"}) == 3
    assert resume_cursor({"X-Resume-From-Sequence": "5"}, {"from": "3"}) == 5
    assert resume_cursor({"last-event-id": "9", "x-resume-from-sequence": "5"}) == 9
    assert resume_cursor(Headers({"Last-Event-ID": "11"})) == 11
    with pytest.raises(InvalidCursorError, match="X-Resume-From-Sequence"):
        resume_cursor({"x-resume-from-sequence": "-2"})
    with pytest.raises(InvalidCursorError, match="from"):
        resume_cursor({}, {"from": "latest"})


async def batches(*items: Sequence[SequencedChunk]) -> AsyncIterator[Sequence[SequencedChunk]]:
    for batch in items:
        yield batch


def sc(seq: int, chunk: Any) -> SequencedChunk:
    return SequencedChunk(seq=seq, chunk=chunk)


async def test_encode_sse_frames_a_follower() -> None:
    reset = StepResetChunk(step=1, attempt=1, superseded_from=2)
    body = b"".join(
        [
            part
            async for part in encode_sse(
                batches(
                    [sc(1, RunStartChunk(run_id="r", turn=1, agent_type="a", message_id="m"))],
                    [],
                    [sc(5, reset), sc(6, StepStartChunk(step=1, attempt=2))],
                    [sc(7, RunEndChunk(run_id="r", status="completed"))],
                )
            )
        ]
    )
    assert parse_sse(body) == [
        {"id": "1", "data": '{"type":"start","messageId":"m"}'},
        {"comment": "keep-alive"},
        {"id": "6", "data": '{"type":"start-step"}'},  # the reset maps to nothing
        {"id": "7", "data": '{"type":"finish","finishReason":"stop"}'},
        {"data": "[DONE]"},
    ]


async def test_a_chunk_that_cannot_be_mapped_becomes_an_error_event() -> None:
    body = b"".join(
        [
            part
            async for part in encode_sse(
                batches([sc(1, CustomDataChunk(name="", data=1)), sc(2, StepStartChunk())])
            )
        ]
    )
    events = parse_sse(body)
    assert events[0]["id"] == "1"
    assert json.loads(events[0]["data"])["type"] == "error"
    assert events[1:] == [{"id": "2", "data": '{"type":"start-step"}'}, {"data": "[DONE]"}]


@pytest.fixture
async def streams(tmp_path: Path) -> AsyncIterator[LocalStreamManager]:
    manager = LocalStreamManager(tmp_path / "streams.db")
    yield manager
    await manager.close()


def run_chunks(n: int) -> list[Any]:
    out: list[Any] = [
        RunStartChunk(run_id="r", turn=1, agent_type="a", message_id="m"),
        StepStartChunk(step=1, attempt=1),
        TextStartChunk(part_id="t", step=1, attempt=1),
    ]
    out += [TextDeltaChunk(part_id="t", delta=f"w{i} ", step=1, attempt=1) for i in range(n)]
    out += [
        TextEndChunk(part_id="t", step=1, attempt=1),
        RunEndChunk(run_id="r", status="completed"),
    ]
    return out


async def test_sse_stream_follows_live_with_keep_alives(streams: LocalStreamManager) -> None:
    await streams.create("s")
    received: list[bytes] = []
    first_keep_alive = asyncio.Event()

    async def client() -> None:
        async for part in sse_stream(streams, "s", keep_alive=0.01):
            received.append(part)
            if part == KEEP_ALIVE:
                first_keep_alive.set()

    task = asyncio.create_task(client())
    # Nothing is written until the idle stream has sent a keep-alive.
    await asyncio.wait_for(first_keep_alive.wait(), GUARD)
    chunks = run_chunks(20)
    for i in range(0, len(chunks), 4):
        await streams.write("s", chunks[i : i + 4])
    await streams.set_status("s", "ended")
    await asyncio.wait_for(task, GUARD)

    events = [e for e in parse_sse(b"".join(received)) if "comment" not in e]
    assert events[-1] == {"data": "[DONE]"}
    assert [int(e["id"]) for e in events[:-1]] == list(range(1, len(chunks) + 1))
    ui = [json.loads(e["data"]) for e in events[:-1]]
    for chunk in ui:
        check_ui_chunk(chunk)
    assert "".join(u["delta"] for u in ui if u["type"] == "text-delta") == "".join(
        f"w{i} " for i in range(20)
    )


async def test_resuming_with_last_event_id_sees_every_event_once(
    streams: LocalStreamManager,
) -> None:
    await streams.create("s")
    chunks = run_chunks(30)
    await streams.write("s", chunks)
    await streams.set_status("s", "ended")
    full = list(parse_sse(b"".join([p async for p in sse_stream(streams, "s")])))
    for cut in (0, 1, 5, 17, len(chunks)):
        head = [e for e in full if "id" in e and int(e["id"]) <= cut]
        after = resume_cursor({"Last-Event-ID": str(cut)}) if cut else 0
        assert after is not None
        tail = parse_sse(b"".join([p async for p in sse_stream(streams, "s", after)]))
        assert head + tail == full


async def test_a_live_reset_reaches_the_client(streams: LocalStreamManager) -> None:
    await streams.create("s")
    await streams.write(
        "s",
        [
            StepStartChunk(step=1, attempt=1),
            TextStartChunk(part_id="a", step=1, attempt=1),
            TextDeltaChunk(part_id="a", delta="wrong", step=1, attempt=1),
        ],
    )
    seen = asyncio.Event()
    received: list[bytes] = []

    async def client() -> None:
        async for part in sse_stream(streams, "s", ui_version=7):
            received.append(part)
            seen.set()

    task = asyncio.create_task(client())
    await asyncio.wait_for(seen.wait(), GUARD)
    await streams.write(
        "s",
        [
            StepResetChunk(step=1, attempt=1),
            StepStartChunk(step=1, attempt=2),
            TextStartChunk(part_id="b", step=1, attempt=2),
            TextDeltaChunk(part_id="b", delta="right", step=1, attempt=2),
        ],
    )
    await streams.set_status("s", "ended")
    await asyncio.wait_for(task, GUARD)
    live = [json.loads(e["data"]) for e in parse_sse(b"".join(received)) if "id" in e]
    assert [u["type"] for u in live] == [
        "start-step",
        "text-start",
        "text-delta",
        "reset-step",
        "text-start",
        "text-delta",
    ]
    # A replay afterwards shows only the clean attempt, and no reset.
    replay = parse_sse(b"".join([p async for p in sse_stream(streams, "s", ui_version=7)]))
    assert [json.loads(e["data"])["type"] for e in replay if "id" in e] == [
        "start-step",
        "text-start",
        "text-delta",
    ]


async def test_an_unknown_stream_fails_before_any_byte(streams: LocalStreamManager) -> None:
    with pytest.raises(StreamError):
        await sse_stream(streams, "missing").__anext__()
