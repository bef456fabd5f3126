"""Values as they cross between Python and JavaScript in a Python Worker, for the fakes.

The fakes of the Cloudflare bindings speak to the code under test the way the
workers-runtime-sdk does, so these helpers mimic its two conversions
(the SDK's ``python_to_rpc`` and ``python_from_rpc``; the worker-real tier runs the real ones):

- :func:`to_rpc` (``python_to_rpc``): what JS receives. ``None`` stays null, dicts and lists
  are copied, a ``datetime`` becomes a :class:`JsDate`, an exception a JS ``Error``; a
  ``tuple``, a ``bytearray`` or an un-awaited awaitable raise ``TypeError`` exactly where the
  SDK refuses them; other Python objects (a ``set``, callables) pass by reference.
- :func:`from_rpc` (``python_from_rpc``): what Python gets back. JS objects become
  :class:`JsDict` (a dict with attribute access), a :class:`JsDate` a *naive* local
  ``datetime`` (the SDK uses ``fromtimestamp``), arrays lists, bytes a ``memoryview`` (of a
  ``Uint8Array``), a JS error an ``Exception`` of its text.

A Python exception that escapes into JS becomes a ``PythonError`` whose message is the
formatted traceback (:func:`python_error`); what comes back to Python from JS is a
:class:`JsException` with the JS error's ``name`` and ``message``. An error that crosses an
RPC boundary on its way (a Workflows step's, a Workflow's) keeps its name only if it is a
standard JS error (:func:`crossed`).
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..d1 import JsDict, JsException

__all__ = [
    "JsArray",
    "JsDate",
    "JsDict",
    "JsException",
    "JsObject",
    "crossed",
    "from_rpc",
    "js_error",
    "python_error",
    "to_rpc",
]


@dataclass(frozen=True)
class JsDate:
    """A JS ``Date`` (epoch milliseconds)."""

    ms: float


class JsArray(list[Any]):
    """A JS array made by ``to_js`` (what raw JS APIs such as ``acceptWebSocket`` need)."""


class JsObject(JsDict):
    """A plain JS object (as ``to_js(..., dict_converter=Object.fromEntries)`` makes one);
    its properties read as attributes too, as on a ``JsProxy``."""


def to_rpc(value: Any) -> Any:
    """``python_to_rpc``: the value as JS receives it (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, tuple | bytearray):
        raise TypeError(f"{type(value)} cannot be sent over RPC.")
    if inspect.isawaitable(value):
        raise TypeError(f"Awaitable {type(value)} cannot be sent over RPC.")
    if isinstance(value, datetime):
        return JsDate(value.timestamp() * 1000)
    if isinstance(value, JsDate | str | bytes | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return JsObject({str(k): to_rpc(v) for k, v in value.items()})
    if isinstance(value, list):
        return JsArray(to_rpc(v) for v in value)
    if isinstance(value, BaseException):
        return js_error("Error", str(value))
    return value  # callables, fakes of JS objects: passed by reference


def from_rpc(value: Any) -> Any:
    """``python_from_rpc``: the value as Python gets it back (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, JsDate):
        return datetime.fromtimestamp(value.ms / 1000.0)
    if isinstance(value, Mapping):
        return JsDict({str(k): from_rpc(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [from_rpc(v) for v in value]
    if isinstance(value, bytes):
        return memoryview(value)
    if isinstance(value, JsException):
        return Exception(str(value))
    return value


def js_error(name: str, message: str) -> JsException:
    """A JS error as Python receives it."""
    return JsException(message, name=name)


def python_error(exc: BaseException) -> JsException:
    """What JS sees of a Python exception: a ``PythonError`` whose message is the traceback
    (and whose last line is ``module.Class: message``)."""
    text = "".join(traceback.format_exception(exc))
    if exc.__traceback__ is None:  # never raised: Pyodide's text still has the header
        text = f'Traceback (most recent call last):\n  File "<exec>", line 1\n{text}'
    error = JsException(text, name="PythonError")
    error.type = type(exc).__name__  # type: ignore[attr-defined]
    return error


#: JS's own error classes: their name survives a trip through RPC.
STANDARD_ERRORS = frozenset(
    {
        "Error",
        "TypeError",
        "RangeError",
        "SyntaxError",
        "ReferenceError",
        "EvalError",
        "URIError",
        "AggregateError",
    }
)


def crossed(error: JsException) -> JsException:
    """``error`` after an RPC boundary (the Workflows engine's, on its way to ``run``): a
    standard JS error as it is, any other as ``Error`` whose message is ``"<name>:
    <message>"`` (just the name when there is no message), as the local engine shows."""
    if error.name in STANDARD_ERRORS:
        return error
    text = f"{error.name}: {error.message}" if error.message else error.name
    return js_error("Error", text)


def js_list(values: Iterable[Any]) -> JsArray:
    return JsArray(values)
