"""The Pyodide bundle a local workerd needs to run Python Workers offline.

workerd downloads its Pyodide from Cloudflare's CDN at start. With the compatibility flag
``python_workers_development`` it instead reads ``pyodide_dev.capnp.bin`` from the directory
given by ``--pyodide-bundle-disk-cache-dir``, and checks no hash. That file is one Cap'n Proto
message of workerd's module-bundle type (``workerd::jsg::Bundle``), holding the three pieces
of npm ``pyodide`` that workerd's built-in Python runtime imports:

- ``pyodideRuntime-internal:pyodide.asm``: the Emscripten glue (``pyodide.asm.mjs``) as an ES
  module, adapted so that it reaches the clock, randomness, wasm compilation and dynamic
  library loading through workerd's own wrappers (see :data:`ADAPTATIONS`);
- ``pyodideRuntime-internal:pyodide.asm.wasm``: the interpreter, as a wasm module;
- ``pyodideRuntime-internal:python_stdlib.zip``: the standard library, as data.

What the bundle must hold is a contract with one workerd release; :func:`check_workerd`
reads the workerd binary and fails with a clear message when a bump changes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .capnp import StructValue, encode_message

__all__ = [
    "ADAPTATIONS",
    "BUNDLE_FILE",
    "PYODIDE_VERSION",
    "BundleLayoutError",
    "adapt_glue",
    "build_bundle",
    "check_workerd",
]

#: The npm ``pyodide`` the pinned workerd runs for Python 3.14 (its ``pythonWorkers314``).
PYODIDE_VERSION = "314.0.6"
#: The file workerd looks for in its bundle directory for the ``dev`` Pyodide.
BUNDLE_FILE = "pyodide_dev.capnp.bin"

_PREFIX = "pyodideRuntime-internal:"
_WRAPPERS = "pyodide-internal:builtin_wrappers"

# What workerd's wrappers module must export for the adapted glue to link.
_IMPORTED = (
    "addEventListener",
    "getRandomValues",
    "location",
    "monotonicDateNow",
    "newWasmModule",
    "patchedLoadLibData",
    "wasmInstantiate",
)

_NO_EVAL = "(() => { throw new Error('helix-agents: the Pyodide glue tried to eval code, which a Worker forbids'); })()"


@dataclass(frozen=True)
class Adaptation:
    """One textual change to ``pyodide.asm.mjs``: ``count`` occurrences of ``find`` become
    ``replace``, and why. A count that does not match means the glue changed: fail."""

    find: str
    replace: str
    count: int
    why: str


ADAPTATIONS: tuple[Adaptation, ...] = (
    Adaptation(
        "export default _createPyodideModule;",
        "import { " + ", ".join(_IMPORTED) + " } from " + repr(_WRAPPERS) + ";\n"
        "export default _createPyodideModule;\nexport { _createPyodideModule };",
        1,
        "workerd imports the factory by name, and the glue needs workerd's wrappers in scope",
    ),
    Adaptation(
        "new WebAssembly.Module",
        "newWasmModule",
        4,
        "a Worker may not compile wasm itself; workerd's wrapper checks the caller and compiles",
    ),
    Adaptation(
        "WebAssembly.instantiate",
        "wasmInstantiate",
        3,
        "instantiation of raw bytes goes through the same checked compiler",
    ),
    Adaptation(
        "Date.now",
        "monotonicDateNow",
        22,
        "a Worker's clock stands still during a request; Python's import cache needs mtimes to move",
    ),
    Adaptation(
        "crypto.getRandomValues(",
        "getRandomValues(Module, ",
        1,
        "randomness is refused at import time (snapshots); workerd decides when it is allowed",
    ),
    Adaptation(
        "reportUndefinedSymbols()",
        "Module.reportUndefinedSymbolsNoOp()",
        3,
        "workerd preloads the shared libraries itself and reports missing symbols on its own",
    ),
    Adaptation("eval(func)", _NO_EVAL, 2, "a Worker cannot eval"),
    Adaptation("eval(data)", _NO_EVAL, 1, "a Worker cannot eval"),
    Adaptation("eval(UTF8ToString(ptr))", _NO_EVAL, 3, "a Worker cannot eval"),
    Adaptation(
        "function loadLibData(){",
        "function loadLibData(){ var bytes = patchedLoadLibData(Module, libName, flags.rpath);"
        " return flags.loadAsync ? Promise.resolve(bytes) : bytes; }\n"
        "function unusedLoadLibData(){",
        1,
        "shared libraries are read from workerd's read-only file systems, by its own lookup",
    ),
    Adaptation(
        "getMemory(",
        "Module.getMemoryPatched(Module, libName, ",
        1,
        "a shared library's memory base must be stable across workerd's memory snapshots",
    ),
)


class BundleLayoutError(RuntimeError):
    """The pinned workerd or npm pyodide no longer matches what this builder produces."""


def adapt_glue(source: str) -> str:
    """``pyodide.asm.mjs`` adapted to run inside workerd (see :data:`ADAPTATIONS`)."""
    for change in ADAPTATIONS:
        found = source.count(change.find)
        if found != change.count:
            raise BundleLayoutError(
                f"pyodide.asm.mjs has {found} occurrence(s) of {change.find!r} where "
                f"{change.count} were expected: the npm pyodide is not {PYODIDE_VERSION}, or "
                "its glue changed; the adaptations in helix_agents/workerd/pyodide_bundle.py "
                "need a review"
            )
        source = source.replace(change.find, change.replace)
    return source


# workerd::jsg::Module: name @0 (pointer 0); a union of src @1, wasm @4, data @5 and json @6
# (pointer 1, its discriminant in 16-bit slot 1); type @2 (16-bit slot 0); tsDeclaration @3
# (pointer 2); compileCache @7 (pointer 3).
_SRC, _WASM, _DATA = 0, 1, 2
_INTERNAL = 2  # ModuleType.internal: importable by workerd's built-in modules only


def _module(name: str, kind: int, content: bytes) -> StructValue:
    return StructValue(
        data_words=1,
        pointer_count=4,
        uint16={0: _INTERNAL, 1: kind},
        pointers={0: _PREFIX + name, 1: content},
    )


def build_bundle(pyodide_dir: Path) -> bytes:
    """The bundle's bytes, from an unpacked npm ``pyodide`` (``node_modules/pyodide``)."""
    version = _npm_version(pyodide_dir)
    if version != PYODIDE_VERSION:
        raise BundleLayoutError(
            f"{pyodide_dir} holds pyodide {version}; the pinned workerd runs {PYODIDE_VERSION}"
        )
    glue = adapt_glue((pyodide_dir / "pyodide.asm.mjs").read_text(encoding="utf-8"))
    modules = [
        _module("pyodide.asm", _SRC, glue.encode("utf-8")),
        _module("pyodide.asm.wasm", _WASM, (pyodide_dir / "pyodide.asm.wasm").read_bytes()),
        _module("python_stdlib.zip", _DATA, (pyodide_dir / "python_stdlib.zip").read_bytes()),
    ]
    return encode_message(StructValue(data_words=0, pointer_count=1, pointers={0: modules}))


def _npm_version(pyodide_dir: Path) -> str:
    import json

    try:
        manifest = json.loads((pyodide_dir / "package.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleLayoutError(f"no npm pyodide at {pyodide_dir}") from None
    return str(manifest.get("version", "?"))


def check_workerd(workerd: Path) -> None:
    """Fail with a clear message unless the workerd binary expects this bundle's layout:
    the three module names, the wrappers module and what it exports, and Pyodide
    ``PYODIDE_VERSION`` for Python 3.14."""
    blob = workerd.read_bytes()
    expected = [
        (_PREFIX + "pyodide.asm").encode(),
        (_PREFIX + "pyodide.asm.wasm").encode(),
        (_PREFIX + "python_stdlib.zip").encode(),
        _WRAPPERS.encode(),
        b"reportUndefinedSymbolsNoOp",
        b"getMemoryPatched",
        PYODIDE_VERSION.encode(),
    ]
    expected += [f"export function {name}(".encode() for name in _IMPORTED if name != "location"]
    missing = [item.decode() for item in expected if item not in blob]
    if missing:
        raise BundleLayoutError(
            f"{workerd} does not expect the Pyodide bundle this project builds (missing: "
            f"{', '.join(missing)}). A workerd/wrangler bump changed the bundle's layout: "
            "read the new workerd's Python runtime and update helix_agents/workerd/pyodide_bundle.py"
        )


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
