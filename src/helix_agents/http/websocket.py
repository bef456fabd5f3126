"""``GET /chat/{sessionId}/ws``: the current run's chunks over a WebSocket.

Frames are JSON text. The server sends ``{"seq": N, "chunk": <UI chunk>}`` for each event
(the same UI chunks, with the same sequence numbers, as the SSE stream), then
``{"done": true, "runId": ..., "status": ...}`` when the run's instance ends, and closes
(1000). Without an active run it sends ``{"done": true, "active": false}`` and closes.

Replay: ``?from=N`` (or ``Last-Event-ID`` / ``X-Resume-From-Sequence``) starts after N;
without one the run is replayed from its start. As on the SSE route, a client with a cursor
that missed the end of the latest run gets the rest of it. At any time the client may send
``{"from": N}`` to be replayed again from after N (e.g. after it dropped frames).

Errors are a frame ``{"error": {"code", "message"}}`` and a close with code
``4000 + status`` (4400 bad request, 4401 unauthorized, 4403 forbidden (also a page of an
origin the CORS policy does not allow: ``origin_refused``), 4404 not found). The
socket is accepted first so that a browser, which cannot read a refused handshake, sees why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pydantic_core import to_json
from starlette.websockets import WebSocket, WebSocketDisconnect

from .._json import loads_bounded
from ..errors import HelixError, InvalidCursorError, StreamError
from ..ids import validate_session_id
from ..streaming.follow import follow_batches
from ..streaming.sse import parse_cursor, resume_cursor
from ..streaming.ui import UIMessageEncoder
from .context import ApiContext
from .errors import ApiError, helix_error_response, status_for
from .guard import check_origin

__all__ = ["chat_websocket", "run_to_follow"]

logger = logging.getLogger("helix_agents.http")


async def chat_websocket(websocket: WebSocket) -> None:
    api: ApiContext = websocket.app.state.api
    await websocket.accept()
    try:
        check_origin(websocket, api.settings.cors_origins)
        user = await api.user(websocket)
        session_id = validate_session_id(websocket.path_params["session_id"])
        given = resume_cursor(websocket.headers, websocket.query_params)
        await api.session(session_id, user)
        run_id = await run_to_follow(api, session_id, given)
    except HelixError as exc:
        await _refuse(websocket, exc)
        return
    if run_id is None:
        await _send_and_close(websocket, {"done": True, "active": False})
        return
    await _Session(api, websocket, run_id).serve(given or 0)


async def run_to_follow(api: ApiContext, session_id: str, cursor: int | None) -> str | None:
    """The active run; or, for a client with a cursor that missed the end of the latest
    run, that run (as on the SSE route); else None."""
    store, streams = api.executor.store, api.executor.streams
    run = await store.active_run(session_id)
    if run is not None:
        return run.run_id
    if cursor is None:
        return None
    latest = await store.latest_run(session_id)
    info = await streams.info(latest.run_id) if latest is not None else None
    if latest is None or info is None or cursor >= info.last_seq:
        return None
    return latest.run_id


class _Session:
    """One socket following one run: a follower task, restarted on ``{"from": N}``."""

    def __init__(self, api: ApiContext, websocket: WebSocket, run_id: str) -> None:
        self.api = api
        self.ws = websocket
        self.run_id = run_id
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
                status = follower.result()
                await self._send({"done": True, "runId": self.run_id, "status": status})
                with contextlib.suppress(Exception):
                    await self.ws.close(1000)
                return
        except (WebSocketDisconnect, OSError):
            return
        except HelixError as exc:
            logger.warning("a WebSocket reader stopped: %s", exc)
            with contextlib.suppress(Exception):
                await self._send({"error": {"code": exc.code, "message": str(exc)}})
                await self.ws.close(1011)
        finally:
            for task in (follower, receiver):
                task.cancel()
            for task in (follower, receiver):
                with contextlib.suppress(BaseException):
                    await task

    async def _follow(self, cursor: int) -> str:
        """Send the run's events after ``cursor`` until its instance ends; its status."""
        encoder = UIMessageEncoder(after=cursor, ui_version=self.api.settings.ui_version)
        status = "ended"
        batches = follow_batches(
            self.api.executor.streams, self.run_id, cursor, poll=self.api.settings.keep_alive
        )
        async for batch in batches:
            for item in batch:
                if item.chunk.type == "run-end":
                    status = item.chunk.status
                try:
                    ui = encoder.encode(item)
                except StreamError as exc:
                    ui = {"type": "error", "errorText": str(exc)}
                if ui is not None:
                    await self._send({"seq": item.seq, "chunk": ui})
        return status

    async def _receive(self) -> int | None:
        """The next ``{"from": N}`` from the client; None when it disconnects. Anything
        else gets an error frame and is otherwise ignored."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode("utf-8", "replace")
            try:
                return _parse_seek(text or "")
            except InvalidCursorError as exc:
                await self._send({"error": {"code": exc.code, "message": str(exc)}})

    async def _send(self, frame: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_text(to_json(frame, inf_nan_mode="strings").decode())


def _parse_seek(text: str) -> int:
    try:
        data = loads_bounded(text)  # a frame nested too deep would kill a Worker's isolate
    except (ValueError, RecursionError):
        raise InvalidCursorError('frames must be JSON: {"from": <sequence>}') from None
    if not isinstance(data, dict) or "from" not in data:
        raise InvalidCursorError('the only client frame is {"from": <sequence>}')
    value = data["from"]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidCursorError('"from" must be a non-negative integer')
    return parse_cursor(str(value), source='"from"')


async def _refuse(websocket: WebSocket, exc: HelixError) -> None:
    status = status_for(exc)
    if status >= 500 and not isinstance(exc, ApiError):
        helix_error_response(exc)  # logs it
        await _send_and_close(
            websocket, {"error": {"code": "internal_error", "message": "internal error"}}, 1011
        )
        return
    body = {"error": {"code": exc.code, "message": str(exc)}}
    await _send_and_close(websocket, body, 4000 + status)


async def _send_and_close(websocket: WebSocket, frame: dict[str, Any], code: int = 1000) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(to_json(frame).decode())
        await websocket.close(code)
