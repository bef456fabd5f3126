"""The UI chunk definitions (streaming/ui_schema.py) are the one source of the strict checker
and of the ``UIChunk`` JSON schema in /openapi.json: both must say the same of any chunk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, NotRequired, get_args, get_origin, get_type_hints

import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

from helix_agents.streaming.ui_schema import (
    UI_CHUNK_KEYS,
    UI_CHUNK_TYPES_V6,
    UI_CHUNK_TYPES_V7,
    UIChunk,
    ui_chunk_problems,
)


def test_the_union_holds_every_chunk_type_once() -> None:
    every = UI_CHUNK_TYPES_V6 + UI_CHUNK_TYPES_V7
    assert len(set(every)) == len(every)
    assert set(get_args(UIChunk)) == set(every)
    # The checker's table is the v6 types but data-<name>, which is matched by prefix.
    assert len(UI_CHUNK_KEYS) == len(UI_CHUNK_TYPES_V6) - 1


def _inner(hint: Any) -> Any:
    while get_origin(hint) in (NotRequired, Annotated):
        hint = get_args(hint)[0]
    return hint


def _good(hint: Any) -> Any:
    hint = _inner(hint)
    if get_origin(hint) is Literal:
        return get_args(hint)[-1]
    return {str: "x", bool: True, dict: {"k": [1]}}.get(get_origin(hint) or hint, {"v": 1})


def _bad(hint: Any) -> list[Any]:
    hint = _inner(hint)
    if hint is Any:
        return []  # any JSON value but null, which is tried for every key
    if get_origin(hint) is Literal:
        return ["nope", 3]
    wrong: dict[Any, list[Any]] = {str: [1, True], bool: ["yes", 0], dict: [[1], "x"]}
    return wrong[get_origin(hint) or hint]


def _chunks() -> Iterator[dict[str, Any]]:
    """For every chunk type: the smallest and the fullest valid chunk, and every way of
    breaking one (a missing key, an unknown one, a null, a value of the wrong type)."""
    for chunk_type in UI_CHUNK_TYPES_V6 + UI_CHUNK_TYPES_V7:
        hints = get_type_hints(chunk_type, include_extras=True)
        type_hint = hints.pop("type")
        name = _good(type_hint) if get_origin(_inner(type_hint)) is Literal else "data-x"
        required = {k for k, h in hints.items() if get_origin(h) is not NotRequired}
        smallest = {"type": name, **{k: _good(hints[k]) for k in required}}
        fullest = {"type": name, **{k: _good(h) for k, h in hints.items()}}
        yield smallest
        yield fullest
        yield {**fullest, "undocumented": 1}
        yield {**smallest, "type": "nope-" + name}
        for key in required:
            yield {k: v for k, v in smallest.items() if k != key}
        for key, hint in hints.items():
            yield {**fullest, key: None}
            for bad in _bad(hint):
                yield {**fullest, key: bad}
    yield {"type": "data-"}
    yield {"type": 3}
    yield {"no": "type"}


@pytest.fixture(scope="module")
def schema_problems() -> Any:
    validator = Draft202012Validator(TypeAdapter(UIChunk).json_schema(mode="serialization"))
    return lambda chunk: [e.message for e in validator.iter_errors(chunk)]


def test_the_checker_and_the_json_schema_agree_on_every_chunk(schema_problems: Any) -> None:
    chunks = list(_chunks())
    assert len(chunks) > 300
    valid = 0
    for chunk in chunks:
        by_checker = ui_chunk_problems(chunk, ui_version=7)
        by_schema = schema_problems(chunk)
        assert (by_checker == []) == (by_schema == []), (chunk, by_checker, by_schema)
        valid += by_checker == []
    assert valid == 2 * len(UI_CHUNK_TYPES_V6 + UI_CHUNK_TYPES_V7)
