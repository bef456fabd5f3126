"""``translate_d1_error``: D1's messages to our errors, for any exception type."""

from __future__ import annotations

import pytest

from helix_agents.errors import DatabaseError, DatabaseLimitError
from helix_agents.hosts.cloudflare.d1 import translate_d1_error


@pytest.mark.parametrize(
    "message",
    [
        "Error: D1_ERROR: too many SQL variables at offset 207: SQLITE_ERROR",
        "Error: D1_ERROR: statement too long: SQLITE_TOOBIG",
        "Error: D1_ERROR: string or blob too big: SQLITE_TOOBIG",
    ],
)
def test_limits(message: str) -> None:
    error = translate_d1_error(Exception(message))
    assert isinstance(error, DatabaseLimitError)
    assert str(error) == message


@pytest.mark.parametrize(
    "message",
    [
        "Error: D1_ERROR: no such table: t: SQLITE_ERROR",
        "Error: D1_TYPE_ERROR: Type 'bigint' not supported for value '9007199254740992'",
        "Error: D1_ERROR: To execute a transaction, please use the state.storage.transaction()",
    ],
)
def test_other_errors(message: str) -> None:
    error = translate_d1_error(RuntimeError(message))
    assert type(error) is DatabaseError
    assert str(error) == message


def test_a_js_style_error_keeps_its_message() -> None:
    class FakeJsError(Exception):
        def __init__(self) -> None:
            super().__init__("Error")
            self.message = "D1_ERROR: no such column: x: SQLITE_ERROR"

    assert "no such column: x" in str(translate_d1_error(FakeJsError()))


def test_an_empty_error_is_named_by_its_type() -> None:
    assert str(translate_d1_error(TypeError())) == "TypeError"


def test_our_own_errors_pass_through() -> None:
    error = DatabaseLimitError("x")
    assert translate_d1_error(error) is error
