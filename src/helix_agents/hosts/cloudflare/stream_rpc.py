"""What crosses the RPC boundary between :class:`.stream_client.DOStreamManager` and the
StreamManager Durable Object.

Chunks cross as one JSON string per call (a string is the cheapest thing to send over
Workers RPC, and it dodges the SDK's conversion of every nested dict), results as small
plain dicts, and errors as values: every RPC method answers ``{"ok": value}`` or
``{"error": <encoded error>}`` (:mod:`helix_agents.error_codec`), never raises, because an exception that
crosses RPC arrives as a bare ``JsException`` carrying a traceback, and the port promises
our errors (``StreamNotFoundError``, ``StreamError``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...chunks import Chunk, ChunkBase, SequencedChunk, chunk_adapter
from ...error_codec import decode_error, encode_error
from ...errors import StreamError
from ...ports.streams import ReadResult, StreamInfo, WriteAck

__all__ = [
    "decode_ack",
    "decode_chunks",
    "decode_info",
    "decode_read",
    "encode_chunks",
    "encode_info",
    "encode_stored",
    "failure",
    "success",
    "unwrap",
]


def success(value: Any) -> dict[str, Any]:
    return {"ok": value}


def failure(exc: BaseException) -> dict[str, Any]:
    return {"error": encode_error(exc)}


def unwrap(answer: Any) -> Any:
    """The value of an answer, or its error raised."""
    if not isinstance(answer, dict):
        raise StreamError(f"the stream manager answered {answer!r}")
    if "error" in answer and answer["error"] is not None:
        raise decode_error(_plain(answer["error"]))
    return answer.get("ok")


def encode_chunks(chunks: Sequence[Chunk]) -> str:
    """The batch as one JSON array; refuses what is not a chunk, as the local log does."""
    parts: list[str] = []
    for index, chunk in enumerate(chunks):
        if not isinstance(chunk, ChunkBase):
            raise StreamError(f"chunk #{index} is a {type(chunk).__name__}, not a chunk")
        try:
            parts.append(chunk.to_json())
        except Exception as exc:
            raise StreamError(
                f"chunk #{index} ({chunk.type}) cannot be encoded as JSON: {exc}"
            ) from exc
    return "[" + ",".join(parts) + "]"


def decode_chunks(payload: str) -> list[Chunk]:
    try:
        items = json.loads(payload)
    except (TypeError, ValueError) as exc:
        raise StreamError(f"a stream write must be a JSON array of chunks: {exc}") from None
    if not isinstance(items, list):
        raise StreamError("a stream write must be a JSON array of chunks")
    chunks: list[Chunk] = []
    for index, item in enumerate(items):
        try:
            chunks.append(chunk_adapter.validate_python(item))
        except Exception as exc:
            raise StreamError(f"chunk #{index} is not a valid chunk: {exc}") from None
    return chunks


def encode_info(info: StreamInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "stream_id": info.stream_id,
        "status": info.status,
        "last_seq": info.last_seq,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
    }


def decode_info(value: Any) -> StreamInfo | None:
    if value is None:
        return None
    return StreamInfo(
        stream_id=str(value["stream_id"]),
        status=value["status"],
        last_seq=int(value["last_seq"]),
        created_at=int(value.get("created_at") or 0),
        updated_at=int(value.get("updated_at") or 0),
    )


def decode_ack(value: Any) -> WriteAck:
    return WriteAck(
        last_seq=int(value["last_seq"]),
        readers=int(value.get("readers") or 0),
        stop_requested=value.get("stop"),
    )


def encode_stored(rows: list[dict[str, Any]], status: str, last_seq: int) -> dict[str, Any]:
    """A read's answer from stored rows (``seq`` and the chunk's stored JSON ``data``)."""
    chunks = ",".join(f"[{int(row['seq'])},{row['data']}]" for row in rows)
    return {"chunks": f"[{chunks}]", "status": status, "last_seq": last_seq}


def decode_read(value: Any) -> ReadResult:
    items = json.loads(value["chunks"])
    chunks = [
        SequencedChunk.model_construct(seq=int(seq), chunk=chunk_adapter.validate_python(data))
        for seq, data in items
    ]
    return ReadResult(chunks=chunks, status=value["status"], last_seq=int(value["last_seq"]))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
