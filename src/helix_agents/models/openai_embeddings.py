"""An Embedder over an OpenAI-compatible ``POST {base_url}/embeddings`` endpoint (httpx).

Any server that speaks OpenAI's embeddings API works (OpenAI, vLLM, Ollama, LiteLLM...):
the request is ``{"model", "input": [texts]}``, the answer ``{"data": [{"index",
"embedding"}], "usage": {"prompt_tokens"}}``. Texts go at most ``batch_size`` to a request;
429, 5xx and connection failures are retried with the chat adapter's backoff. Inside a
Worker, give it ``transport=WorkersFetchTransport()`` (httpx's own cannot connect there).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from ..errors import ConfigurationError, EmbeddingError
from ..ports.embeddings import check_request_allowed, check_texts, check_vectors_shape
from ._openai_http import endpoint, response_error
from ._retry import RetryPolicy, is_retryable_status, parse_retry_after

__all__ = ["OpenAIEmbedder"]

#: Dimensions of OpenAI's own embedding models (others: pass ``dimensions=``).
_KNOWN = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class OpenAIEmbedder:
    """An :class:`~helix_agents.ports.Embedder` over an OpenAI-compatible endpoint.

    ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``.
    ``dimensions`` is required for models it does not know; for the ``text-embedding-3``
    models a smaller value is also sent to the API, which shortens the vectors.
    ``tokens_used`` adds up the ``usage.prompt_tokens`` the server reported.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        dimensions: int | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        batch_size: int = 256,
        timeout: float = 60.0,
        max_retries: int = 4,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.base_url, self._api_key = endpoint(base_url, api_key, what="embeddings")
        dims = dimensions if dimensions is not None else _KNOWN.get(model)
        if dims is None:
            raise ConfigurationError(f"embedding model {model!r}: pass dimensions=")
        if not 1 <= batch_size <= 2048:
            raise ConfigurationError("batch_size must be from 1 to 2048")
        self._model = model
        self._dimensions = dims
        self._send_dimensions = dimensions is not None and model.startswith("text-embedding-3")
        self._transport = transport
        self._batch = batch_size
        self._timeout = timeout
        self._retry = RetryPolicy(max_retries=max_retries)
        self._sleep = sleep or asyncio.sleep
        self.tokens_used = 0

    def __repr__(self) -> str:
        return f"OpenAIEmbedder({self._model!r}, base_url={self.base_url!r})"

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = check_texts(texts)
        if not items:
            return []
        check_request_allowed(f"openai-embeddings:{self._model}")
        out: list[list[float]] = []
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
            for start in range(0, len(items), self._batch):
                out.extend(await self._request(client, items[start : start + self._batch]))
        return out

    async def _request(self, client: httpx.AsyncClient, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self._model, "input": texts, "encoding_format": "float"}
        if self._send_dimensions:
            body["dimensions"] = self._dimensions
        headers = {"user-agent": "helix-agents"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        what = f"openai-embeddings:{self._model}"
        retry = 0
        while True:
            retry_after: float | None = None
            try:
                response = await client.post(
                    f"{self.base_url}/embeddings", json=body, headers=headers
                )
            except httpx.HTTPError as exc:
                failure = EmbeddingError(f"{what}: {type(exc).__name__}: {exc}")
            else:
                if response.status_code < 400:
                    return self._parse(response, len(texts), what)
                _, said = response_error(response)
                failure = EmbeddingError(f"{what}: HTTP {response.status_code}: {said}")
                if not is_retryable_status(response.status_code):
                    raise failure
                retry_after = parse_retry_after(response.headers, now=time.time())
            if retry >= self._retry.max_retries:
                raise failure
            await self._sleep(
                self._retry.delay(retry, retry_after=retry_after, jitter=random.random)
            )
            retry += 1

    def _parse(self, response: httpx.Response, count: int, what: str) -> list[list[float]]:
        try:
            payload = response.json()
        except ValueError:
            raise EmbeddingError(f"{what}: the answer is not JSON") from None
        data = payload.get("data") if isinstance(payload, Mapping) else None
        if not isinstance(data, list):
            raise EmbeddingError(f"{what}: the answer has no data list")
        try:
            ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
            vectors = [item["embedding"] for item in ordered]
        except (AttributeError, KeyError, TypeError, ValueError):
            raise EmbeddingError(f"{what}: malformed data items") from None
        check_vectors_shape(vectors, count, self._dimensions, what)
        usage = payload.get("usage")
        if isinstance(usage, Mapping) and isinstance(usage.get("prompt_tokens"), int):
            self.tokens_used += usage["prompt_tokens"]
        return [[float(x) for x in v] for v in vectors]
