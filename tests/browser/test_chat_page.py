"""The chat page of ``helix dev`` in headless Chromium: send, watch the answer stream in,
reload mid-run and see the run carry on where it was, interrupt and resume, abort."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from helix_agents import Agent, tool
from helix_agents.testing import FunctionModel, call_tool
from tests.http.agents import gated_text, lookup

from .cdp import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ASSISTANT_TEXT = (
    "[...document.querySelectorAll('.msg[data-role=assistant] .part-text')]"
    ".map(e => e.textContent).join('|')"
)
STATUS = "document.getElementById('status').dataset.status"


def weather(gate: asyncio.Event) -> Agent:
    """Looks the city up, says 20 words, waits for ``gate``, says 20 more."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if not info.tool_results:
            yield call_tool("lookup", city="Paris")
            return
        for i in range(20):
            yield f"a{i} "
        await gate.wait()
        for i in range(20):
            yield f"b{i} "

    return Agent(name="weather", tools=[lookup], model=FunctionModel(stream_function=stream))


def chatterbox() -> Agent:
    """Says 200 words, one every 30 ms; once its answer is in the history, says
    ``resumed``."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if any(getattr(m, "role", None) == "assistant" for m in messages):
            yield "resumed"
            return
        for i in range(200):
            yield f"w{i} "
            await asyncio.sleep(0.03)

    return Agent(name="chatterbox", model=FunctionModel(stream_function=stream))


async def send(page: Page, text: str) -> None:
    await page.evaluate(
        f"document.getElementById('input').value = {text!r}; "
        "document.getElementById('send').click(); true"
    )


async def test_send_stream_reload_mid_run_and_continue(make_server: Any, page: Page) -> None:
    gate = asyncio.Event()
    server = await make_server(weather(gate))
    await page.goto(f"{server.url}/")
    await page.wait_for("document.body.dataset.ready === 'true'")
    assert await page.evaluate("document.getElementById('agent').value") == "weather"
    await send(page, "What is the weather in Paris?")
    # The tool call and its result show, then the text streams in (and stops at the gate).
    await page.wait_for(f"{ASSISTANT_TEXT}.includes('a19')")
    tool = await page.evaluate("document.querySelector('.part-tool').textContent")
    assert 'lookup({"city":"Paris"})' in tool
    assert '"sky":"clear"' in tool
    session = await page.wait_for("location.hash.split('=')[1]")
    assert await page.evaluate(STATUS) in ("streaming", "active")

    # Reload mid-run: the page reattaches (snapshot, then the run's stream from its start).
    await page.reload()
    await page.wait_for("document.body.dataset.ready === 'true'")
    assert await page.evaluate("location.hash") == f"#session={session}"
    await page.wait_for(f"{ASSISTANT_TEXT}.includes('a19')")
    assert await page.evaluate(STATUS) == "streaming"
    user = await page.evaluate(
        "document.querySelector('.msg[data-role=user] .part-text').textContent"
    )
    assert user == "What is the weather in Paris?"

    gate.set()
    await page.wait_for(f"{STATUS} === 'completed'")
    assert await page.evaluate("document.getElementById('status').textContent") == "completed"
    # Every word exactly once: nothing was lost or repeated across the reload.
    assert await page.evaluate(ASSISTANT_TEXT) == gated_text(20)
    assert await page.evaluate("document.querySelectorAll('.part-tool').length") == 1
    assert await page.evaluate("document.querySelectorAll('.msg').length") == 2


async def test_interrupt_and_resume_buttons(make_server: Any, page: Page) -> None:
    # Interrupt while the answer streams (a word every 30 ms): the answer stops at once,
    # keeps its text on the page and in the session; Resume carries on in a fresh call.
    server = await make_server(chatterbox())
    await page.goto(f"{server.url}/")
    await page.wait_for("document.body.dataset.ready === 'true'")
    await send(page, "go")
    await page.wait_for(f"{ASSISTANT_TEXT}.includes('w5 ')")
    await page.wait_for("!document.getElementById('interrupt').disabled")
    await page.evaluate("document.getElementById('interrupt').click(); true")
    # Well before the 200 words (6 s) are said.
    await page.wait_for(f"{STATUS} === 'interrupted'", timeout=3)
    assert await page.evaluate("document.getElementById('status').textContent") == "interrupted"
    shown = await page.evaluate(ASSISTANT_TEXT)
    assert shown.startswith("w0 w1 w2 w3 w4 w5 ")
    assert "w199" not in shown
    session = await page.evaluate("location.hash.split('=')[1]")
    stored = await server.host.executor.store.load_messages(session)
    assert stored[-1][1].content == shown
    await page.evaluate("document.getElementById('resume').click(); true")
    await page.wait_for(f"{STATUS} === 'completed'")
    assert await page.evaluate(ASSISTANT_TEXT) == f"{shown}|resumed"


async def test_abort_keeps_the_streamed_text_on_the_page(make_server: Any, page: Page) -> None:
    server = await make_server(chatterbox())
    await page.goto(f"{server.url}/")
    await page.wait_for("document.body.dataset.ready === 'true'")
    await send(page, "go")
    await page.wait_for(f"{ASSISTANT_TEXT}.includes('w5 ')")
    await page.evaluate("document.getElementById('abort').click(); true")
    await page.wait_for(f"{STATUS} === 'aborted'", timeout=3)
    shown = await page.evaluate(ASSISTANT_TEXT)
    assert shown.startswith("w0 w1 w2 w3 w4 w5 ")
    # The page reads the session again once the stream ended: the text is still there.
    await page.reload()
    await page.wait_for("document.body.dataset.ready === 'true'")
    await page.wait_for(f"{STATUS} === 'aborted'")
    assert await page.evaluate(ASSISTANT_TEXT) == shown


async def test_approve_a_tool_call_from_the_page(make_server: Any, page: Page) -> None:
    executed: list[int] = []

    @tool(requires_approval=True)
    def transfer(amount: int) -> str:
        """Move money."""
        executed.append(amount)
        return f"sent {amount}"

    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("transfer", amount=7)
        return f"{info.tool_results[-1].status}: {info.tool_results[-1].content}"

    server = await make_server(Agent(name="bank", tools=[transfer], model=FunctionModel(model)))
    await page.goto(f"{server.url}/")
    await page.wait_for("document.body.dataset.ready === 'true'")
    await send(page, "pay")
    await page.wait_for("!!document.querySelector('.part-tool button.approve')")
    await page.wait_for(f"{STATUS} === 'suspended_client_tool'")
    assert await page.evaluate("document.getElementById('status').textContent") == (
        "waiting for your approval"
    )
    assert executed == []
    await page.evaluate("document.querySelector('.part-tool button.approve').click(); true")
    await page.wait_for(f"{STATUS} === 'completed'")
    assert executed == [7]
    assert await page.evaluate(ASSISTANT_TEXT) == "success: sent 7"
    tool_text = await page.evaluate("document.querySelector('.part-tool').textContent")
    assert '"sent 7"' in tool_text
