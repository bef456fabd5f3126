"""JSON from clients (request bodies, WebSocket frames), parsed within a nesting limit.

Python's parser recurses once per level of nesting. CPython stops it with a
``RecursionError``; in a Worker (Pyodide) the JavaScript stack overflows first, a few
thousand levels down, and that is fatal to the whole isolate: every request in flight fails
and the runtime restarts (found by the worker-real tier: ``[`` * 50,000 as a body). So JSON
nested deeper than :data:`MAX_DEPTH` is refused before it is parsed, with a ``ValueError``
like any malformed JSON: one answer on every host, whatever its stack.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, Final

__all__ = ["MAX_DEPTH", "loads_bounded", "nesting_depth", "value_depth"]

#: The deepest nesting of arrays and objects accepted (far beyond what the API's bodies use).
MAX_DEPTH: Final = 512

# A string, from its quote to its closing quote or to the end of the input. Possessive, so
# that it never backtracks: the scan stays linear whatever the input.
_STRING = re.compile(rb'"(?:[^"\\]++|\\[\s\S]?)*+"?')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = [0] * 256
for _open, _close in (b"[]", b"{}"):
    _DELTA[_open], _DELTA[_close] = 1, -1


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in ``raw`` (brackets inside strings not counted)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DELTA.__getitem__, brackets)), default=0)


def loads_bounded(data: str | bytes, **kwargs: Any) -> Any:
    """``json.loads(data, **kwargs)``, refusing JSON nested deeper than :data:`MAX_DEPTH`."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    # Cheap first: fewer opening brackets than the limit cannot nest deeper than it.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and nesting_depth(raw) > MAX_DEPTH:
        raise ValueError(f"arrays and objects nest deeper than {MAX_DEPTH} levels")
    value = json.loads(data, **kwargs)
    if _SURROGATE_ESCAPE.search(raw) is not None:
        _refuse_lone_surrogates(value)
    return value


# ``\uD800``-``\uDFFF``: the only way JSON can hold a lone surrogate (UTF-8 cannot).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogates(value: Any) -> None:
    """JSON may escape half of a surrogate pair alone (``"\\ud800"``): Python reads it as a
    string that is not text, which no UTF-8 store or stream can keep. Refused like any
    malformed JSON (a pair, escaped or not, is one character and fine)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "a string holds a lone surrogate (an escape from \\ud800 to \\udfff without its "
            "pair): text must be valid Unicode"
        ) from None


def value_depth(value: Any) -> int:
    """How deep lists and dicts nest in a parsed JSON value (a scalar is 0), without
    recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest
