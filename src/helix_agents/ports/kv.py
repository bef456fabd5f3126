"""``KeyValueStore``: string values by key, with an optional time to live and metadata.

Cloudflare KV's rules are the port's rules, checked before anything is sent on every host
(:func:`check_key`, :func:`check_put`), so that what passes locally passes on the Worker:

- a key is 1-512 bytes of UTF-8, and neither ``"."`` nor ``".."``;
- a value is at most 25 MiB; metadata is a JSON object of at most 1024 bytes;
- a TTL is at least 60 seconds (KV's minimum); without one the value is kept until deleted;
- ``list`` returns keys in byte order, at most 1000 a page, with a cursor for the next.

Reads are eventually consistent on Cloudflare (a write is visible at once in the location
that made it, up to about 60 s later elsewhere): use it for caches and lookups, never for
what must be exact (that is the state store's job).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import KeyValueError

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_LIST_LIMIT",
    "MAX_METADATA_BYTES",
    "MAX_VALUE_BYTES",
    "MIN_TTL_SECONDS",
    "KVEntry",
    "KVKey",
    "KVListPage",
    "KeyValueStore",
    "check_key",
    "check_list",
    "check_put",
    "get_json",
    "put_json",
]

MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MIN_TTL_SECONDS = 60
MAX_LIST_LIMIT = 1000


@dataclass(frozen=True)
class KVEntry:
    """A value with its metadata (None when it was written without)."""

    value: str
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class KVKey:
    """One key of a listing: its expiry (Unix seconds) and metadata, when it has them."""

    name: str
    expiration: int | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class KVListPage:
    keys: list[KVKey] = field(default_factory=list)
    #: Pass to the next ``list`` call; None when ``complete``.
    cursor: str | None = None
    complete: bool = True


class KeyValueStore(Protocol):
    """The port. Every method raises :class:`~helix_agents.errors.KeyValueError` for input
    that breaks the rules above, and for a backend failure."""

    async def get(self, key: str) -> str | None:
        """The value, or None when the key is absent or expired."""
        ...

    async def get_with_metadata(self, key: str) -> KVEntry | None: ...

    async def put(
        self,
        key: str,
        value: str,
        *,
        ttl: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Write ``value``; ``ttl`` seconds (>= 60) until it expires, or kept for good."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the key; absent keys are fine."""
        ...

    async def list(
        self, *, prefix: str = "", limit: int = MAX_LIST_LIMIT, cursor: str | None = None
    ) -> KVListPage: ...


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise KeyValueError("a key-value key must be a non-empty string")
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise KeyValueError(f"key of {size} bytes: key-value keys are at most {MAX_KEY_BYTES}")
    if key in (".", ".."):
        raise KeyValueError(f"{key!r} is not a valid key-value key")
    return key


def check_put(
    key: Any, value: Any, ttl: float | None, metadata: dict[str, Any] | None
) -> tuple[int | None, str | None]:
    """Check a write; its TTL in whole seconds and its metadata as JSON."""
    check_key(key)
    if not isinstance(value, str):
        raise KeyValueError(
            f"key-value values are strings, got {type(value).__name__} (use put_json)"
        )
    size = len(value.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise KeyValueError(f"value of {size} bytes: key-value values are at most 25 MiB")
    seconds: int | None = None
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl != ttl:
            raise KeyValueError("ttl must be a number of seconds")
        seconds = int(ttl)
        if seconds < MIN_TTL_SECONDS:
            raise KeyValueError(
                f"ttl of {ttl} s: key-value entries live at least {MIN_TTL_SECONDS} s"
            )
    meta_json: str | None = None
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise KeyValueError("key-value metadata must be a JSON object")
        try:
            meta_json = json.dumps(metadata, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise KeyValueError(f"key-value metadata is not JSON: {exc}") from None
        if len(meta_json.encode("utf-8")) > MAX_METADATA_BYTES:
            raise KeyValueError(
                f"metadata of {len(meta_json.encode())} bytes: at most {MAX_METADATA_BYTES}"
            )
    return seconds, meta_json


def check_list(prefix: Any, limit: Any) -> None:
    if not isinstance(prefix, str):
        raise KeyValueError("a listing's prefix must be a string")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise KeyValueError(f"a listing's limit must be 1-{MAX_LIST_LIMIT}, got {limit!r}")


async def get_json(store: KeyValueStore, key: str) -> Any:
    """The JSON value at ``key``, or None when absent."""
    text = await store.get(key)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise KeyValueError(f"the value at {key!r} is not JSON") from None


async def put_json(
    store: KeyValueStore,
    key: str,
    value: Any,
    *,
    ttl: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise KeyValueError(f"value for {key!r} is not JSON: {exc}") from None
    await store.put(key, text, ttl=ttl, metadata=metadata)
