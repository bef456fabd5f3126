"""What the OpenAI-compatible HTTP adapters share (chat completions in :mod:`.openai`,
embeddings in :mod:`.openai_embeddings`): where the endpoint is and which key it takes, and
what a failed response says.

The endpoint rules are OpenAI's client conventions: ``base_url`` and ``api_key`` default to
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` (read when the adapter is made), then to
api.openai.com, which refuses every request without a key; a compatible server (vLLM,
Ollama...) may need none.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx

from ..errors import ConfigurationError

__all__ = ["DEFAULT_BASE_URL", "endpoint", "response_error"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def endpoint(base_url: str | None, api_key: str | None, *, what: str) -> tuple[str, str | None]:
    """The base URL (no trailing slash) and the key (None for none) of an adapter made with
    ``base_url`` and ``api_key``; ConfigurationError, naming ``what`` the URL is for, for a
    URL that is not http(s) or api.openai.com without a key."""
    base = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    if not base.startswith(("http://", "https://")):
        raise ConfigurationError(f"the {what} base URL must be http(s)://..., got {base!r}")
    key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
    if not key and base.rstrip("/") == DEFAULT_BASE_URL:
        raise ConfigurationError(
            "no API key for api.openai.com: set OPENAI_API_KEY, pass api_key=, or point "
            "OPENAI_BASE_URL at a compatible server that needs none"
        )
    return base.rstrip("/"), key or None


def response_error(response: httpx.Response) -> tuple[Any, str]:
    """A failed response's body (its JSON, else its text; read already) and the human part
    of it, in the shapes servers actually use."""
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return body, _provider_message(body, response)


def _provider_message(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            for key in ("message", "detail", "error"):
                value = error.get(key)
                if isinstance(value, str) and value:
                    return value
        elif isinstance(error, str) and error:
            return error
        detail = body.get("detail") or body.get("message")
        if isinstance(detail, str) and detail:
            return detail
        return json.dumps(body)[:500]
    text = str(body).strip()
    return text[:500] if text else response.reason_phrase or "no message"
