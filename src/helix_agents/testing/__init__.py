"""Test doubles shipped with the library, for this project's tests and for users' own.

Models that need no LLM (:class:`TestModel`, :class:`FunctionModel`, and the scripted
:class:`DemoModel` the bundled examples run on offline) and fakes of the Cloudflare
bindings, faithful to their documented behaviour.
"""

from .demo import DemoModel
from .models import AgentInfo, FunctionModel, TestModel, call_tool
from .workers_ai import AIReply, FakeAIBinding, FakeAIError, FakeReadableStream

__all__ = [
    "AIReply",
    "AgentInfo",
    "DemoModel",
    "FakeAIBinding",
    "FakeAIError",
    "FakeReadableStream",
    "FunctionModel",
    "TestModel",
    "call_tool",
]
