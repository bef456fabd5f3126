"""An incremental decoder for Server-Sent Events, fed raw bytes as they arrive.

Both adapters read SSE off a byte stream (an httpx response, a JS ReadableStream) whose chunk
boundaries fall anywhere: inside a line, between a ``\\r`` and its ``\\n``, or inside a
multi-byte UTF-8 character. Keeping the decoder byte-oriented and free of I/O lets one
implementation serve both, and lets tests feed it pathological splits directly.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from ..errors import ModelProtocolError

__all__ = ["SSEDecoder", "ServerSentEvent"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Turns byte chunks into complete events, per the WHATWG event-stream rules (the parts a
    model API uses: ``data``, ``event``, ``id``, comments; ``retry`` is ignored)."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._pending = ""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._first = True

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        try:
            text = self._utf8.decode(chunk)
        except UnicodeDecodeError as exc:
            raise ModelProtocolError(f"the event stream is not valid UTF-8: {exc}") from None
        return self._lines(text, final=False)

    def close(self) -> list[ServerSentEvent]:
        """End of stream: process a last line that had no line break. Lenient on purpose: some
        servers close right after the last ``data:`` line without the blank line."""
        try:
            text = self._utf8.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ModelProtocolError(f"the event stream ends inside a character: {exc}") from None
        events = self._lines(text, final=True)
        if self._data:
            events.extend(self._dispatch())
        return events

    def _lines(self, text: str, *, final: bool) -> list[ServerSentEvent]:
        text = self._pending + text
        if self._first and text:
            # A byte order mark may open the stream; it is not part of the first field.
            text = text.removeprefix("\ufeff")
            self._first = False
        hold = ""
        if text.endswith("\r") and not final:
            # The "\n" of a "\r\n" may be in the next chunk.
            text, hold = text[:-1], "\r"
        lines = _LINE_BREAK.split(text)
        rest = lines.pop()
        if final:
            self._pending = ""
            if rest:
                lines.append(rest)
        else:
            self._pending = rest + hold
        events: list[ServerSentEvent] = []
        for line in lines:
            events.extend(self._line(line))
        return events

    def _line(self, line: str) -> list[ServerSentEvent]:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return []
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return []

    def _dispatch(self) -> list[ServerSentEvent]:
        if not self._data:
            self._event = ""
            return []
        event = ServerSentEvent(
            data="\n".join(self._data), event=self._event or "message", id=self._id
        )
        self._data = []
        self._event = ""
        return [event]
