"""An agent with typed deps, a cached tool and the file tools, and the scenario its tests
run over HTTP on both hosts: the local host (tests/services/test_librarian.py) and the real
Worker (tests/worker_real/test_services_real.py). The same definitions, unchanged: this
module is shipped into the test Worker (no pytest, no I/O at import).

The model is scripted on the user's words: ``write <path> <text>``, ``read <path>``,
``lookup <term>``, ``whoami``; once the tool answered it replies with the result as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from helix_agents import Agent, tool
from helix_agents.errors import ServiceNotConfiguredError
from helix_agents.ports.kv import KeyValueStore
from helix_agents.services import DepsContext
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.toolkits import cached, cached_model, file_toolkit
from helix_agents.tools import ToolContext

__all__ = ["LIBRARIAN", "Chat", "SessionUsage", "librarian", "scenario"]

LIBRARIAN = "librarian"


@dataclass
class ShelfDeps:
    host: str
    motto: str
    kv: KeyValueStore


def build_deps(host: DepsContext) -> ShelfDeps:
    return ShelfDeps(
        host=host.host, motto=host.vars.get("SHELF_MOTTO", "read more"), kv=host.services.kv
    )


@tool
async def lookup(term: str) -> dict[str, Any]:
    """Look a term up in the catalogue (slow upstream: worth caching)."""
    return {"term": term, "definition": f"{term}: a thing worth knowing", "length": len(term)}


@tool
async def whoami(ctx: ToolContext[ShelfDeps]) -> dict[str, Any]:
    """Say which host runs this and what the agent's deps hold."""
    deps = ctx.deps
    await deps.kv.put("librarian/last-host", deps.host)
    try:
        env_ok = ctx.env is not None
        env_error = None
    except ServiceNotConfiguredError as exc:
        env_ok, env_error = False, str(exc)
    return {"host": deps.host, "motto": deps.motto, "env": env_ok, "envError": env_error}


def _respond(messages: list[Any], info: Any) -> Any:
    if info.tool_results:
        return "RESULT " + json.dumps(info.tool_results[-1].content, sort_keys=True)
    words = (info.last_user_message or "").split(" ", 2)
    if words[0] == "write":
        return call_tool("write_file", path=words[1], content=words[2])
    if words[0] == "read":
        return call_tool("read_file", path=words[1])
    if words[0] == "lookup":
        return call_tool("lookup", term=words[1])
    if words[0] == "whoami":
        return call_tool("whoami")
    return "say write, read, lookup or whoami"


def librarian() -> Agent:
    return Agent(
        LIBRARIAN,
        tools=[
            cached(lookup, ttl=600, namespace="catalogue"),
            whoami,
            *file_toolkit(prefix="shelf/", approve_deletes=False),
        ],
        deps_type=ShelfDeps,
        deps_factory=build_deps,
        model=cached_model(FunctionModel(_respond, name="librarian-script"), ttl=600),
    )


#: ``chat(message, session)``: one turn over the HTTP API, its UI chunks.
Chat = Callable[[str, str], Awaitable[list[dict[str, Any]]]]
#: ``usage(session)``: the session's usage, as its snapshot gives it.
SessionUsage = Callable[[str], Awaitable[dict[str, Any]]]


def _result(chunks: list[dict[str, Any]]) -> Any:
    text = "".join(c.get("delta", "") for c in chunks if c["type"] == "text-delta")
    assert text.startswith("RESULT "), text
    return json.loads(text.removeprefix("RESULT "))


def _cache_parts(chunks: list[dict[str, Any]], of: str = "tool") -> list[dict[str, Any]]:
    """The ``data-cache`` parts of a cached tool (``of="tool"``) or of the cached model."""
    return [c["data"] for c in chunks if c["type"] == "data-cache" and of in c["data"]]


async def scenario(
    chat_in: Chat,
    read_object: Callable[[str], Awaitable[str | None]],
    usage: SessionUsage,
    host: str,
    session: str,
) -> None:
    """The librarian's turns, and what each must show, on ``host``: in ``session``, then
    one turn in a second session that repeats one of the first's (its model steps hit the
    model cache)."""

    async def chat(message: str) -> list[dict[str, Any]]:
        return await chat_in(message, session)

    wrote = _result(await chat("write notes/a.md hello, shelf ✓"))
    assert wrote["path"] == "notes/a.md"
    assert wrote["size"] == len("hello, shelf ✓".encode())
    assert await read_object("shelf/notes/a.md") == "hello, shelf ✓"
    read = _result(await chat("read notes/a.md"))
    assert read["content"] == "hello, shelf ✓"
    first = await chat("lookup helix")
    second = await chat("lookup helix")
    assert (
        _result(first)
        == _result(second)
        == {
            "definition": "helix: a thing worth knowing",
            "length": 5,
            "term": "helix",
        }
    )
    assert [p["hit"] for p in _cache_parts(first)] == [False]
    [hit] = _cache_parts(second)
    assert hit["hit"] is True
    assert hit["tool"] == "lookup"
    # The model cache says what it did too: one part per model step, all new requests.
    assert [p["hit"] for p in _cache_parts(second, "model")] == [False, False]
    assert all(p["model"] == "librarian-script" for p in _cache_parts(second, "model"))
    me = _result(await chat("whoami"))
    assert me["host"] == host
    assert me["motto"] == "read more"
    if host == "cloudflare":
        assert me["env"] is True
    else:
        assert me["env"] is False
        assert "exists only on Cloudflare" in me["envError"]
    missing = await chat("read nothing/here.md")
    errors = [c for c in missing if c["type"] == "tool-output-error"]
    assert len(errors) == 1
    assert "no file at 'nothing/here.md'" in errors[0]["errorText"]
    custom = (await usage(session))["custom"]
    assert custom["cache.hit"] == 1
    assert custom["cache.miss"] == 1
    assert custom["model_cache.miss"] == 12  # six turns of two model steps, all new
    assert "model_cache.hit" not in custom
    # The first turn again, in a new session: the same requests (call ids aside), and the
    # same tool result (the same write): both model steps come from the cache.
    again = await chat_in("write notes/a.md hello, shelf ✓", f"{session}-again")
    assert _result(again) == wrote
    hits = _cache_parts(again, "model")
    assert [p["hit"] for p in hits] == [True, True]
    assert all(p["key"].startswith("cache/models/") for p in hits)
    # A hit's part comes before the text it replays.
    types = [c["type"] for c in again]
    assert types.index("data-cache") < types.index("text-delta")
    repeat = (await usage(f"{session}-again"))["custom"]
    assert repeat == {"model_cache.hit": 2}
