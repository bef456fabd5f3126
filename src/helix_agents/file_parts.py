"""Files attached to user messages, on their way to a model.

A stored :class:`~helix_agents.messages.UserMessage` references its files
(:class:`~helix_agents.messages.FilePart`: an object-storage key and a media type); the
bytes stay in the host's object storage. Before a model call (``core/model_call.py``) the
request is given what the model can use:

- a model that reads files (``accepts_files = True`` on the model, as the OpenAI-compatible
  adapter has) gets the bytes of every referenced file in ``ModelRequest.files``, by key;
- any other model gets, in place of each file, a short note in the message's text, so it
  at least knows a file was there and that it cannot see it.

Only the request changes: the stored history is never rewritten.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from .messages import FilePart, Message, UserMessage
from .services import Services

__all__ = ["data_url", "file_note", "load_files", "reads_files", "with_file_notes"]


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def reads_files(model: object) -> bool:
    """Whether ``model`` takes file bytes (it says so with ``accepts_files = True``)."""
    return getattr(model, "accepts_files", False) is True


def file_note(ref: FilePart, why: str = "this model cannot read files") -> str:
    name = f" {ref.filename!r}" if ref.filename else ""
    return f"[attached file{name} ({ref.media_type}): {why}]"


def with_file_notes(messages: Sequence[Message]) -> list[Message]:
    """``messages`` with each user message's files replaced by notes in its text."""
    out: list[Message] = []
    for message in messages:
        if isinstance(message, UserMessage) and message.files:
            notes = "\n".join(file_note(ref) for ref in message.files)
            text = f"{message.content}\n{notes}" if message.content else notes
            message = message.model_copy(update={"content": text, "files": None})
        out.append(message)
    return out


async def load_files(services: Services, messages: Sequence[Message]) -> dict[str, bytes]:
    """The bytes of the files ``messages`` reference, by key; a file no longer stored (or
    a host without object storage) is left out, and the model is told so instead."""
    refs = [
        ref
        for message in messages
        if isinstance(message, UserMessage)
        for ref in message.files or ()
    ]
    if not refs or not services.has("objects"):
        return {}
    objects = services.objects
    found: dict[str, bytes] = {}
    for ref in refs:
        if ref.key not in found:
            stored = await objects.get(ref.key)
            if stored is not None:
                found[ref.key] = stored.data
    return found
