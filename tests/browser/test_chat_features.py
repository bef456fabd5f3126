"""The chat page as a user meets it, in headless Chromium against a real server: an empty
screen with example prompts and the offline-demo note, a sessions list to switch between,
statuses in words, a structured output as a result card, a sub-agent's work nested (live
and after a reload), Approve / Deny with a reason, a client tool's result (or error) sent
from the page, cited sources, and a change of agent that starts a new chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from helix_agents import Agent, ToolContext, tool
from helix_agents.examples import example_registry
from helix_agents.models.demo import DemoModel
from helix_agents.subagents import subagent_tool
from helix_agents.testing import FunctionModel, call_tool
from tests.http.agents import asker, boss, locator

from .cdp import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

READY = "document.body.dataset.ready === 'true'"
STATUS = "document.getElementById('status').dataset.status"
STATUS_TEXT = "document.getElementById('status').textContent"
ASSISTANT_TEXT = (
    "[...document.querySelectorAll('#messages > .msg[data-role=assistant] > .body > .part-text')]"
    ".map(e => e.textContent).join('|')"
)
SIDEBAR = (
    "[...document.querySelectorAll('#sessions button')].map(b => "
    "[b.dataset.session, b.querySelector('.title').textContent, "
    "b.querySelector('.meta').textContent])"
)


def bundled() -> list[Agent]:
    """The bundled examples on the offline demo model (no pace: tests do not watch)."""
    return list(example_registry(DemoModel()))


async def open_page(page: Page, url: str) -> None:
    await page.goto(f"{url}/")
    await page.wait_for(READY)


async def send(page: Page, text: str) -> None:
    await page.evaluate(
        f"document.getElementById('input').value = {text!r}; "
        "document.getElementById('send').click(); true"
    )


async def answer(page: Page, form: str, text: str, button: str) -> None:
    """Type ``text`` into the field of the ``form`` (a CSS class) and press ``button``."""
    await page.evaluate(
        f"document.querySelector('.{form} input').value = {text!r}; "
        f"document.querySelector('.{form} button.{button}').click(); true"
    )


async def pick_agent(page: Page, name: str) -> None:
    await page.evaluate(
        f"{{ const s = document.getElementById('agent'); s.value = {name!r}; "
        "s.dispatchEvent(new Event('change')); } true"
    )


async def test_empty_screen_examples_and_the_demo_note(make_server: Any, page: Page) -> None:
    server = await make_server(*bundled())
    await open_page(page, server.url)
    # Every bundled agent offers example prompts, and the note says the demo model answers.
    for name in ("assistant", "manager", "ops", "planner"):
        await pick_agent(page, name)
        examples = await page.evaluate(
            "[...document.querySelectorAll('#empty #examples button')].map(b => b.textContent)"
        )
        assert examples, name
        heading = await page.evaluate("document.querySelector('#empty h2').textContent")
        assert heading == f"Chat with {name}"
        note = await page.evaluate(
            "(() => { const n = document.getElementById('notice'); "
            "return getComputedStyle(n).display !== 'none' ? n.textContent : ''; })()"
        )
        assert "offline demo model is answering" in note
    # Clicking an example sends it: the demo model understands every one of them.
    await pick_agent(page, "assistant")
    await page.evaluate(
        "[...document.querySelectorAll('#examples button')]"
        ".find(b => b.textContent === 'What is 12*7?').click(); true"
    )
    await page.wait_for(f"{STATUS} === 'completed'")
    assert "12*7 = 84." in await page.evaluate(ASSISTANT_TEXT)
    assert await page.evaluate("document.getElementById('empty')") is None
    assert await page.evaluate(STATUS_TEXT) == "completed"


async def test_no_demo_note_for_another_model(make_server: Any, page: Page) -> None:
    server = await make_server(Agent(name="plain", model=FunctionModel(lambda m, i: "hi")))
    await open_page(page, server.url)
    assert (
        await page.evaluate("getComputedStyle(document.getElementById('notice')).display") == "none"
    )
    assert await page.evaluate("document.querySelectorAll('#examples button').length") == 0


async def test_structured_output_is_a_result_card(make_server: Any, page: Page) -> None:
    server = await make_server(*bundled())
    await open_page(page, server.url)
    await pick_agent(page, "planner")
    await send(page, "Plan 3 days in Tokyo")
    await page.wait_for(f"{STATUS} === 'completed'")
    card = await page.evaluate("document.querySelector('.result-card').innerText")
    assert card.startswith("RESULT\ncity\nTokyo\ndays\n3\nactivities\n")
    assert "Tokyo" in card
    assert "days" in card
    # No tool call left "input-available": the output tool is the card, not a waiting call.
    tools = await page.evaluate(
        "[...document.querySelectorAll('.part-tool')].map(t => [t.textContent, t.dataset.state])"
    )
    assert [t for t in tools if "final_result" in t[0]] == []
    assert all(state != "input-available" for _, state in tools)
    # The same after a reload (from the snapshot).
    await page.reload()
    await page.wait_for(READY)
    await page.wait_for(f"{STATUS} === 'completed'")
    assert await page.evaluate("document.querySelector('.result-card').innerText") == card


async def test_approve_and_deny_with_a_reason(make_server: Any, page: Page) -> None:
    server = await make_server(*bundled())
    await open_page(page, server.url)
    await pick_agent(page, "ops")
    await send(page, "Deploy billing 1.5.0")
    await page.wait_for("!!document.querySelector('.approval button.deny')")
    await page.wait_for(f"{STATUS} === 'suspended_client_tool'")
    assert await page.evaluate(STATUS_TEXT) == "waiting for your approval"
    # Styled buttons, a labelled reason field.
    colors = await page.evaluate(
        "['approve', 'deny'].map(c => getComputedStyle("
        "document.querySelector('.approval button.' + c)).backgroundColor)"
    )
    assert colors[0] != colors[1]
    assert "rgba(0, 0, 0, 0)" not in colors
    assert await page.evaluate(
        "document.querySelector('.approval input.reason').getAttribute('aria-label')"
    )
    # The sessions list says the same, in words (the list's first entry: the newest).
    session = await page.evaluate("location.hash.split('=')[1]")
    await page.wait_for(f"{SIDEBAR}.length > 0 && {SIDEBAR}[0][0] === {session!r}")
    entry = (await page.evaluate(SIDEBAR))[0]
    assert entry[1:] == ["Deploy billing 1.5.0", "ops · waiting for your approval"]

    await answer(page, "approval", "not on a Friday", "deny")
    await page.wait_for(f"{STATUS} === 'completed'")
    assert "was not approved" in await page.evaluate(ASSISTANT_TEXT)
    decision = await page.evaluate("document.querySelector('.part-tool .decision').textContent")
    assert decision == "✗ denied: not on a Friday"
    async with server.client() as client:
        snapshot = (await client.get(f"/chat/{session}")).json()
    (deploy,) = [p for p in snapshot["messages"][-1]["parts"] if p["type"] == "tool-deploy"]
    assert deploy["approval"]["approved"] is False
    assert deploy["approval"]["reason"] == "not on a Friday"

    # Approve (no reason) in a new chat: the deploy runs.
    await page.evaluate("document.getElementById('new').click(); true")
    await send(page, "Deploy billing 1.5.0")
    await page.wait_for("!!document.querySelector('.approval button.approve')")
    await page.evaluate("document.querySelector('.approval button.approve').click(); true")
    await page.wait_for(f"{STATUS} === 'completed'")
    assert "rolling out" in await page.evaluate(ASSISTANT_TEXT)
    assert (
        await page.evaluate("document.querySelector('.part-tool .decision').textContent")
        == "✓ approved"
    )


async def test_sessions_list_switches_sessions(make_server: Any, page: Page) -> None:
    server = await make_server(*bundled())
    await open_page(page, server.url)
    await send(page, "What is 12*7?")
    await page.wait_for(f"{STATUS} === 'completed'")
    first = await page.evaluate("location.hash.split('=')[1]")
    await page.evaluate("document.getElementById('new').click(); true")
    assert await page.evaluate("location.hash") == ""
    await send(page, "What is the weather in Tokyo?")
    await page.wait_for(f"{STATUS} === 'completed'")
    second = await page.evaluate("location.hash.split('=')[1]")
    # The list is reloaded when a turn starts (the new session shows as running) and again
    # when its stream ends: wait for the second load.
    await page.wait_for(
        f"{SIDEBAR}.length === 2 && {SIDEBAR}.every(row => row[2].endsWith('completed'))"
    )
    listed = await page.evaluate(SIDEBAR)
    # Newest first, titled by the first message, statuses in words.
    assert listed == [
        [second, "What is the weather in Tokyo?", "assistant · completed"],
        [first, "What is 12*7?", "assistant · completed"],
    ]
    assert (
        await page.evaluate(
            "document.querySelector('#sessions button[aria-current=true]').dataset.session"
        )
        == second
    )
    # Switch to the first session: its conversation, its URL.
    selector = f'#sessions button[data-session="{first}"]'
    await page.evaluate(f"document.querySelector({selector!r}).click(); true")
    await page.wait_for(f"location.hash === '#session={first}'")
    await page.wait_for(f"{ASSISTANT_TEXT}.includes('84')")
    assert "Tokyo" not in await page.evaluate(ASSISTANT_TEXT)
    assert await page.evaluate(STATUS_TEXT) == "completed"


async def test_changing_the_agent_starts_a_new_chat(make_server: Any, page: Page) -> None:
    server = await make_server(*bundled())
    await open_page(page, server.url)
    await send(page, "What is 12*7?")
    await page.wait_for(f"{STATUS} === 'completed'")
    first = await page.evaluate("location.hash.split('=')[1]")
    await pick_agent(page, "planner")
    assert await page.evaluate("location.hash") == ""
    assert await page.evaluate("document.querySelectorAll('#messages .msg').length") == 0
    assert await page.evaluate("!!document.getElementById('empty')")
    await send(page, "Plan 2 days in Paris")
    await page.wait_for(f"{STATUS} === 'completed'")
    second = await page.evaluate("location.hash.split('=')[1]")
    assert second != first
    assert await page.evaluate("document.getElementById('error').textContent") == ""
    async with server.client() as client:
        assert (await client.get(f"/chat/{second}")).json()["agentType"] == "planner"
        assert (await client.get(f"/chat/{first}")).json()["agentType"] == "assistant"


def delegating(gate: asyncio.Event) -> Agent:
    """``lead`` hands the question to ``helper``, which says 10 words, waits for ``gate``,
    then 10 more."""

    async def child(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        for i in range(10):
            yield f"c{i} "
        await gate.wait()
        for i in range(10, 20):
            yield f"c{i} "

    helper = Agent(name="helper", model=FunctionModel(stream_function=child))

    def parent(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("ask_helper", message="count")
        return f"helper said: {info.tool_results[-1].content}"

    return Agent(name="lead", tools=[subagent_tool(helper)], model=FunctionModel(parent))


NESTED = "document.querySelector('details.subagent')"


async def test_a_sub_agent_is_a_nested_collapsible_view(make_server: Any, page: Page) -> None:
    gate = asyncio.Event()
    server = await make_server(delegating(gate))
    await open_page(page, server.url)
    await pick_agent(page, "lead")  # the registry also lists the helper: it is an agent
    await send(page, "go")
    # Live: open while it runs, the child's words stream into it.
    try:
        await page.wait_for(f"!!{NESTED} && {NESTED}.textContent.includes('c9')", timeout=10)
    except AssertionError:
        print(await page.evaluate("JSON.stringify([state.messages, state.children])"))
        raise
    assert await page.evaluate(f"{NESTED}.open") is True
    assert await page.evaluate(f"{NESTED}.dataset.status") == "running"
    assert "helper (sub-agent): running" in await page.evaluate(f"{NESTED}.innerText")
    # The same while running after a reload (the turn's stream is replayed).
    await page.reload()
    await page.wait_for(READY)
    await page.wait_for(f"!!{NESTED} && {NESTED}.textContent.includes('c9')")
    gate.set()
    await page.wait_for(f"{STATUS} === 'completed'")
    await page.wait_for(f"{NESTED}.dataset.status === 'completed'")
    await page.wait_for(f"{NESTED}.textContent.includes('c19')")
    # Open while it runs, folded once it is done; its summary opens and folds it, and the
    # person's choice survives the repaints of the stream.
    await page.wait_for(f"{NESTED}.open === false")
    await page.evaluate(f"{NESTED}.querySelector('summary').click(); true")
    await page.wait_for(f"{NESTED}.open === true")
    await page.evaluate("render(); true")
    assert await page.evaluate(f"{NESTED}.open") is True
    live = await page.evaluate(f"{NESTED}.innerText")
    assert "helper (sub-agent): completed" in live
    assert "".join(f"c{i} " for i in range(20)).strip() in live
    assert await page.evaluate(ASSISTANT_TEXT) == "helper said: " + "".join(
        f"c{i} " for i in range(20)
    )
    # After a reload, from the stored sessions: the same view.
    await page.reload()
    await page.wait_for(READY)
    await page.wait_for(f"{STATUS} === 'completed'")
    await page.wait_for(f"!!{NESTED} && {NESTED}.textContent.includes('c19')")
    await page.evaluate(f"{NESTED}.open = true; true")
    assert await page.evaluate(f"{NESTED}.innerText") == live
    # A sub-agent's session is not in the sessions list: it is reached from its parent.
    await page.wait_for(f"{SIDEBAR}.length === 1")


async def test_a_sub_agents_approval_is_answered_from_its_nested_view(
    make_server: Any, page: Page
) -> None:
    server = await make_server(boss())
    await open_page(page, server.url)
    await pick_agent(page, "boss")
    await send(page, "publish it")
    approve = f"{NESTED}.querySelector('.approval button.approve')"
    await page.wait_for(f"!!{NESTED} && !!{approve}")
    await page.wait_for(f"{STATUS} === 'suspended_awaiting_children'")
    assert await page.evaluate(STATUS_TEXT) == "waiting for your approval (in a sub-agent)"
    # After a reload (no run to replay: the child's view comes from its snapshot).
    await page.reload()
    await page.wait_for(READY)
    await page.wait_for(f"!!{NESTED} && !!{approve}")
    assert await page.evaluate(f"{NESTED}.open") is True
    await page.wait_for(f"{STATUS_TEXT} === 'waiting for your approval (in a sub-agent)'")
    await page.evaluate(
        f"{NESTED}.querySelector('.approval input.reason').value = 'fine'; {approve}.click(); true"
    )
    await page.wait_for(f"{STATUS} === 'completed'")
    assert await page.evaluate(ASSISTANT_TEXT) == "report: success=child: published draft"
    await page.evaluate(f"{NESTED}.open = true; true")
    await page.wait_for(f"{NESTED}.textContent.includes('✓ approved: fine')")
    assert "child: published draft" in await page.evaluate(f"{NESTED}.textContent")


async def test_statuses_are_words_everywhere(make_server: Any, page: Page) -> None:
    # A client tool's call waits for its result: said in words in the header, on the call
    # and in the sessions list, never as the API's enum value.
    server = await make_server(asker())
    await open_page(page, server.url)
    await send(page, "pick one")
    await page.wait_for(f"{STATUS} === 'suspended_client_tool'")
    await page.wait_for(f"{STATUS_TEXT} === 'waiting for a tool result'")
    label = await page.evaluate(
        "document.querySelector('.part-tool .client-result label').textContent"
    )
    assert label == "waiting for a tool result"
    await page.wait_for(f"{SIDEBAR}.length === 1 && {SIDEBAR}[0][2].includes('waiting')")
    assert (await page.evaluate(SIDEBAR))[0][2] == "asker · waiting for a tool result"
    shown = await page.evaluate("document.body.innerText")
    assert "suspended" not in shown
    assert "input-available" not in shown


async def test_every_example_prompt_gets_a_real_answer_from_the_demo(
    make_server: Any, page: Page
) -> None:
    # The prompts are the demo model's own rules: none gets its "I only understand..." reply.
    server = await make_server(*bundled())
    await open_page(page, server.url)
    answered = []
    names = await page.evaluate("[...document.getElementById('agent').options].map(o => o.value)")
    assert {"assistant", "manager", "ops", "planner"} <= set(names)
    for name in names:
        await pick_agent(page, name)
        count = await page.evaluate("document.querySelectorAll('#examples button').length")
        for i in range(count):
            await page.evaluate("document.getElementById('new').click(); true")
            prompt = await page.evaluate(
                f"(() => {{ const b = document.querySelectorAll('#examples button')[{i}]; "
                "b.click(); return b.textContent; })()"
            )
            await page.wait_for(
                f"['completed', 'suspended_client_tool'].includes({STATUS}) && !!location.hash"
            )
            text = await page.evaluate(ASSISTANT_TEXT)
            assert "offline demo model of helix-agents" not in text, (name, prompt, text)
            assert await page.evaluate("document.getElementById('error').textContent") == ""
            answered.append(prompt)
    assert len(answered) >= 7


async def test_a_client_tools_result_is_sent_from_the_page(make_server: Any, page: Page) -> None:
    # The call waits on the client: the page offers a field and two buttons. A result that
    # does not fit the tool's schema is refused with the server's words, and the form stays
    # usable; a fitting one resumes the run, whose stream the page follows to its end.
    server = await make_server(locator())
    await open_page(page, server.url)
    await send(page, "where am I?")
    await page.wait_for(f"{STATUS} === 'suspended_client_tool'")
    await page.wait_for("!!document.querySelector('.client-result button.send-result')")
    assert await page.evaluate(STATUS_TEXT) == "waiting for a tool result"
    await answer(page, "client-result", '{"city": "Oslo"}', "send-result")
    await page.wait_for("getComputedStyle(document.getElementById('error')).display !== 'none'")
    assert "accuracy_m" in await page.evaluate("document.getElementById('error').textContent")
    await page.wait_for("!document.querySelector('.client-result button.send-result').disabled")
    assert await page.evaluate(STATUS) == "suspended_client_tool"

    await answer(page, "client-result", '{"city": "Oslo", "accuracy_m": 5}', "send-result")
    await page.wait_for(f"{STATUS} === 'completed'")
    assert "success: {'city': 'Oslo', 'accuracy_m': 5}" in await page.evaluate(ASSISTANT_TEXT)
    result = await page.evaluate("document.querySelector('.part-tool .result').textContent")
    assert result == '← {"city":"Oslo","accuracy_m":5}'
    assert await page.evaluate("document.querySelector('.client-result') === null")


async def test_a_client_tool_can_be_answered_with_an_error(make_server: Any, page: Page) -> None:
    server = await make_server(asker())
    await open_page(page, server.url)
    await send(page, "pick one")
    await page.wait_for("!!document.querySelector('.client-result button.send-error')")
    await answer(page, "client-result", "the user closed the dialog", "send-error")
    await page.wait_for(f"{STATUS} === 'completed'")
    assert "picked: error" in await page.evaluate(ASSISTANT_TEXT)
    error = await page.evaluate("document.querySelector('.part-tool .tool-error').textContent")
    assert error == "✗ the user closed the dialog"


@tool
async def research(topic: str, ctx: ToolContext) -> str:
    """Look a topic up and cite what was read.

    Args:
        topic: The topic.
    """
    await ctx.emit_source("s1", url="https://example.org/otters", title="Otters")
    await ctx.emit_source("s2", url="javascript:alert(1)", title="Not a link")
    await ctx.emit_source("s3", title="Field notes", media_type="text/plain", filename="n.txt")
    return f"notes on {topic}"


def researcher() -> Agent:
    def model(messages: list[Any], info: Any) -> Any:
        if not info.tool_results:
            return call_tool("research", topic="otters")
        return "Otters hold hands."

    return Agent(name="researcher", tools=[research], model=FunctionModel(model))


SOURCES = (
    "[...document.querySelectorAll('.sources .source')].map(s => "
    "[s.tagName, s.textContent, s.getAttribute('href')])"
)


async def test_cited_sources_are_shown_and_only_web_urls_are_links(
    make_server: Any, page: Page
) -> None:
    server = await make_server(researcher())
    await open_page(page, server.url)
    await send(page, "tell me about otters")
    await page.wait_for(f"{STATUS} === 'completed'")
    expected = [
        ["A", "Otters", "https://example.org/otters"],
        ["SPAN", "Not a link", None],
        ["SPAN", "Field notes", None],
    ]
    assert await page.evaluate(SOURCES) == expected
    # The same from the snapshot, after a reload.
    await page.goto(await page.evaluate("location.href"))
    await page.wait_for(READY)
    await page.wait_for(f"{STATUS} === 'completed'")
    await page.wait_for("document.querySelectorAll('.sources .source').length === 3")
    assert await page.evaluate(SOURCES) == expected
