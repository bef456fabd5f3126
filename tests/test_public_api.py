"""The public surface is decided: a handful of entry modules, each ``__all__`` pinned here,
sorted, and every name in it resolving (the lazy ones included). Everything else is internal
(docs/architecture.md, "Public surface"). Changing a pin is a deliberate act.

The exception tree is checked too: every exception class the package defines outside
``errors.py`` is a ``HelixError`` or is named here with the reason it stays outside.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import helix_agents
from helix_agents import errors

SRC = Path(helix_agents.__file__).parent

#: The entry modules and their exports.
PINNED: dict[str, list[str]] = {
    "helix_agents": [
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
    ],
    "helix_agents.history": [
        "OMITTED_OUTPUT",
        "SUMMARY_PROMPT",
        "HistoryProcessor",
        "HistorySummary",
        "SummarizeOlder",
        "TokenEstimator",
        "apply_history_processors",
        "drop_old_tool_outputs",
        "estimate_tokens",
        "fit_token_budget",
        "history_window",
        "keep_last_turns",
        "summarize_older",
        "turn_starts",
    ],
    "helix_agents.hosts.local": ["LocalEngine", "LocalHost", "LocalLauncher", "LocalStreamManager"],
    "helix_agents.hosts.cloudflare": [
        "CLOUDFLARE_FLUSH_POLICY",
        "Bindings",
        "CloudflareApp",
        "CloudflareRuntime",
        "D1Database",
        "DOStreamManager",
        "ReaderPolicy",
        "StreamHub",
        "WorkersFetchTransport",
        "WorkflowLauncher",
        "WorkflowsStep",
        "run_workflow",
        "stream_owner",
    ],
    "helix_agents.http": [
        "ApiError",
        "AuthHook",
        "AuthenticationError",
        "BearerTokenAuth",
        "PermissionDeniedError",
        "allow_anyone",
        "configured_auth",
        "create_app",
    ],
    "helix_agents.testing": [
        "AIReply",
        "AgentInfo",
        "FakeAIBinding",
        "FakeAIError",
        "FakeReadableStream",
        "FunctionModel",
        "TestModel",
        "allow_model_requests",
        "call_tool",
        "forbid_model_requests",
    ],
    "helix_agents.testing.cloudflare": [
        "FakeCloudflare",
        "FakeDurableObjectNamespace",
        "FakeEnv",
        "FakeResponse",
        "FakeWebSocket",
        "FakeWorkflows",
        "VirtualTimeLoop",
        "WorkerASGI",
        "install",
        "run_virtual",
        "uninstall",
        "virtual_clock_ms",
    ],
    "helix_agents.mcp": ["MCPServer", "MCPServerHTTP", "MCPServerStdio"],
    "helix_agents.models": [
        "DemoModel",
        "FallbackModel",
        "OpenAIChatModel",
        "WorkersAIModel",
        "infer_model",
        "require_model",
    ],
    "helix_agents.ports": [
        "DataPart",
        "Database",
        "Embedder",
        "ExecResult",
        "InstanceStatus",
        "KVEntry",
        "KVListPage",
        "KeyValueStore",
        "Launcher",
        "MessageBatch",
        "Model",
        "ModelEvent",
        "ModelRequest",
        "ModelResponse",
        "ModelSettings",
        "ObjectInfo",
        "ObjectListing",
        "ObjectStore",
        "OutgoingMessage",
        "Queue",
        "QueueMessage",
        "ReadResult",
        "ReasoningDelta",
        "RetryConfig",
        "Statement",
        "Step",
        "StepConfig",
        "StepContext",
        "StoredObject",
        "StreamInfo",
        "StreamManager",
        "StreamStatus",
        "TextDelta",
        "ToolCallDelta",
        "ToolDefinition",
        "Vector",
        "VectorIndex",
        "VectorMatch",
        "WriteAck",
    ],
    "helix_agents.services": [
        "DepsContext",
        "HostName",
        "ServiceName",
        "Services",
    ],
    "helix_agents.subagents": [
        "COMPANION_TOOL_NAMES",
        "CompanionTool",
        "DelegatingTool",
        "RemoteSubagentTool",
        "SubagentTool",
        "companion_tools",
        "remote_subagent_tool",
        "subagent_tool",
    ],
    "helix_agents.examples": ["example_model", "example_registry"],
    "helix_agents.schedules": [
        "BusyPolicy",
        "CronJob",
        "Firing",
        "MisfirePolicy",
        "Schedule",
        "ScheduleKind",
        "ScheduleStatus",
        "build_schedule",
        "declared_schedule_id",
        "firing_instance_id",
        "firing_message_id",
        "firing_session_id",
        "new_schedule_id",
        "next_due",
    ],
    "helix_agents.toolkits": [
        "Document",
        "agent_task_handler",
        "cache_toolkit",
        "cached",
        "cached_model",
        "file_toolkit",
        "index_documents",
        "queue_toolkit",
        "retrieval_toolkit",
        "schedule_toolkit",
        "search_passages",
    ],
}


#: Exception classes defined outside errors.py that are no HelixError, and why.
OUTSIDE_THE_TREE = {
    # Deliberately a BaseException: the Workflows engine stopping a run is no failure.
    "hosts/cloudflare/step.py:WorkflowAborted",
    # A JavaScript error that carries one of ours across Workflows, not an error of its own.
    "hosts/cloudflare/carrier.py:HelixCarriedError",
    # Tooling of the local Worker runtime (never inside a Worker), raised to the developer.
    "workerd/pyodide_bundle.py:BundleLayoutError",
}


def test_entry_modules_are_pinned() -> None:
    for name, expected in PINNED.items():
        module = importlib.import_module(name)
        assert module.__all__ == expected, name


@pytest.mark.parametrize("name", [*PINNED, "helix_agents.errors"])
def test_exports_are_sorted_and_resolve(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_style), f"{name}.__all__ is not sorted"
    for export in exported:
        assert getattr(module, export) is not None, f"{name}.{export}"


def _isort_style(name: str) -> tuple[int, str]:
    """ruff's order (RUF022): CONSTANTS, then Classes, then everything else."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = helix_agents.NoSuchThing  # type: ignore[attr-defined]


def test_the_error_module_exports_exactly_the_tree() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    }
    assert set(errors.__all__) == defined
    for name in defined:
        assert issubclass(getattr(errors, name), errors.HelixError), name
        # The tree drawn in the docstring names every class.
        assert f" {name} " in errors.__doc__ or f"── {name}" in errors.__doc__, name


def test_every_exception_class_is_in_the_tree_or_explained() -> None:
    outside = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative == "errors.py" or relative.startswith("testing/"):
            continue  # testing/ holds fakes of the platform's own errors
        if any(part.startswith("_") and part != "__init__.py" for part in path.parts[-2:]):
            continue  # a private module's classes are its own business
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = [ast.unparse(base) for base in node.bases]
            if any(b.endswith(("Exception", "Error", "Signal")) for b in bases):
                cls = _class_of(relative, node.name)
                if cls is None or not issubclass(cls, errors.HelixError):
                    outside.append(f"{relative}:{node.name}")
    assert sorted(set(outside) - OUTSIDE_THE_TREE) == []


def _class_of(relative: str, name: str) -> type | None:
    module = "helix_agents." + relative.removesuffix(".py").replace("/", ".")
    module = module.removesuffix(".__init__")
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:  # a module that needs the Worker runtime: judged by its bases only
        return None


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
