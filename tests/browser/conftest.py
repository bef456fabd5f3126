"""Chromium pages for the browser tests (``make_server``, the real server, comes from
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .cdp import Page, chromium_page


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    async with chromium_page(tmp_path / "profile") as page:
        yield page
