"""``GET /chat/{sessionId}/ws``: the current run's chunks over a WebSocket (the local host).

The protocol (frames, cursors, resets, close codes) is :mod:`helix_agents.streaming.ws_protocol`,
which the Cloudflare host's Durable Object speaks too; who may connect and which run they
follow is :mod:`.ws_admission`, which the Worker calls too. What is left here is the
socket's life on the local host: accepted first (a browser cannot read a refused handshake,
so a refusal travels as an error frame and a close code), then one follower task, restarted
on ``{"from": N}``, until the run's stream ends or the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import HelixError, InvalidCursorError
from ..ports.streams import StreamManager
from ..streaming.follow import DEFAULT_POLL, aclose_iterator, follow_batches
from ..streaming.ui import UIVersion
from ..streaming.ws_protocol import (
    CLOSE_ERROR,
    CLOSE_NORMAL,
    INACTIVE_FRAME,
    PONG,
    FrameEncoder,
    Ping,
    done_frame,
    error_frame,
    parse_client_frame,
)
from .context import ApiContext
from .ws_admission import admit, refusal

__all__ = ["chat_websocket", "websocket_frames"]

logger = logging.getLogger("helix_agents.http")


async def chat_websocket(websocket: WebSocket) -> None:
    api: ApiContext = websocket.app.state.api
    await websocket.accept()
    try:
        admitted = await admit(api, websocket, websocket.path_params["session_id"])
    except HelixError as exc:
        await _send_and_close(websocket, *refusal(exc))
        return
    if admitted.run_id is None:
        await _send_and_close(websocket, INACTIVE_FRAME, CLOSE_NORMAL)
        return
    socket = _Socket(api, websocket, admitted.run_id, admitted.ui_version)
    await socket.serve(admitted.cursor)


async def websocket_frames(
    streams: StreamManager,
    run_id: str,
    after: int = 0,
    *,
    ui_version: UIVersion = 6,
    poll: float = DEFAULT_POLL,
) -> AsyncIterator[str]:
    """Every frame a reader of ``run_id`` that starts after ``after`` is sent, the ``done``
    frame last: the stream followed through the port, one :class:`FrameEncoder` for the
    whole connection."""
    reader = FrameEncoder(after=after, ui_version=ui_version)
    batches = follow_batches(streams, run_id, after, poll=poll)
    try:
        async for batch in batches:
            for text in reader.frames(batch):
                yield text
    finally:
        await aclose_iterator(batches)
    yield done_frame(run_id, reader.status)


class _Socket:
    """One socket following one run: a follower task, restarted on ``{"from": N}``."""

    def __init__(self, api: ApiContext, websocket: WebSocket, run_id: str, ui: UIVersion) -> None:
        self.api = api
        self.ws = websocket
        self.run_id = run_id
        self.ui_version: UIVersion = ui
        self.lock = asyncio.Lock()

    async def serve(self, cursor: int) -> None:
        follower = asyncio.ensure_future(self._follow(cursor))
        receiver = asyncio.ensure_future(self._receive())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {follower, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if receiver in done:
                    seek = receiver.result()
                    if seek is None:  # the client left
                        return
                    follower.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await follower
                    follower = asyncio.ensure_future(self._follow(seek))
                    receiver = asyncio.ensure_future(self._receive())
                    continue
                follower.result()
                with contextlib.suppress(Exception):
                    await self.ws.close(CLOSE_NORMAL)
                return
        except (WebSocketDisconnect, OSError):
            return
        except HelixError as exc:
            logger.warning("a WebSocket reader stopped: %s", exc)
            with contextlib.suppress(Exception):
                await self._send(error_frame(exc.code, str(exc)))
                await self.ws.close(CLOSE_ERROR)
        finally:
            for task in (follower, receiver):
                task.cancel()
            for task in (follower, receiver):
                with contextlib.suppress(BaseException):
                    await task

    async def _follow(self, cursor: int) -> None:
        """Send the run's frames after ``cursor``, its ``done`` frame last."""
        frames = websocket_frames(
            self.api.executor.streams,
            self.run_id,
            cursor,
            ui_version=self.ui_version,
            poll=self.api.settings.keep_alive,
        )
        try:
            async for text in frames:
                await self._send(text)
        finally:
            await aclose_iterator(frames)

    async def _receive(self) -> int | None:
        """The cursor of the next ``{"from": N}``; None when the client disconnects. A
        ``ping`` is answered; anything else gets an error frame and is otherwise ignored."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode("utf-8", "replace")
            try:
                parsed = parse_client_frame(text or "")
            except InvalidCursorError as exc:
                await self._send(error_frame(exc.code, str(exc)))
                continue
            if isinstance(parsed, Ping):
                await self._send(PONG)
                continue
            return parsed.cursor

    async def _send(self, text: str) -> None:
        async with self.lock:
            await self.ws.send_text(text)


async def _send_and_close(websocket: WebSocket, text: str, code: int) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(text)
        await websocket.close(code)
