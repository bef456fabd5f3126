"""``python_modules/``: the packages a Python Worker carries, as ``pywrangler sync`` vendors
them, built with pip for Pyodide's platform (``pyemscripten_2026_0_wasm32``, CPython 3.14).

What goes in: helix-agents' own dependencies, the project's (``[project].dependencies`` of
the ``pyproject.toml`` beside the app, minus helix-agents itself), and
``workers-runtime-sdk`` (the ``workers`` module; without it the runtime stops with "No module
named 'workers'"). Every version is held to what the current environment has installed (for
this repository: ``uv.lock``'s versions), so the Worker runs what the tests ran. helix-agents
itself is copied in by :mod:`.site` from the installed package, not resolved here.

pip runs from a private virtual environment in the cache (the caller's environment may have
no pip, and is never changed). The result is cached under a key of every input.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from ..errors import ConfigurationError

__all__ = ["PLATFORM", "WORKERS_RUNTIME_SDK", "requirements", "vendored_modules"]

PLATFORM = "pyemscripten_2026_0_wasm32"
PYTHON_VERSION = "3.14"
#: The Worker SDK package (uv.lock pins the same version in the dev group).
WORKERS_RUNTIME_SDK = "1.9.5"
_OWN = "helix-agents"


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return (match.group(1) if match else requirement).lower().replace("_", "-")


def requirements(project_dependencies: list[str] | None = None) -> list[str]:
    """What to vendor: helix-agents' dependencies (no extras), the project's own, the SDK."""
    own = [r for r in (metadata.requires(_OWN) or []) if "extra ==" not in r]
    project = [r for r in project_dependencies or [] if _name(r) != _OWN]
    sdk = [f"workers-runtime-sdk=={WORKERS_RUNTIME_SDK}"]
    seen: dict[str, str] = {}
    for req in own + project + sdk:
        seen.setdefault(req.strip(), req.strip())
    return sorted(seen)


def _constraints() -> list[str]:
    """Every installed distribution at its installed version, so the resolution picks the
    versions the tests ran with."""
    pins: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and _name(name) not in (_OWN, "workers-runtime-sdk"):
            pins[_name(name)] = dist.version
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def vendored_modules(cache: Path, project_dependencies: list[str] | None = None) -> Path:
    """The ``python_modules`` folder for these requirements, built on first use."""
    reqs = requirements(project_dependencies)
    constraints = _constraints()
    key = hashlib.sha256(
        json.dumps([PLATFORM, PYTHON_VERSION, reqs, constraints]).encode()
    ).hexdigest()[:16]
    target = cache / "python-modules" / key
    if (target / ".complete").exists():
        return target
    pip = _private_pip(cache)
    building = target.with_name(key + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    constraints_file = building.with_name(key + ".constraints.txt")
    constraints_file.write_text("\n".join(constraints) + "\n", encoding="utf-8")
    command = [
        str(pip), "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--target", str(building),
        "--platform", PLATFORM, "--python-version", PYTHON_VERSION,
        "--implementation", "cp", "--abi", "cp314", "--only-binary=:all:",
        "--constraint", str(constraints_file),
        *reqs,
    ]  # fmt: skip
    print(
        "helix: vendoring the Worker's packages for Pyodide (once per set of versions)", flush=True
    )
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigurationError(
            "could not vendor the Worker's packages for Pyodide (a package without a "
            f"{PLATFORM} or pure-Python wheel?):\n{done.stderr.strip()[-2000:]}"
        )
    for junk in ("bin", "__pycache__"):
        shutil.rmtree(building / junk, ignore_errors=True)
    for cached in building.rglob("__pycache__"):
        shutil.rmtree(cached, ignore_errors=True)
    (building / ".complete").write_text(json.dumps(reqs) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    return target


def _private_pip(cache: Path) -> Path:
    home = cache / "pip-venv"
    pip = home / "bin" / "pip"
    if not pip.exists():
        # The base interpreter's venv module brings pip from ensurepip's bundled wheel.
        base = Path(getattr(sys, "_base_executable", sys.executable))
        try:
            subprocess.run([str(base), "-m", "venv", str(home)], check=True, capture_output=True)
        except (subprocess.CalledProcessError, OSError):
            venv.create(home, with_pip=True, clear=True)
    if not pip.exists():
        raise ConfigurationError(f"could not create a virtual environment with pip at {home}")
    return pip
