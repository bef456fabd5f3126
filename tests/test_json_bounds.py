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
