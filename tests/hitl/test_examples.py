"""The bundled examples that show humans in the loop and sub-agents, offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from helix_agents.examples import example_registry
from helix_agents.messages import ToolResultMessage
from helix_agents.state import RunStatus

pytestmark = pytest.mark.timeout(60)


async def test_ops_waits_for_approval(make_host: Callable[..., Any]) -> None:
    host = await make_host(*example_registry())
    handle = await host.executor.execute("ops", "deploy billing 1.5.0")
    # The check ran at once; the deploy waits for a human.
    assert (await handle.result()).status == RunStatus.SUSPENDED_STEP_PARTIAL
    [pending] = (await handle.get_state()).pending_client_tool_calls
    assert pending.tool_name == "deploy"
    assert pending.kind == "approval"
    submission = await host.executor.submit_tool_result(
        handle.session_id, tool_call_id=pending.tool_call_id, approved=True
    )
    resumed = host.executor.resumed_handle(submission)
    assert resumed is not None
    assert (await resumed.result()).status == RunStatus.COMPLETED
    results = [m for m in await resumed.messages() if isinstance(m, ToolResultMessage)]
    assert [r.tool_name for r in results] == ["check_service", "deploy"]
    assert "rolling out" in str(results[1].content)


async def test_manager_delegates_to_the_assistant(make_host: Callable[..., Any]) -> None:
    host = await make_host(*example_registry())
    handle = await host.executor.execute("manager", "What is the weather in Paris?")
    assert (await handle.result()).status == RunStatus.COMPLETED
    [child] = await host.store.list_sub_sessions(handle.session_id)
    assert child.agent_type == "assistant"
    assert (await host.store.require_session(child.sub_session_id)).status == "completed"
    usage = await handle.usage()
    assert set(usage.by_session) == {handle.session_id, child.sub_session_id}
