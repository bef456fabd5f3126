"""The ``worker-real`` tier: the HTTP suites against the real Python Worker runtime (local
workerd through ``wrangler dev --local``, offline). See :mod:`.harness`.

The Node tooling and the caches are the repository's, as the Makefile sets them
(``HELIX_NODE_MODULES``, ``HELIX_CACHE_DIR``), unless the environment names others.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helix_agents.workerd.tooling import CACHE_ENV, NODE_MODULES_ENV, Tooling

from .harness import WorkerPool
from .relay import Relay

ROOT = Path(__file__).resolve().parents[2]
_POOLS: list[WorkerPool] = []


@pytest.fixture(scope="session")
def worker_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    """The session's real Workers (started on first use, killed at the end)."""
    defaults = {NODE_MODULES_ENV: ROOT / "node_modules", CACHE_ENV: ROOT / ".cache" / "helix"}
    added = [name for name in defaults if not os.environ.get(name)]
    for name in added:
        os.environ[name] = str(defaults[name])
    relay: Relay | None = None
    pool: WorkerPool | None = None
    try:
        missing = Tooling(Path(os.environ[NODE_MODULES_ENV]).resolve()).missing()
        if missing:
            pytest.skip(
                f"the Node tooling is not installed ({', '.join(missing)}): "
                "`make install-worker` installs it"
            )
        relay = Relay()
        pool = WorkerPool(tmp_path_factory.mktemp("workers"), relay)
        _POOLS.append(pool)
        yield pool
    finally:
        if pool is not None:
            pool.close()
        if relay is not None:
            relay.close()
        for name in added:
            os.environ.pop(name, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The suites' tests keep the timeout of the module that defines them (a star import
    brings only the last module's ``pytestmark``)."""
    for item in items:
        function = getattr(item, "function", None)
        if not item.nodeid.startswith("tests/worker_real/") or function is None:
            continue
        marks = getattr(sys.modules[function.__module__], "pytestmark", [])
        for mark in marks if isinstance(marks, list) else [marks]:
            if mark.name == "timeout":
                item.add_marker(mark)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for pool in _POOLS:
        if pool.started:
            total = sum(seconds for _, seconds in pool.started)
            terminalreporter.write_line(
                f"worker-real: {len(pool.started)} Workers started in {total:.1f} s"
            )
            if terminalreporter.verbosity > 0:
                for env, seconds in pool.started:
                    terminalreporter.write_line(f"  {seconds:5.1f} s  env {dict(env)}")
