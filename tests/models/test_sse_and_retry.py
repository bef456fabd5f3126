"""The pure helpers under the adapters: the SSE decoder and the retry policy."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helix_agents.errors import ModelProtocolError
from helix_agents.models._retry import RetryPolicy, is_retryable_status, parse_retry_after
from helix_agents.models._sse import ServerSentEvent, SSEDecoder

STREAM = (
    ": a comment\r\n"
    'data: {"text": "héllo 🌍"}\r\n'
    "\r\n"
    "event: custom\n"
    "id: 7\n"
    "data: line one\n"
    "data: line two\n"
    "\n"
    "data:no-space\r"
    "\r"
    "data: [DONE]\n\n"
).encode()

EXPECTED = [
    ServerSentEvent(data='{"text": "héllo 🌍"}'),
    ServerSentEvent(data="line one\nline two", event="custom", id="7"),
    ServerSentEvent(data="no-space", id="7"),
    ServerSentEvent(data="[DONE]", id="7"),
]


def decode(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


def test_decodes_fields_comments_and_every_line_ending() -> None:
    assert decode([STREAM]) == EXPECTED


def test_every_single_split_point_gives_the_same_events() -> None:
    for cut in range(len(STREAM) + 1):
        assert decode([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert decode(chunks) == EXPECTED


def test_byte_by_byte() -> None:
    assert decode([bytes([b]) for b in STREAM]) == EXPECTED


def test_a_last_event_without_a_blank_line_is_kept() -> None:
    assert decode([b"data: first\n\ndata: last"]) == [
        ServerSentEvent(data="first"),
        ServerSentEvent(data="last"),
    ]


def test_a_byte_order_mark_is_skipped() -> None:
    assert decode([b"\xef\xbb", b"\xbfdata: x\n\n"]) == [ServerSentEvent(data="x")]


def test_invalid_utf8_is_a_protocol_error() -> None:
    with pytest.raises(ModelProtocolError):
        decode([b"data: \xff\n\n"])
    with pytest.raises(ModelProtocolError):
        decode([b"data: \xe2\x82"])  # the stream ends inside a character


def test_events_without_data_are_not_dispatched() -> None:
    assert decode([b"event: ping\n\n: keep-alive\n\nretry: 10\n\n"]) == []


# -- retries ---------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_ceiling_with_full_jitter() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=5.0)
    assert [policy.delay(n, jitter=lambda: 1.0) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.delay(3, jitter=lambda: 0.0) == 0.0
    assert policy.delay(1, jitter=lambda: 0.25) == 0.5


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=10.0)
    assert policy.delay(0, retry_after=3.0) == 3.0
    assert policy.delay(0, retry_after=300.0) == 10.0
    assert policy.delay(0, retry_after=-1.0) == 0.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": " 0 "}, 0.0),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "bogus", "retry-after": "9"}, 9.0),
        ({"retry-after": formatdate(1_000_045, usegmt=True)}, 45.0),
        ({"retry-after": formatdate(999_000, usegmt=True)}, 0.0),
        # A date without a zone is read as GMT.
        ({"retry-after": formatdate(1_000_030, usegmt=True).removesuffix(" GMT")}, 30.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=1_000_000.0) == expected


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (404, False),
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (503, True),
    ],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable
