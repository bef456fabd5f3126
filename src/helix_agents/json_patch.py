"""JSON Patch (RFC 6902): the operations that turn one JSON document into another, and
applying them.

A session's state streams to clients as these operations (a ``data-state-patch`` part),
so that a UI holding the state from the snapshot mirrors it live. The diff is written for
that use: objects are compared member by member (``add``, ``remove``, recursion into
members present in both), a list whose length changed is replaced whole, and a list of the
same length is compared item by item. Every operation it makes therefore sets a value at a
path or removes one: a client that applies the same patch twice (a stream replayed over a
snapshot that already holds it) ends with the same document, provided it skips a
``remove`` of a path that is gone.

Pure Python, no dependency (it runs on Pyodide as it is).
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import JsonPatchError

__all__ = ["apply_patch", "diff", "pointer"]


def pointer(parts: list[str | int]) -> str:
    """The JSON Pointer (RFC 6901) of a path: ``~`` and ``/`` escaped."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def diff(before: Any, after: Any) -> list[dict[str, Any]]:
    """The operations that turn ``before`` into ``after`` (both JSON values)."""
    ops: list[dict[str, Any]] = []
    _diff(before, after, [], ops)
    return ops


def _diff(before: Any, after: Any, path: list[str | int], ops: list[dict[str, Any]]) -> None:
    if _same(before, after):
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            if key not in after:
                ops.append({"op": "remove", "path": pointer([*path, key])})
        for key, value in after.items():
            if key in before:
                _diff(before[key], value, [*path, key], ops)
            else:
                ops.append({"op": "add", "path": pointer([*path, key]), "value": value})
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            _diff(old, new, [*path, index], ops)
        return
    ops.append({"op": "replace", "path": pointer(path), "value": after})


def _same(a: Any, b: Any) -> bool:
    # 1 == True and 1 == 1.0 in Python, not in JSON: compare the types as well.
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def apply_patch(document: Any, ops: list[dict[str, Any]]) -> Any:
    """``document`` with ``ops`` applied (a copy; ``add``, ``remove``, ``replace``, ``test``,
    ``move`` and ``copy``). :class:`JsonPatchError` when an operation cannot apply."""
    doc = copy.deepcopy(document)
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise JsonPatchError(f"not a JSON Patch operation: {op!r}")
        kind, path = op.get("op"), _parse(op["path"])
        if kind in ("add", "replace", "test") and "value" not in op:
            raise JsonPatchError(f"{kind} at {op['path']!r} needs a value")
        if kind == "add":
            doc = _put(doc, path, copy.deepcopy(op["value"]), insert=True)
        elif kind == "replace":
            _get(doc, path)
            doc = _put(doc, path, copy.deepcopy(op["value"]), insert=False)
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "test":
            if not _same(_get(doc, path), op["value"]):
                raise JsonPatchError(f"test at {op['path']!r} failed")
        elif kind in ("move", "copy"):
            if not isinstance(op.get("from"), str):
                raise JsonPatchError(f"{kind} at {op['path']!r} needs a from")
            source = _parse(op["from"])
            value = copy.deepcopy(_get(doc, source))
            if kind == "move":
                doc = _remove(doc, source)
            doc = _put(doc, path, value, insert=True)
        else:
            raise JsonPatchError(f"unknown JSON Patch op {kind!r}")
    return doc


def _parse(text: str) -> list[str]:
    if text == "":
        return []
    if not text.startswith("/"):
        raise JsonPatchError(f"a JSON Pointer starts with '/': {text!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/")]


def _index(container: list[Any], token: str, *, insert: bool) -> int:
    if insert and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise JsonPatchError(f"not a list index: {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not insert):
        raise JsonPatchError(f"list index {index} out of range")
    return index


def _get(doc: Any, path: list[str]) -> Any:
    for token in path:
        if isinstance(doc, dict):
            if token not in doc:
                raise JsonPatchError(f"no member {token!r}")
            doc = doc[token]
        elif isinstance(doc, list):
            doc = doc[_index(doc, token, insert=False)]
        else:
            raise JsonPatchError(f"cannot look up {token!r} in a scalar")
    return doc


def _put(doc: Any, path: list[str], value: Any, *, insert: bool) -> Any:
    if not path:
        return value
    parent = _get(doc, path[:-1])
    token = path[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        index = _index(parent, token, insert=insert)
        if insert:
            parent.insert(index, value)
        else:
            parent[index] = value
    else:
        raise JsonPatchError(f"cannot set {token!r} in a scalar")
    return doc


def _remove(doc: Any, path: list[str]) -> Any:
    if not path:
        raise JsonPatchError("cannot remove the whole document")
    parent = _get(doc, path[:-1])
    token = path[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise JsonPatchError(f"no member {token!r} to remove")
        del parent[token]
    elif isinstance(parent, list):
        del parent[_index(parent, token, insert=False)]
    else:
        raise JsonPatchError(f"cannot remove {token!r} from a scalar")
    return doc
