"""A deterministic example value for a JSON schema, for the offline models.

The demo model fills a structured output (or a clock tool's arguments) it knows nothing of
with it, so it ships with the demo model; the test models use it for every tool.

Covers what pydantic emits for tool arguments and output types: objects (required and
optional properties, ``additionalProperties``), strings (``enum``, ``const``, ``format``,
``minLength``/``maxLength``, ``pattern``), numbers and integers with inclusive and exclusive
bounds and ``multipleOf``, booleans, arrays (``items``, ``prefixItems``, ``minItems``,
``maxItems``, ``uniqueItems``), ``anyOf``/``oneOf``/``allOf``, ``$ref`` into ``$defs`` (also
recursive models) and ``Optional``. The same schema always yields the same value.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["SchemaExampleError", "example_from_schema"]

#: Below this depth optional parts are filled in; beyond it they are left out (or null), so
#: that a recursive model's example stays finite.
_RICH_DEPTH = 6
_MAX_DEPTH = 40

_FORMATS: dict[str, str] = {
    "date-time": "2024-01-01T12:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00",
    "duration": "PT1H",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "/example",
    "iri-reference": "/example",
    "uri-template": "https://example.com/{id}",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "ipvanyaddress": "192.0.2.1",
    "ipv4interface": "192.0.2.1/24",
    "ipv6interface": "2001:db8::1/64",
    "ipvanyinterface": "192.0.2.1/24",
    "ipv4network": "192.0.2.0/24",
    "ipv6network": "2001:db8::/32",
    "ipvanynetwork": "192.0.2.0/24",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "uuid1": "123e4567-e89b-12d3-a456-426614174000",
    "uuid3": "123e4567-e89b-32d3-a456-426614174000",
    "uuid4": "123e4567-e89b-42d3-a456-426614174000",
    "uuid5": "123e4567-e89b-52d3-a456-426614174000",
    "binary": "ZXhhbXBsZQ==",
    "base64": "ZXhhbXBsZQ==",
    "byte": "ZXhhbXBsZQ==",
    "password": "example-secret",
    "json-string": "{}",
    "regex": "^example$",
    "path": "/tmp/example",
    "directory-path": "/",
    "json-pointer": "/example",
    "relative-json-pointer": "0",
}

_PATTERN_CANDIDATES = ["example", "a", "A", "0", "abc", "ABC", "123", "a1", "x-1", "abc_123"]


class SchemaExampleError(ValueError):
    """The schema cannot be satisfied by this generator (or at all)."""


def example_from_schema(schema: Mapping[str, Any] | bool) -> Any:
    """A value valid for ``schema``. ``$ref`` pointers resolve against ``schema`` itself."""
    root = schema if isinstance(schema, Mapping) else {}
    return _Generator(root).value(schema, depth=0, variant=0)


class _Generator:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    # -- dispatch ----------------------------------------------------------------------------

    def value(self, schema: Any, *, depth: int, variant: int) -> Any:
        if depth > _MAX_DEPTH:
            raise SchemaExampleError("the schema nests too deeply (a required recursion?)")
        if schema is True or schema is None:
            return "example"
        if schema is False:
            raise SchemaExampleError("a 'false' schema accepts no value")
        if not isinstance(schema, Mapping):
            raise SchemaExampleError(f"not a schema: {schema!r}")
        if "$ref" in schema:
            target = self.resolve(schema["$ref"])
            merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            return self.value(merged, depth=depth + 1, variant=variant)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            options = list(schema["enum"])
            if not options:
                raise SchemaExampleError("an empty enum accepts no value")
            return options[variant % len(options)]
        if "allOf" in schema:
            return self.value(self.merge(schema), depth=depth + 1, variant=variant)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branch = self.choose(schema[key], depth=depth)
                rest = {k: v for k, v in schema.items() if k not in (key, "discriminator")}
                merged = {**rest, **branch} if isinstance(branch, Mapping) else branch
                return self.value(merged, depth=depth + 1, variant=variant)
        kind = self.kind(schema, depth=depth)
        if kind == "object":
            return self.object(schema, depth=depth)
        if kind == "array":
            return self.array(schema, depth=depth)
        if kind == "string":
            return _string(schema, variant)
        if kind == "integer":
            return _number(schema, integer=True, variant=variant)
        if kind == "number":
            return _number(schema, integer=False, variant=variant)
        if kind == "boolean":
            return variant % 2 == 0
        if kind == "null":
            return None
        return "example" if variant == 0 else f"example-{variant}"

    def kind(self, schema: Mapping[str, Any], *, depth: int) -> str | None:
        kind = schema.get("type")
        if isinstance(kind, list):
            choices = [k for k in kind if k != "null"]
            if not choices or ("null" in kind and depth >= _RICH_DEPTH):
                return "null"
            kind = choices[0]
        if kind is None:
            if "properties" in schema or "additionalProperties" in schema:
                return "object"
            if "items" in schema or "prefixItems" in schema:
                return "array"
        return kind if isinstance(kind, str) else None

    def resolve(self, ref: Any) -> Mapping[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaExampleError(f"only local $ref pointers are supported, got {ref!r}")
        node: Any = self.root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                raise SchemaExampleError(f"unresolvable $ref {ref!r}")
            node = node[part]
        if not isinstance(node, Mapping):
            raise SchemaExampleError(f"$ref {ref!r} does not point at a schema")
        return node

    def merge(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, Mapping) and "$ref" in part:
                part = {
                    **self.resolve(part["$ref"]),
                    **{k: v for k, v in part.items() if k != "$ref"},
                }
            if not isinstance(part, Mapping):
                continue
            for key, value in part.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return merged

    def choose(self, branches: Any, *, depth: int) -> Any:
        """A union's branch: the first that is not null while there is room to be rich,
        the null (or least recursive) one when deep, to end recursion."""
        if not isinstance(branches, list) or not branches:
            raise SchemaExampleError("anyOf/oneOf needs a non-empty list")

        def is_null(branch: Any) -> bool:
            return isinstance(branch, Mapping) and branch.get("type") == "null"

        if depth >= _RICH_DEPTH:
            for branch in branches:
                if is_null(branch):
                    return branch
            for branch in branches:
                if isinstance(branch, Mapping) and "$ref" not in branch:
                    return branch
        for branch in branches:
            if not is_null(branch):
                return branch
        return branches[0]

    # -- containers --------------------------------------------------------------------------

    def object(self, schema: Mapping[str, Any], *, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        rich = depth < _RICH_DEPTH
        result: dict[str, Any] = {}
        for index, (name, sub) in enumerate(properties.items()):
            if name in required or rich:
                result[name] = self.value(sub, depth=depth + 1, variant=index % 3)
        extra = schema.get("additionalProperties")
        minimum = int(schema.get("minProperties") or 0)
        if isinstance(extra, Mapping) and not properties and (rich or minimum):
            count = max(1, minimum)
            for index in range(count):
                key = "key" if index == 0 else f"key{index}"
                result[key] = self.value(extra, depth=depth + 1, variant=index)
        return result

    def array(self, schema: Mapping[str, Any], *, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        items = schema.get("items")
        minimum = int(schema.get("minItems") or 0)
        maximum = schema.get("maxItems")
        result = [self.value(sub, depth=depth + 1, variant=0) for sub in prefix]
        if items is False or (items is None and prefix):
            return result
        count = max(minimum, len(result) + (1 if depth < _RICH_DEPTH else 0))
        if maximum is not None:
            count = min(count, int(maximum))
        unique = bool(schema.get("uniqueItems"))
        variant = 0
        while len(result) < count:
            item = self.value(items if items is not None else {}, depth=depth + 1, variant=variant)
            variant += 1
            if unique and item in result:
                if variant > count + 50:
                    raise SchemaExampleError("cannot make enough distinct array items")
                continue
            result.append(item)
        return result


# -- scalars -----------------------------------------------------------------------------------


def _string(schema: Mapping[str, Any], variant: int) -> str:
    min_length = int(schema.get("minLength") or 0)
    max_length = schema.get("maxLength")
    pattern = schema.get("pattern")

    def fits(text: str) -> bool:
        if len(text) < min_length or (max_length is not None and len(text) > int(max_length)):
            return False
        return pattern is None or re.search(pattern, text) is not None

    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS and fits(_FORMATS[fmt]):
        return _FORMATS[fmt]
    if isinstance(pattern, str):
        candidates = [_from_pattern(pattern), *_PATTERN_CANDIDATES]
        for text in candidates:
            if text is not None:
                if fits(text):
                    return text
                padded = _fit_length(text, min_length, max_length)
                if fits(padded):
                    return padded
        raise SchemaExampleError(f"no example found for the pattern {pattern!r}")
    base = "example" if variant == 0 else f"example-{variant}"
    return _fit_length(base, min_length, max_length)


def _fit_length(text: str, min_length: int, max_length: Any) -> str:
    if len(text) < min_length:
        text = text + "x" * (min_length - len(text))
    if max_length is not None and len(text) > int(max_length):
        text = text[: int(max_length)]
    return text


def _from_pattern(pattern: str) -> str | None:
    """A string matching a regular expression, built from its parse tree (the usual
    pydantic patterns: anchors, classes, repeats, groups, alternatives)."""
    try:
        parser: Any = importlib.import_module("re._parser")
        return _render(parser.parse(pattern), parser)
    except Exception:
        return None


def _render(tree: Any, parser: Any) -> str:
    c = parser  # the opcodes live on the parser module (re._constants re-exported)
    out: list[str] = []
    for op, arg in tree:
        if op is c.LITERAL:
            out.append(chr(arg))
        elif op is c.NOT_LITERAL:
            out.append("a" if chr(arg) != "a" else "b")
        elif op is c.ANY:
            out.append("a")
        elif op is c.IN:
            out.append(_class_char(arg, c))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            # The fewest repeats, but one of an optional part: "a*b" gives "ab", not "b".
            out.append(_render(sub, parser) * (low if low > 0 else min(high, 1)))
        elif op is c.SUBPATTERN:
            out.append(_render(arg[-1], parser))
        elif op is c.BRANCH:
            out.append(_render(arg[1][0], parser))
        elif op is c.CATEGORY:
            out.append(_category_char(arg, c))
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        else:
            raise ValueError(f"unsupported regex construct {op}")
    return "".join(out)


def _category_char(category: Any, c: Any) -> str:
    if category is c.CATEGORY_DIGIT:
        return "0"
    if category is c.CATEGORY_SPACE:
        return " "
    if category is c.CATEGORY_NOT_DIGIT or category is c.CATEGORY_WORD:
        return "a"
    return "-"


def _class_char(items: Any, c: Any) -> str:
    negate = any(op is c.NEGATE for op, _ in items)
    if negate:
        excluded = {chr(a) for op, a in items if op is c.LITERAL}
        for candidate in "a0xZ_":
            if candidate not in excluded:
                return candidate
        return "q"
    for op, arg in items:
        if op is c.LITERAL:
            return chr(arg)
        if op is c.RANGE:
            return chr(arg[0])
        if op is c.CATEGORY:
            return _category_char(arg, c)
    raise ValueError("empty character class")


def _number(schema: Mapping[str, Any], *, integer: bool, variant: int) -> int | float:
    low: float | None = schema.get("minimum")
    high: float | None = schema.get("maximum")
    ex_low: Any = schema.get("exclusiveMinimum")
    ex_high: Any = schema.get("exclusiveMaximum")
    # Draft-4 style boolean exclusives modify minimum / maximum.
    if ex_low is True and low is not None:
        ex_low, low = low, None
    if ex_high is True and high is not None:
        ex_high, high = high, None
    multiple = schema.get("multipleOf")
    if integer:
        lo = math.ceil(low) if low is not None else None
        if isinstance(ex_low, int | float) and not isinstance(ex_low, bool):
            lo = max(lo, math.floor(ex_low) + 1) if lo is not None else math.floor(ex_low) + 1
        hi = math.floor(high) if high is not None else None
        if isinstance(ex_high, int | float) and not isinstance(ex_high, bool):
            hi = min(hi, math.ceil(ex_high) - 1) if hi is not None else math.ceil(ex_high) - 1
        start = lo if lo is not None else (min(hi, 1) if hi is not None else 1)
        value = start + variant
        if hi is not None and value > hi:
            value = hi
        if multiple:
            step = int(multiple) if float(multiple).is_integer() else None
            if step:
                value = math.ceil(value / step) * step
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise SchemaExampleError(f"no integer satisfies {dict(schema)!r}")
        return int(value)
    lo_f = float(low) if low is not None else None
    hi_f = float(high) if high is not None else None
    open_low = isinstance(ex_low, int | float) and not isinstance(ex_low, bool)
    open_high = isinstance(ex_high, int | float) and not isinstance(ex_high, bool)
    if open_low:
        lo_f = max(lo_f, float(ex_low)) if lo_f is not None else float(ex_low)
    if open_high:
        hi_f = min(hi_f, float(ex_high)) if hi_f is not None else float(ex_high)
    if lo_f is not None and hi_f is not None:
        fvalue = (lo_f + hi_f) / 2 if (open_low or open_high) else lo_f
    elif lo_f is not None:
        fvalue = lo_f + (1.0 if open_low else 0.0)
    elif hi_f is not None:
        fvalue = min(hi_f - (1.0 if open_high else 0.0), 1.5)
    else:
        fvalue = 1.5
    if variant and (hi_f is None or fvalue + variant < hi_f):
        fvalue += variant
    if multiple:
        step_f = float(multiple)
        candidate = math.ceil(fvalue / step_f) * step_f
        if (hi_f is None or candidate <= hi_f) and (lo_f is None or candidate >= lo_f):
            fvalue = candidate
    return fvalue
