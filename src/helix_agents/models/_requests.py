"""Whether the real model adapters may send requests: the switch behind
:func:`helix_agents.testing.forbid_model_requests`.

A test suite turns it off so that a test that would reach a real LLM (an agent left on
``"openai:..."``, a ``HELIX_MODEL`` in the environment) fails at once with a clear error
instead of spending money or hanging on the network. The offline models (the test models,
the demo model) never ask. It lives here, not in ``testing/``, because the adapters must
read it and a Worker's upload leaves ``testing/`` out.
"""

from __future__ import annotations

from ..errors import ModelRequestsForbiddenError

__all__ = ["check_model_request", "model_requests_allowed", "set_model_requests_allowed"]

#: Module state on purpose: the switch holds for every task of the process, like
#: pydantic-ai's ``ALLOW_MODEL_REQUESTS``.
_allowed = True


def model_requests_allowed() -> bool:
    return _allowed


def set_model_requests_allowed(allowed: bool) -> bool:
    """Set the switch; returns what it was (to restore it)."""
    global _allowed
    previous, _allowed = _allowed, bool(allowed)
    return previous


def check_model_request(model_name: str) -> None:
    """Called by a real adapter before each request."""
    if not _allowed:
        raise ModelRequestsForbiddenError(
            f"{model_name}: real model requests are forbidden here "
            "(helix_agents.testing.forbid_model_requests): give the agent a test model "
            "(helix_agents.testing.TestModel or FunctionModel), or wrap the test in "
            "helix_agents.testing.allow_model_requests() if it talks to a local server"
        )
