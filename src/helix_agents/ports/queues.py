"""The Queue port: send messages now, consume them in batches later, at least once.

Contract (Cloudflare Queues', so that code that works locally works on the Worker):

- The producer side is :class:`Queue`: ``send(body)`` and ``send_batch(messages)``.
  Bodies are JSON values (sent with Cloudflare's ``"json"`` content type). A message may be
  delayed by up to 12 hours (``delay_seconds`` up to 43200).
- Limits, checked before anything is sent (:func:`check_messages`): at most 128 KB per
  message body (its JSON), at most 100 messages and 256 KB per batch.
- The consumer side receives a :class:`MessageBatch` of at most ``max_batch_size``
  messages (default 10, at most 100). Each message has an ``id``, a ``timestamp``, its
  ``body`` and ``attempts`` (1 on its first delivery). The consumer settles messages with
  ``ack()`` (done), ``retry(delay_seconds=...)`` (deliver again later), or for the whole
  batch with ``ack_all()``/``retry_all()``. A message settled by neither is acked when the
  handler returns and retried when it raises. The first call on a message decides; later
  calls are ignored.
- Dead letters: a message retried after its ``max_retries``-th retry (default 3, so after
  ``1 + max_retries`` deliveries) goes to the ``dead_letter_queue`` when one is configured,
  and is deleted otherwise.
- Delivery is at least once: a consumer that dies mid-batch sees the batch again, so
  handlers must be idempotent (key the work by the message's own id or a body field).
- Errors are :class:`helix_agents.errors.QueueError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..errors import QueueError

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_MESSAGES",
    "MAX_DELAY_SECONDS",
    "MAX_MESSAGE_BYTES",
    "ConsumerSettings",
    "MessageBatch",
    "OutgoingMessage",
    "Queue",
    "QueueMessage",
    "check_messages",
    "encode_body",
]

MAX_MESSAGE_BYTES = 128 * 1000
MAX_BATCH_MESSAGES = 100
MAX_BATCH_BYTES = 256 * 1000
MAX_DELAY_SECONDS = 43_200


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message of a batch: its body and, optionally, its own delay."""

    body: Any
    delay_seconds: int | None = None


@runtime_checkable
class Queue(Protocol):
    @property
    def name(self) -> str: ...

    async def send(self, body: Any, *, delay_seconds: int | None = None) -> None:
        """Send one message."""
        ...

    async def send_batch(
        self, messages: Sequence[OutgoingMessage], *, delay_seconds: int | None = None
    ) -> None:
        """Send up to 100 messages at once; ``delay_seconds`` applies to those without one."""
        ...


class QueueMessage(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def timestamp(self) -> float:
        """When it was sent, in milliseconds since the epoch."""
        ...

    @property
    def body(self) -> Any: ...

    @property
    def attempts(self) -> int: ...

    def ack(self) -> None: ...

    def retry(self, *, delay_seconds: int | None = None) -> None: ...


class MessageBatch(Protocol):
    @property
    def queue(self) -> str: ...

    @property
    def messages(self) -> Sequence[QueueMessage]: ...

    def ack_all(self) -> None: ...

    def retry_all(self, *, delay_seconds: int | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """A consumer's configuration, as ``[[queues.consumers]]`` in wrangler.toml has it."""

    max_batch_size: int = 10
    max_retries: int = 3
    dead_letter_queue: str | None = None
    retry_delay: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch_size <= 100:
            raise QueueError("max_batch_size must be from 1 to 100")
        if not 0 <= self.max_retries <= 100:
            raise QueueError("max_retries must be from 0 to 100")
        check_delay(self.retry_delay)


def check_delay(delay_seconds: int | None) -> int:
    if delay_seconds is None:
        return 0
    if (
        isinstance(delay_seconds, bool)
        or not isinstance(delay_seconds, int)
        or not 0 <= delay_seconds <= MAX_DELAY_SECONDS
    ):
        raise QueueError(
            f"delay_seconds must be an integer from 0 to {MAX_DELAY_SECONDS}, got {delay_seconds!r}"
        )
    return delay_seconds


def encode_body(body: Any) -> str:
    """A body's JSON, or a :class:`QueueError` when it has none or is too large."""
    try:
        text = json.dumps(body, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise QueueError(f"a message body must be a JSON value: {exc}") from None
    size = len(text.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise QueueError(f"a message of {size} bytes, at most {MAX_MESSAGE_BYTES}")
    return text


def check_messages(
    messages: Sequence[OutgoingMessage], delay_seconds: int | None = None
) -> list[tuple[str, int]]:
    """Each message's JSON and delay, or a :class:`QueueError` for a batch over the limits."""
    if not messages:
        raise QueueError("a batch needs at least one message")
    if len(messages) > MAX_BATCH_MESSAGES:
        raise QueueError(f"at most {MAX_BATCH_MESSAGES} messages per batch, got {len(messages)}")
    default = check_delay(delay_seconds)
    out: list[tuple[str, int]] = []
    total = 0
    for message in messages:
        if not isinstance(message, OutgoingMessage):
            raise QueueError("send_batch takes OutgoingMessage(body, delay_seconds) items")
        text = encode_body(message.body)
        total += len(text.encode("utf-8"))
        delay = default if message.delay_seconds is None else check_delay(message.delay_seconds)
        out.append((text, delay))
    if total > MAX_BATCH_BYTES:
        raise QueueError(f"a batch of {total} bytes, at most {MAX_BATCH_BYTES}")
    return out
