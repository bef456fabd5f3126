"""The Pyodide tier: the pure-Python suites under real Pyodide 314 (the Python Worker's
runtime) in Node 22, so a CPython-only construct fails here before it fails on Cloudflare.

``tier.py`` starts Node on ``run.mjs``; ``selection.py`` lists what runs and what is left
out, with why. ``make install-worker`` builds the packages beforehand
(``python -m tests.pyodide prepare``). Run the tier by hand with ``python -m tests.pyodide``
(pytest's arguments pass through).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from helix_agents.workerd.tooling import CACHE_ENV, NODE_MODULES_ENV, Tooling
from tests.pyodide.selection import EXCLUDED, SUITES
from tests.pyodide.tier import REPO, run_tier

pytestmark = [pytest.mark.pyodide, pytest.mark.timeout(600)]


@pytest.fixture(scope="module", autouse=True)
def _tooling() -> Iterator[None]:
    """The Makefile's settings, for a pytest started without make."""
    defaults = {NODE_MODULES_ENV: REPO / "node_modules", CACHE_ENV: REPO / ".cache" / "helix"}
    added = [name for name in defaults if not os.environ.get(name)]
    for name in added:
        os.environ[name] = str(defaults[name])
    missing = Tooling(Path(os.environ[NODE_MODULES_ENV]).resolve()).missing()
    if missing:
        pytest.skip(f"the Node tooling is not installed ({', '.join(missing)}): make install-node")
    yield
    for name in added:
        os.environ.pop(name, None)


def test_the_selection_names_what_exists() -> None:
    for path in (*SUITES, *EXCLUDED):
        assert (REPO / path.split("::")[0]).exists(), f"{path} is gone: update selection.py"
    assert all(reason.strip() for reason in EXCLUDED.values())


def test_the_tier_runs_in_pyodide_and_fails_what_cpython_only_code_does() -> None:
    result = run_tier(["-rA", "tests/pyodide/probe_cpython_only.py"], timeout=300)
    outcomes = {
        name: outcome
        for outcome, name in re.findall(r"^(PASSED|FAILED) \S+::(\w+)", result.output, re.M)
    }
    assert outcomes == {
        "test_runs_in_pyodide": "PASSED",
        "test_async_with_an_async_fixture": "PASSED",
        "test_cpython_only_subprocess": "FAILED",
        "test_a_hang_is_cut_by_its_timeout": "FAILED",
    }, result.output[-4000:]
    assert result.returncode == 1


def test_the_pure_python_suites_pass_in_pyodide() -> None:
    result = run_tier(timeout=540)
    print(f"pyodide tier: {result.counts}")
    assert result.returncode == 0, result.output[-8000:]
    # Guards against a tier that collects next to nothing (about 830 tests run today).
    assert result.counts.get("passed", 0) >= 600, result.counts
