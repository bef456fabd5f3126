"""The Queue port over a Queues producer binding (``env.QUEUE``).

Queues' Worker API: ``send(body, {contentType, delaySeconds})`` and
``sendBatch([{body, contentType, delaySeconds}], {delaySeconds})``. Bodies go as
``contentType: "json"`` so that a consumer in any language reads the same JSON the local
queue stores. The port's limits are checked before a call
(:func:`helix_agents.ports.queues.check_messages`); what the binding throws becomes a
:class:`~helix_agents.errors.QueueError`.

The consumer side on Cloudflare is the Worker's ``queue(batch, env, ctx)`` handler, called
by the runtime with batches whose messages have ``id``, ``timestamp``, ``body``,
``attempts``, ``ack()`` and ``retry({delaySeconds})``: :class:`CloudflareBatch` presents
one as the port's :class:`~helix_agents.ports.queues.MessageBatch`, so a handler written
for the local consumer runs there unchanged. Queues runs for real in local workerd, so
both sides are tested on the real Worker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import QueueError
from ...ports.queues import OutgoingMessage, check_delay, check_messages, encode_body
from ._convert import js_arg, py, raw

__all__ = ["CloudflareBatch", "CloudflareMessage", "CloudflareQueue"]


class CloudflareQueue:
    """A :class:`~helix_agents.ports.Queue` over a producer binding named ``name``."""

    def __init__(self, binding: Any, name: str = "QUEUE") -> None:
        self.binding = binding
        self._name = name

    def __repr__(self) -> str:
        return f"CloudflareQueue({self._name!r})"

    @property
    def name(self) -> str:
        return self._name

    async def send(self, body: Any, *, delay_seconds: int | None = None) -> None:
        text = encode_body(body)
        options: dict[str, Any] = {"contentType": "json"}
        delay = check_delay(delay_seconds)
        if delay:
            options["delaySeconds"] = delay
        await self._call("send", js_arg(json.loads(text)), js_arg(options))

    async def send_batch(
        self, messages: Sequence[OutgoingMessage], *, delay_seconds: int | None = None
    ) -> None:
        checked = check_messages(messages, delay_seconds)
        batch: list[dict[str, Any]] = []
        for text, delay in checked:
            item: dict[str, Any] = {"body": json.loads(text), "contentType": "json"}
            if delay:
                item["delaySeconds"] = delay
            batch.append(item)
        await self._call("sendBatch", js_arg(batch))

    async def _call(self, method: str, *args: Any) -> None:
        try:
            await getattr(raw(self.binding), method)(*args)
        except Exception as exc:  # a JsException in a Worker; its text is the runtime's
            raise QueueError(f"queue {self._name!r} {method}: {exc}") from None


class CloudflareMessage:
    """A message of the runtime's batch, as the port's ``QueueMessage``."""

    def __init__(self, message: Any) -> None:
        self._message = message

    @property
    def id(self) -> str:
        return str(self._message.id)

    @property
    def timestamp(self) -> float:
        stamp = self._message.timestamp
        get_time = getattr(stamp, "getTime", None)  # a JS Date
        if callable(get_time):
            return float(get_time())
        timestamp = getattr(stamp, "timestamp", None)  # a Python datetime (the SDK's)
        if callable(timestamp):
            return float(timestamp()) * 1000.0
        return float(stamp)

    @property
    def body(self) -> Any:
        return _plain(py(self._message.body))

    @property
    def attempts(self) -> int:
        return int(self._message.attempts)

    def ack(self) -> None:
        self._message.ack()

    def retry(self, *, delay_seconds: int | None = None) -> None:
        if delay_seconds is None:
            self._message.retry()
        else:
            self._message.retry(js_arg({"delaySeconds": check_delay(delay_seconds)}))


class CloudflareBatch:
    """The runtime's ``MessageBatch`` as the port's."""

    def __init__(self, batch: Any) -> None:
        self._batch = batch
        self._messages = [CloudflareMessage(m) for m in py(batch.messages)]

    @property
    def queue(self) -> str:
        return str(self._batch.queue)

    @property
    def messages(self) -> list[CloudflareMessage]:
        return self._messages

    def ack_all(self) -> None:
        self._batch.ackAll()

    def retry_all(self, *, delay_seconds: int | None = None) -> None:
        if delay_seconds is None:
            self._batch.retryAll()
        else:
            self._batch.retryAll(js_arg({"delaySeconds": check_delay(delay_seconds)}))


def _plain(value: Any) -> Any:
    """A body as plain JSON values (the SDK may hand out dict subclasses)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
