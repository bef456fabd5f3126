"""Reading what a binding answers: JS null, nested objects, buffers and dates.

Pyodide 0.27 and later turn JS ``null`` into ``pyodide.ffi.jsnull``, not None, and
``to_py()`` keeps it inside converted objects; these helpers make a binding's answer plain
Python (None for null and undefined). ``pyodide`` is imported inside the functions: the
module imports on CPython, where values pass through unchanged.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["clean", "is_null", "js_bytes", "to_bytes"]


def _in_worker() -> bool:
    return sys.platform == "emscripten"


def is_null(value: Any) -> bool:
    if value is None:
        return True
    if not _in_worker():
        return False
    import pyodide.ffi

    jsnull = getattr(pyodide.ffi, "jsnull", None)
    return jsnull is not None and value is jsnull


def clean(value: Any) -> Any:
    """``value`` as plain Python: a JsProxy converted, nulls as None, recursively."""
    to_py = getattr(value, "to_py", None)
    if callable(to_py):
        value = to_py()
    if is_null(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def js_bytes(data: bytes) -> Any:
    """``data`` as a JS ``Uint8Array`` (a copy): what R2 takes as a body."""
    if not _in_worker():
        return data
    from js import Uint8Array

    array = Uint8Array.new(len(data))
    if data:
        array.assign(data)
    return array


def to_bytes(buffer: Any) -> bytes:
    """A JS ``ArrayBuffer`` (or typed array) as bytes."""
    if isinstance(buffer, bytes | bytearray | memoryview):
        return bytes(buffer)
    return bytes(buffer.to_bytes())
