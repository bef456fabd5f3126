"""The StreamManager Durable Object's logic: one object per session, holding the chunk
logs of the session's runs in its SQLite storage, the long-poll readers waiting on them,
and the hibernating WebSockets following them.

The thin class that Workers instantiates (``StreamManagerDO`` in :mod:`.entrypoints`)
forwards its RPC methods and handlers here. This module is plain Python over the
``ctx`` the runtime gives a Durable Object, so it runs on CPython against the fake
in :mod:`helix_agents.testing.cloudflare`.

- **Storage.** The chunk log is :class:`~helix_agents.streaming.chunklog.ChunkLog`, the
  same code as the local host's, over ``ctx.storage.sql`` (:mod:`.do_sql`): chunks survive
  eviction, restarts and deploys. Its tables are created in the constructor (cheap,
  idempotent), since the constructor runs again after every wake-up.
- **Waiting reads.** ``read(..., timeout)`` with nothing new parks a future that the next
  write or status change resolves; nothing polls. A waiting read is an RPC in flight, so
  the object cannot hibernate while one is parked.
- **Waiting for a stop.** ``wait_stop(..., timeout)`` parks a future that ``request_stop``
  for the stream resolves, in this same object: a model step keeps one such call open
  during its model call and hears of an interrupt at once. Also a request in flight.
- **Live readers**, reported in every write's answer (and so steering the writer's flush
  policy): the waiting reads of the stream, the reads that returned within the last
  ``recent_window`` seconds and were not yet continued (as the local host counts them),
  and the WebSockets following the stream.
- **WebSockets** (:mod:`.stream_sockets`): accepted with ``ctx.acceptWebSocket`` and the
  stream id as tag, each socket's cursor in its attachment; every write is fanned out to
  the stream's sockets; ``ping`` is answered by the runtime (``setWebSocketAutoResponse``)
  without waking the object. The Worker follows a stream for an SSE response over such a
  socket too (in the chunks format), so an SSE reader costs the object nothing while it
  waits: no read is parked, and the object can hibernate.
- **Cleanup** by alarm: a stream that ended is kept ``ttl`` (default one day: long enough
  to reattach to any run), then deleted; a stream that has been silent for ``stale``
  (default one day) while still active belongs to a run that can no longer write, and is
  failed, which also tells its sockets.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from ...clock import wall_clock_ms
from ...errors import StreamError, StreamNotFoundError
from ...ports.streams import check_cursor, check_limit, check_timeout
from ...streaming.chunklog import FINAL_STATUSES, Appended, ChunkLog
from ...streaming.ui import UIVersion
from . import ffi
from .do_sql import DurableObjectSql
from .stream_rpc import decode_chunks, encode_info, encode_stored, failure, success
from .stream_sockets import PING, PONG, SocketState, done_frame, error_frame, frame, parse_seek

__all__ = ["DEFAULT_STALE_MS", "DEFAULT_TTL_MS", "MAX_STOP_WAIT", "StreamHub"]

DEFAULT_TTL_MS: Final = 86_400_000
DEFAULT_STALE_MS: Final = 86_400_000
#: The longest one ``wait_stop`` call is held open (seconds), well under the platform's
#: limits on a request in flight.
MAX_STOP_WAIT: Final = 30.0
#: The page size of a socket's replay.
_PAGE = 1000


class StreamHub:
    """The Durable Object's state and behaviour (see the module docstring).

    Every RPC method answers ``{"ok": ...}`` or ``{"error": ...}`` (:mod:`.stream_rpc`).
    """

    def __init__(
        self,
        ctx: Any,
        *,
        clock: Callable[[], int] | None = None,
        ttl_ms: int = DEFAULT_TTL_MS,
        stale_ms: int = DEFAULT_STALE_MS,
        recent_window: float = 1.0,
    ) -> None:
        self.ctx = ctx
        self._clock = clock or wall_clock_ms
        self.sql = DurableObjectSql(ctx.storage)
        self.log = ChunkLog(self.sql, clock=self._clock)
        self.log.migrate()
        self._ttl_ms = int(ttl_ms)
        self._stale_ms = int(stale_ms)
        self._window_ms = int(recent_window * 1000)
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        #: stream id -> the futures of its parked ``wait_stop`` calls.
        self._stop_waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._recent: dict[str, dict[int, deque[int]]] = {}
        ffi.set_auto_response(ctx, PING, PONG)

    # -- the port, over RPC ------------------------------------------------------------------

    async def create(self, stream_id: str) -> dict[str, Any]:
        try:
            info = self.log.create(stream_id)
            await self._ensure_alarm(self._clock() + self._stale_ms)
        except Exception as exc:
            return failure(exc)
        return success(encode_info(info))

    async def write(self, stream_id: str, payload: str, status: Any = None) -> dict[str, Any]:
        """Append a batch; with ``status`` (a string: JS may hand over ``undefined`` or
        ``null`` for none), then move the stream to it in the same transaction (the run's
        last write ends its stream: its sockets get the last chunks and the end from this
        one call)."""
        final = status if isinstance(status, str) else None
        try:
            before = self.log.info(stream_id) if final is not None else None
            appended = self.log.append(stream_id, decode_chunks(payload), final)  # type: ignore[arg-type]
        except Exception as exc:
            return failure(exc)
        # Counted before the wake-up: a woken read is still a reader, on its way back.
        readers = self.readers(stream_id)
        moved = before is not None and before.status != appended.status
        if appended.last_seq >= appended.first_seq or moved:
            self._wake(stream_id)
        if appended.last_seq >= appended.first_seq:
            self._fan_out(stream_id, appended)
        if moved and appended.status in FINAL_STATUSES:
            await self._finished(stream_id)
        return success(
            {"last_seq": appended.last_seq, "readers": readers, "stop": appended.stop_requested}
        )

    async def read(self, stream_id: str, after: int, timeout: float, limit: int) -> dict[str, Any]:
        try:
            check_cursor(after)
            check_limit(limit)
            check_timeout(timeout)
            self._arrive(stream_id, after)
            status, last_seq, rows = self._read_stored(stream_id, after, limit)
            if not rows and timeout > 0 and status not in FINAL_STATUSES:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + timeout
                while (remaining := deadline - loop.time()) > 0:
                    await self._wait(stream_id, remaining)
                    status, last_seq, rows = self._read_stored(stream_id, after, limit)
                    if rows or status in FINAL_STATUSES:
                        break
            self._leave(stream_id, int(rows[-1]["seq"]) if rows else after)
        except Exception as exc:
            return failure(exc)
        return success(encode_stored(rows, status, last_seq))

    async def set_status(self, stream_id: str, status: str) -> dict[str, Any]:
        try:
            before = self.log.info(stream_id)
            info = self.log.set_status(stream_id, status)  # type: ignore[arg-type]
        except Exception as exc:
            return failure(exc)
        if before is None or before.status != info.status:
            self._wake(stream_id)
            if info.status in FINAL_STATUSES:
                await self._finished(stream_id)
        return success(encode_info(info))

    async def _finished(self, stream_id: str) -> None:
        """A stream just became final: its sockets get the end, and the alarm will delete
        it after the TTL."""
        self._finish_sockets(stream_id)
        await self._ensure_alarm(self._clock() + self._ttl_ms)

    async def info(self, stream_id: str) -> dict[str, Any]:
        try:
            return success(encode_info(self.log.info(stream_id)))
        except Exception as exc:
            return failure(exc)

    async def request_stop(self, stream_id: str, kind: str) -> dict[str, Any]:
        try:
            stop = self.log.request_stop(stream_id, kind)  # type: ignore[arg-type]
        except Exception as exc:
            return failure(exc)
        # The step watching this stream during its model call is parked in wait_stop, in
        # this same object: it hears of the stop now, not at its next write.
        for future in self._stop_waiters.pop(stream_id, set()):
            _resolve(future)
        return success(stop)

    async def wait_stop(self, stream_id: str, timeout: float) -> dict[str, Any]:
        """The stop request in force, as soon as there is one, or None after ``timeout``
        (at most :data:`MAX_STOP_WAIT`: the caller loops). A parked call is a request in
        flight: it keeps the object from hibernating, but not from serving other calls
        (awaiting a future holds no input gate), so the request_stop it waits for gets in."""
        try:
            check_timeout(timeout)
            stop = self._stop_of(stream_id)
            if stop is None and timeout > 0:
                loop = asyncio.get_running_loop()
                future: asyncio.Future[None] = loop.create_future()
                waiters = self._stop_waiters.setdefault(stream_id, set())
                waiters.add(future)
                timer = loop.call_later(min(float(timeout), MAX_STOP_WAIT), _resolve, future)
                try:
                    await future
                finally:
                    timer.cancel()
                    waiters.discard(future)
                    if not waiters and self._stop_waiters.get(stream_id) is waiters:
                        del self._stop_waiters[stream_id]
                stop = self._stop_of(stream_id)
        except Exception as exc:
            return failure(exc)
        return success(stop)

    def _stop_of(self, stream_id: str) -> str | None:
        state = self.log.state(stream_id)
        return None if state is None else state[1]

    def _read_stored(
        self, stream_id: str, after: int, limit: int
    ) -> tuple[str, int, list[dict[str, Any]]]:
        """What :meth:`ChunkLog.read` returns, but as the stored JSON of each chunk: a read
        answers with the rows as they are, with no chunk parsed and encoded again (the
        reader's side parses them once). Same order as the log's read: the status first, so
        a final status means every chunk is there."""
        rows = self.sql.exec(
            f"SELECT status, last_seq FROM {self.log.streams_table} WHERE stream_id = ?",
            stream_id,
        )
        if not rows:
            raise StreamNotFoundError(f"stream {stream_id!r} does not exist")
        data = self.sql.exec(
            f"SELECT seq, data FROM {self.log.chunks_table} WHERE stream_id = ? AND seq > ?"
            " AND superseded = 0 ORDER BY seq LIMIT ?",
            stream_id,
            after,
            limit,
        )
        return str(rows[0]["status"]), int(rows[0]["last_seq"]), data

    # -- readers -----------------------------------------------------------------------------

    def readers(self, stream_id: str) -> int:
        """The stream's live readers right now (see the module docstring)."""
        recent = 0
        cursors = self._recent.get(stream_id)
        if cursors:
            cutoff = self._clock() - self._window_ms
            for cursor in list(cursors):
                times = cursors[cursor]
                while times and times[0] < cutoff:
                    times.popleft()
                if times:
                    recent += len(times)
                else:
                    del cursors[cursor]
        sockets = sum(1 for _ in self.ctx.getWebSockets(stream_id))
        return len(self._waiters.get(stream_id, ())) + recent + sockets

    def _arrive(self, stream_id: str, after: int) -> None:
        times = self._recent.get(stream_id, {}).get(after)
        if times:
            times.popleft()

    def _leave(self, stream_id: str, cursor: int) -> None:
        now = self._clock()
        cursors = self._recent.setdefault(stream_id, {})
        times = cursors.get(cursor)
        if times is None:
            times = cursors[cursor] = deque()
        else:
            cutoff = now - self._window_ms
            while times and times[0] < cutoff:
                times.popleft()
        times.append(now)

    async def _wait(self, stream_id: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiters = self._waiters.setdefault(stream_id, set())
        waiters.add(future)
        timer = loop.call_later(timeout, _resolve, future)
        try:
            await future
        finally:
            timer.cancel()
            waiters.discard(future)
            if not waiters:
                self._waiters.pop(stream_id, None)

    def _wake(self, stream_id: str) -> None:
        for future in self._waiters.pop(stream_id, set()):
            _resolve(future)

    # -- WebSockets --------------------------------------------------------------------------

    async def fetch(self, request: Any) -> Any:
        """A WebSocket upgrade forwarded by the Worker (after authentication):
        ``/ws?stream=<run id>&from=<seq>&v=<6|7>``, with ``&format=chunks`` for the
        Worker's own sockets (the log's chunks rather than UI frames, see
        :mod:`.stream_sockets`)."""
        query = parse_qs(urlsplit(str(request.url)).query)
        stream_id = (query.get("stream") or [""])[0]
        try:
            cursor = int((query.get("from") or ["0"])[0])
            check_cursor(cursor)
        except (ValueError, StreamError):
            cursor = 0
        version: UIVersion = 7 if (query.get("v") or ["6"])[0] == "7" else 6
        raw = (query.get("format") or [""])[0] == "chunks"
        client, server = ffi.websocket_pair()
        state = SocketState(stream_id=stream_id, cursor=cursor, ui_version=version, raw=raw)
        info = self.log.info(stream_id) if stream_id else None
        if info is None:
            server.accept()
            server.send(frame({"done": True, "active": False}))
            server.close(1000, "")
            return ffi.upgrade_response(client)
        ffi.accept_websocket(self.ctx, server, [stream_id])
        self._catch_up(server, state)
        return ffi.upgrade_response(client)

    async def websocket_message(self, ws: Any, message: Any) -> None:
        state = SocketState.load(ws.deserializeAttachment())
        if state is None:
            return
        text = message if isinstance(message, str) else _bytes(message).decode("utf-8", "replace")
        if text == PING:  # the runtime answers it; should one get through, answer it alike
            ws.send(PONG)
            return
        try:
            cursor = parse_seek(text)
        except StreamError as exc:
            ws.send(error_frame(exc.code, str(exc)))
            return
        state = SocketState(
            stream_id=state.stream_id, cursor=cursor, ui_version=state.ui_version, raw=state.raw
        )
        self._catch_up(ws, state)

    async def websocket_close(self, ws: Any, code: int, reason: str) -> None:
        try:
            ws.close(code, reason)
        except Exception:  # the runtime already answered the close
            pass

    async def websocket_error(self, ws: Any, error: Any) -> None:
        try:
            ws.close(1011, "")
        except Exception:
            pass

    def _catch_up(self, ws: Any, state: SocketState) -> None:
        """Send ``ws`` everything after its cursor; end it if the stream is final."""
        try:
            while True:
                page = self.log.read(state.stream_id, state.cursor, _PAGE)
                for text in state.frames(page.chunks):
                    ws.send(text)
                if page.chunks:
                    state.cursor = max(state.cursor, page.chunks[-1].seq)
                if len(page.chunks) < _PAGE:
                    break
            if page.status in FINAL_STATUSES:
                ws.send(done_frame(state.stream_id, state.status))
                ws.close(1000, "")
                return
            ws.serializeAttachment(state.dump())
        except Exception:  # the client went away mid-send: nothing to keep for it
            try:
                ws.close(1011, "")
            except Exception:
                pass

    def _fan_out(self, stream_id: str, appended: Appended) -> None:
        for ws in self.ctx.getWebSockets(stream_id):
            state = SocketState.load(ws.deserializeAttachment())
            if state is None or state.cursor >= appended.last_seq:
                continue
            if state.cursor < appended.first_seq - 1:
                self._catch_up(ws, state)
                continue
            try:
                for text in state.frames(appended.chunks):
                    ws.send(text)
                state.cursor = max(state.cursor, appended.last_seq)
                ws.serializeAttachment(state.dump())
            except Exception:
                try:
                    ws.close(1011, "")
                except Exception:
                    pass

    def _finish_sockets(self, stream_id: str) -> None:
        for ws in self.ctx.getWebSockets(stream_id):
            state = SocketState.load(ws.deserializeAttachment())
            if state is not None:
                self._catch_up(ws, state)

    # -- cleanup -----------------------------------------------------------------------------

    async def alarm(self) -> None:
        """Fail streams gone silent, delete ended ones past their TTL, and set the next
        alarm for whatever remains."""
        now = self._clock()
        stale = self.sql.exec(
            f"SELECT stream_id FROM {self.log.streams_table} WHERE status IN ('active', "
            "'paused') AND updated_at < ? LIMIT 100",
            now - self._stale_ms,
        )
        for row in stale:
            stream_id = str(row["stream_id"])
            self.log.set_status(stream_id, "failed")
            self._wake(stream_id)
            self._finish_sockets(stream_id)
        while len(self.log.cleanup(self._ttl_ms)) >= 100:
            pass
        rows = self.sql.exec(
            "SELECT MIN(CASE WHEN status IN ('ended', 'failed') THEN updated_at END) AS ended,"
            " MIN(CASE WHEN status IN ('active', 'paused') THEN updated_at END) AS active"
            f" FROM {self.log.streams_table}"
        )
        due: list[int] = []
        if rows and rows[0].get("ended") is not None:
            due.append(int(rows[0]["ended"]) + self._ttl_ms)
        if rows and rows[0].get("active") is not None:
            due.append(int(rows[0]["active"]) + self._stale_ms)
        if due:
            await self.ctx.storage.setAlarm(max(min(due), now + 1000))

    async def _ensure_alarm(self, at: int) -> None:
        current = await self.ctx.storage.getAlarm()
        if current is None or float(current) > at:
            await self.ctx.storage.setAlarm(at)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _bytes(message: Any) -> bytes:
    to_bytes = getattr(message, "to_bytes", None)
    if callable(to_bytes):
        return bytes(to_bytes())
    return bytes(message)
