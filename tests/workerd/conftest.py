"""Fixtures of the local Worker runtime's tests (``helix_agents.workerd``).

The Node tooling and the caches are the repository's, as the Makefile sets them
(``HELIX_NODE_MODULES``, ``HELIX_CACHE_DIR``), unless the environment names others.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helix_agents.workerd.runtime import PreparedRuntime, prepare_runtime
from helix_agents.workerd.tooling import CACHE_ENV, NODE_MODULES_ENV, Tooling

from .helix_worker import HelixWorker, write_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def _repository_tooling() -> Iterator[None]:
    """The Makefile's settings, for a pytest started without make."""
    defaults = {NODE_MODULES_ENV: ROOT / "node_modules", CACHE_ENV: ROOT / ".cache" / "helix"}
    added = [name for name in defaults if not os.environ.get(name)]
    for name in added:
        os.environ[name] = str(defaults[name])
    yield
    for name in added:
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def tooling(_repository_tooling: None) -> Tooling:
    found = Tooling(Path(os.environ[NODE_MODULES_ENV]).resolve())
    if found.missing():
        pytest.skip(
            f"the Node tooling is not installed ({', '.join(found.missing())}): "
            "`make install-worker` installs it"
        )
    return found


@pytest.fixture(scope="session")
def runtime(tooling: Tooling) -> PreparedRuntime:
    """The prepared runtime of the repository's cache (built here if it is not current)."""
    return prepare_runtime(install=False)


@pytest.fixture(scope="package")
def app_worker(
    runtime: PreparedRuntime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HelixWorker]:
    """One ``helix worker --app myagents:registry`` serving the test app (helix_worker.py)
    for the tests of this folder that only talk to it."""
    root = tmp_path_factory.mktemp("app-worker")
    write_app(root / "project")
    worker = HelixWorker(
        root / "project", root / "state", app="myagents:registry", with_testing=True
    ).start()
    try:
        worker.wait_ready()
        yield worker
    finally:
        try:
            if worker.process is not None and worker.process.poll() is None:
                worker.interrupt()
        finally:
            worker.close()
