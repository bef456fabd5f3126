"""The Cap'n Proto writer (``helix_agents.workerd.capnp``) and the Pyodide bundle it encodes,
read back by a real decoder: pycapnp (the C++ Cap'n Proto library), with workerd's bundle
schema written out here.

The schema is our own text of workerd's ``Bundle`` and ``Module`` (``workerd::jsg``), with a
file id of its own: the wire format depends only on the field numbers and types, so the C++
schema compiler lays it out exactly as workerd's copy, and the layout it computes is checked
against the constants the bundle builder writes with.
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helix_agents.workerd import pyodide_bundle
from helix_agents.workerd.capnp import StructValue, encode_message
from helix_agents.workerd.pyodide_bundle import adapt_glue
from helix_agents.workerd.runtime import PreparedRuntime

capnp = pytest.importorskip("capnp", reason="pycapnp is in the dev dependency group")

SCHEMA = """\
@0xd5a8f3c2b1e4a697;
# workerd's module bundle (workerd::jsg::Bundle), as helix-agents' tests read it.

struct Bundle {
  modules @0 :List(Module);
}

struct Module {
  name @0 :Text;
  union {
    src @1 :Data;
    wasm @4 :Data;
    data @5 :Data;
    json @6 :Text;
  }
  tsDeclaration @3 :Text;
  type @2 :ModuleType;
  compileCache @7 :Data;
}

enum ModuleType {
  bundle @0;
  builtin @1;
  internal @2;
}
"""

KINDS = ("src", "wasm", "data", "json")
TYPES = ("bundle", "builtin", "internal")
# A whole Pyodide bundle is ~13 MB; pycapnp's default limit is 64 MiB of reads.
TRAVERSAL_LIMIT = 1 << 30


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    path = tmp_path_factory.mktemp("capnp") / "bundle.capnp"
    path.write_text(SCHEMA, encoding="utf-8")
    loaded: ModuleType = capnp.load(str(path))
    return loaded


def module_value(
    name: str,
    kind: str,
    content: bytes | str,
    type_: str = "internal",
    ts: str | None = None,
    cache: bytes | None = None,
) -> StructValue:
    """A ``Module`` for the writer, laid out as ``pyodide_bundle._module`` lays it out."""
    pointers: dict[int, str | bytes | list[StructValue] | None] = {0: name, 1: content}
    if ts is not None:
        pointers[2] = ts
    if cache is not None:
        pointers[3] = cache
    return StructValue(
        data_words=1,
        pointer_count=4,
        uint16={0: TYPES.index(type_), 1: KINDS.index(kind)},
        pointers=pointers,
    )


def bundle_value(modules: list[StructValue]) -> StructValue:
    return StructValue(data_words=0, pointer_count=1, pointers={0: modules})


def decode(schema: ModuleType, message: bytes) -> list[dict[str, Any]]:
    """Every module of a bundle message, as plain values."""
    out = []
    bundle_type: Any = schema.Bundle
    with bundle_type.from_bytes(message, traversal_limit_in_words=TRAVERSAL_LIMIT) as bundle:
        for m in bundle.modules:
            kind = m.which()
            out.append(
                {
                    "name": m.name,
                    "kind": kind,
                    "content": getattr(m, kind),
                    "type": str(m.type),
                    "ts": m.tsDeclaration if m._has("tsDeclaration") else None,
                    "cache": m.compileCache if m._has("compileCache") else None,
                }
            )
    return out


# -- the schema's layout is the one the builder writes ------------------------------------------


def test_the_compiled_layout_is_the_builders(schema: ModuleType) -> None:
    node: Any = schema.Module.schema.node.struct
    assert (node.dataWordCount, node.pointerCount) == (1, 4)
    # The union's discriminant is 16-bit slot 1; ``type`` is 16-bit slot 0.
    assert node.discriminantOffset == 1
    fields = {f.name: f for f in node.fields}
    assert fields["type"].slot.offset == 0
    assert {
        name: fields[name].slot.offset for name in ("name", "tsDeclaration", "compileCache")
    } == {
        "name": 0,
        "tsDeclaration": 2,
        "compileCache": 3,
    }
    # Every member of the union shares pointer 1; the discriminants are the builder's.
    for kind in KINDS:
        assert fields[kind].slot.offset == 1
    assert fields["src"].discriminantValue == pyodide_bundle._SRC
    assert fields["wasm"].discriminantValue == pyodide_bundle._WASM
    assert fields["data"].discriminantValue == pyodide_bundle._DATA
    enum: Any = schema.ModuleType
    assert enum.internal == pyodide_bundle._INTERNAL
    bundle: Any = schema.Bundle.schema.node.struct
    assert (bundle.dataWordCount, bundle.pointerCount) == (0, 1)


# -- the writer, read back ------------------------------------------------------------------------


def test_every_union_member_type_and_optional_pointer(schema: ModuleType) -> None:
    modules = [
        module_value("a", "src", b"export default 1;\n", "bundle"),
        module_value("pyodideRuntime-internal:x.wasm", "wasm", bytes(range(256)) * 3, "builtin"),
        module_value("d", "data", b"12345678", "internal", ts="declare const d: Uint8Array;"),
        module_value("ünïcødé ✓", "json", '{"k": [1, 2, "é"]}', "internal", cache=b"\x00\xff"),
        module_value("empty", "data", b""),
    ]
    decoded = decode(schema, encode_message(bundle_value(modules)))
    assert decoded == [
        {
            "name": "a",
            "kind": "src",
            "content": b"export default 1;\n",
            "type": "bundle",
            "ts": None,
            "cache": None,
        },
        {
            "name": "pyodideRuntime-internal:x.wasm",
            "kind": "wasm",
            "content": bytes(range(256)) * 3,
            "type": "builtin",
            "ts": None,
            "cache": None,
        },
        {
            "name": "d",
            "kind": "data",
            "content": b"12345678",
            "type": "internal",
            "ts": "declare const d: Uint8Array;",
            "cache": None,
        },
        {
            "name": "ünïcødé ✓",
            "kind": "json",
            "content": '{"k": [1, 2, "é"]}',
            "type": "internal",
            "ts": None,
            "cache": b"\x00\xff",
        },
        {
            "name": "empty",
            "kind": "data",
            "content": b"",
            "type": "internal",
            "ts": None,
            "cache": None,
        },
    ]


def test_an_empty_bundle(schema: ModuleType) -> None:
    assert decode(schema, encode_message(bundle_value([]))) == []


def test_the_segment_table_counts_the_whole_message() -> None:
    message = encode_message(bundle_value([module_value("m", "src", b"x" * 13)]))
    segments, words = struct.unpack_from("<II", message)
    assert segments == 0  # one segment
    assert len(message) == 8 + words * 8


def reference_bytes(schema: ModuleType, spec: list[tuple[str, str, bytes | str, str]]) -> bytes:
    """The same bundle from the C++ library's builder, fields set in the writer's order."""
    builder: Any = schema.Bundle.new_message()
    modules = builder.init("modules", len(spec))
    for m, (name, kind, content, type_) in zip(modules, spec, strict=True):
        m.type = type_
        m.name = name
        setattr(m, kind, content)
    data: bytes = builder.to_bytes()
    return data


_names = st.text(min_size=0, max_size=40)
_modules = st.lists(
    st.tuples(
        _names,
        st.sampled_from(KINDS),
        st.binary(max_size=200),
        st.sampled_from(TYPES),
    ),
    max_size=6,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=_modules)
def test_round_trip_and_the_reference_builders_bytes(
    schema: ModuleType, spec: list[tuple[str, str, bytes, str]]
) -> None:
    """Any small bundle decodes to what went in, and is the very message the C++ builder
    makes (one segment, everything laid out in one forward pass)."""
    typed: list[tuple[str, str, bytes | str, str]] = [
        (name, kind, content.decode("latin-1") if kind == "json" else content, type_)
        for name, kind, content, type_ in spec
    ]
    message = encode_message(bundle_value([module_value(n, k, c, t) for n, k, c, t in typed]))
    decoded = decode(schema, message)
    assert [(d["name"], d["kind"], d["content"], d["type"]) for d in decoded] == typed
    if typed:  # (an empty list's tag names no layout: the C++ builder names the schema's)
        assert message == reference_bytes(schema, typed)


def test_layout_errors_are_refused() -> None:
    with pytest.raises(ValueError, match="16-bit slot 4 is outside a 1-word section"):
        encode_message(StructValue(data_words=1, pointer_count=0, uint16={4: 1}))
    with pytest.raises(ValueError, match="pointer 1 is outside a 1-pointer section"):
        encode_message(StructValue(data_words=0, pointer_count=1, pointers={1: b"x"}))
    mixed = [StructValue(1, 4), StructValue(0, 4)]
    with pytest.raises(ValueError, match="same layout"):
        encode_message(bundle_value(mixed))


# -- the real bundle ------------------------------------------------------------------------------


def test_the_built_bundle_holds_npm_pyodide(schema: ModuleType, runtime: PreparedRuntime) -> None:
    """The bundle workerd reads (the cached ``pyodide_dev.capnp.bin``): three internal
    modules, each the npm ``pyodide`` file it comes from, byte for byte (the glue adapted)."""
    pyodide = runtime.tooling.pyodide
    decoded = decode(schema, runtime.bundle.read_bytes())
    assert [(d["name"], d["kind"], d["type"]) for d in decoded] == [
        ("pyodideRuntime-internal:pyodide.asm", "src", "internal"),
        ("pyodideRuntime-internal:pyodide.asm.wasm", "wasm", "internal"),
        ("pyodideRuntime-internal:python_stdlib.zip", "data", "internal"),
    ]
    glue, wasm, stdlib = (d["content"] for d in decoded)
    assert glue == adapt_glue((pyodide / "pyodide.asm.mjs").read_text(encoding="utf-8")).encode()
    assert wasm == (pyodide / "pyodide.asm.wasm").read_bytes()
    assert wasm[:4] == b"\0asm"
    assert stdlib == (pyodide / "python_stdlib.zip").read_bytes()
    assert all(d["ts"] is None and d["cache"] is None for d in decoded)


def test_build_bundle_is_the_cached_bundle(runtime: PreparedRuntime) -> None:
    """Building again from node_modules/pyodide gives the same bytes: the build is
    deterministic, so the cache key of its inputs is enough."""
    built = pyodide_bundle.build_bundle(runtime.tooling.pyodide)
    assert built == Path(runtime.bundle).read_bytes()
