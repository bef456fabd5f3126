"""How an error crosses a durable boundary, so that a replay raises the very error the first
run did: the local engine's journal, Cloudflare Workflows' steps, the Durable Object's RPC.

Workflows runs a step's callback on the far side of an RPC boundary: of Python's
exceptions only ``TypeError``, ``ValueError`` and ``NonRetryableError`` come back with their
type, anything else arrives as a plain error carrying its message. We mirror that rule,
with one extension: helix-agents' own errors (the :class:`HelixError` tree, found again by
their ``code`` and class name) keep their type and their attributes, because we own both
sides of the boundary. Everything else is raised as a
:class:`StepError` with the original message (and the original class name in
``error_name``).

The same translation applies on the first run as on a replay: code after a failed step
must see the same exception whether or not the process restarted in between, or the
replay would take another branch. One module serves both hosts (it needs nothing of
either: no sqlite3, no ``js``).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import HelixError, NonRetryableError, StepError

__all__ = [
    "decode_error",
    "encode_error",
    "encoded_error_summary",
    "error_summary",
    "is_retryable",
]


def is_retryable(exc: BaseException) -> bool:
    """False for the errors Workflows never retries."""
    if isinstance(exc, NonRetryableError):
        return False
    # Workflows' own NonRetryableError (workers.workflows) or any error that declares itself so.
    return getattr(exc, "code", None) != "non_retryable" and type(exc).__name__ != (
        "NonRetryableError"
    )


def encode_error(exc: BaseException) -> dict[str, Any]:
    """A JSON-able description of ``exc`` that :func:`decode_error` turns back into one."""
    cls = type(exc)
    message = str(exc)
    if isinstance(exc, HelixError):
        return {
            "kind": "helix",
            "name": cls.__name__,
            "code": getattr(exc, "code", None),
            "message": message,
            "args": _jsonable_args(exc),
            "attrs": _jsonable_attrs(exc),
        }
    if cls is ValueError or cls is TypeError:
        return {"kind": "builtin", "name": cls.__name__, "message": message}
    return {"kind": "other", "name": cls.__name__, "message": message}


def decode_error(data: Any) -> BaseException:
    """The exception ``data`` (from :func:`encode_error`) describes."""
    if not isinstance(data, dict):
        return StepError(f"an undecodable step error: {data!r}"[:2000])
    kind = data.get("kind")
    name = str(data.get("name") or "Error")
    message = str(data.get("message") or "")
    if kind == "builtin":
        return TypeError(message) if name == "TypeError" else ValueError(message)
    if kind == "helix":
        cls = _find_class(HelixError, name, data.get("code"))
        if cls is not None:
            args = data.get("args")
            exc = cls.__new__(cls, *(args if isinstance(args, list) else [message]))
            exc.args = tuple(args) if isinstance(args, list) else (message,)
            attrs = data.get("attrs")
            if isinstance(attrs, dict):
                exc.__dict__.update(attrs)
            return exc
    error = StepError(message or name)
    error.error_name = name  # type: ignore[attr-defined]
    return error


def error_summary(exc: BaseException) -> dict[str, str]:
    """``{"name", "message"}``: the ``error`` of a Workflows instance status."""
    return {"name": type(exc).__name__, "message": str(exc)}


def encoded_error_summary(data: Any) -> dict[str, str]:
    """:func:`error_summary` of an error already encoded by :func:`encode_error`."""
    if not isinstance(data, dict):
        return {"name": "Error", "message": str(data)}
    return {"name": str(data.get("name") or "Error"), "message": str(data.get("message") or "")}


def _find_class(base: type[BaseException], name: str, code: object) -> type[BaseException] | None:
    """The subclass of ``base`` named ``name`` (with ``code``, if several share the name);
    failing that, the class that owns ``code``. Classes defined by users (a tool's own
    ToolError subclass) are found as long as their module is imported."""
    owner: type[BaseException] | None = None
    stack: list[type[BaseException]] = [base]
    seen: set[type[BaseException]] = set()
    while stack:
        cls = stack.pop(0)
        if cls in seen:
            continue
        seen.add(cls)
        if cls.__name__ == name and (code is None or getattr(cls, "code", None) == code):
            return cls
        if owner is None and code is not None and cls.__dict__.get("code") == code:
            owner = cls
        stack.extend(cls.__subclasses__())
    return owner


def _jsonable_args(exc: BaseException) -> list[Any]:
    args = list(exc.args)
    try:
        json.dumps(args)
    except (TypeError, ValueError):
        return [str(exc)]
    return args


def _jsonable_attrs(exc: BaseException) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, value in vars(exc).items():
        if key.startswith("__"):
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        attrs[key] = value
    return attrs
