"""JSON columns and D1's size limit, for every table of the store.

JSON columns hold the models' camelCase JSON (``Record.to_json``): the partial index on
``$.expiresAt`` and the TypeScript Helix runtime read the same shape. Every value and every
row is measured before it is written: D1 refuses anything over 2,000,000 bytes, and a
refusal deep in a batch would be an opaque database error, so the store refuses first with
:class:`~helix_agents.errors.ValueTooLargeError`, naming the limit and the size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .._base import dumps
from ..db.rules import MAX_VALUE_BYTES, utf8_size
from ..errors import ValueTooLargeError
from ..ports.database import Param

__all__ = ["check_row", "check_value", "dump_json", "load_json"]


def check_value(text: str, what: str) -> str:
    """``text`` unchanged, or :class:`ValueTooLargeError` when D1 could not store it."""
    size = utf8_size(text)
    if size > MAX_VALUE_BYTES:
        raise ValueTooLargeError(
            f"{what} is {size} bytes; D1 stores at most {MAX_VALUE_BYTES} bytes (2 MB) per value",
            size=size,
            limit=MAX_VALUE_BYTES,
        )
    return text


def check_row(values: Iterable[Param], what: str) -> None:
    """Refuse a row whose values together exceed D1's 2 MB row limit."""
    size = 0
    for value in values:
        if isinstance(value, str):
            size += utf8_size(value)
        elif isinstance(value, bytes):
            size += len(value)
        elif value is not None:
            size += 8
    if size > MAX_VALUE_BYTES:
        raise ValueTooLargeError(
            f"{what} is {size} bytes in all; D1 stores at most {MAX_VALUE_BYTES} bytes (2 MB) "
            "per row",
            size=size,
            limit=MAX_VALUE_BYTES,
        )


def dump_json(value: Any, what: str) -> str:
    """Compact JSON of a plain value, size-checked."""
    return check_value(dumps(value), what)


def load_json(text: Any, default: Any = None) -> Any:
    """A JSON column's value (``default`` for NULL)."""
    if text is None:
        return default
    # The empty containers most of a session row holds (tags, metadata, pending calls):
    # fresh ones without the parser, read once per model step.
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text)
