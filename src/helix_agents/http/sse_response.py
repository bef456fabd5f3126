"""An ASGI response for a run's SSE stream that a client may leave at any moment.

Reading a run's stream never drives the run: the run is a durable instance and only
interrupt and abort stop it. So a client that goes away simply ends its own reader, at once
(the response listens for ``http.disconnect`` while it waits for chunks, rather than
noticing on its next write), and nothing it does can fail the run.

A failure after the headers went out (the host shutting down under a reader) cannot change
the status any more: the client gets an ``error`` event and the response ends *without*
``[DONE]``, so it knows to reattach with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..streaming.sse import encode_event

__all__ = ["SSEResponse"]

logger = logging.getLogger("helix_agents.http")


class SSEResponse(Response):
    """Stream ``body`` (SSE bytes) with ``headers``; stop when the client disconnects."""

    def __init__(
        self, body: AsyncIterator[bytes], headers: Mapping[str, str], status_code: int = 200
    ) -> None:
        self.body_iterator = body
        self.background = None
        self.status_code = status_code
        self.raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if scope.get("method") == "HEAD":
            await _aclose(self.body_iterator)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        producer = asyncio.ensure_future(self._produce(send))
        listener = asyncio.ensure_future(_until_disconnect(receive))
        try:
            await asyncio.wait({producer, listener}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (producer, listener):
                task.cancel()
            for task in (producer, listener):
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task
            await _aclose(self.body_iterator)

    async def _produce(self, send: Send) -> None:
        try:
            async for data in self.body_iterator:
                if not await _send_body(send, data):
                    return  # the client went away while we wrote
        except Exception as exc:
            # Headers are out: tell the client in-band, and leave [DONE] out so it resumes.
            logger.warning("a stream reader stopped: %s", exc)
            text = str(exc) or type(exc).__name__
            message = encode_event({"type": "error", "errorText": f"the stream broke off: {text}"})
            if not await _send_body(send, message):
                return
        await _send_body(send, b"", more=False)


async def _send_body(send: Send, data: bytes, *, more: bool = True) -> bool:
    """Write to the client; False when it has gone (an OSError under uvicorn, a JavaScript
    error from a Worker's response stream: either way, the reader's end, not the run's)."""
    try:
        await send({"type": "http.response.body", "body": data, "more_body": more})
    except Exception:
        return False
    return True


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _aclose(body: Any) -> None:
    close = getattr(body, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()
