"""Doubles of the Workers AI embedding call and of a Queues producer binding, for CPython.

- :class:`FakeEmbeddingAI`: ``await run(model, {"text": str | [str, ...]})`` as the BGE
  embedding models document it: at most 100 texts, answered ``{"shape": [n, dims],
  "data": [[...], ...], "pooling": "mean"}``. Its vectors come from the offline hashing
  embedder, so they are deterministic (not semantic). Workers AI has no local simulation,
  hence the double.
- :class:`FakeQueueBinding`: ``send(body, {contentType?, delaySeconds?})`` and
  ``sendBatch([{body, contentType?, delaySeconds?}], {delaySeconds?}?)``, checked as Queues
  documents them (content types ``json``, ``text``, ``bytes``, ``v8``; delays up to 12
  hours; 100 messages a batch); what was sent lands in ``sent``. The real-Worker tier runs
  the real Queues; this double lets the producer's conformance run in CPython too.

Test code: a Worker's upload leaves :mod:`helix_agents.testing` out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..hosts.local.embeddings import HashingEmbedder

__all__ = ["FakeBindingError", "FakeEmbeddingAI", "FakeQueueBinding"]


class FakeBindingError(Exception):
    """What the binding throws."""


class FakeEmbeddingAI:
    def __init__(self, dimensions: int = 768, *, models: tuple[str, ...] | None = None) -> None:
        self._embedder = HashingEmbedder(dimensions)
        self.dimensions = dimensions
        self.models = models or ("@cf/baai/bge-base-en-v1.5",)
        self.calls: list[tuple[str, Any]] = []
        self.fail_with: str | None = None

    async def run(self, model: str, inputs: Any, options: Any = None) -> dict[str, Any]:
        self.calls.append((model, copy.deepcopy(inputs)))
        if self.fail_with is not None:
            raise FakeBindingError(self.fail_with)
        if model not in self.models:
            raise FakeBindingError(f"AiError: No such model {model} or task")
        if not isinstance(inputs, Mapping) or set(inputs) - {"text", "pooling", "truncate_inputs"}:
            raise FakeBindingError("AiError: Input must be an object with a 'text' property")
        text = inputs.get("text")
        texts = [text] if isinstance(text, str) else text
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise FakeBindingError("AiError: 'text' must be a string or an array of strings")
        if len(texts) > 100:
            raise FakeBindingError("AiError: 'text' must have at most 100 items")
        data = [self._embedder.embed_one(t) for t in texts]
        return {"shape": [len(data), self.dimensions], "data": data, "pooling": "mean"}


_CONTENT_TYPES = {"json", "text", "bytes", "v8"}


class FakeQueueBinding:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def _check_options(self, given: Any, allowed: set[str]) -> dict[str, Any]:
        options: dict[str, Any] = dict(given or {})
        extra = set(options) - allowed
        if extra:
            raise FakeBindingError(f"TypeError: unknown options {sorted(extra)}")
        if options.get("contentType", "json") not in _CONTENT_TYPES:
            raise FakeBindingError("TypeError: unknown contentType")
        delay = options.get("delaySeconds", 0)
        if not isinstance(delay, int) or not 0 <= delay <= 43200:
            raise FakeBindingError("Error: delaySeconds must be from 0 to 43200")
        return options

    async def send(self, body: Any, options: Any = None) -> None:
        checked = self._check_options(options, {"contentType", "delaySeconds"})
        self.sent.append({"body": copy.deepcopy(body), **checked})

    async def sendBatch(self, messages: Any, options: Any = None) -> None:
        batch_options = self._check_options(options, {"delaySeconds"})
        if not isinstance(messages, list) or not 1 <= len(messages) <= 100:
            raise FakeBindingError("Error: sendBatch takes 1 to 100 messages")
        items = []
        for message in messages:
            if not isinstance(message, Mapping) or "body" not in message:
                raise FakeBindingError("TypeError: each message needs a body")
            checked = self._check_options(
                {k: v for k, v in message.items() if k != "body"}, {"contentType", "delaySeconds"}
            )
            checked.setdefault("delaySeconds", batch_options.get("delaySeconds", 0))
            items.append({"body": copy.deepcopy(message["body"]), **checked})
        self.sent.extend(items)
