"""The chat page on the real Python Worker runtime (local workerd), in headless Chromium:
the page the Worker serves from the package, its API calls relative to where it is served
(here under a test mount), the offline-demo note and example prompts, a structured output
as a result card, and Approve / Deny with a reason. The very tests of
``tests/browser/test_chat_features.py``, with ``make_server`` serving real Workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.cdp import Page, chromium_page
from tests.browser.test_chat_features import (
    test_approve_and_deny_with_a_reason,
    test_empty_screen_examples_and_the_demo_note,
    test_structured_output_is_a_result_card,
)

from .harness import RealServers, WorkerPool

__all__ = [
    "test_approve_and_deny_with_a_reason",
    "test_empty_screen_examples_and_the_demo_note",
    "test_structured_output_is_a_result_card",
]

pytestmark = [pytest.mark.worker_real, pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture
async def make_server(
    worker_pool: WorkerPool, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Any]]:
    servers = RealServers(worker_pool, request.node.nodeid)
    try:
        yield servers.make
    finally:
        await servers.close()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    async with chromium_page(tmp_path / "profile") as page:
        yield page
