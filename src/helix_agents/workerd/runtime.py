"""The prepared runtime: the tooling, the Pyodide bundle and the workerd wrapper, built once
and cached under a key of their inputs (rebuilt when a version or this builder changes).

miniflare runs the workerd named by ``MINIFLARE_WORKERD_PATH``; the wrapper written here
is that program: it starts the real workerd with ``--pyodide-bundle-disk-cache-dir`` pointing
at the folder that holds our ``pyodide_dev.capnp.bin``.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path

from . import capnp, pyodide_bundle
from .pyodide_bundle import BUNDLE_FILE, build_bundle, check_workerd
from .tooling import Tooling, cache_dir, find_tooling

__all__ = ["PreparedRuntime", "prepare_runtime"]


@dataclass(frozen=True)
class PreparedRuntime:
    tooling: Tooling
    bundle_dir: Path
    wrapper: Path
    cache: Path

    @property
    def bundle(self) -> Path:
        return self.bundle_dir / BUNDLE_FILE


def _builder_digest() -> str:
    sources = [Path(capnp.__file__), Path(pyodide_bundle.__file__), Path(__file__)]
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()


def _wrapper_text(workerd: Path, bundle_dir: Path) -> str:
    return (
        "#!/bin/sh\n"
        "# Written by helix-agents: workerd, reading the Pyodide bundle from disk.\n"
        f"real={shlex.quote(str(workerd))}\n"
        'if [ "$1" = serve ]; then\n'
        "  shift\n"
        f'  exec "$real" serve --pyodide-bundle-disk-cache-dir {shlex.quote(str(bundle_dir))} "$@"\n'
        "fi\n"
        'exec "$real" "$@"\n'
    )


def prepare_runtime(*, install: bool = True, cache: Path | None = None) -> PreparedRuntime:
    """Find (or install) the tooling, check that its workerd expects our bundle's layout,
    and build the bundle and the wrapper unless the cached ones are current."""
    tooling = find_tooling(install=install)
    check_workerd(tooling.workerd)
    cache = cache or cache_dir()
    key = hashlib.sha256(
        "\0".join(
            [
                str(tooling.workerd),
                tooling.workerd_version(),
                str(tooling.pyodide),
                _builder_digest(),
            ]
        ).encode()
    ).hexdigest()[:16]
    home = cache / "workerd" / key
    runtime = PreparedRuntime(tooling, home, home / "workerd", cache)
    if runtime.bundle.exists() and runtime.wrapper.exists():
        return runtime
    home.mkdir(parents=True, exist_ok=True)
    partial = home / (BUNDLE_FILE + ".partial")
    partial.write_bytes(build_bundle(tooling.pyodide))
    partial.replace(runtime.bundle)
    script = home / "workerd.partial"
    script.write_text(_wrapper_text(tooling.workerd, home), encoding="utf-8")
    script.chmod(0o755)
    script.replace(runtime.wrapper)
    return runtime
