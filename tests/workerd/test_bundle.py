"""The Pyodide bundle's contract with the pinned tools: the glue adaptations fail clearly on a
changed glue, the workerd check reads the real binary and names what it lacks, the builder
refuses another pyodide, and the pins in code are the pins of package.json and uv.lock."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from helix_agents.workerd import pyodide_bundle, vendor
from helix_agents.workerd.pyodide_bundle import (
    ADAPTATIONS,
    PYODIDE_VERSION,
    BundleLayoutError,
    adapt_glue,
    build_bundle,
    check_workerd,
)
from helix_agents.workerd.tooling import NODE_PACKAGES, Tooling

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def glue(tooling: Tooling) -> str:
    return (tooling.pyodide / "pyodide.asm.mjs").read_text(encoding="utf-8")


# -- the glue -------------------------------------------------------------------------------------


def test_the_pinned_glue_is_adapted(glue: str) -> None:
    adapted = adapt_glue(glue)
    # Nothing that a Worker forbids is left, and the wrappers are imported from workerd.
    for forbidden in ("new WebAssembly.Module", "WebAssembly.instantiate", "eval(func)"):
        assert forbidden not in adapted
    assert "crypto.getRandomValues(" not in adapted
    assert "from 'pyodide-internal:builtin_wrappers';" in adapted
    assert "export { _createPyodideModule };" in adapted
    # Adapting is a function of the text alone.
    assert adapt_glue(glue) == adapted


@pytest.mark.parametrize("change", ADAPTATIONS, ids=lambda c: c.find[:24])
def test_a_missing_occurrence_names_the_string(
    glue: str, change: pyodide_bundle.Adaptation
) -> None:
    changed = glue.replace(change.find, "/* gone */", 1)
    with pytest.raises(BundleLayoutError) as caught:
        adapt_glue(changed)
    message = str(caught.value)
    assert repr(change.find) in message
    assert f"has {change.count - 1} occurrence(s)" in message
    assert f"{change.count} were expected" in message
    assert PYODIDE_VERSION in message
    assert "pyodide_bundle.py" in message


def test_an_extra_occurrence_names_the_string(glue: str) -> None:
    with pytest.raises(BundleLayoutError, match=r"23 occurrence\(s\) of 'Date.now' where 22"):
        adapt_glue(glue + "\nDate.now();\n")


def test_a_glue_that_is_not_pyodides_is_refused() -> None:
    with pytest.raises(BundleLayoutError, match="0 occurrence"):
        adapt_glue("export default function f() {}\n")


# -- the workerd binary ---------------------------------------------------------------------------


def test_the_pinned_workerd_expects_this_bundle(tooling: Tooling) -> None:
    check_workerd(tooling.workerd)


@pytest.mark.parametrize(
    "name",
    [
        "pyodideRuntime-internal:python_stdlib.zip",
        "getMemoryPatched",
        "export function monotonicDateNow(",
    ],
)
def test_a_workerd_without_a_name_is_refused(tooling: Tooling, tmp_path: Path, name: str) -> None:
    """A binary lacking one name (the real one, every occurrence of the name overwritten)."""
    blob = tooling.workerd.read_bytes()
    assert name.encode() in blob
    changed = tmp_path / "workerd"
    changed.write_bytes(blob.replace(name.encode(), b"#" * len(name)))
    del blob
    with pytest.raises(BundleLayoutError) as caught:
        check_workerd(changed)
    message = str(caught.value)
    assert f"(missing: {name})" in message
    assert str(changed) in message
    assert "pyodide_bundle.py" in message


def test_an_unrelated_binary_lacks_everything(tmp_path: Path) -> None:
    other = tmp_path / "workerd"
    other.write_bytes(b"\x7fELF not workerd at all")
    with pytest.raises(BundleLayoutError) as caught:
        check_workerd(other)
    missing = re.search(r"\(missing: (.*?)\)\.", str(caught.value))
    assert missing is not None
    assert "pyodideRuntime-internal:pyodide.asm" in missing.group(1)
    assert PYODIDE_VERSION in missing.group(1)
    assert "export function wasmInstantiate(" in missing.group(1)


# -- the npm pyodide ------------------------------------------------------------------------------


def test_build_bundle_refuses_another_pyodide(tooling: Tooling, tmp_path: Path) -> None:
    other = tmp_path / "pyodide"
    other.mkdir()
    for name in ("pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"):
        (other / name).symlink_to(tooling.pyodide / name)
    manifest = json.loads((tooling.pyodide / "package.json").read_text(encoding="utf-8"))
    manifest["version"] = "0.29.3"
    (other / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleLayoutError) as caught:
        build_bundle(other)
    assert str(caught.value) == (
        f"{other} holds pyodide 0.29.3; the pinned workerd runs {PYODIDE_VERSION}"
    )


def test_build_bundle_without_a_pyodide(tmp_path: Path) -> None:
    with pytest.raises(BundleLayoutError, match="no npm pyodide at"):
        build_bundle(tmp_path / "nothing")


def test_build_bundle_of_a_changed_glue_fails_before_writing(
    tooling: Tooling, tmp_path: Path
) -> None:
    changed = tmp_path / "pyodide"
    shutil.copytree(tooling.pyodide, changed, ignore=shutil.ignore_patterns("*.wasm", "*.zip"))
    glue = changed / "pyodide.asm.mjs"
    glue.write_text(glue.read_text(encoding="utf-8").replace("eval(data)", "0"), encoding="utf-8")
    with pytest.raises(BundleLayoutError, match=r"of 'eval\(data\)' where 1 were expected"):
        build_bundle(changed)


# -- the pins -------------------------------------------------------------------------------------


def test_node_packages_are_package_jsons() -> None:
    # The repository pins more (the AI SDK for its browser tests); the Worker's tooling is
    # exactly these, at the same versions.
    manifest = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    pinned = manifest["devDependencies"]
    assert {name: pinned.get(name) for name in NODE_PACKAGES} == NODE_PACKAGES
    assert NODE_PACKAGES["pyodide"] == PYODIDE_VERSION


def test_the_installed_tooling_is_the_pinned_one(tooling: Tooling) -> None:
    for name, pinned in NODE_PACKAGES.items():
        manifest = tooling.node_modules / name / "package.json"
        assert json.loads(manifest.read_text(encoding="utf-8"))["version"] == pinned, name


def test_the_workers_runtime_sdk_is_uv_locks() -> None:
    with (ROOT / "uv.lock").open("rb") as f:
        lock = tomllib.load(f)
    [locked] = [p for p in lock["package"] if p["name"] == "workers-runtime-sdk"]
    assert locked["version"] == vendor.WORKERS_RUNTIME_SDK
