"""The caches of the local Worker runtime: the prepared runtime (the bundle and the workerd
wrapper) is rebuilt when one of its inputs changes and reused otherwise, and the vendored
``python_modules`` hold what a Python Worker needs, built for Pyodide."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helix_agents.workerd import runtime as runtime_module
from helix_agents.workerd.pyodide_bundle import BUNDLE_FILE
from helix_agents.workerd.runtime import PreparedRuntime, prepare_runtime
from helix_agents.workerd.tooling import Tooling
from helix_agents.workerd.vendor import WORKERS_RUNTIME_SDK, requirements, vendored_modules


def stamp(path: Path) -> int:
    return path.stat().st_mtime_ns


def test_the_runtime_is_built_once_per_set_of_inputs(
    tooling: Tooling, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = prepare_runtime(install=False, cache=tmp_path)
    assert first.cache == tmp_path
    assert first.bundle_dir.parent == tmp_path / "workerd"
    assert first.bundle == first.bundle_dir / BUNDLE_FILE
    assert first.bundle.stat().st_size > 10_000_000
    assert not list(first.bundle_dir.glob("*.partial"))
    built = (stamp(first.bundle), stamp(first.wrapper))

    # The same inputs: the same folder, nothing rewritten.
    again = prepare_runtime(install=False, cache=tmp_path)
    assert again == first
    assert (stamp(again.bundle), stamp(again.wrapper)) == built

    # Another cache directory: built there.
    elsewhere = prepare_runtime(install=False, cache=tmp_path / "other")
    assert elsewhere.bundle_dir.name == first.bundle_dir.name
    assert elsewhere.bundle.read_bytes() == first.bundle.read_bytes()

    # A changed builder (its sources are part of the key): a new folder, built anew.
    monkeypatch.setattr(runtime_module, "_builder_digest", lambda: "a changed builder")
    changed = prepare_runtime(install=False, cache=tmp_path)
    assert changed.bundle_dir != first.bundle_dir
    assert changed.bundle.read_bytes() == first.bundle.read_bytes()
    monkeypatch.undo()

    # Another workerd release is another key too.
    monkeypatch.setattr(Tooling, "workerd_version", lambda self: "1.20990101.0")
    bumped = prepare_runtime(install=False, cache=tmp_path)
    assert bumped.bundle_dir not in (first.bundle_dir, changed.bundle_dir)
    monkeypatch.undo()

    # A half-written cache (the bundle lost) is completed, not trusted.
    first.bundle.unlink()
    repaired = prepare_runtime(install=False, cache=tmp_path)
    assert repaired == first
    assert repaired.bundle.exists()
    assert sorted(p.name for p in (tmp_path / "workerd").iterdir()) == sorted(
        {first.bundle_dir.name, changed.bundle_dir.name, bumped.bundle_dir.name}
    )


def test_the_wrapper_runs_workerd_with_the_bundle(runtime: PreparedRuntime, tmp_path: Path) -> None:
    """miniflare runs the wrapper as workerd: ``serve`` gets the bundle directory, anything
    else goes through unchanged."""
    assert os.access(runtime.wrapper, os.X_OK)
    done = subprocess.run(
        [str(runtime.wrapper), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    day = runtime.tooling.workerd_version().split(".")[1]  # 1.YYYYMMDD.n
    assert done.stdout.strip() == f"workerd {day[:4]}-{day[4:6]}-{day[6:]}"

    # The same script around a stand-in that prints its arguments (paths with spaces too).
    echo = tmp_path / "a workerd"
    echo.write_text('#!/bin/sh\nprintf "%s|" "$@"\n', encoding="utf-8")
    echo.chmod(0o755)
    bundle_dir = tmp_path / "the bundle"
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(runtime_module._wrapper_text(echo, bundle_dir), encoding="utf-8")
    wrapper.chmod(0o755)

    def run(*args: str) -> str:
        return subprocess.run(
            [str(wrapper), *args], capture_output=True, text=True, timeout=30, check=True
        ).stdout

    assert run("serve", "--binary", "x y") == (
        f"serve|--pyodide-bundle-disk-cache-dir|{bundle_dir}|--binary|x y|"
    )
    assert run("compile", "serve") == "compile|serve|"


def test_the_repositorys_runtime_is_the_cache_dirs(runtime: PreparedRuntime) -> None:
    assert runtime.cache == Path(os.environ["HELIX_CACHE_DIR"]).resolve()
    assert runtime == prepare_runtime(install=False)


# -- python_modules -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def python_modules(runtime: PreparedRuntime) -> Path:
    return vendored_modules(runtime.cache)


def test_python_modules_hold_pyodide_builds(python_modules: Path) -> None:
    assert (python_modules / ".complete").exists()
    # pydantic-core's compiled half, built for Pyodide (wasm32 emscripten), not this machine's.
    [binary] = (python_modules / "pydantic_core").glob("_pydantic_core*.so")
    assert "wasm32-emscripten" in binary.name
    assert binary.read_bytes()[:4] == b"\0asm"
    assert not list(python_modules.rglob("*x86_64-linux-gnu*.so"))
    # The Worker SDK (the ``workers`` module), pinned; helix-agents' own dependencies.
    assert (python_modules / "workers" / "__init__.py").exists()
    [sdk] = python_modules.glob("workers_runtime_sdk-*.dist-info")
    assert sdk.name == f"workers_runtime_sdk-{WORKERS_RUNTIME_SDK}.dist-info"
    for package in ("pydantic", "httpx", "starlette", "anyio"):
        assert (python_modules / package / "__init__.py").exists(), package
    # Nothing compiled for this machine's CPython, no scripts, and not helix-agents itself
    # (the site copies the installed package).
    assert not list(python_modules.rglob("__pycache__"))
    assert not list(python_modules.rglob("*.pyc"))
    assert not (python_modules / "bin").exists()
    assert not (python_modules / "helix_agents").exists()


def test_python_modules_are_reused(runtime: PreparedRuntime, python_modules: Path) -> None:
    before = stamp(python_modules / ".complete")
    assert vendored_modules(runtime.cache) == python_modules
    assert stamp(python_modules / ".complete") == before


def test_the_requirements() -> None:
    reqs = requirements(["helix-agents>=0.1", "Helix_Agents", "tabulate>=0.9"])
    assert f"workers-runtime-sdk=={WORKERS_RUNTIME_SDK}" in reqs
    assert "tabulate>=0.9" in reqs
    assert not [r for r in reqs if r.lower().replace("_", "-").startswith("helix-agents")]
    # helix-agents' own dependencies, without the local host's extra.
    names = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in reqs}
    assert {"pydantic", "httpx", "starlette"} <= names
    assert "uvicorn" not in names
