"""The data converter: what crosses a step's durable boundary, converted in one place.

A step body returns a typed result (a :class:`~helix_agents._base.Record` of
:mod:`.params`); the journal (the local engine's, or Workflows') keeps JSON.
:func:`durable_step` runs a body under ``step.do`` and converts both ways here: the body's
result to the journal's JSON, and the journal's JSON back to the type, whether the body ran
just now or an earlier process ran it and this one replays it. So the loop reads every step
result the same way, and nothing edits a result's JSON after conversion. The instance's own
boundary goes through the same two functions: its params in, its output out.

The JSON is the records' own (camelCase, no ``None`` fields: :meth:`Record.to_dict`).
Journals outlive versions: an entry written by an older version must still decode, so a
field added to a result type always has a default (tests/loop/test_converter.py keeps
entries in the shapes older versions wrote).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .._base import Record
from ..ports.step import Step, StepConfig, StepContext

__all__ = ["decode", "durable_step", "encode"]

R = TypeVar("R", bound=Record)


def encode(result: Record) -> dict[str, Any]:
    """A step's typed result as the journal keeps it."""
    return result.to_dict()


def decode(result_type: type[R], raw: Any) -> R:
    """A journal entry as the step's typed result (an older version's shape included)."""
    return result_type.from_dict(raw)


async def durable_step(
    step: Step,
    name: str,
    body: Callable[[StepContext], Awaitable[R]],
    result_type: type[R],
    config: StepConfig | None = None,
) -> R:
    """Run ``body`` as the durable step ``name`` and return its typed result."""

    async def journaled(ctx: StepContext) -> dict[str, Any]:
        return encode(await body(ctx))

    return decode(result_type, await step.do(name, journaled, config))
