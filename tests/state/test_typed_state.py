"""Typed session state: ``Agent(state_type=...)``, ``ctx.state`` as the model, durable
updates with the tool's step, and the JSON Patch of each change on the stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, Field

from helix_agents import Agent, tool
from helix_agents.errors import ConfigurationError, JsonPatchError
from helix_agents.json_patch import apply_patch, diff
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext


class Cart(BaseModel):
    items: list[str] = Field(default_factory=list)
    total: int = 0
    note: str | None = None


@tool
def add_item(ctx: ToolContext[Any, Cart], item: str, price: int) -> int:
    """Add an item to the cart."""
    ctx.state.items.append(item)
    ctx.state.total += price
    return ctx.state.total


def _buyer(n: int) -> Callable[[list[Any], Any], Any]:
    def model(messages: list[Any], info: Any) -> Any:
        done = len(info.tool_results)
        if done < n:
            return call_tool("add_item", item=f"i{done}", price=10 * (done + 1))
        return "bought"

    return model


async def test_typed_state_updates_persist_and_stream_as_json_patch(
    make_host: Callable[..., Any],
) -> None:
    agent = Agent(name="cart", tools=[add_item], model=FunctionModel(_buyer(2)), state_type=Cart)
    host = await make_host(agent)
    handle = await host.executor.execute("cart", "buy")
    chunks = [c.chunk async for c in handle.stream()]
    assert (await handle.result()).status == "completed"
    # The stored JSON is the model's, defaults included from the first write on.
    assert (await handle.get_state()).custom_state == {"items": ["i0", "i1"], "total": 30}
    patches = [c.data for c in chunks if c.type == "data" and c.name == "state-patch"]  # type: ignore[union-attr]
    assert len(patches) == 2
    mirror: Any = Cart().model_dump(mode="json")
    for ops in patches:
        mirror = apply_patch(mirror, ops)
    assert mirror == {"items": ["i0", "i1"], "total": 30, "note": None}


async def test_a_tool_that_leaves_the_state_invalid_fails_and_writes_nothing(
    make_host: Callable[..., Any],
) -> None:
    @tool
    def corrupt(ctx: ToolContext[Any, Cart]) -> str:
        """Break the state."""
        ctx.state.total = "many"  # type: ignore[assignment]
        return "done"

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("corrupt") if not info.tool_results else "ok"

    host = await make_host(
        Agent(name="bad", tools=[corrupt], model=FunctionModel(model), state_type=Cart)
    )
    handle = await host.executor.execute("bad", "go")
    assert (await handle.result()).status == "completed"
    assert (await handle.get_state()).custom_state == {}
    messages = await handle.messages()
    results = [m for m in messages if m.role == "tool"]
    assert results[0].status == "error"  # type: ignore[union-attr]
    assert "total" in str(results[0].content)  # type: ignore[union-attr]


async def test_update_state_validates(make_host: Callable[..., Any]) -> None:
    @tool
    def setter(ctx: ToolContext[Any, Cart], bad: bool) -> str:
        """Set fields."""
        ctx.update_state({"total": "x"} if bad else {"total": 7, "note": "hi"})
        return "set"

    def model(messages: list[Any], info: Any) -> Any:
        n = len(info.tool_results)
        return call_tool("setter", bad=n == 0) if n < 2 else "ok"

    host = await make_host(
        Agent(name="u", tools=[setter], model=FunctionModel(model), state_type=Cart)
    )
    handle = await host.executor.execute("u", "go")
    assert (await handle.result()).status == "completed"
    assert (await handle.get_state()).custom_state == {"items": [], "total": 7, "note": "hi"}


def test_state_type_needs_defaults_and_a_model() -> None:
    class Needs(BaseModel):
        name: str

    with pytest.raises(ConfigurationError, match="default"):
        Agent(name="n", state_type=Needs)
    with pytest.raises(ConfigurationError, match="pydantic"):
        Agent(name="n", state_type=dict)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({}, {"a": 1}),
        ({"a": 1}, {}),
        ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 3]}}),
        ({"a": [1, 2]}, {"a": [1, 2, 3]}),
        ({"a/b": 1, "c~d": 2}, {"a/b": 2}),
        ({"a": 1}, {"a": True}),
        ({"a": None}, {"a": {"x": None}}),
        ([1, 2], {"x": 1}),
    ],
)
def test_diff_round_trips(before: Any, after: Any) -> None:
    ops = diff(before, after)
    assert apply_patch(before, ops) == after
    assert type(apply_patch(before, ops)) is type(after)
    # Every op sets or removes: applying again (removes of gone paths skipped) is stable.
    again = apply_patch(after, [op for op in ops if op["op"] != "remove"])
    assert again == after


def test_apply_patch_follows_rfc_6902() -> None:
    doc = {"foo": ["bar", "baz"]}
    assert apply_patch(doc, [{"op": "add", "path": "/foo/1", "value": "qux"}]) == {
        "foo": ["bar", "qux", "baz"]
    }
    assert apply_patch(doc, [{"op": "add", "path": "/foo/-", "value": 1}])["foo"][-1] == 1
    assert apply_patch(doc, [{"op": "move", "from": "/foo/0", "path": "/x"}]) == {
        "foo": ["baz"],
        "x": "bar",
    }
    assert doc == {"foo": ["bar", "baz"]}  # never changed in place
    for bad in (
        [{"op": "remove", "path": "/nope"}],
        [{"op": "replace", "path": "/foo/5", "value": 1}],
        [{"op": "test", "path": "/foo/0", "value": "x"}],
        [{"op": "jump", "path": "/foo"}],
        [{"op": "add", "path": "foo", "value": 1}],
    ):
        with pytest.raises(JsonPatchError):
            apply_patch(doc, bad)


async def test_a_retried_tool_step_applies_its_state_change_once(
    make_host: Callable[..., Any],
) -> None:
    """The step's write lands, then the step dies before the journal records it: the retry
    finds the stored result, runs nothing and writes nothing again."""
    runs: list[str] = []

    @tool
    def add_once(ctx: ToolContext[Any, Cart], item: str) -> int:
        """Add an item."""
        runs.append(item)
        ctx.state.items.append(item)
        ctx.state.total += 1
        return ctx.state.total

    def model(messages: list[Any], info: Any) -> Any:
        return call_tool("add_once", item="x") if not info.tool_results else "ok"

    host = await make_host(
        Agent(name="once", tools=[add_once], model=FunctionModel(model), state_type=Cart)
    )
    store = host.executor.store
    real_commit = store.commit_tool_step
    died: list[int] = []

    async def commit_then_die(*args: Any, **kwargs: Any) -> Any:
        result = await real_commit(*args, **kwargs)
        if not died:
            died.append(1)
            raise RuntimeError("the process died after the step's write")
        return result

    store.commit_tool_step = commit_then_die
    handle = await host.executor.execute("once", "go")
    assert (await handle.result()).status == "completed"
    assert died == [1]
    results = [m for m in await handle.messages() if m.role == "tool"]
    assert len(results) == 1
    assert runs == ["x"]
    assert (await handle.get_state()).custom_state == {"items": ["x"], "total": 1}
