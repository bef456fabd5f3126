"""Errors crossing the journal: the Workflows rule, plus our own types kept whole."""

from __future__ import annotations

import json

import pytest

from helix_agents.error_codec import (
    decode_error,
    encode_error,
    error_summary,
    is_retryable,
)
from helix_agents.errors import (
    HelixError,
    InvalidIdError,
    ModelNotConfiguredError,
    ModelRateLimitedError,
    NonRetryableError,
    StepError,
    StepTimeoutError,
    ToolArgumentsError,
    ToolError,
    ValueTooLargeError,
)


def roundtrip(exc: BaseException) -> BaseException:
    return decode_error(json.loads(json.dumps(encode_error(exc))))


@pytest.mark.parametrize("exc", [ValueError("v"), TypeError("t")])
def test_builtin_types_workflows_keeps(exc: Exception) -> None:
    back = roundtrip(exc)
    assert type(back) is type(exc)
    assert str(back) == str(exc)


@pytest.mark.parametrize(
    "exc",
    [KeyError("k"), RuntimeError("r"), ZeroDivisionError("z"), json.JSONDecodeError("j", "", 0)],
)
def test_other_errors_become_step_errors_with_their_message(exc: Exception) -> None:
    back = roundtrip(exc)
    assert type(back) is StepError
    assert str(back) == str(exc)
    assert back.error_name == type(exc).__name__  # type: ignore[attr-defined]


def test_helix_errors_keep_type_and_attributes() -> None:
    cases: list[HelixError] = [
        ToolError("no such file"),
        InvalidIdError("bad id"),
        StepTimeoutError("slow"),
        NonRetryableError("stop"),
        ValueTooLargeError("too big", size=10, limit=5),
        ModelRateLimitedError("429", status_code=429, body={"retry": 3}),
        ToolArgumentsError("days: must be >= 1"),
    ]
    for exc in cases:
        back = roundtrip(exc)
        assert type(back) is type(exc)
        assert str(back) == str(exc)
        assert vars(back) == vars(exc)


def test_a_users_own_subclass_is_found_again() -> None:
    class QuotaExceeded(ToolError):
        pass

    back = roundtrip(QuotaExceeded("over quota"))
    assert type(back) is QuotaExceeded


def test_an_unknown_class_falls_back_to_the_owner_of_its_code() -> None:
    data = encode_error(ToolError("x"))
    data["name"] = "SomeToolErrorFromAnotherVersion"
    assert type(decode_error(data)) is ToolError


def test_attributes_that_are_not_json_are_dropped() -> None:
    exc = ToolError("x")
    exc.handle = object()  # type: ignore[attr-defined]
    exc.note = "kept"  # type: ignore[attr-defined]
    back = roundtrip(exc)
    assert vars(back) == {"note": "kept"}


def test_what_is_retried() -> None:
    assert is_retryable(RuntimeError("x"))
    assert is_retryable(StepTimeoutError("x"))
    assert not is_retryable(NonRetryableError("x"))
    assert not is_retryable(ModelNotConfiguredError("no model"))

    class DeclaresItself(Exception):
        code = "non_retryable"

    # Workflows' own class (workers.workflows.NonRetryableError) is known by its name.
    workers_class = type("NonRetryableError", (Exception,), {})

    assert not is_retryable(DeclaresItself())
    assert not is_retryable(workers_class())


def test_summary() -> None:
    assert error_summary(KeyError("k")) == {"name": "KeyError", "message": "'k'"}
