"""The run's history cache (core/run_context.py, ``SessionHistory``): the same messages,
the same tool-call ids and the same answer to "has any message files?" as the sorted walk
it replaced, whatever order the messages come in, and ``CallIds`` naming calls the same way
from its set as from the walk."""

from __future__ import annotations

import random

from helix_agents.core.model_call import CallIds
from helix_agents.core.run_context import SessionHistory, call_ids_of, has_files
from helix_agents.messages import (
    AssistantMessage,
    FilePart,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)


def _message(seq: int) -> Message:
    kind = seq % 3
    if kind == 0:
        # Every other user message has a file (the request notes them; see files_in).
        files = [FilePart(key=f"k{seq}", media_type="text/plain")] if seq % 2 else None
        return UserMessage(content=f"u{seq}", files=files)
    if kind == 1:
        calls = [
            ToolCall(id=f"call_{seq % 2}", name="t", arguments={}),
            ToolCall(id=f"x{seq}~1", name="t", arguments={}, provider_id=f"x{seq}"),
        ]
        return AssistantMessage(content="", tool_calls=calls)
    return ToolResultMessage(tool_call_id=f"call_{seq % 2}", tool_name="t", content="ok")


def _walk(held: dict[int, Message], before: int) -> tuple[list[Message], set[str]]:
    messages = [m for s, m in sorted(held.items()) if s < before]
    return messages, {i for m in messages for i in call_ids_of(m)}


def test_the_cache_matches_a_sorted_walk_whatever_the_order() -> None:
    rng = random.Random(19)
    for _ in range(50):
        held: dict[int, Message] = {}
        start = [(s, _message(s)) for s in rng.sample(range(30), 8)]
        history = SessionHistory(start)
        held.update(start)
        for _ in range(20):
            # Mostly appends (a step's messages), now and then a sequence already held or
            # one before the last (a replayed step's write).
            seq = max(held) + 1 if rng.random() < 0.7 else rng.randrange(0, max(held) + 2)
            message = _message(seq + rng.randrange(3))
            history.put(seq, message)
            held[seq] = message
            before = rng.choice([max(held) + 1, rng.randrange(0, max(held) + 2)])
            messages, ids = _walk(held, before)
            got = history.before(before)
            assert got == messages
            cached = history.call_ids(got)
            files = any(has_files(m) for m in messages)
            if before > max(held):
                assert cached == ids
                assert history.files_in(got) is files
            else:
                assert cached is None or cached == ids
                assert history.files_in(got) in (None, files)
        assert len(history) == len(held)


def test_a_prefix_or_a_changed_list_gets_no_cached_ids() -> None:
    history = SessionHistory([(0, _message(0)), (1, _message(1)), (2, _message(2))])
    assert history.call_ids(history.before(2)) is None
    whole = history.before(3)
    assert history.call_ids(whole) == {"call_0", "call_1", "x1~1", "x1"}
    whole[-1] = _message(2)  # an equal message, but not the one held
    assert history.call_ids(whole) is None
    assert history.files_in(whole) is None
    assert history.call_ids(history.before(99)) is not None


def test_files_are_counted_as_messages_come_and_are_replaced() -> None:
    plain, with_file = _message(0), _message(3)
    assert not has_files(plain)
    assert has_files(with_file)
    history = SessionHistory([(0, plain)])
    assert history.files_in(history.before(1)) is False
    history.put(1, with_file)
    assert history.files_in(history.before(2)) is True
    history.put(1, plain)  # the same sequence again: the file is gone
    assert history.files_in(history.before(2)) is False
    history.put(0, with_file)
    assert history.files_in(history.before(2)) is True
    assert history.files_in(history.before(1)) is None  # a prefix: unknown, walk it


def test_call_ids_name_calls_the_same_from_a_kept_set() -> None:
    messages = [_message(s) for s in range(12)]
    used = {i for m in messages for i in call_ids_of(m)}
    kept = set(used)
    calls = [ToolCall(id=i, name="t", arguments={}) for i in ("call_0", "call_0", "new", "x1")]
    for scope in (None, "child"):
        walked = CallIds(messages, scope).assign(calls)
        from_set = CallIds(messages, scope, used=used).assign(calls)
        assert [c.id for c in walked] == [c.id for c in from_set]
        assert [c.provider_id for c in walked] == [c.provider_id for c in from_set]
        streamed = CallIds(messages, scope, used=used).streamed()
        assert streamed(["call_0", "call_0"]) == walked[1].id
    assert used == kept  # read, never changed
    assert [c.id for c in CallIds(messages).assign(calls)] == [
        "call_0~1",
        "call_0~2",
        "new",
        "x1~2",
    ]
