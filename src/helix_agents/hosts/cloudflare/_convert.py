"""Python values into a binding call and back, on both Workers SDKs and on CPython.

The SDK from PyPI wraps the Queue, Vectorize and AI bindings and converts arguments itself;
the runtime's built-in SDK hands them over raw, and a raw binding given a Python dict sees
a proxy, not a JS object. So the service implementations always call the raw binding
(:func:`raw`) with values converted here (:func:`js_arg`: JSON values become JS ones),
and read results with :func:`py`. On CPython (tests with a binding double) both are the
identity. ``js`` and ``pyodide`` are imported inside the functions: the module imports on
CPython.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["js_arg", "py", "raw"]


def _in_worker() -> bool:
    return sys.platform == "emscripten"


def raw(binding: Any) -> Any:
    """The JS binding under the PyPI SDK's wrapper (the binding itself when unwrapped)."""
    if not _in_worker():
        return binding
    return getattr(binding, "_binding", binding)


def js_arg(value: Any) -> Any:
    """``value`` (JSON: dicts, lists, strings, numbers, booleans, None) as the JS value a
    binding expects. Through ``JSON.parse``, not ``to_js``: ``to_js`` makes ``None`` JS
    ``undefined``, which drops the key from an object, where JSON keeps ``null``."""
    if not _in_worker():
        return value
    import json

    from js import JSON

    return JSON.parse(json.dumps(value, allow_nan=False))


def py(value: Any) -> Any:
    """A binding's result as Python values (a JsProxy converted; anything else as it is)."""
    to_py = getattr(value, "to_py", None)
    return to_py() if callable(to_py) else value
