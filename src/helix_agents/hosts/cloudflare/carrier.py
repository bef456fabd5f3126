"""How our errors cross the JavaScript boundary of Workflows and come back intact.

A Python exception raised inside a ``step.do`` callback (or out of ``run``) leaves Python as
a JS ``PythonError`` whose message is the formatted traceback; Workflows stores that error
and, when the step has failed for good, throws it back into ``run``, where the SDK rebuilds
only ``TypeError``, ``ValueError`` and ``NonRetryableError``. Everything else arrives as a
plain ``JsException`` (or ``Exception``) carrying the text.

So we put the error itself into that text: :func:`carrier` raises an exception whose
message is a marker followed by the JSON of :func:`helix_agents.error_codec.encode_error`,
and :func:`find_carried` finds it again in whatever text comes back: the bare message, a
traceback whose last line holds it, or an RPC error that prefixed a name. The same codec
as the local engine's journal decodes it, so a failed step raises the same exception, with
the same attributes, on the first run and on every replay, on both hosts.

Errors that must not be retried are not raised at all: the step returns them as a value,
``{"__helix_step_error__": <encoded>}`` (see :mod:`.step`), which Workflows caches like any
result. That also keeps a ``NonRetryableError`` from aborting the whole instance, which is
what Workflows does with one that escapes a step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "FAILED_STEP_KEY",
    "MARKER",
    "HelixCarriedError",
    "carrier",
    "find_carried",
    "js_error_name",
    "js_error_text",
]

#: Precedes the JSON of an encoded error inside an exception's message.
MARKER: Final = "[helix-error]"
#: The key of the value a step returns instead of raising an error that is never retried.
FAILED_STEP_KEY: Final = "__helix_step_error__"
#: Messages are cut to this many characters before they cross (a Workflows error is stored
#: with the instance; a megabyte of traceback helps nobody).
_MAX_MESSAGE = 16_000
_DECODER = json.JSONDecoder()


class HelixCarriedError(Exception):
    """The exception that carries an encoded error across the JS boundary."""


def carrier(encoded: Mapping[str, Any]) -> HelixCarriedError:
    """An exception whose message carries ``encoded`` (see the module docstring)."""
    data = dict(encoded)
    message = data.get("message")
    if isinstance(message, str) and len(message) > _MAX_MESSAGE:
        data["message"] = message[:_MAX_MESSAGE] + "... (cut)"
        data["args"] = [data["message"]]
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    except (TypeError, ValueError):
        text = json.dumps(
            {"kind": "other", "name": str(data.get("name")), "message": str(data.get("message"))}
        )
    return HelixCarriedError(f"{MARKER}{text}")


def find_carried(text: str) -> dict[str, Any] | None:
    """The encoded error inside ``text``, or None when it carries none."""
    start = text.find(MARKER)
    while start != -1:
        try:
            value, _ = _DECODER.raw_decode(text, start + len(MARKER))
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find(MARKER, start + len(MARKER))
    return None


def js_error_text(exc: BaseException) -> str:
    """Everything an error that came back from JS says: ``str()`` and its JS ``message``."""
    text = str(exc)
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message and message not in text:
        text = f"{text}\n{message}"
    return text


def js_error_name(exc: BaseException) -> str:
    """The JS error's ``name`` when it has one (``WorkflowTimeoutError``), else the class."""
    name = getattr(exc, "name", None)
    return name if isinstance(name, str) and name else type(exc).__name__
