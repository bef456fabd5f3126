"""The local queue: Cloudflare Queues' contract over the Database port (SQLite locally).

:class:`SQLQueue` is the producer (the :class:`~helix_agents.ports.Queue` port); a
:class:`LocalQueueConsumer` delivers batches to a handler the way the Queues runtime calls
a Worker's ``queue`` handler: ``attempts`` counted per delivery, explicit ``ack``/``retry``,
the implicit ack when the handler returns and retry when it raises, and the dead-letter
rule after ``max_retries``. A delivered batch is leased (hidden) for ``lease_seconds``
before it is settled, so a consumer that dies mid-batch has it delivered again: at least
once, as on Cloudflare.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from ...clock import ClockMs, now_ms
from ...ports.database import Database, Statement
from ...ports.queues import (
    ConsumerSettings,
    OutgoingMessage,
    check_delay,
    check_messages,
    encode_body,
)

__all__ = ["LocalBatch", "LocalMessage", "LocalQueueConsumer", "SQLQueue"]

_log = logging.getLogger(__name__)

_DDL = (
    "CREATE TABLE IF NOT EXISTS __helix_queue_messages ("
    " queue TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, sent_at INTEGER NOT NULL,"
    " visible_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (queue, id))",
    "CREATE INDEX IF NOT EXISTS __helix_queue_due ON __helix_queue_messages"
    " (queue, visible_at, sent_at)",
)
_INSERT = (
    "INSERT INTO __helix_queue_messages (queue, id, body, sent_at, visible_at, attempts)"
    " VALUES (?, ?, ?, ?, ?, 0)"
)


async def _setup(db: Database) -> None:
    # IF NOT EXISTS: cheap, and each producer and consumer runs it once.
    for sql in _DDL:
        await db.execute(sql)


def _new_id() -> str:
    return secrets.token_hex(16)


class SQLQueue:
    """The producer of the queue ``name`` in ``db``."""

    def __init__(self, db: Database, name: str, *, clock: ClockMs | None = None) -> None:
        self._db = db
        self._name = name
        self._clock = clock or now_ms
        self._ready = False

    async def _ensure(self) -> None:
        if not self._ready:
            await _setup(self._db)
            self._ready = True

    def __repr__(self) -> str:
        return f"SQLQueue({self._name!r})"

    @property
    def name(self) -> str:
        return self._name

    async def send(self, body: Any, *, delay_seconds: int | None = None) -> None:
        text = encode_body(body)
        delay = check_delay(delay_seconds)
        await self._ensure()
        now = int(self._clock())
        await self._db.execute(_INSERT, (self._name, _new_id(), text, now, now + delay * 1000))

    async def send_batch(
        self, messages: Sequence[OutgoingMessage], *, delay_seconds: int | None = None
    ) -> None:
        checked = check_messages(messages, delay_seconds)
        await self._ensure()
        now = int(self._clock())
        await self._db.batch(
            [
                Statement(_INSERT, (self._name, _new_id(), text, now, now + delay * 1000))
                for text, delay in checked
            ]
        )

    async def depth(self) -> int:
        """How many messages the queue holds (due or not, leased included)."""
        await self._ensure()
        rows = await self._db.query(
            "SELECT COUNT(*) AS n FROM __helix_queue_messages WHERE queue = ?", (self._name,)
        )
        return int(rows[0]["n"])


Settlement = tuple[Literal["ack", "retry"], int]


class LocalMessage:
    """A delivered message (the Queues runtime's ``Message``)."""

    def __init__(self, id: str, timestamp: float, body: Any, attempts: int) -> None:
        self._id = id
        self._timestamp = timestamp
        self._body = body
        self._attempts = attempts
        self.settlement: Settlement | None = None

    @property
    def id(self) -> str:
        return self._id

    @property
    def timestamp(self) -> float:
        return self._timestamp

    @property
    def body(self) -> Any:
        return self._body

    @property
    def attempts(self) -> int:
        return self._attempts

    def ack(self) -> None:
        if self.settlement is None:
            self.settlement = ("ack", 0)

    def retry(self, *, delay_seconds: int | None = None) -> None:
        if self.settlement is None:
            self.settlement = ("retry", -1 if delay_seconds is None else check_delay(delay_seconds))


class LocalBatch:
    """A delivered batch (the Queues runtime's ``MessageBatch``)."""

    def __init__(self, queue: str, messages: list[LocalMessage]) -> None:
        self._queue = queue
        self._messages = messages

    @property
    def queue(self) -> str:
        return self._queue

    @property
    def messages(self) -> list[LocalMessage]:
        return self._messages

    def ack_all(self) -> None:
        for message in self._messages:
            message.ack()

    def retry_all(self, *, delay_seconds: int | None = None) -> None:
        for message in self._messages:
            message.retry(delay_seconds=delay_seconds)


Handler = Callable[[LocalBatch], Awaitable[None]]


class LocalQueueConsumer:
    """Delivers the queue ``queue``'s due messages to ``handler`` in batches."""

    def __init__(
        self,
        db: Database,
        queue: str,
        handler: Handler,
        settings: ConsumerSettings | None = None,
        *,
        lease_seconds: int = 60,
        clock: ClockMs | None = None,
    ) -> None:
        self._db = db
        self._queue = queue
        self._handler = handler
        self.settings = settings or ConsumerSettings()
        self._lease_ms = lease_seconds * 1000
        self._clock = clock or now_ms
        self._ready = False

    async def run_once(self) -> int:
        """Deliver one batch of due messages (if any) and settle it; returns its size."""
        if not self._ready:
            await _setup(self._db)
            self._ready = True
        now = int(self._clock())
        rows = await self._db.query(
            "SELECT id, body, sent_at, attempts FROM __helix_queue_messages"
            " WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, sent_at LIMIT ?",
            (self._queue, now, self.settings.max_batch_size),
        )
        if not rows:
            return 0
        # Lease first: if this process dies in the handler, the batch comes back.
        await self._db.batch(
            [
                Statement(
                    "UPDATE __helix_queue_messages SET visible_at = ?, attempts = attempts + 1"
                    " WHERE queue = ? AND id = ?",
                    (now + self._lease_ms, self._queue, row["id"]),
                )
                for row in rows
            ]
        )
        messages = [
            LocalMessage(
                row["id"], float(row["sent_at"]), json.loads(row["body"]), row["attempts"] + 1
            )
            for row in rows
        ]
        batch = LocalBatch(self._queue, messages)
        try:
            await self._handler(batch)
        except Exception:
            batch.retry_all()  # only those not settled yet: the first call decides
        else:
            batch.ack_all()
        await self._settle(messages, int(self._clock()))
        return len(messages)

    async def _settle(self, messages: list[LocalMessage], now: int) -> None:
        statements: list[Statement] = []
        delete = "DELETE FROM __helix_queue_messages WHERE queue = ? AND id = ?"
        for message in messages:
            kind, delay = message.settlement or ("ack", 0)
            if kind == "ack":
                statements.append(Statement(delete, (self._queue, message.id)))
            elif message.attempts > self.settings.max_retries:
                statements.append(Statement(delete, (self._queue, message.id)))
                dlq = self.settings.dead_letter_queue
                if dlq is not None:
                    statements.append(
                        Statement(
                            _INSERT,
                            (
                                dlq,
                                message.id,
                                encode_body(message.body),
                                int(message.timestamp),
                                now,
                            ),
                        )
                    )
            else:
                seconds = self.settings.retry_delay if delay < 0 else delay
                statements.append(
                    Statement(
                        "UPDATE __helix_queue_messages SET visible_at = ? WHERE queue = ? AND id = ?",
                        (now + seconds * 1000, self._queue, message.id),
                    )
                )
        await self._db.batch(statements)

    async def drain(self, *, max_batches: int = 1000) -> int:
        """Deliver batches until none is due (or ``max_batches``); returns the messages seen."""
        total = 0
        for _ in range(max_batches):
            n = await self.run_once()
            if n == 0:
                break
            total += n
        return total

    async def run(self, stop: asyncio.Event, *, poll_seconds: float = 0.5) -> None:
        """Consume until ``stop`` is set: the local host's consumer loop."""
        while not stop.is_set():
            try:
                delivered = await self.run_once()
            except Exception:  # the database failed (a full disk...): the next poll retries
                _log.exception("the queue consumer of %r failed; polling again", self._queue)
                delivered = 0
            if delivered == 0:
                try:
                    await asyncio.wait_for(stop.wait(), poll_seconds)
                except TimeoutError:
                    pass
