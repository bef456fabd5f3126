"""The chat page in headless Chromium against ``helix worker`` (the real Worker runtime):
the flow of tests/browser/test_chat_page.py, with its driver. Send a message, watch the
tool call and the answer stream in, reload mid-run and see the page reattach where the run
is, then every word exactly once at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.browser.cdp import Page, chromium_page

from .helix_worker import HelixWorker, slow_text, snapshot

pytestmark = [pytest.mark.worker_real, pytest.mark.browser, pytest.mark.timeout(300)]

ASSISTANT_TEXT = (
    "[...document.querySelectorAll('.msg[data-role=assistant] .part-text')]"
    ".map(e => e.textContent).join('|')"
)
STATUS = "document.getElementById('status').dataset.status"


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    async with chromium_page(tmp_path / "profile") as page:
        yield page


async def send(page: Page, agent: str, text: str) -> None:
    await page.evaluate(
        f"document.getElementById('agent').value = {agent!r}; "
        f"document.getElementById('input').value = {text!r}; "
        "document.getElementById('send').click(); true"
    )


async def test_send_stream_reload_mid_run_and_finish(app_worker: HelixWorker, page: Page) -> None:
    """The ``slow`` agent looks the city up, then says 60 words, 0.1 s apart, in the
    Worker's Workflow step."""
    await page.goto(f"{app_worker.url}/")
    await page.wait_for("document.body.dataset.ready === 'true'")
    options = await page.evaluate(
        "[...document.querySelectorAll('#agent option')].map(o => o.value)"
    )
    assert sorted(options) == ["echo", "ops", "slow"]
    await send(page, "slow", "What is the weather in Paris?")
    await page.wait_for(f"{ASSISTANT_TEXT}.includes('w3 ')", timeout=60)
    tool = await page.evaluate("document.querySelector('.part-tool').textContent")
    assert 'lookup({"city":"Paris"})' in tool
    assert '"sky":"clear"' in tool
    session = await page.wait_for("location.hash.split('=')[1]")
    assert await page.evaluate(STATUS) in ("streaming", "active")

    # Reload mid-run: the page reattaches (the snapshot, then the run's stream from its start).
    await page.reload()
    await page.wait_for("document.body.dataset.ready === 'true'")
    assert await page.evaluate("location.hash") == f"#session={session}"
    await page.wait_for(f"{ASSISTANT_TEXT}.includes('w3 ')")
    assert await page.evaluate("document.getElementById('agent').value") == "slow"
    assert await page.evaluate(STATUS) == "streaming"
    assert not (await page.evaluate(ASSISTANT_TEXT)).endswith("w59 ")
    user = await page.evaluate(
        "document.querySelector('.msg[data-role=user] .part-text').textContent"
    )
    assert user == "What is the weather in Paris?"

    await page.wait_for(f"{STATUS} === 'completed'", timeout=120)
    # Every word exactly once: nothing was lost or repeated across the reload.
    assert await page.evaluate(ASSISTANT_TEXT) == slow_text(60)
    assert await page.evaluate("document.querySelectorAll('.part-tool').length") == 1
    assert await page.evaluate("document.querySelectorAll('.msg').length") == 2
    stored = snapshot(app_worker.url, session)
    assert stored["status"] == "completed"
    assert stored["output"] == slow_text(60)
