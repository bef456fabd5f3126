"""The public API is curated: ``helix_agents.__all__`` is pinned here, sorted, and every
name in it resolves (the lazy ones included). Changing it is a deliberate act."""

from __future__ import annotations

import subprocess
import sys

import pytest

import helix_agents

EXPECTED = [
    "Agent",
    "AgentRegistry",
    "AssistantMessage",
    "Chunk",
    "ConfigurationError",
    "ConflictError",
    "Executor",
    "HelixError",
    "Message",
    "Model",
    "ModelError",
    "ModelSettings",
    "RunFailedError",
    "RunHandle",
    "RunRecord",
    "RunStatus",
    "SequencedChunk",
    "SessionNotFoundError",
    "SessionState",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolError",
    "ToolResultMessage",
    "UnknownAgentError",
    "Usage",
    "UsageLimits",
    "UsageRollup",
    "UserMessage",
    "__version__",
    "subagent_tool",
    "tool",
]


def test_exports_are_pinned_and_sorted() -> None:
    assert helix_agents.__all__ == EXPECTED
    assert sorted(helix_agents.__all__, key=str.lower) == sorted(EXPECTED, key=str.lower)


def test_every_export_resolves() -> None:
    for name in helix_agents.__all__:
        assert getattr(helix_agents, name) is not None, name


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = helix_agents.NoSuchThing  # type: ignore[attr-defined]


def test_importing_the_package_stays_light() -> None:
    # Defining agents must not pull in the HTTP stack, the local host or sqlite3: those are
    # not on the Worker's path.
    code = (
        "import sys, helix_agents; "
        "heavy = [m for m in ('starlette', 'uvicorn', 'sqlite3', 'httpx', 'helix_agents.hosts.local')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
