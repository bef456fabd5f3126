"""The ObjectStore conformance suite: what every implementation of the port must do.

Plain async checks of an :class:`ObjectsCase` (no pytest here), run by the local store
under pytest (``tests/services/test_conformance_local.py``) and by a real R2 bucket inside
workerd through a test-only route of ``tests/worker_real/app.py``
(``tests/worker_real/test_services_real.py``). Each check writes only under its own
``prefix``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from helix_agents.errors import ObjectStoreError, ServiceError
from helix_agents.ports.objects import ObjectStore, StoredObject

__all__ = ["CHECKS", "ObjectsCase"]


@dataclass
class ObjectsCase:
    store: ObjectStore
    prefix: str
    #: Milliseconds since the epoch as the store sees them.
    now_ms: Callable[[], float] = lambda: time.time() * 1000


Check = Callable[[ObjectsCase], Awaitable[None]]
CHECKS: dict[str, Check] = {}


def check(fn: Check) -> Check:
    CHECKS[fn.__name__.removeprefix("check_")] = fn
    return fn


async def _raises(awaitable: Awaitable[object], fragment: str) -> None:
    caught: ObjectStoreError | None = None
    try:
        await awaitable
    except ObjectStoreError as exc:
        caught = exc
    assert caught is not None, f"expected ObjectStoreError mentioning {fragment!r}"
    assert fragment in str(caught), f"{fragment!r} not in {caught}"
    assert isinstance(caught, ServiceError)


@check
async def check_absent(case: ObjectsCase) -> None:
    assert await case.store.get(f"{case.prefix}missing") is None
    assert await case.store.head(f"{case.prefix}missing") is None
    await case.store.delete(f"{case.prefix}missing")


@check
async def check_binary_round_trip(case: ObjectsCase) -> None:
    s, key = case.store, f"{case.prefix}blob.bin"
    body = bytes(range(256)) * 40
    before = case.now_ms()
    info = await s.put(
        key, body, content_type="application/octet-stream", metadata={"origin": "suite"}
    )
    assert info.key == key
    assert info.size == len(body)
    assert info.etag == hashlib.md5(body).hexdigest()
    assert info.content_type == "application/octet-stream"
    assert info.metadata == {"origin": "suite"}
    assert before - 5_000 <= info.uploaded <= case.now_ms() + 5_000
    stored = await s.get(key)
    assert stored is not None
    assert stored.data == body
    assert stored.info.size == len(body)
    assert stored.info.etag == info.etag
    assert stored.info.metadata == {"origin": "suite"}
    assert stored.info.content_type == "application/octet-stream"
    head = await s.head(key)
    assert head is not None
    assert head.size == len(body)
    assert head.metadata == {"origin": "suite"}


@check
async def check_text_and_empty(case: ObjectsCase) -> None:
    s, p = case.store, case.prefix
    info = await s.put(f"{p}note.md", "# Títle ✓\n")
    stored = await s.get(f"{p}note.md")
    assert stored is not None
    assert stored.text() == "# Títle ✓\n"
    assert info.size == len("# Títle ✓\n".encode())
    assert info.content_type is None
    assert info.metadata == {}
    await s.put(f"{p}empty", b"")
    empty = await s.get(f"{p}empty")
    assert empty is not None
    assert empty.data == b""
    assert empty.info.size == 0
    await s.put(f"{p}latin", b"\xff\xfe")
    latin = await s.get(f"{p}latin")
    assert latin is not None
    await _raises(_text_of(latin), "not utf-8 text")


async def _text_of(stored: StoredObject) -> str:
    return stored.text()


@check
async def check_overwrite_and_delete(case: ObjectsCase) -> None:
    s, key = case.store, f"{case.prefix}doc.txt"
    first = await s.put(key, "one", metadata={"v": "1"})
    second = await s.put(key, "number two", content_type="text/plain")
    assert second.etag != first.etag
    assert second.size == len("number two")
    stored = await s.get(key)
    assert stored is not None
    assert stored.data == b"number two"
    assert stored.info.metadata == {}
    assert stored.info.content_type == "text/plain"
    await s.delete(key)
    assert await s.get(key) is None
    assert await s.head(key) is None
    assert (await s.list(prefix=case.prefix)).objects == []


@check
async def check_list_orders_and_pages(case: ObjectsCase) -> None:
    s, p = case.store, case.prefix
    names = ["b.txt", "a.txt", "docs/2.md", "docs/1.md", "Z.txt"]
    for name in names:
        await s.put(f"{p}{name}", name, metadata={"name": name})
    await s.put(f"{p[:-1]}~outside", "x")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await s.list(prefix=p, limit=2, cursor=cursor)
        pages += 1
        seen += [o.key for o in page.objects]
        if not page.truncated:
            assert page.cursor is None
            break
        assert page.cursor
        cursor = page.cursor
    assert pages == 3, pages
    assert seen == [f"{p}{n}" for n in sorted(names, key=lambda n: n.encode())]
    listing = await s.list(prefix=f"{p}docs/")
    assert [(o.key, o.metadata, o.size) for o in listing.objects] == [
        (f"{p}docs/1.md", {"name": "docs/1.md"}, 9),
        (f"{p}docs/2.md", {"name": "docs/2.md"}, 9),
    ]
    await s.delete(f"{p[:-1]}~outside")


@check
async def check_list_with_delimiter(case: ObjectsCase) -> None:
    s, p = case.store, case.prefix
    for name in ["top.txt", "a/1", "a/2", "a/b/3", "c/4", "zz.txt"]:
        await s.put(f"{p}{name}", name)
    listing = await s.list(prefix=p, delimiter="/")
    assert [o.key for o in listing.objects] == [f"{p}top.txt", f"{p}zz.txt"]
    assert listing.prefixes == [f"{p}a/", f"{p}c/"]
    assert not listing.truncated
    inner = await s.list(prefix=f"{p}a/", delimiter="/")
    assert [o.key for o in inner.objects] == [f"{p}a/1", f"{p}a/2"]
    assert inner.prefixes == [f"{p}a/b/"]
    # Page by page: every object and folder once, whatever the page size.
    for size in (1, 2, 3):
        keys: list[str] = []
        folders: list[str] = []
        cursor: str | None = None
        for _ in range(10):
            page = await s.list(prefix=p, delimiter="/", limit=size, cursor=cursor)
            keys += [o.key for o in page.objects]
            folders += page.prefixes
            if not page.truncated:
                break
            cursor = page.cursor
        assert keys == [f"{p}top.txt", f"{p}zz.txt"], (size, keys)
        assert folders == [f"{p}a/", f"{p}c/"], (size, folders)


@check
async def check_rules_refused(case: ObjectsCase) -> None:
    s, p = case.store, case.prefix
    await _raises(s.put("", b"x"), "non-empty")
    await _raises(s.put("k" * 1025, b"x"), "at most 1024")
    await _raises(s.put(f"{p}k", b"x", metadata={"m": "v" * 2100}), "at most 2048")
    await _raises(s.put(f"{p}k", b"x", metadata={"n": 1}), "strings to strings")  # type: ignore[dict-item]
    await _raises(s.put(f"{p}k", 12), "bytes or str")  # type: ignore[arg-type]
    await _raises(s.list(prefix=p, limit=0), "limit")
    await _raises(s.list(prefix=p, delimiter=""), "delimiter")
    limit = s.max_bytes
    s.max_bytes = 16
    try:
        await _raises(s.put(f"{p}big", b"x" * 17), "over this store's limit of 16")
        await s.put(f"{p}fits", b"x" * 16)
    finally:
        s.max_bytes = limit
    assert await s.head(f"{p}big") is None
    assert await s.head(f"{p}k") is None
    assert (await s.head(f"{p}fits")) is not None
