"""The KeyValueStore conformance suite: what every implementation of the port must do.

The checks are plain async functions of a :class:`KVCase` (no pytest here): the local
store runs them under pytest (``tests/services/test_conformance_local.py``), and the real
Worker runs the very same functions inside workerd against a real KV binding, through a
test-only route of ``tests/worker_real/app.py`` (``tests/worker_real/test_services_real.py``).
Each check writes only under its own ``prefix``, so checks may share one namespace. Time
moves only where the case can move it (``advance``); on a real KV, whose clock no test
controls, the expiry check looks at what the listing says instead of waiting 60 s.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from helix_agents.errors import KeyValueError, ServiceError
from helix_agents.ports.kv import KeyValueStore, get_json, put_json

__all__ = ["CHECKS", "KVCase"]


@dataclass
class KVCase:
    store: KeyValueStore
    prefix: str
    #: Moves the store's clock forward by that many seconds; None on a real KV.
    advance: Callable[[float], None] | None = None
    #: Unix seconds as the store sees them.
    now: Callable[[], float] = time.time


Check = Callable[[KVCase], Awaitable[None]]
CHECKS: dict[str, Check] = {}


def check(fn: Check) -> Check:
    CHECKS[fn.__name__.removeprefix("check_")] = fn
    return fn


async def _raises(awaitable: Awaitable[object], fragment: str) -> None:
    caught: KeyValueError | None = None
    try:
        await awaitable
    except KeyValueError as exc:
        caught = exc
    assert caught is not None, f"expected KeyValueError mentioning {fragment!r}"
    assert fragment in str(caught), f"{fragment!r} not in {caught}"
    assert isinstance(caught, ServiceError)
    assert isinstance(caught, ValueError)


@check
async def check_absent_key_reads_none(case: KVCase) -> None:
    assert await case.store.get(f"{case.prefix}nothing") is None
    assert await case.store.get_with_metadata(f"{case.prefix}nothing") is None


@check
async def check_put_then_get(case: KVCase) -> None:
    s, p = case.store, case.prefix
    await s.put(f"{p}greeting", "héllo, wörld ✓")
    await s.put(f"{p}empty", "")
    assert await s.get(f"{p}greeting") == "héllo, wörld ✓"
    assert await s.get(f"{p}empty") == ""
    await s.put(f"{p}greeting", "second")
    assert await s.get(f"{p}greeting") == "second"


@check
async def check_json_helpers(case: KVCase) -> None:
    value = {"a": [1, 2.5, None, True], "b": {"c": "d"}}
    await put_json(case.store, f"{case.prefix}doc", value)
    assert await get_json(case.store, f"{case.prefix}doc") == value
    await case.store.put(f"{case.prefix}text", "not json")
    await _raises(get_json(case.store, f"{case.prefix}text"), "not JSON")


@check
async def check_delete(case: KVCase) -> None:
    s, p = case.store, case.prefix
    await s.put(f"{p}gone", "x")
    await s.delete(f"{p}gone")
    assert await s.get(f"{p}gone") is None
    await s.delete(f"{p}never-there")  # absent keys are fine


@check
async def check_metadata(case: KVCase) -> None:
    s, p = case.store, case.prefix
    await s.put(f"{p}with", "v", metadata={"source": "test", "n": 3})
    await s.put(f"{p}without", "w")
    entry = await s.get_with_metadata(f"{p}with")
    assert entry is not None
    assert entry.value == "v"
    assert entry.metadata == {"source": "test", "n": 3}
    bare = await s.get_with_metadata(f"{p}without")
    assert bare is not None
    assert bare.value == "w"
    assert bare.metadata is None
    page = await s.list(prefix=f"{p}with")
    assert [(k.name, k.metadata) for k in page.keys] == [
        (f"{p}with", {"source": "test", "n": 3}),
        (f"{p}without", None),
    ]


@check
async def check_list_orders_and_pages(case: KVCase) -> None:
    s, p = case.store, case.prefix
    names = ["b", "a", "c/2", "c/1", "d", "Z"]
    for name in names:
        await s.put(f"{p}{name}", name)
    await s.put(f"{p[:-1]}~outside", "not under the prefix")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await s.list(prefix=p, limit=4, cursor=cursor)
        pages += 1
        assert len(page.keys) <= 4
        seen += [k.name for k in page.keys]
        if page.complete:
            assert page.cursor is None
            break
        assert page.cursor
        cursor = page.cursor
    assert pages == 2
    assert seen == [f"{p}{n}" for n in sorted(names, key=lambda n: n.encode())]
    only_c = await s.list(prefix=f"{p}c/")
    assert [k.name for k in only_c.keys] == [f"{p}c/1", f"{p}c/2"]
    assert only_c.complete
    await s.delete(f"{p[:-1]}~outside")


@check
async def check_ttl_expiry(case: KVCase) -> None:
    s, p = case.store, case.prefix
    before = case.now()
    await s.put(f"{p}short", "soon gone", ttl=60)
    await s.put(f"{p}long", "kept", ttl=3600)
    await s.put(f"{p}forever", "kept")
    assert await s.get(f"{p}short") == "soon gone"
    listing = {k.name: k for k in (await s.list(prefix=p)).keys}
    expiry = listing[f"{p}short"].expiration
    assert expiry is not None
    assert before + 55 <= expiry <= case.now() + 65, expiry
    assert listing[f"{p}forever"].expiration is None
    if case.advance is None:
        return  # a real KV's clock: the expiry it reported is what can be checked
    case.advance(61)
    assert await s.get(f"{p}short") is None
    assert await s.get_with_metadata(f"{p}short") is None
    assert await s.get(f"{p}long") == "kept"
    assert [k.name for k in (await s.list(prefix=p)).keys] == [f"{p}forever", f"{p}long"]


@check
async def check_rules_refused(case: KVCase) -> None:
    s, p = case.store, case.prefix
    await _raises(s.put(f"{p}k", "v", ttl=59), "at least 60")
    await _raises(s.put("", "v"), "non-empty")
    await _raises(s.get("x" * 513), "at most 512")
    await _raises(s.put(f"{p}k", b"bytes"), "strings")  # type: ignore[arg-type]
    await _raises(s.put(f"{p}k", "v", metadata={"big": "x" * 1100}), "at most 1024")
    await _raises(s.list(prefix=p, limit=0), "limit")
    await _raises(s.list(prefix=p, limit=1001), "limit")
    assert await s.get(f"{p}k") is None  # nothing refused was written
