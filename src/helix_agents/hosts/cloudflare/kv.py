"""The KeyValueStore port over a Workers KV binding (``env.KV``).

KV's Worker API: ``get(key, "text")`` (null when absent), ``getWithMetadata(key, "text")``
answered ``{value, metadata}``, ``put(key, value, {expirationTtl, metadata})``,
``delete(key)`` and ``list({prefix, limit, cursor})`` answered ``{keys: [{name,
expiration?, metadata?}], list_complete, cursor?}``. The port's rules are checked here
before a call (:mod:`helix_agents.ports.kv`), so a bad request fails as it does on the
local store; whatever KV throws becomes a :class:`~helix_agents.errors.KeyValueError`.
Tested for real in local workerd (``tests/worker_real/test_services_real.py``).
"""

from __future__ import annotations

from typing import Any

from ...errors import KeyValueError
from ...ports.kv import (
    MAX_LIST_LIMIT,
    KVEntry,
    KVKey,
    KVListPage,
    check_key,
    check_list,
    check_put,
)
from ._convert import js_arg, raw
from .js_values import clean, is_null

__all__ = ["WorkersKV"]


class WorkersKV:
    """A :class:`~helix_agents.ports.kv.KeyValueStore` over ``binding``."""

    def __init__(self, binding: Any) -> None:
        self.binding = binding

    def __repr__(self) -> str:
        return "WorkersKV()"

    async def get(self, key: str) -> str | None:
        check_key(key)
        value = await self._call("get", key, "text")
        return None if is_null(value) else str(value)

    async def get_with_metadata(self, key: str) -> KVEntry | None:
        check_key(key)
        result = clean(await self._call("getWithMetadata", key, "text"))
        if not isinstance(result, dict) or result.get("value") is None:
            return None
        metadata = result.get("metadata")
        return KVEntry(
            value=str(result["value"]), metadata=metadata if isinstance(metadata, dict) else None
        )

    async def put(
        self,
        key: str,
        value: str,
        *,
        ttl: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        seconds, _ = check_put(key, value, ttl, metadata)
        options: dict[str, Any] = {}
        if seconds is not None:
            options["expirationTtl"] = seconds
        if metadata is not None:
            options["metadata"] = metadata
        await self._call("put", key, value, js_arg(options))

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._call("delete", key)

    async def list(
        self, *, prefix: str = "", limit: int = MAX_LIST_LIMIT, cursor: str | None = None
    ) -> KVListPage:
        check_list(prefix, limit)
        options: dict[str, Any] = {"prefix": prefix, "limit": limit}
        if cursor is not None:
            if not isinstance(cursor, str):
                raise KeyValueError("a listing's cursor is the string a previous page returned")
            options["cursor"] = cursor
        result = clean(await self._call("list", js_arg(options)))
        keys = [
            KVKey(
                name=str(item["name"]),
                expiration=int(item["expiration"]) if item.get("expiration") else None,
                metadata=item.get("metadata") if isinstance(item.get("metadata"), dict) else None,
            )
            for item in result.get("keys") or []
        ]
        complete = bool(result.get("list_complete", True))
        return KVListPage(
            keys=keys, cursor=None if complete else result.get("cursor"), complete=complete
        )

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(raw(self.binding), method)(*args)
        except Exception as exc:  # a JsException in a Worker; its text is KV's
            raise KeyValueError(f"KV {method} failed: {exc}") from exc
