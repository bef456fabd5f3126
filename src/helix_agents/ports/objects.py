"""``ObjectStore``: bytes by key with a content type and custom metadata, listed by prefix.

R2's rules are the port's rules, checked before anything is sent on every host:

- a key is 1-1024 bytes of UTF-8;
- custom metadata is string keys to string values, at most 2048 bytes in all;
- a listing returns keys in byte order, at most 1000 a page, with a cursor for the next;
  with a ``delimiter`` the keys below it are folded into ``prefixes`` (folders);
- an object is at most the store's ``max_bytes`` (:data:`DEFAULT_MAX_BYTES`, 25 MiB, by
  default): bodies are held in memory, and a Worker has 128 MB of it. R2 itself takes up
  to 5 GiB in one put; raise the limit deliberately, per store.

Writes are strongly consistent on both hosts: a ``get`` after a ``put`` sees it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import ObjectStoreError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_KEY_BYTES",
    "MAX_LIST_LIMIT",
    "MAX_METADATA_BYTES",
    "ObjectInfo",
    "ObjectListing",
    "ObjectStore",
    "StoredObject",
    "check_key",
    "check_list",
    "check_put",
    "etag_of",
]

MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048
MAX_LIST_LIMIT = 1000
DEFAULT_MAX_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    #: The MD5 of the body, in hex (R2's etag for a single-part upload).
    etag: str
    #: Milliseconds since the epoch.
    uploaded: int
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    info: ObjectInfo
    data: bytes

    def text(self, encoding: str = "utf-8") -> str:
        try:
            return self.data.decode(encoding)
        except UnicodeDecodeError:
            raise ObjectStoreError(
                f"object {self.info.key!r} is not {encoding} text ({self.info.size} bytes)"
            ) from None


@dataclass(frozen=True)
class ObjectListing:
    objects: list[ObjectInfo] = field(default_factory=list)
    #: With a delimiter: the "folders" directly under the prefix.
    prefixes: list[str] = field(default_factory=list)
    #: Pass to the next ``list`` call; None when not ``truncated``.
    cursor: str | None = None
    truncated: bool = False


class ObjectStore(Protocol):
    """The port. Every method raises :class:`~helix_agents.errors.ObjectStoreError` for
    input that breaks the rules above (an object over ``max_bytes`` included), and for a
    backend failure."""

    max_bytes: int

    async def put(
        self,
        key: str,
        data: bytes | str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Write (or replace) the object; ``str`` data is stored as UTF-8."""
        ...

    async def get(self, key: str) -> StoredObject | None: ...

    async def head(self, key: str) -> ObjectInfo | None: ...

    async def delete(self, key: str) -> None:
        """Remove the object; absent keys are fine."""
        ...

    async def list(
        self,
        *,
        prefix: str = "",
        limit: int = MAX_LIST_LIMIT,
        cursor: str | None = None,
        delimiter: str | None = None,
    ) -> ObjectListing: ...


def check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise ObjectStoreError("an object key must be a non-empty string")
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise ObjectStoreError(f"object key of {size} bytes: keys are at most {MAX_KEY_BYTES}")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ObjectStoreError("an object key must be valid UTF-8") from None
    return key


def check_put(
    key: object,
    data: object,
    content_type: object,
    metadata: object,
    max_bytes: int,
) -> tuple[bytes, dict[str, str]]:
    """Check a write; its body as bytes and its metadata."""
    check_key(key)
    if isinstance(data, str):
        body = data.encode("utf-8")
    elif isinstance(data, bytes | bytearray | memoryview):
        body = bytes(data)
    else:
        raise ObjectStoreError(f"an object's data is bytes or str, got {type(data).__name__}")
    if len(body) > max_bytes:
        raise ObjectStoreError(
            f"object {key!r} of {len(body)} bytes is over this store's limit of {max_bytes}"
        )
    if content_type is not None and not isinstance(content_type, str):
        raise ObjectStoreError("content_type must be a string")
    meta: dict[str, str] = {}
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise ObjectStoreError("object metadata maps strings to strings")
        meta = dict(metadata)
        size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())
        if size > MAX_METADATA_BYTES:
            raise ObjectStoreError(
                f"object metadata of {size} bytes: at most {MAX_METADATA_BYTES} in all"
            )
    return body, meta


def check_list(prefix: object, limit: object, delimiter: object) -> None:
    if not isinstance(prefix, str):
        raise ObjectStoreError("a listing's prefix must be a string")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise ObjectStoreError(f"a listing's limit must be 1-{MAX_LIST_LIMIT}, got {limit!r}")
    if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
        raise ObjectStoreError("a listing's delimiter must be a non-empty string")


def etag_of(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def metadata_json(metadata: dict[str, str]) -> str:
    return json.dumps(metadata, sort_keys=True, separators=(",", ":"))
