"""Inside Pyodide: run pytest on the selected suites, async tests on Pyodide's event loop.

Imported by ``run.mjs`` in Pyodide, never by CPython's pytest (this package's test module
only starts Node).

pytest-asyncio runs each coroutine through an ``asyncio.Runner``, which needs a loop it can
block on. Pyodide has one event loop, the ``WebLoop``, always running on the JavaScript event
loop, so ``Runner.run`` refuses ("cannot be called from a running event loop"). The runner
below keeps Runner's surface and semantics that the suites rely on (a coroutine run to its
end, what a test left running cancelled at the end) and blocks with ``pyodide.ffi.run_sync``,
which suspends the WebAssembly stack (JSPI) until the task is done.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from pyodide.ffi import run_sync

from tests.pyodide.selection import excluded_file, exclusion_reason

#: The running test's timeout in seconds (0: none), from its ``timeout`` mark or the ini.
_timeout = 0.0


class WebLoopRunner:
    """``asyncio.Runner`` on Pyodide's running WebLoop.

    It also enforces the test's timeout on each coroutine it runs (setup, test, teardown):
    pytest-timeout's alarm signal and thread do not exist in Pyodide, and a test that hangs
    would otherwise hang the whole tier.
    """

    def __init__(self, *, debug: bool | None = None, loop_factory: Any = None) -> None:
        self._loop = asyncio.get_event_loop()
        self._before: set[asyncio.Task[Any]] = set()

    def __enter__(self) -> WebLoopRunner:
        self._before = set(asyncio.all_tasks(self._loop))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def run(
        self, coro: Coroutine[Any, Any, Any], *, context: contextvars.Context | None = None
    ) -> Any:
        task = self._loop.create_task(coro, context=context)
        return run_sync(asyncio.wait_for(task, _timeout) if _timeout > 0 else task)

    def close(self) -> None:
        # As asyncio.Runner.close: tasks the test left behind are cancelled and awaited, so
        # they neither leak into the next test nor outlive their database.
        left = [t for t in asyncio.all_tasks(self._loop) if t not in self._before and not t.done()]
        for task in left:
            task.cancel()
        if left:
            run_sync(asyncio.gather(*left, return_exceptions=True))
        run_sync(self._loop.shutdown_asyncgens())


class Selection:
    """Leaves out what cannot run in Pyodide (tests/pyodide/selection.py says why): excluded
    files are not even imported (some import uvicorn), excluded tests are deselected."""

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        relative = collection_path.relative_to(config.rootpath).as_posix()
        return True if excluded_file(relative) else None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        keep, drop = [], []
        for item in items:
            callspec = getattr(item, "callspec", None)
            params = dict(callspec.params) if callspec is not None else {}
            (drop if exclusion_reason(item.nodeid, params) else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


class PyodideAsyncio:
    """Points pytest-asyncio at the runner above, once pytest has loaded (and rewritten) it,
    and takes over the ``timeout`` ini option and mark from pytest-timeout (not loaded)."""

    def pytest_addoption(self, parser: pytest.Parser) -> None:
        parser.addini("timeout", "seconds an async test may take (0: no limit)", default="0")

    def pytest_configure(self, config: pytest.Config) -> None:
        sys.modules["pytest_asyncio.plugin"].Runner = WebLoopRunner
        config.addinivalue_line("markers", "timeout(seconds): an async test's time limit")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        global _timeout
        mark = item.get_closest_marker("timeout")
        _timeout = float(mark.args[0] if mark and mark.args else item.config.getini("timeout"))


def main(args: list[str]) -> int:
    return int(pytest.main(args, plugins=[PyodideAsyncio(), Selection()]))
