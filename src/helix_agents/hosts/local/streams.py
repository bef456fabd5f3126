"""The local StreamManager: the shared chunk log in a SQLite file, readers woken in-process.

Durability is the chunk log's (``helix_agents.streaming.chunklog``) over stdlib ``sqlite3``,
one transaction per commit ("Held chunks" below). Waiting is in memory: a reader with
nothing to read parks a future on the stream, and the next commit, status change or close
resolves every parked future of that stream. Nothing polls.

Many readers of one stream are cheap because live streams keep a *tail*: the last
``tail_size`` chunks as stored, in memory. A woken reader copies its slice out of the tail
without SQL or JSON parsing; only a reader further behind (a replay from long ago, a stream
from before a restart) reads SQLite. Readers get the same chunk objects: treat them as
read-only.

The in-memory state mirrors the file as long as this process is its only writer. To see
another process writing the same file, calls check ``PRAGMA data_version`` (which changes
only when *another* connection commits), at most once per ``sync_interval`` seconds (it
costs a few microseconds, too much for every one of 200 woken readers), and re-read a
stream's row when it changed. So another writer's chunks show up here within
``sync_interval``, but they do not wake our readers before their timeout. The local host is
one process; the log itself (sequences, statuses) is always exact, whatever the mirror.

Held chunks: a write that does not change the stream's status is checked, serialized and
acknowledged at once, but held, unseen by any reader, until the stream's next commit: the
next write that changes the status, :meth:`LocalStreamManager.flush_held`, or
``HOLD_SECONDS`` (5 ms) at the latest. On the local host the log shares the state file
with the store and the engine's journal (the manager is given the file's
:class:`SQLiteDatabase`), and every transaction of that file writes the held chunks first
(``SQLiteDatabase.hold``): a step's chunks commit with the write that records the step,
never after it, and a step costs one commit for its chunks, its claim and its own write.
Readers are woken once the chunks committed. A crash loses held chunks, which no reader
was given and no record relies on: as if the process had died before writing them.
Another process sees a write within ``HOLD_SECONDS``.

Live readers, as reported in :attr:`WriteAck.readers`, are precisely:

- every read of the stream that is waiting right now, plus
- every read that returned within the last ``recent_window`` seconds (default 1.0) and has
  not been followed by a read that continues from where it stopped (a read whose ``after``
  is the last sequence that read returned, or its own ``after`` if it returned nothing).

So a follower counts once whether it is parked or busy sending what it just read, a reader
that went away stops counting ``recent_window`` seconds after its last read, and a one-off
read (a snapshot) counts for that long.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from ...chunks import Chunk, SequencedChunk
from ...clock import wall_clock_ms
from ...db.packing import STALE
from ...db.sqlite import LOCAL_PAGE_SIZE, LOCAL_WAL_PAGES, SQLiteDatabase, storage_failure
from ...errors import (
    ConfigurationError,
    DatabaseError,
    StreamClosedError,
    StreamError,
    StreamNotFoundError,
)
from ...ports.streams import (
    ReadResult,
    StopRequest,
    StreamInfo,
    StreamStatus,
    WriteAck,
    check_cursor,
    check_limit,
    check_timeout,
)
from ...streaming.chunklog import (
    FINAL_STATUSES,
    Appended,
    ChunkLog,
    Encoded,
    SqlValue,
    Stored,
    is_superseded_by,
)
from ...streaming.follow import DEFAULT_POLL, follow
from .deadlines import Deadlines, call_by

__all__ = ["LocalStreamManager", "SQLiteExecutor", "SharedFileExecutor"]

T = TypeVar("T")

#: How often a parked wait_stop looks at the file for a stop another process recorded.
_STOP_RECHECK = 0.25
#: The longest written chunks wait, unseen, for a commit (what a reader may wait more).
HOLD_SECONDS = 0.005
#: After a failed timed write of held chunks, the next try.
_HOLD_RETRY = 0.25


class SQLiteExecutor:
    """The chunk log's :class:`~helix_agents.streaming.chunklog.SqlExecutor` over sqlite3.

    The connection must be in autocommit mode (``isolation_level=None``): transactions are
    this class's ``BEGIN IMMEDIATE``/``COMMIT``, taken at once so that a second process
    waits on ``busy_timeout`` instead of failing mid-transaction.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        if conn.isolation_level is not None:
            raise ConfigurationError(
                "the stream manager's sqlite3 connection must be opened with"
                " isolation_level=None (autocommit)"
            )
        self.conn = conn

    def exec(self, sql: str, *params: SqlValue) -> list[dict[str, Any]]:
        return _exec(self.conn, sql, params)

    def atomic(self, fn: Callable[[], T]) -> T:
        if _in_transaction(self.conn):  # nested: the outer transaction decides
            return fn()
        self.exec("BEGIN IMMEDIATE")
        try:
            result = fn()
            # COMMIT inside: on a full disk it is the statement that fails, and a
            # transaction left open would swallow every later write of this connection.
            self.exec("COMMIT")
        except BaseException:
            if _in_transaction(self.conn):  # sqlite may have rolled back already
                self.conn.execute("ROLLBACK")
            raise
        return result

    def data_version(self) -> int:
        return int(_exec(self.conn, "PRAGMA data_version", ())[0]["data_version"])


class SharedFileExecutor:
    """The chunk log's executor over a :class:`SQLiteDatabase` it shares with others (the
    local host's state file): its transactions are the file's, which write what the
    file's other writers hold first (``SQLiteDatabase.hold``)."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database
        self.conn = database.connection

    def exec(self, sql: str, *params: SqlValue) -> list[dict[str, Any]]:
        return _exec(self.conn, sql, params)

    def atomic(self, fn: Callable[[], T]) -> T:
        return self.database.transaction(fn)

    def data_version(self) -> int:
        return int(_exec(self.conn, "PRAGMA data_version", ())[0]["data_version"])


class _Live:
    """What this process knows about one stream beyond the file: waiters, readers, tail."""

    __slots__ = (
        "base",
        "ending",
        "generation",
        "last_seq",
        "recent",
        "resets",
        "status",
        "stop",
        "tail",
        "waiters",
    )

    def __init__(self, info: StreamInfo, stop: StopRequest | None, generation: int) -> None:
        self.status: StreamStatus = info.status
        self.last_seq = info.last_seq
        self.stop = stop
        self.generation = generation
        #: Whether an attempt of the stream was ever reset, as far as this process saw: its
        #: held chunks then go the general way, which marks the superseded ones.
        self.resets = False
        #: ``tail[i]`` is the chunk of sequence ``base + 1 + i`` (None: superseded; Stored:
        #: not read yet, decoded by the first read).
        self.base = info.last_seq
        self.tail: list[SequencedChunk | Stored | None] = []
        self.waiters: set[asyncio.Future[None]] = set()
        #: Waits for the stream's end only (wait_final): woken by a final status, a close or
        #: a reload from the file, not by each commit, and not counted as readers.
        self.ending: set[asyncio.Future[None]] = set()
        #: cursor -> return times (ms) of reads that stopped there and were not continued.
        self.recent: dict[int, deque[int]] = {}


class LocalStreamManager:
    """The StreamManager port for the local host (see the module docstring).

    ``database`` is a path (the file is created, in WAL mode), an open sqlite3
    connection in autocommit mode, which stays the caller's to close, or the
    :class:`SQLiteDatabase` of a file shared with other writers (the local host's state
    file), whose transactions then carry the held chunks. ``clock`` returns
    epoch milliseconds. Chunks handed to :meth:`write` are serialized at once; readers get
    the stored form.
    """

    def __init__(
        self,
        database: str | os.PathLike[str] | sqlite3.Connection | SQLiteDatabase,
        *,
        clock: Callable[[], int] | None = None,
        recent_window: float = 1.0,
        sync_interval: float = 0.01,
        tail_size: int = 2048,
        max_live_streams: int = 128,
    ) -> None:
        self._file: SQLiteDatabase | None = None
        self._sql: SQLiteExecutor | SharedFileExecutor
        if isinstance(database, SQLiteDatabase):
            self._file, self._owns_conn = database, False
            conn = database.connection
        elif isinstance(database, sqlite3.Connection):
            conn, self._owns_conn = database, False
        else:
            try:
                conn = sqlite3.connect(
                    os.fspath(database), isolation_level=None, check_same_thread=False
                )
            except sqlite3.Error as exc:
                raise DatabaseError(f"cannot open the stream log {database!r}: {exc}") from exc
            self._owns_conn = True
        self._sql = SQLiteExecutor(conn) if self._file is None else SharedFileExecutor(self._file)
        if self._owns_conn:
            self._sql.exec(f"PRAGMA page_size = {LOCAL_PAGE_SIZE}")
            self._sql.exec("PRAGMA journal_mode = WAL")
            self._sql.exec(f"PRAGMA wal_autocheckpoint = {LOCAL_WAL_PAGES}")
            self._sql.exec("PRAGMA synchronous = NORMAL")
            self._sql.exec("PRAGMA busy_timeout = 5000")
        self._log = ChunkLog(self._sql, clock=clock, returning=True)
        self._log.migrate()
        self._clock = clock or wall_clock_ms
        self._window_ms = int(recent_window * 1000)
        self._tail_size = tail_size
        self._max_live = max_live_streams
        self._live: OrderedDict[str, _Live] = OrderedDict()
        self._generation = 0
        self._data_version = self._sql.data_version()
        self._sync_interval = sync_interval
        self._synced_at = time.monotonic()
        #: stream id -> the futures of its parked :meth:`wait_stop` calls.
        self._stop_waiters: dict[str, set[asyncio.Future[None]]] = {}
        #: stream id -> chunks written, not committed yet ("Held chunks").
        self._held: dict[str, list[Encoded]] = {}
        #: Who held them: the engine instance whose run wrote them (None: no instance).
        self._holders: set[str | None] = set()
        #: Who is writing: the local host sets the engine's ``current_instance``.
        self.owner: Callable[[], str | None] = _nobody
        self._hold_timer: asyncio.TimerHandle | None = None
        #: When (loop time) the oldest held chunk was held (None: nothing held).
        self._held_since: float | None = None
        #: What the transaction in progress wrote of the held chunks (write_held).
        self._writing: list[tuple[str, Appended]] = []
        self._closed = False
        # The timeouts of parked reads and stop waits: each is armed and, almost always,
        # cancelled by a commit or a stop (one loop timer each: .deadlines).
        self._read_deadlines = Deadlines()
        self._stop_deadlines = Deadlines()
        if self._file is not None:
            self._file.hold(self)

    @property
    def log(self) -> ChunkLog:
        """The underlying chunk log (synchronous; it bypasses waking readers). Held chunks
        are committed first, so the log holds every chunk written."""
        self._commit_held(strict=False)
        return self._log

    def flush_held(self) -> None:
        """Commit the chunks held for later (see "Held chunks"), every stream's in one
        transaction (on a shared file, with what its other writers hold): holding changes
        when chunks commit, never the order. On a failure (a full disk) they stay held,
        and the error is raised to a caller whose run held some of them; any other caller
        goes on (what it does next relies on none of them)."""
        self._commit_held(strict=self.owner() in self._holders)

    def _commit_held(self, *, strict: bool) -> None:
        if not self._held:
            return
        try:
            self._commit_all()
        except (DatabaseError, StreamError):
            if strict:
                raise
            self._arm_retry()

    def _arm_retry(self) -> None:
        if self._hold_timer is None and not self._closed:
            loop = asyncio.get_running_loop()
            self._hold_timer = loop.call_later(_HOLD_RETRY, self._flush_later)

    def _commit_all(self) -> None:
        if self._file is not None:
            self._file.flush()  # write_held and committed below, with the file's other holds
        else:
            try:
                self._sql.atomic(self.write_held)
            except BaseException:
                self.rolled_back()
                raise
            self.committed()

    # HeldWrites: called by the transaction that writes the held chunks.

    def has_held(self) -> bool:
        return bool(self._held)

    def write_held(self) -> None:
        written: list[tuple[str, Appended]] = []
        for stream_id, encoded in self._held.items():
            try:
                # Undecoded: the tail decodes a chunk when a reader first asks for it.
                appended = self._log.append_batches([(stream_id, encoded)], decode=False)[0]
            except StreamError:
                # A stream closed or removed by someone else meanwhile (the chunk log
                # refuses before writing): what it held is refused, as its write would
                # have been; the others' go on.
                written.append((stream_id, _REFUSED))
                continue
            written.append((stream_id, appended))
        self._writing = written

    def held_statements(self) -> list[tuple[str, list[SqlValue]]] | None:
        statements: list[tuple[str, list[SqlValue]]] = []
        written: list[tuple[str, Appended]] = []
        for stream_id, encoded in self._held.items():
            live = self._live.get(stream_id)
            if live is None or live.generation != self._generation or live.resets:
                return None  # the general way reads the row
            mine, appended = self._log.known_append(
                stream_id,
                encoded,
                last_seq=live.last_seq,
                status=live.status,
                stop=live.stop,
                stale=STALE,
            )
            statements += mine
            written.append((stream_id, appended))
        self._writing = written
        return statements

    def committed(self) -> None:
        written, self._writing = self._writing, []
        for stream_id, _ in written:
            self._held.pop(stream_id, None)
        if not self._held:
            self._holders.clear()
            self._held_since = None  # the hold timer, if set, finds nothing to write
        self._absorb_committed(
            [(stream_id, appended) for stream_id, appended in written if appended is not _REFUSED]
        )

    def rolled_back(self) -> None:
        self._writing = []

    def _absorb_committed(self, committed: list[tuple[str, Appended]]) -> None:
        for stream_id, appended in committed:
            live = self._live.get(stream_id)
            if live is not None:
                self._absorb(live, appended)
                self._wake(live)

    def _flush_later(self) -> None:
        self._hold_timer = None
        if not self._held:
            return
        since = self._held_since
        loop = asyncio.get_running_loop()
        if since is not None and loop.time() < since + HOLD_SECONDS:
            # Held after this timer was set (an earlier hold's, committed meanwhile).
            self._hold_timer = call_by(loop, since + HOLD_SECONDS, self._flush_later)
            return
        self._commit_held(strict=False)  # on a failure: held, tried again later

    # -- the port ----------------------------------------------------------------------------

    async def create(self, stream_id: str) -> StreamInfo:
        self._check_open()
        self._commit_held(strict=False)
        self._sync()
        info = self._log.create(stream_id)
        self._state(stream_id)
        return info

    async def write(
        self, stream_id: str, chunks: Sequence[Chunk], status: StreamStatus | None = None
    ) -> WriteAck:
        self._check_open()
        live = self._state(stream_id)
        before = live.status
        held = self._held.get(stream_id, [])
        same = status is None or status == before
        if same and isinstance(chunks, list | tuple) and not self._closed:
            readers = self._readers(live)
            if not chunks or before not in FINAL_STATUSES:
                # A probe (the tool step asks whether a stop came before its tool starts),
                # or chunks to hold: the mirror, in sync with the file (_state), answers.
                # Chunks are checked and serialized now and held, unseen, until the
                # stream's next write, flush_held (the host calls it before each write to
                # its other files) or HOLD_SECONDS at most: a step's chunks then cost one
                # commit, and a crash loses only chunks no reader was given.
                if before in FINAL_STATUSES:
                    raise StreamClosedError(
                        f"stream {stream_id!r} is {before}: it takes no more chunks"
                    )
                encoded = self._log.encode(chunks) if chunks else []
                if any(e.kind == "step-reset" for e in encoded):
                    encoded = []  # a reset goes out at once (below)
                elif encoded:
                    held = self._held.setdefault(stream_id, [])
                    held.extend(encoded)
                    self._holders.add(self.owner())
                    if self._held_since is None:
                        self._held_since = asyncio.get_running_loop().time()
                    if self._hold_timer is None:
                        # Something held has a timer set. One left from an earlier hold
                        # (committed() does not cancel it: cancelled timers stay in the
                        # loop's heap, and a step holds and commits twice) fires sooner,
                        # and sets itself for the rest.
                        loop = asyncio.get_running_loop()
                        due = self._held_since + HOLD_SECONDS
                        self._hold_timer = call_by(loop, due, self._flush_later)
                if encoded or not chunks:
                    return WriteAck(
                        last_seq=live.last_seq + len(held),
                        readers=readers,
                        stop_requested=live.stop,
                    )
        if held:
            # Held chunks first: their order is kept (and this write waits for them).
            self._commit_held(strict=True)
            live = self._state(stream_id)
        appended = self._log.append(stream_id, chunks, status)
        self._absorb(live, appended)
        readers = self._readers(live)
        if appended.last_seq >= appended.first_seq or appended.status != before:
            self._wake(live)
        return WriteAck(
            last_seq=appended.last_seq, readers=readers, stop_requested=appended.stop_requested
        )

    async def read(
        self, stream_id: str, after: int = 0, timeout: float = 0.0, limit: int = 1000
    ) -> ReadResult:
        self._check_open()
        check_cursor(after)
        check_limit(limit)
        check_timeout(timeout)
        if timeout == 0 and stream_id in self._held:
            # A read that will not wait gets what was written; a waiting one is woken when
            # the held chunks are committed (within HOLD_SECONDS).
            self._commit_held(strict=False)
        live = self._state(stream_id)
        self._arrive(live, after)
        result = self._collect(stream_id, live, after, limit)
        if not result.chunks and timeout > 0 and live.status not in FINAL_STATUSES:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while (remaining := deadline - loop.time()) > 0:
                await self._wait(live, remaining)
                self._check_open()
                live = self._state(stream_id)
                result = self._collect(stream_id, live, after, limit)
                if result.chunks or live.status in FINAL_STATUSES:
                    break
        self._leave(live, result.chunks[-1].seq if result.chunks else after)
        return result

    async def set_status(self, stream_id: str, status: StreamStatus) -> StreamInfo:
        self._check_open()
        self._commit_held(strict=stream_id in self._held)
        live = self._state(stream_id)
        info = self._log.set_status(stream_id, status)
        if info.status != live.status:
            live.status = info.status
            if status == "active":
                live.stop = None
            self._wake(live)
        return info

    async def info(self, stream_id: str) -> StreamInfo | None:
        self._check_open()
        self._commit_held(strict=False)
        return self._log.info(stream_id)

    async def request_stop(self, stream_id: str, kind: StopRequest) -> None:
        self._check_open()
        self._sync()
        stop = self._log.request_stop(stream_id, kind)
        live = self._live.get(stream_id)
        if live is not None:
            live.stop = stop
        for fut in self._stop_waiters.pop(stream_id, set()):
            _resolve(fut)

    async def wait_stop(self, stream_id: str, timeout: float) -> StopRequest | None:
        self._check_open()
        check_timeout(timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            stop = self._stop_in_force(stream_id)
            if stop is not None:
                return stop
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            # A request_stop of this process wakes the wait at once; one made by another
            # process on the same file is seen at the next look (at most _STOP_RECHECK).
            fut: asyncio.Future[None] = loop.create_future()
            waiters = self._stop_waiters.setdefault(stream_id, set())
            waiters.add(fut)
            timer = self._stop_deadlines.after(min(remaining, _STOP_RECHECK), _resolver(fut))
            try:
                await fut
            finally:
                timer.cancel()
                waiters.discard(fut)
                if not waiters and self._stop_waiters.get(stream_id) is waiters:
                    del self._stop_waiters[stream_id]
            self._check_open()

    # -- beyond the port ---------------------------------------------------------------------

    async def wait_final(self, stream_id: str, timeout: float) -> StreamStatus:
        """The stream's status once it is final, or after ``timeout`` seconds (the
        :class:`~helix_agents.ports.streams.WaitsForEnd` capability): one wake-up at the
        end instead of one per commit."""
        self._check_open()
        check_timeout(timeout)
        live = self._state(stream_id)
        if live.status in FINAL_STATUSES or timeout == 0:
            return live.status
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            # Another process's end is seen at the next look: only this process wakes it.
            await self._wait(live, min(remaining, _STOP_RECHECK), for_end=True)
            self._check_open()
            live = self._state(stream_id)
            if live.status in FINAL_STATUSES:
                break
        return live.status

    def follow(
        self,
        stream_id: str,
        after: int = 0,
        *,
        idle_timeout: float | None = None,
        poll: float = DEFAULT_POLL,
    ) -> AsyncIterator[SequencedChunk]:
        """Chunks after ``after``, live, until the stream ends (see
        :func:`helix_agents.streaming.follow.follow`)."""
        return follow(self, stream_id, after, idle_timeout=idle_timeout, poll=poll)

    def readers(self, stream_id: str) -> int:
        """The live readers of a stream right now, as a write's ack would report them."""
        live = self._live.get(stream_id)
        return 0 if live is None else self._readers(live)

    async def cleanup(self, ttl: float) -> int:
        """Delete ended and failed streams unchanged for ``ttl`` seconds; how many."""
        self._check_open()
        removed = 0
        while True:
            ids = self._log.cleanup(int(ttl * 1000))
            for stream_id in ids:
                live = self._live.pop(stream_id, None)
                if live is not None:
                    self._wake(live)
            removed += len(ids)
            if len(ids) < 100:
                return removed

    async def close(self) -> None:
        """Commit held chunks, wake every waiting reader (their reads raise StreamError)
        and close the file."""
        if self._closed:
            return
        try:
            self._commit_all()
        except (DatabaseError, StreamError):  # lost like a crash's: nobody read them
            self._held.clear()
            self._holders.clear()
            self._held_since = None
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        self._closed = True
        for live in self._live.values():
            self._wake(live, everyone=True)
        for waiters in self._stop_waiters.values():
            for fut in waiters:
                _resolve(fut)
        self._stop_waiters.clear()
        self._live.clear()
        if self._owns_conn:
            self._sql.conn.close()

    async def __aenter__(self) -> LocalStreamManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- internals ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StreamError("the stream manager is closed")

    def _sync(self) -> None:
        """Notice commits by other connections: they make every mirror suspect."""
        now = time.monotonic()
        if now - self._synced_at < self._sync_interval:
            return
        self._synced_at = now
        version = self._sql.data_version()
        if version != self._data_version:
            self._data_version = version
            self._generation += 1

    def _state(self, stream_id: str) -> _Live:
        """The stream's live state, refreshed from the file if another writer touched it."""
        self._sync()
        live = self._live.get(stream_id)
        if live is not None and live.generation == self._generation:
            self._live.move_to_end(stream_id)
            return live
        state = self._log.state(stream_id)
        if state is None:
            if live is not None:
                del self._live[stream_id]
                self._wake(live, everyone=True)
            raise StreamNotFoundError(f"stream {stream_id!r} does not exist")
        info, stop = state
        if live is None:
            live = _Live(info, stop, self._generation)
            self._live[stream_id] = live
            self._evict(keep=stream_id)
            return live
        live.generation = self._generation
        changed = info.last_seq != live.last_seq or info.status != live.status
        if info.last_seq != live.last_seq:
            live.base, live.tail = info.last_seq, []
        live.last_seq, live.status, live.stop = info.last_seq, info.status, stop
        self._live.move_to_end(stream_id)
        if changed:
            self._wake(live)
        return live

    def _stop_in_force(self, stream_id: str) -> StopRequest | None:
        try:
            return self._state(stream_id).stop
        except StreamNotFoundError:
            return None  # no stream yet: no stop either (a request would create it)

    def _evict(self, keep: str) -> None:
        """Forget the least recently used streams beyond ``max_live_streams`` (never one
        with a parked reader: its write would not find the future to wake)."""
        if len(self._live) <= self._max_live:
            return
        for stream_id in list(self._live):
            if len(self._live) <= self._max_live:
                return
            live = self._live[stream_id]
            if stream_id != keep and not live.waiters and not live.ending:
                del self._live[stream_id]

    def _absorb(self, live: _Live, appended: Appended) -> None:
        """Mirror a committed append: status, stop, and the tail."""
        live.status, live.stop = appended.status, appended.stop_requested
        if appended.had_resets or appended.resets:
            live.resets = True
        if appended.last_seq < appended.first_seq:
            return
        if appended.first_seq != live.last_seq + 1 or live.base + len(live.tail) != live.last_seq:
            # Someone else wrote in between: restart the tail after this batch.
            live.base, live.tail = appended.last_seq, []
        else:
            slots: list[SequencedChunk | Stored | None] = [None] * (
                appended.last_seq - appended.first_seq + 1
            )
            for new in appended.chunks:
                slots[new.seq - appended.first_seq] = new
            for raw in appended.stored:
                slots[raw.seq - appended.first_seq] = raw
            live.tail.extend(slots)
            tail = live.tail
            for key, reset_seq in appended.resets:
                for i in range(min(len(tail), reset_seq - live.base - 1)):
                    item = tail[i]
                    if item is None:
                        continue
                    if (
                        item.superseded_by(key)
                        if isinstance(item, Stored)
                        else is_superseded_by(item.chunk, key)
                    ):
                        tail[i] = None
            if len(tail) > 2 * self._tail_size:
                drop = len(tail) - self._tail_size
                del tail[:drop]
                live.base += drop
        live.last_seq = appended.last_seq

    def _collect(self, stream_id: str, live: _Live, after: int, limit: int) -> ReadResult:
        if after < live.base:
            return self._log.read(stream_id, after, limit)
        tail = live.tail
        out: list[SequencedChunk] = []
        for i in range(after - live.base, len(tail)):
            item = tail[i]
            if item is not None:
                if isinstance(item, Stored):
                    item = tail[i] = item.decode(stream_id)
                out.append(item)
                if len(out) >= limit:
                    break
        return ReadResult(chunks=out, status=live.status, last_seq=live.last_seq)

    async def _wait(self, live: _Live, timeout: float, *, for_end: bool = False) -> None:
        """Park until the stream's next change (``for_end``: its end, see ``_wake``) or
        ``timeout``."""
        parked = live.ending if for_end else live.waiters
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        parked.add(fut)
        timer = self._read_deadlines.after(timeout, _resolver(fut))
        try:
            await fut
        finally:
            timer.cancel()
            parked.discard(fut)

    @staticmethod
    def _wake(live: _Live, *, everyone: bool = False) -> None:
        """Wake the parked readers; those waiting for the end only when it came (or
        ``everyone``: the manager closes, the stream is gone)."""
        waiters, live.waiters = live.waiters, set()
        for fut in waiters:
            _resolve(fut)
        if live.ending and (everyone or live.status in FINAL_STATUSES):
            ending, live.ending = live.ending, set()
            for fut in ending:
                _resolve(fut)

    def _arrive(self, live: _Live, after: int) -> None:
        times = live.recent.get(after)
        if times:
            times.popleft()
            if not times:
                del live.recent[after]

    def _leave(self, live: _Live, cursor: int) -> None:
        now = self._clock()
        times = live.recent.get(cursor)
        if times is None:
            times = live.recent[cursor] = deque()
        else:  # readers that never came back (snapshots of a final stream) expire here too
            cutoff = now - self._window_ms
            while times and times[0] < cutoff:
                times.popleft()
        times.append(now)

    def _readers(self, live: _Live) -> int:
        recent = 0
        if live.recent:
            cutoff = self._clock() - self._window_ms
            for cursor in list(live.recent):
                times = live.recent[cursor]
                while times and times[0] < cutoff:
                    times.popleft()
                if times:
                    recent += len(times)
                else:
                    del live.recent[cursor]
        return len(live.waiters) + recent


#: write_held's mark for a stream whose held chunks were refused (closed meanwhile).
_REFUSED = Appended(0, -1, "failed", None)


def _exec(conn: sqlite3.Connection, sql: str, params: Sequence[SqlValue]) -> list[dict[str, Any]]:
    """One statement on ``conn``, every row as a dict (the chunk log's ``exec``)."""
    try:
        cursor = conn.execute(sql, params)
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except sqlite3.Error as exc:
        raise _translate(exc) from exc


def _translate(exc: sqlite3.Error) -> DatabaseError:
    return storage_failure(exc, "the stream log") or DatabaseError(f"stream log: {exc}")


def _in_transaction(conn: sqlite3.Connection) -> bool:
    return conn.in_transaction


def _nobody() -> str | None:
    return None


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _resolver(fut: asyncio.Future[None]) -> Callable[[], None]:
    return lambda: _resolve(fut)
