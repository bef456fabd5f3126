"""The Pyodide tier from CPython: its packages, and one run of ``run.mjs`` in Node 22.

The packages are the Worker's own ``python_modules`` (``helix_agents.workerd.vendor``: pip for
Pyodide's platform, every version held to ``uv.lock``'s) plus the test tools below, built once
into the same cache by ``make install-worker`` (``python -m tests.pyodide prepare``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helix_agents.workerd.tooling import cache_dir, find_tooling
from helix_agents.workerd.vendor import vendored_modules
from tests.pyodide.selection import SUITES

__all__ = ["TEST_REQUIREMENTS", "TierResult", "packages", "run_tier"]

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run.mjs")

#: The test tools, pure Python; their dependencies (pluggy, iniconfig, packaging, pygments,
#: sortedcontainers) come along, at the versions installed here.
TEST_REQUIREMENTS = ["pytest", "pytest-asyncio", "hypothesis"]

#: V8 12.4 (Node 22) ships JSPI behind this flag; Pyodide needs it to block on a coroutine.
NODE_FLAGS = ["--experimental-wasm-jspi"]


def packages() -> Path:
    """The vendored folder for the tier (built on first use, then cached)."""
    return vendored_modules(cache_dir(), TEST_REQUIREMENTS)


@dataclass(frozen=True)
class TierResult:
    returncode: int
    output: str
    counts: dict[str, int]


def _counts(output: str) -> dict[str, int]:
    """pytest's summary line (``841 passed, 87 deselected in 142.1s``, framed by ``=``
    without ``-q``) as numbers."""
    summary = [
        line
        for line in output.splitlines()
        if re.match(r"^=* ?\d+ \w+(, \d+ \w+)* in [\d.]+s", line)
    ]
    if not summary:
        return {}
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary[-1].split(" in ")[0])}


def run_tier(pytest_args: Sequence[str] = (), *, timeout: float = 600) -> TierResult:
    """Run pytest in Pyodide, from this repository: on ``SUITES`` unless ``pytest_args``
    name tests of their own (a path, or a path with ``::``)."""
    modules = packages()
    node = find_tooling(install=False)
    args = list(pytest_args)
    if not any((REPO / arg.split("::")[0]).exists() for arg in args if arg[:1] != "-"):
        args += SUITES
    config = {
        "pyodide": str(node.pyodide),
        "mounts": [str(REPO), str(modules)],
        "cwd": str(REPO),
        "sys_path": [str(REPO / "src"), str(REPO), str(modules)],
        # No cache folder written into the tree. pytest-timeout is not there (neither its
        # alarm signal nor its thread exists in Pyodide): bootstrap.py enforces the
        # timeouts on async tests, the caller's timeout bounds the whole run.
        "pytest_args": ["-p", "no:cacheprovider", "-q", *args],
        # Hypothesis keeps its example database in memory, apart from CPython's.
        "env": {"HYPOTHESIS_STORAGE_DIRECTORY": "/tmp/.hypothesis"},
    }
    with tempfile.TemporaryDirectory(prefix="helix-pyodide-") as tmp:
        config_file = Path(tmp) / "config.json"
        config_file.write_text(json.dumps(config), encoding="utf-8")
        done = subprocess.run(
            [str(node.node), *NODE_FLAGS, str(RUNNER), str(config_file)],
            cwd=REPO,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    return TierResult(done.returncode, done.stdout, _counts(done.stdout))
