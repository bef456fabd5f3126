"""The ObjectStore port over an R2 bucket binding (``env.BUCKET``).

R2's Worker API: ``put(key, body, {httpMetadata: {contentType}, customMetadata})``
answered with the object's ``R2Object`` (``key, size, etag, uploaded, httpMetadata,
customMetadata``), ``get(key)`` (an ``R2ObjectBody``: the same and ``arrayBuffer()``; null
when absent), ``head(key)``, ``delete(key)`` and ``list({prefix, limit, cursor, delimiter,
include})`` answered ``{objects, truncated, cursor?, delimitedPrefixes}``. Objects are
read from the JS values directly (their properties and methods), bodies cross as
``Uint8Array``/``ArrayBuffer``. The port's rules (the store's ``max_bytes`` among them) are
checked before a call; whatever R2 throws becomes an
:class:`~helix_agents.errors.ObjectStoreError`. Tested for real in local workerd
(``tests/worker_real/test_services_real.py``).
"""

from __future__ import annotations

from typing import Any

from ...errors import ObjectStoreError
from ...ports.objects import (
    DEFAULT_MAX_BYTES,
    MAX_LIST_LIMIT,
    ObjectInfo,
    ObjectListing,
    StoredObject,
    check_key,
    check_list,
    check_put,
)
from ._convert import js_arg, raw
from .js_values import clean, is_null, js_bytes, to_bytes

__all__ = ["R2ObjectStore"]


class R2ObjectStore:
    """A :class:`~helix_agents.ports.objects.ObjectStore` over ``binding``."""

    def __init__(self, binding: Any, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.binding = binding
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"R2ObjectStore(max_bytes={self.max_bytes})"

    async def put(
        self,
        key: str,
        data: bytes | str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        body, meta = check_put(key, data, content_type, metadata, self.max_bytes)
        options: dict[str, Any] = {"customMetadata": meta}
        if content_type is not None:
            options["httpMetadata"] = {"contentType": content_type}
        result = await self._call("put", key, js_bytes(body), js_arg(options))
        if is_null(result):
            raise ObjectStoreError(f"R2 did not store {key!r}")
        return _info(result)

    async def get(self, key: str) -> StoredObject | None:
        check_key(key)
        result = await self._call("get", key)
        if is_null(result):
            return None
        try:
            data = to_bytes(await result.arrayBuffer())
        except Exception as exc:
            raise ObjectStoreError(f"R2 could not read {key!r}: {exc}") from exc
        return StoredObject(info=_info(result), data=data)

    async def head(self, key: str) -> ObjectInfo | None:
        check_key(key)
        result = await self._call("head", key)
        return None if is_null(result) else _info(result)

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._call("delete", key)

    async def list(
        self,
        *,
        prefix: str = "",
        limit: int = MAX_LIST_LIMIT,
        cursor: str | None = None,
        delimiter: str | None = None,
    ) -> ObjectListing:
        check_list(prefix, limit, delimiter)
        options: dict[str, Any] = {
            "prefix": prefix,
            "limit": limit,
            "include": ["httpMetadata", "customMetadata"],
        }
        if cursor is not None:
            if not isinstance(cursor, str):
                raise ObjectStoreError("a listing's cursor is the string a previous page returned")
            options["cursor"] = cursor
        if delimiter is not None:
            options["delimiter"] = delimiter
        result = await self._call("list", js_arg(options))
        truncated = bool(result.truncated)
        return ObjectListing(
            objects=[_info(obj) for obj in result.objects],
            prefixes=[str(p) for p in clean(result.delimitedPrefixes) or []],
            cursor=str(result.cursor) if truncated else None,
            truncated=truncated,
        )

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(raw(self.binding), method)(*args)
        except Exception as exc:  # a JsException in a Worker; its text is R2's
            raise ObjectStoreError(f"R2 {method} failed: {exc}") from exc


def _info(obj: Any) -> ObjectInfo:
    """An ``R2Object`` (a JS object in a Worker, read by attribute) as ObjectInfo."""
    http = obj.httpMetadata
    content_type = None if is_null(http) else getattr(http, "contentType", None)
    uploaded = obj.uploaded
    millis = uploaded.getTime() if hasattr(uploaded, "getTime") else uploaded
    metadata = clean(obj.customMetadata)
    return ObjectInfo(
        key=str(obj.key),
        size=int(obj.size),
        etag=str(obj.etag),
        uploaded=int(millis),
        content_type=None if is_null(content_type) else content_type,
        metadata={str(k): str(v) for k, v in (metadata or {}).items()},
    )
