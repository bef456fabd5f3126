"""A model that tries others in order when a provider fails: :class:`FallbackModel`.

``FallbackModel(primary, *others)`` asks ``primary``; when it fails with a provider error
before it has streamed anything, the next model is asked the same request, and so on. A
provider error is what a provider, not the request, is to blame for (:func:`is_provider_error`):
a 5xx or 429 (after the adapter's own retries), a connection that failed or timed out, a
garbled answer, a failure the provider reported inside its stream, the Workers AI binding's
errors. The model's own answers are never a reason to move on, whatever they say: a refusal
or a ``content-filter`` finish is a response, and it is returned. Neither is a 4xx other
than 408/409/429 (a bad request, key or model name is the caller's to fix, and another
provider would most likely refuse it too); ``fallback_on`` changes the rule.

Streaming: a model that has yielded an event is committed to. If it then breaks off, the
error goes up as it is (the adapters raise
:class:`~helix_agents.errors.ModelStreamInterruptedError`), and the durable step retries the
whole model step, which starts again from the primary: showing a reader the first half of
one model's answer followed by another model's answer would be worse than a retry.

The response says who answered (``served_by``) and who failed first (``failed_over``); the
model step records the answering model in its usage record and the failures in the record's
metadata. When every model fails, the last model's error is raised (its type decides what
the step does next, as for a single model), with the earlier failures in its notes.

Each model keeps its own retries: to move on quickly, give the primary few
(``OpenAIChatModel(..., max_retries=1)``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import (
    ConfigurationError,
    ModelError,
    ModelHTTPError,
    ModelStreamInterruptedError,
)
from ..ports.model import Model, ModelEvent, ModelRequest, ModelResponse
from ._retry import is_retryable_status

if TYPE_CHECKING:
    from ..services import Services

__all__ = ["FallbackModel", "is_provider_error"]


def is_provider_error(error: ModelError) -> bool:
    """Whether ``error`` is the provider's failure (worth asking another model), not a
    verdict on the request or a stream already under way (see the module docstring)."""
    if isinstance(error, ModelStreamInterruptedError):
        return False
    if isinstance(error, ModelHTTPError):
        return is_retryable_status(error.status_code)
    return True


class FallbackModel:
    """A Model that asks ``primary``, then each of ``others`` in order, until one answers.

    Members are Model instances or model strings (``"openai:gpt-4o-mini"``,
    ``"workers-ai:@cf/..."``); on a host, strings are resolved by the host (over the
    Worker's ``fetch`` and ``env`` on Cloudflare), elsewhere by :func:`~.infer_model`.
    """

    def __init__(
        self,
        primary: Model | str,
        *others: Model | str,
        fallback_on: Callable[[ModelError], bool] = is_provider_error,
        name: str | None = None,
        _resolved: Sequence[Model] | None = None,
    ) -> None:
        if not others:
            raise ConfigurationError(
                "FallbackModel needs at least two models: a primary and one other"
            )
        self.models: tuple[Model | str, ...] = (primary, *others)
        self.fallback_on = fallback_on
        self.name = name or "fallback:" + ",".join(_name(m) for m in self.models)
        self._resolved = tuple(_resolved) if _resolved is not None else None

    def __repr__(self) -> str:
        return f"FallbackModel({', '.join(repr(m) for m in self.models)})"

    def bind_host(
        self, services: Services, resolve: Callable[[Model | str], Model]
    ) -> FallbackModel:
        """This model on a host: each member resolved as the host resolves an agent's model
        (a member that needs the host itself, such as ``cached_model``, is bound too)."""
        resolved: list[Model] = []
        for member in self.models:
            bind = getattr(member, "bind_host", None)
            resolved.append(bind(services, resolve) if callable(bind) else resolve(member))
        return FallbackModel(
            *self.models, fallback_on=self.fallback_on, name=self.name, _resolved=resolved
        )

    @property
    def accepts_files(self) -> bool:
        """Whether every member reads file parts (``helix_agents.file_parts``): only then is a
        request given the files' bytes, since any member may be the one that answers. A
        member still named by a string is not known yet, so it counts as not reading them."""
        members = self._resolved if self._resolved is not None else self.models
        return all(
            not isinstance(m, str) and getattr(m, "accepts_files", False) is True for m in members
        )

    def _members(self) -> tuple[Model, ...]:
        if self._resolved is None:
            from . import infer_model

            self._resolved = tuple(infer_model(m) for m in self.models)
        return self._resolved

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        failures: list[str] = []
        members = self._members()
        for position, model in enumerate(members):
            last = position == len(members) - 1
            yielded = False
            events = model.stream(request)
            try:
                async for event in events:
                    if isinstance(event, ModelResponse):
                        event = replace(
                            event,
                            served_by=event.served_by or model.name,
                            failed_over=(*failures, *event.failed_over),
                        )
                    yielded = True
                    yield event
                return
            except ModelError as error:
                if yielded or last or not self.fallback_on(error):
                    for failure in failures:
                        error.add_note(f"{self.name}: failed before it: {failure}")
                    raise
                failures.append(f"{model.name}: {_reason(error, model.name)}")
            finally:
                close = getattr(events, "aclose", None)
                if close is not None:
                    await close()


def _name(model: Model | str) -> str:
    return model if isinstance(model, str) else model.name


def _reason(error: ModelError, name: str) -> str:
    text = str(error)
    return text.removeprefix(f"{name}: ") or type(error).__name__
