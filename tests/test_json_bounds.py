"""JSON from clients is parsed within a nesting limit (``helix_agents._json``): nesting deep
enough to exhaust a Worker's stack kills its whole isolate, so it is refused first."""

from __future__ import annotations

import json

import pytest

from helix_agents._json import MAX_DEPTH, loads_bounded, nesting_depth


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'[[1, {"a": []}]]', 4),
        (b'["[[[[", {"a": "]]]]"}]', 2),  # brackets inside strings do not count
        (b'["\\"[[", [[]]]', 3),  # nor after an escaped quote
        (b'["\\\\", [[]]]', 3),  # an escaped backslash ends before the quote
        (b'"[[[', 0),  # an unterminated string runs to the end
        (b"[" * 50_000, 50_000),
        (b"[[]]" * 1000, 2),
    ],
)
def test_the_nesting_depth(raw: bytes, depth: int) -> None:
    assert nesting_depth(raw) == depth


def test_deeper_than_the_limit_is_refused_as_malformed() -> None:
    deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads_bounded(deep) == json.loads(deep)
    for too_deep in ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "[" * 50_000):
        with pytest.raises(ValueError, match="nest deeper than"):
            loads_bounded(too_deep)
        with pytest.raises(ValueError, match="nest deeper than"):
            loads_bounded(too_deep.encode())
    # Many brackets, shallow: parsed as usual; keyword arguments reach json.loads.
    assert loads_bounded(b"[" + b"[1]," * MAX_DEPTH + b"[1]]") == [[1]] * (MAX_DEPTH + 1)
    assert loads_bounded("[NaN]", parse_constant=str) == ["NaN"]


def test_a_quadratic_input_stays_fast() -> None:
    import time

    started = time.perf_counter()
    nesting_depth(b'"' + b'\\"[' * 300_000)  # one unterminated string full of escapes
    nesting_depth(b'["' * 300_000)  # strings that never close, each opening another
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    "raw",
    [b'"\\ud800"', b'{"a": ["x\\uDFFFy"]}', b'"\\udbff\\u0041"', b'"\\ude00\\ud83d"'],
)
def test_lone_surrogates_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        loads_bounded(raw)


def test_surrogate_pairs_and_escaped_backslashes_are_text() -> None:
    assert loads_bounded(b'"\\ud83d\\ude00"') == "\U0001f600"
    assert loads_bounded(b'"\\\\ud800"') == "\\ud800"


def test_value_depth() -> None:
    from helix_agents._json import value_depth

    nested: object = 1
    for _ in range(10_000):
        nested = [nested]
    assert value_depth(nested) == 10_000
    assert value_depth({"a": [1, {"b": []}], "c": 2}) == 4
    assert value_depth("x") == 0


def test_request_numbers_past_pythons_digit_limit() -> None:
    """Cursors and Content-Length of thousands of digits are refused as such, never by an
    int conversion that fails (a 500)."""
    import asyncio

    from starlette.requests import Request

    from helix_agents.errors import InvalidCursorError
    from helix_agents.http.bodies import read_json
    from helix_agents.http.errors import BadRequestError, PayloadTooLargeError
    from helix_agents.streaming.sse import parse_cursor

    with pytest.raises(InvalidCursorError, match="larger than any sequence number"):
        parse_cursor("9" * 5000)
    assert parse_cursor("0" * 5000 + "7") == 7

    async def read(length: bytes) -> object:
        scope = {"type": "http", "method": "POST", "headers": [(b"content-length", length)]}

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        return await read_json(Request(scope, receive), 1000)

    with pytest.raises(PayloadTooLargeError):
        asyncio.run(read(b"9" * 5000))
    with pytest.raises(BadRequestError):
        asyncio.run(read("\u00b2".encode("latin-1")))
    assert asyncio.run(read(b"0" * 30 + b"2")) == {}
