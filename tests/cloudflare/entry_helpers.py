"""Loading the real ``worker/src/entry.py`` for the flows, and models a test can hold mid-run."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

from helix_agents.testing import FunctionModel, call_tool
from helix_agents.testing.cloudflare.platform import FakeResponse, SSEEvent

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "worker" / "src" / "entry.py"
_counter = itertools.count()


def load_entry() -> ModuleType:
    """A fresh copy of the Worker's main module (its own app and classes)."""
    spec = importlib.util.spec_from_file_location(f"helix_worker_entry_{next(_counter)}", ENTRY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def words(prefix: str, n: int) -> str:
    return "".join(f"{prefix}{i} " for i in range(n))


def gated_model(
    gate: asyncio.Event, *, before: int = 10, after: int = 10, tool: bool = True
) -> Any:
    """Looks the weather up (a tool step), then says ``before`` words, waits for ``gate``,
    and says ``after`` more: a run that stays mid-stream as long as the test wants."""

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        if tool and not info.tool_results:
            yield call_tool("get_weather", city="Paris")
            return
        for i in range(before):
            yield f"a{i} "
        await gate.wait()
        for i in range(after):
            yield f"b{i} "

    return FunctionModel(stream_function=stream)


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["delta"] for c in chunks if c.get("type") == "text-delta")


async def read_sse(response: FakeResponse) -> list[SSEEvent]:
    return [event async for event in response.sse()]


def chunks_of(events: list[SSEEvent]) -> list[dict[str, Any]]:
    return [e.json() for e in events if e.data != "[DONE]"]
