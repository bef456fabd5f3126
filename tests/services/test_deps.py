"""Typed dependencies (ctx.deps), the host's services (ctx.services) and ctx.env, on the
real local host."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.errors import ConfigurationError, ServiceNotConfiguredError
from helix_agents.hosts.local.host import LocalHost
from helix_agents.messages import ToolResultMessage
from helix_agents.ports.kv import KeyValueStore
from helix_agents.services import DepsContext, Services
from helix_agents.state import RunStatus
from helix_agents.testing import FunctionModel, call_tool
from helix_agents.tools import ToolContext

pytestmark = pytest.mark.timeout(60)


@dataclass
class Deps:
    greeting: str
    kv: KeyValueStore
    built_on: str


def scripted(*calls: Any) -> FunctionModel:
    """Calls each tool of ``calls`` in its turn (one per turn), then says "done"."""

    def respond(messages: list[Any], info: Any) -> Any:
        if info.tool_results:
            return "done"
        turn = sum(1 for m in messages if getattr(m, "role", None) == "user")
        return calls[(turn - 1) % len(calls)]

    return FunctionModel(respond)


async def results(host: LocalHost, session_id: str) -> list[ToolResultMessage]:
    stored = await host.store.load_messages(session_id)
    return [m for _, m in stored if isinstance(m, ToolResultMessage)]


async def test_typed_deps_are_built_once_per_host_from_its_services_and_vars(
    tmp_path: Path,
) -> None:
    built: list[DepsContext] = []

    def build(host: DepsContext) -> Deps:
        built.append(host)
        return Deps(greeting=host.vars["GREETING"], kv=host.services.kv, built_on=host.host)

    @tool
    async def remember(ctx: ToolContext[Deps], word: str) -> str:
        """Remember a word."""
        deps: Deps = ctx.deps
        await deps.kv.put(f"words/{word}", ctx.session_id)
        return f"{deps.greeting} {word} on {deps.built_on}"

    agent = Agent(
        "rememberer",
        tools=[remember],
        deps_type=Deps,
        deps_factory=build,
        model=scripted(call_tool("remember", word="alpha"), call_tool("remember", word="beta")),
    )
    async with LocalHost(agent, tmp_path / "data", vars={"GREETING": "hello"}) as host:
        first = await host.executor.execute("rememberer", "one")
        assert (await first.result()).status == RunStatus.COMPLETED
        second = await host.executor.send(first.session_id, "two")
        assert (await second.result()).status == RunStatus.COMPLETED
        contents = [r.content for r in await results(host, first.session_id)]
        assert contents == ["hello alpha on local", "hello beta on local"]
        assert len(built) == 1
        assert built[0].env is None
        assert await host.services.kv.get("words/beta") == first.session_id
    # A new host (a restart) rebuilds them: dependencies are never carried across steps.
    async with LocalHost(agent, tmp_path / "data", vars={"GREETING": "hi"}) as host:
        third = await host.executor.send(first.session_id, "three")
        assert (await third.result()).status == RunStatus.COMPLETED
        assert (await results(host, first.session_id))[-1].content == "hi alpha on local"
        assert len(built) == 2


async def test_ctx_env_on_the_local_host_names_the_ports_to_use(tmp_path: Path) -> None:
    @tool
    def raw_kv(ctx: ToolContext) -> str:
        """Read a raw binding."""
        return str(ctx.env.KV)

    agent = Agent("envy", tools=[raw_kv], model=scripted(call_tool("raw_kv")))
    async with LocalHost(agent, tmp_path / "data") as host:
        handle = await host.executor.execute("envy", "go")
        assert (await handle.result()).status == RunStatus.COMPLETED
        [result] = await results(host, handle.session_id)
    assert result.status == "error"
    assert "ctx.env is the Worker's bindings and exists only on Cloudflare" in result.content
    assert "ctx.services.kv (KV)" in result.content
    assert "ctx.services.objects (R2)" in result.content


async def test_services_given_to_the_host_replace_its_own(tmp_path: Path) -> None:
    from helix_agents.db.sqlite import SQLiteDatabase
    from helix_agents.hosts.local.kv import SQLKeyValueStore

    other = SQLiteDatabase(tmp_path / "other.db")
    mine = SQLKeyValueStore(other, "mine")

    @tool
    async def put(ctx: ToolContext) -> str:
        """Write."""
        await ctx.services.kv.put("k", "v")
        return repr(ctx.services)

    agent = Agent("putter", tools=[put], model=scripted(call_tool("put")))
    async with LocalHost(agent, tmp_path / "data", services=Services(kv=mine)) as host:
        handle = await host.executor.execute("putter", "go")
        await handle.result()
        [result] = await results(host, handle.session_id)
        assert result.content.startswith("Services(kv, objects")
        assert host.services.kv is mine
    assert await mine.get("k") == "v"
    await other.close()


def test_a_missing_service_says_what_to_configure() -> None:
    with pytest.raises(ServiceNotConfiguredError, match=r"\[\[kv_namespaces\]\] binding named KV"):
        _ = Services(host="cloudflare").kv
    with pytest.raises(ServiceNotConfiguredError, match=r"\[\[r2_buckets\]\] binding named BUCKET"):
        _ = Services(host="cloudflare").objects
    with pytest.raises(ServiceNotConfiguredError, match=r"LocalHost\(services=Services\(kv="):
        _ = Services(host="local").kv
    with pytest.raises(ServiceNotConfiguredError) as missing:
        _ = Services(host="local").vectors
    assert str(missing.value).startswith("this host does not have a vector index")
    assert not Services().has("kv")
    assert isinstance(ServiceNotConfiguredError("x"), ConfigurationError)


def test_agent_deps_declaration_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="deps_type needs a deps_factory"):
        Agent("a", deps_type=Deps)
    with pytest.raises(ConfigurationError, match="deps_factory must be callable"):
        Agent("b", deps_factory="nope")  # type: ignore[arg-type]


async def test_a_factory_of_the_wrong_type_or_async_fails_the_tool_clearly(tmp_path: Path) -> None:
    async def async_factory(host: DepsContext) -> Deps:
        raise AssertionError("never awaited")

    @tool
    def use(ctx: ToolContext[Deps]) -> str:
        """Use deps."""
        return str(ctx.deps)

    wrong = Agent(
        "wrong",
        tools=[use],
        deps_type=Deps,
        deps_factory=lambda h: "text",
        model=scripted(call_tool("use")),
    )
    later = Agent(
        "later", tools=[use], deps_factory=async_factory, model=scripted(call_tool("use"))
    )
    async with LocalHost([wrong, later], tmp_path / "data") as host:
        for name, fragment in [
            ("wrong", "returned str, not the declared deps_type Deps"),
            ("later", "must return the dependencies, not an awaitable"),
        ]:
            handle = await host.executor.execute(name, "go")
            assert (await handle.result()).status == RunStatus.COMPLETED
            [result] = await results(host, handle.session_id)
            assert result.status == "error"
            assert fragment in result.content
