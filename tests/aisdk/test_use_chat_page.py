"""A ``useChat`` page (``page/app.jsx``: the AI SDK's React hook as its docs use it) in
headless Chromium against the local host, with ai 6 + @ai-sdk/react 3 and with ai 7 +
@ai-sdk/react 4: streaming, approvals through ``addToolApprovalResponse``, a client tool
through ``addToolOutput`` (both sent on by ``sendAutomaticallyWhen``), interrupt and resume,
and a reload while each kind of instance streams (the first one of a turn, and every kind
of resumed one). Whenever the run is at rest, the page's messages deep-equal the server's
snapshot and pass ``safeValidateUIMessages``, and the page saw no error.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.browser.cdp import Page

from .agents import bank, locator, stepper, weather
from .harness import Server, without_decisions

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


class ChatPage:
    def __init__(self, page: Page, server: Server, session: str, agent: str) -> None:
        self.page = page
        self.server = server
        self.session = session
        self.agent = agent

    async def open(self) -> None:
        await self.page.goto(self.server.page_url(self.session, self.agent))
        await self.page.wait_for("window.__t !== undefined && window.__t.ready === true")

    async def reload(self) -> None:
        await self.page.reload()
        await self.page.wait_for("window.__t !== undefined && window.__t.ready === true")

    async def js(self, expression: str) -> Any:
        return await self.page.evaluate(expression)

    async def wait_for(self, condition: str) -> None:
        """Until ``condition`` holds in the page; an error the page saw fails at once."""
        await self.page.wait_for(f"__t.errors.length > 0 || ({condition})")
        assert await self.js("__t.errors") == []

    async def finishes(self) -> int:
        count: int = await self.js("__t.finishes.length")
        return count

    async def wait_finished(self, count: int) -> None:
        """Until ``count`` responses have finished and the chat is ready."""
        await self.wait_for(f"__t.finishes.length >= {count} && __t.status() === 'ready'")

    async def wait_text(self, text: str) -> None:
        """Until the last message has a text part containing ``text``."""
        await self.wait_for(
            "(__t.messages().at(-1)?.parts ?? []).some(p => p.type === 'text' && "
            f"p.text.includes({json.dumps(text)}))"
        )

    async def wait_replayed(self, count: int = 1) -> None:
        """Until ``count`` resumed streams finished (and, with ai 6, the page took the
        snapshot's messages after each)."""
        done = f"__t.replays >= {count} && __t.status() === 'ready'"
        if self.server.version == 6:
            done += f" && __t.resynced >= {count}"
        await self.wait_for(done)

    async def tool_part(self, tool: str) -> dict[str, Any]:
        part: dict[str, Any] = await self.js(
            f"__t.messages().at(-1).parts.find(p => p.type === {json.dumps('tool-' + tool)})"
        )
        return part

    async def check(self, *, replayed: bool = False, decisions: bool = False) -> dict[str, Any]:
        """The page's messages are the snapshot's and valid, and nothing went wrong.

        ``replayed``: the last message was rebuilt from a resumed stream. With ai 6 the page
        then took the snapshot's messages; what the replay itself built must be the same,
        except (``decisions``) for the approval of a call decided in an earlier instance of
        the turn: ai 6 has no chunk that carries a decision, so the replay leaves the bare
        ``{id}`` of the request there, which ai 6's own validator refuses."""
        snapshot = await self.server.snapshot(self.session)
        assert snapshot["activeRun"] is None
        expected = snapshot["messages"]
        if replayed and self.server.version == 6:
            built = await self.js("__t.beforeResync")
            assert built[:-1] == expected[:-1]
            if decisions:
                assert built[-1] == without_decisions(expected[-1])
                assert (await self.js("__t.validate(__t.beforeResync)"))["success"] is False
            else:
                assert built[-1] == expected[-1]
        assert await self.js("__t.messages()") == expected
        assert await self.js("__t.validate()") == {"success": True}
        assert await self.js("__t.errors") == []
        return snapshot


async def test_stream_reload_mid_run_and_a_second_turn(make_server: Any, page: Page) -> None:
    gate = asyncio.Event()
    server = await make_server(weather(gate))
    chat = ChatPage(page, server, "w1", "weather")
    await chat.open()
    await chat.js("__t.send('Weather in Paris?')")
    await chat.wait_text("a4 ")
    # Reload while the turn's first instance streams: snapshot, then the replay.
    await chat.reload()
    await chat.wait_text("a4 ")
    assert await chat.js("__t.status()") == "streaming"
    gate.set()
    await chat.wait_replayed()
    snapshot = await chat.check(replayed=True)
    assert snapshot["status"] == "completed"
    assert await chat.js("__t.finishes.map(f => f.finishReason)") == ["stop"]

    await chat.js("__t.send('And tomorrow?')")
    await chat.wait_finished(2)
    snapshot = await chat.check()
    assert [m["role"] for m in snapshot["messages"]] == ["user", "assistant"] * 2


@pytest.mark.parametrize(
    ("approved", "reason", "reload"),
    [(True, None, False), (True, None, True), (False, "too much", True)],
    ids=["approve", "approve-reload", "deny-reload"],
)
async def test_approval(
    make_server: Any, page: Page, approved: bool, reason: str | None, reload: bool
) -> None:
    gate = asyncio.Event()
    executed: list[int] = []
    server = await make_server(bank(gate, executed))
    chat = ChatPage(page, server, "pay", "bank")
    await chat.open()
    await chat.js("__t.send('pay 7')")
    await chat.wait_finished(1)
    snapshot = await chat.check()
    assert snapshot["status"] == "suspended_client_tool"
    part = await chat.tool_part("transfer")
    assert part["state"] == "approval-requested"

    arguments = ", ".join(
        json.dumps(a) for a in [part["approval"]["id"], approved, reason] if a is not None
    )
    await chat.js(f"__t.approve({arguments})")
    outcome = "success" if approved else "denied"
    await chat.wait_text(f"{outcome} ")  # sent on by sendAutomaticallyWhen; --r1 streams
    if reload:
        await chat.reload()
        await chat.wait_text(f"{outcome} ")
        gate.set()
        await chat.wait_replayed()
    else:
        gate.set()
        await chat.wait_finished(2)
    snapshot = await chat.check(replayed=reload, decisions=True)
    assert snapshot["status"] == "completed"
    assert executed == ([7] if approved else [])
    part = await chat.tool_part("transfer")
    assert part["state"] == ("output-available" if approved else "output-denied")
    decision: dict[str, Any] = {"id": part["approval"]["id"], "approved": approved}
    if reason is not None:
        decision["reason"] = reason
    assert part["approval"] == decision


async def test_client_tool_and_a_reload_in_the_resumed_instance(
    make_server: Any, page: Page
) -> None:
    gate = asyncio.Event()
    server = await make_server(locator(gate))
    chat = ChatPage(page, server, "where", "locator")
    await chat.open()
    await chat.js("__t.send('where am I?')")
    await chat.wait_finished(1)
    await chat.check()
    part = await chat.tool_part("get_location")
    assert part["state"] == "input-available"

    await chat.js(f"__t.output('get_location', {json.dumps(part['toolCallId'])}, {{city: 'Oslo'}})")
    await chat.wait_text("you are in ")
    await chat.reload()
    await chat.wait_text("you are in ")
    gate.set()
    await chat.wait_replayed()
    snapshot = await chat.check(replayed=True)
    assert snapshot["status"] == "completed"
    assert (await chat.tool_part("get_location"))["output"] == {"city": "Oslo"}


async def test_interrupt_resume_and_reloads(make_server: Any, page: Page) -> None:
    first, second = asyncio.Event(), asyncio.Event()
    server = await make_server(stepper(first, second))
    chat = ChatPage(page, server, "steps", "stepper")
    await chat.open()
    await chat.js("__t.send('go')")
    await chat.wait_text("checking ")
    await server.post("/chat/steps/interrupt")
    # The model is silent (it waits on ``first``): the interrupt cuts its call short.
    await chat.wait_finished(1)
    first.set()
    snapshot = await chat.check()
    assert snapshot["status"] == "interrupted"
    assert await chat.js("__t.finishes.map(f => f.finishReason)") == ["other"]

    # Resume the run; the page picks the resumed instance up with resumeStream(), then is
    # reloaded while it streams.
    await server.post("/chat/steps/resume")
    await chat.js("__t.resume()")
    await chat.wait_text("found ")
    await chat.reload()
    await chat.wait_text("found ")
    second.set()
    await chat.wait_replayed()
    snapshot = await chat.check(replayed=True)
    assert snapshot["status"] == "completed"
    assert (await chat.tool_part("lookup"))["state"] == "output-available"
