from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.http.conftest import make_server  # noqa: F401  (the same real server)

from .cdp import Browser, Page, chromium_path


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed: `make test` installs it (make install-chromium)")
    browser = await Browser(executable, tmp_path / "profile").start()
    try:
        page = await browser.page()
        try:
            yield page
        finally:
            await page.close()
    finally:
        await browser.stop()
