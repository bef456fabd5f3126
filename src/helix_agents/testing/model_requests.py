"""Forbid real model requests in tests (pydantic-ai's ``ALLOW_MODEL_REQUESTS``, as a switch).

Inside ``with forbid_model_requests():`` (a conftest may hold it for the whole session), a
request of a real adapter, OpenAI-compatible or Workers AI, raises
:class:`~helix_agents.errors.ModelRequestsForbiddenError` before anything leaves the
process: the step fails at once and the run fails with that message. The test models and
the demo model are unaffected. ``allow_model_requests()`` lifts it for a block, for a test
that exercises an adapter against a local server or a fake binding.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from ..models._requests import set_model_requests_allowed

__all__ = ["allow_model_requests", "forbid_model_requests"]


def forbid_model_requests() -> AbstractContextManager[None]:
    """No real model request until the block ends."""
    return _switched(False)


def allow_model_requests() -> AbstractContextManager[None]:
    """Real model requests allowed again until the block ends (the test's own server)."""
    return _switched(True)


@contextmanager
def _switched(allowed: bool) -> Iterator[None]:
    previous = set_model_requests_allowed(allowed)
    try:
        yield
    finally:
        set_model_requests_allowed(previous)
