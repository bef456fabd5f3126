"""Test doubles shipped with the library, for this project's tests and for users' own.

Models that need no LLM (:class:`TestModel`, :class:`FunctionModel`) and fakes of the
Cloudflare bindings, faithful to their documented behaviour. Nothing outside this package
imports it: a deployed Worker leaves the whole package out of its upload (docs/deploy.md),
and ``helix worker`` does too unless given ``--with-testing``. The offline demo model of the
bundled examples is product code: :class:`helix_agents.models.demo.DemoModel`.
"""

from .model_requests import allow_model_requests, forbid_model_requests
from .models import AgentInfo, FunctionModel, TestModel, call_tool
from .workers_ai import AIReply, FakeAIBinding, FakeAIError, FakeReadableStream

__all__ = [
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
]
