"""A small JSON Schema check for client tools' results (no dependency: Pyodide-safe).

It covers what tool output schemas use in practice: ``type`` (one or a list), ``enum``,
``const``, ``properties`` / ``required`` / ``additionalProperties``, ``items``,
``anyOf`` / ``oneOf`` / ``allOf``, local ``$ref`` into ``$defs``/``definitions``, string
length, numeric bounds and array length. Unknown keywords are ignored (permissive), as a
JSON Schema validator does for keywords it does not know.
"""

from __future__ import annotations

from typing import Any

__all__ = ["schema_errors"]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_errors(value: Any, schema: Any, *, limit: int = 5) -> list[str]:
    """Up to ``limit`` problems of ``value`` against ``schema`` (empty when it conforms)."""
    errors: list[str] = []
    _check(value, schema, "$", schema if isinstance(schema, dict) else {}, errors, limit)
    return errors[:limit]


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES.get(name, (object,)))


def _check(
    value: Any, schema: Any, path: str, root: dict[str, Any], errors: list[str], limit: int
) -> None:
    if len(errors) >= limit or schema is True or not isinstance(schema, dict):
        if schema is False:
            errors.append(f"{path}: no value is allowed here")
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        _check(value, target, path, root, errors, limit)
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is_type(value, k) for k in kinds):
            errors.append(f"{path}: expected {' or '.join(map(str, kinds))}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: must be one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    for key in ("allOf",):
        for sub in schema.get(key, []):
            _check(value, sub, path, root, errors, limit)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options and not any(not schema_errors(value, {**o, **_defs(root)}) for o in options):
            errors.append(f"{path}: matches none of the allowed shapes")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}: {name!r} is required")
        for name, item in value.items():
            if name in props:
                _check(item, props[name], f"{path}.{name}", root, errors, limit)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected property {name!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(item, schema["additionalProperties"], f"{path}.{name}", root, errors, limit)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _check(item, items, f"{path}[{i}]", root, errors, limit)
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: needs at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: allows at most {schema['maxItems']} items")
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: needs at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: allows at most {schema['maxLength']} characters")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            bound = schema.get(key)
            if not isinstance(bound, int | float):
                continue
            ok = {
                "minimum": value >= bound,
                "maximum": value <= bound,
                "exclusiveMinimum": value > bound,
                "exclusiveMaximum": value < bound,
            }[key]
            if not ok:
                errors.append(f"{path}: fails {key} {bound}")


def _defs(root: dict[str, Any]) -> dict[str, Any]:
    return {k: root[k] for k in ("$defs", "definitions") if k in root}
