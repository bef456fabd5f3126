"""The OpenAI-compatible chat-completions adapter, over ``httpx.AsyncClient``.

Any server that speaks ``POST {base_url}/chat/completions`` with ``stream: true`` works:
OpenAI, vLLM, Ollama, llama.cpp, OpenRouter, LiteLLM, DeepSeek... The adapter retries what is
worth retrying (429, 5xx, dropped or refused connections, timeouts) only while nothing has
been yielded yet. Once a delta has gone out, replaying the request would show the consumer
the same text twice, so a failure then raises :class:`ModelStreamInterruptedError` and the
durable step layer retries the whole step, resetting what the failed attempt streamed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any

import httpx

from ..errors import (
    ConfigurationError,
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
    ModelProtocolError,
    ModelRateLimitedError,
    ModelStreamInterruptedError,
)
from ..ports.model import ModelEvent, ModelRequest
from ._assemble import ResponseAssembler
from ._openai_format import (
    ErrorFrame,
    apply_chunk,
    apply_completion,
    to_openai_messages,
    to_openai_tools,
    tool_choice,
)
from ._openai_http import DEFAULT_BASE_URL, endpoint, response_error
from ._requests import check_model_request
from ._retry import RetryPolicy, is_retryable_status, parse_retry_after
from ._sse import SSEDecoder

__all__ = ["DEFAULT_BASE_URL", "OpenAIChatModel"]

Sleep = Callable[[float], Awaitable[None]]


class _Retryable(Exception):
    """A failed attempt that may be retried; ``error`` is what to raise when it is not."""

    def __init__(self, error: ModelError, *, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class OpenAIChatModel:
    """A Model over an OpenAI-compatible chat-completions endpoint.

    ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``, read
    here, when the model is constructed. Without ``http_client`` each request opens and
    closes its own client (over ``transport`` when given): a client is bound to the event
    loop that first used it, and a model often outlives one.

    ``sleep`` and ``jitter`` are the backoff's clock and dice, injectable so tests do not
    wait; ``clock`` gives the Unix time for ``Retry-After`` dates.

    Files attached to user messages are sent as content parts: images as ``image_url``, PDFs
    as ``file``, text files as text (``_openai_format.user_content``).
    """

    #: Given the bytes of attached files (``helix_agents.file_parts``).
    accepts_files = True

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 4,
        timeout: float = 300.0,
        retry_policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        stream_usage: bool = True,
        name: str | None = None,
        sleep: Sleep | None = None,
        jitter: Callable[[], float] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not model_name:
            raise ConfigurationError("OpenAIChatModel needs a model name, e.g. 'gpt-4o-mini'")
        self.base_url, self._api_key = endpoint(base_url, api_key, what="OpenAI")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout!r}")
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be 0 or more, got {max_retries!r}")
        self.model_name = model_name
        self.name = name or f"openai:{model_name}"
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self.stream_usage = stream_usage
        self._headers = dict(headers or {})
        self._client = http_client
        self._transport = transport
        self._sleep: Sleep = sleep or asyncio.sleep
        self._jitter = jitter or random.random
        self._clock = clock or time.time

    def __repr__(self) -> str:
        return f"OpenAIChatModel({self.model_name!r}, base_url={self.base_url!r})"

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def request_body(self, request: ModelRequest) -> dict[str, Any]:
        """The JSON body sent for ``request``."""
        body: dict[str, Any] = {
            "model": self.model_name,
            "messages": to_openai_messages(request.system, request.messages, files=request.files),
            "stream": True,
        }
        if self.stream_usage:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = to_openai_tools(request.tools)
            choice = tool_choice(request)
            if choice is not None:
                body["tool_choice"] = choice
        settings = request.settings
        if settings.temperature is not None:
            body["temperature"] = settings.temperature
        if settings.max_tokens is not None:
            body["max_tokens"] = settings.max_tokens
        body.update(settings.extra)
        return body

    def _request_headers(self) -> dict[str, str]:
        headers = {"accept": "text/event-stream", "user-agent": "helix-agents"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        headers.update(self._headers)
        return headers

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        check_model_request(self.name)
        body = self.request_body(request)
        timeout = httpx.Timeout(request.settings.timeout or self.timeout)
        client = self._client
        owned = client is None
        if client is None:
            client = httpx.AsyncClient(transport=self._transport, timeout=timeout)
        try:
            retry = 0
            while True:
                yielded = False
                try:
                    async with aclosing(self._attempt(client, body, timeout)) as events:
                        async for event in events:
                            yielded = True
                            yield event
                    return
                except _Retryable as failure:
                    if yielded:
                        reason = str(failure.error).removeprefix(f"{self.name}: ")
                        raise ModelStreamInterruptedError(
                            f"{self.name}: the response broke off after it had started "
                            f"streaming: {reason}"
                        ) from None
                    if retry >= self.retry_policy.max_retries:
                        raise failure.error from None
                    delay = self.retry_policy.delay(
                        retry, retry_after=failure.retry_after, jitter=self._jitter
                    )
                    retry += 1
                    await self._sleep(delay)
        finally:
            if owned:
                await client.aclose()

    async def _attempt(
        self, client: httpx.AsyncClient, body: dict[str, Any], timeout: httpx.Timeout
    ) -> AsyncGenerator[ModelEvent, None]:
        """One HTTP request. Raises _Retryable for what a new request might fix."""
        try:
            async with client.stream(
                "POST", self.url, json=body, headers=self._request_headers(), timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._status_error(response)
                content_type = response.headers.get("content-type", "")
                assembler = ResponseAssembler()
                if "text/event-stream" in content_type:
                    async with aclosing(self._events(response, assembler)) as events:
                        async for event in events:
                            yield event
                else:
                    # A server that ignored "stream" answers with one JSON completion.
                    data = await response.aread()
                    for event in apply_completion(_json(data, "the response"), assembler):
                        yield event
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ConfigurationError(f"{self.name}: bad URL {self.url!r}: {exc}") from None
        except httpx.TimeoutException as exc:
            raise _Retryable(
                ModelConnectionError(f"{self.name}: timed out ({type(exc).__name__})")
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(
                ModelConnectionError(f"{self.name}: connection failed: {exc or type(exc).__name__}")
            ) from None
        except httpx.DecodingError as exc:
            raise ModelProtocolError(f"{self.name}: undecodable response body: {exc}") from None
        except ErrorFrame as frame:
            raise _Retryable(ModelError(f"{self.name}: the provider failed: {frame}")) from None
        if assembler.model_name is None:
            assembler.model_name = self.model_name
        yield assembler.build()

    async def _events(
        self, response: httpx.Response, assembler: ResponseAssembler
    ) -> AsyncGenerator[ModelEvent, None]:
        decoder = SSEDecoder()
        done = False
        async for raw in response.aiter_bytes():
            for sse in decoder.feed(raw):
                if sse.data.strip() == "[DONE]":
                    done = True
                    break
                for event in apply_chunk(_json(sse.data, "a stream chunk"), assembler):
                    yield event
            if done:
                break
        if not done:
            for sse in decoder.close():
                if sse.data.strip() == "[DONE]":
                    done = True
                    break
                for event in apply_chunk(_json(sse.data, "a stream chunk"), assembler):
                    yield event
        if not done and assembler.finish_reason is None:
            # The body ended cleanly but the response did not: neither "[DONE]" nor a
            # finish reason arrived. That is a cut connection, not a short answer.
            raise _Retryable(ModelConnectionError(f"{self.name}: the stream ended early"))

    def _status_error(self, response: httpx.Response) -> Exception:
        status = response.status_code
        body, said = response_error(response)
        message = f"{self.name}: HTTP {status}: {said}"
        if status == 429:
            error: ModelError = ModelRateLimitedError(message, status_code=status, body=body)
        else:
            error = ModelHTTPError(message, status_code=status, body=body)
        if not is_retryable_status(status):
            return error
        retry_after = parse_retry_after(response.headers, now=self._clock())
        return _Retryable(error, retry_after=retry_after)


def _json(data: str | bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        raise ModelProtocolError(f"{what} is not JSON: {text[:200]!r}") from None
