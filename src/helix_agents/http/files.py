"""File parts of ``useChat`` messages (images, PDFs, text): checked, then kept in object storage.

A file part is ``{"type": "file", "mediaType", "url", "filename"?}`` whose ``url`` is a
base64 data URL (what ``useChat`` makes of an attached file). Remote URLs are refused: the
server would have to fetch them, and the bytes would not be ours to replay. Each file is
written to the host's object store under ``files/{session}/{message}/{index}``: a retried
request (the same message id) writes the same key again, so it is stored once. The stored
user message keeps a :class:`~helix_agents.messages.FilePart` (the key and the media type);
the snapshot gives the file back as the data URL it came as (:func:`file_urls`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from typing import Final

from ..errors import ObjectStoreError, ServiceNotConfiguredError
from ..file_parts import data_url
from ..messages import FilePart, Message, UserMessage
from ..ports.objects import ObjectStore
from ..services import Services
from .bodies import UIMessagePart
from .errors import (
    BadRequestError,
    PayloadTooLargeError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)

__all__ = [
    "ACCEPTED_MEDIA_TYPES",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "file_key",
    "file_urls",
    "store_file_parts",
]

#: The media types a file part may have. Images go to a model as images, PDFs as files,
#: text as text (``models/_openai_format.py``).
ACCEPTED_MEDIA_TYPES: Final = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/markdown",
        "text/csv",
    }
)
#: The largest file accepted (decoded), unless the store's own limit is lower.
MAX_FILE_BYTES: Final = 10 * 1024 * 1024
#: The most files one message may carry.
MAX_FILES: Final = 10

#: How each binary type's bytes begin: a body that does not is not what it claims to be.
_SIGNATURES: Final = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


def file_key(session_id: str, message_id: str, index: int) -> str:
    """Where file ``index`` of a message is stored: the same for a retried request."""
    return f"files/{session_id}/{message_id}/{index}"


def _objects(services: Services | None) -> ObjectStore:
    if services is None:
        raise UnprocessableError(
            "this server takes no file parts: its host has no object storage",
            code="files_not_supported",
        )
    try:
        return services.objects
    except ServiceNotConfiguredError as exc:
        raise UnprocessableError(
            f"this server takes no file parts: {exc}", code="files_not_supported"
        ) from None


async def store_file_parts(
    parts: Sequence[UIMessagePart],
    services: Services | None,
    session_id: str,
    message_id: str,
) -> list[FilePart]:
    """Check the ``file`` parts among ``parts`` and store each; their references, in
    order. Every part is checked before any is written. Bad input is a 4xx: a missing
    ``url`` or more than :data:`MAX_FILES` files (422), a remote URL, one that is not base64
    or bytes that are not the media type (400), a media type not accepted (415), a file past
    the limit (413); no object storage on the host is a 422 ``files_not_supported``."""
    files = [p for p in parts if p.type == "file"]
    if not files:
        return []
    if len(files) > MAX_FILES:
        raise UnprocessableError(f"a message may carry at most {MAX_FILES} files")
    # The parts are checked first: a malformed part is the same 4xx on every host.
    decoded = [_decode(index, part, MAX_FILE_BYTES) for index, part in enumerate(files)]
    objects = _objects(services)
    for index, (_, _, data) in enumerate(decoded):
        if len(data) > objects.max_bytes:
            raise _too_large(f"file part {index}", objects.max_bytes)
    refs: list[FilePart] = []
    for index, (media_type, filename, data) in enumerate(decoded):
        key = file_key(session_id, message_id, index)
        try:
            await objects.put(key, data, content_type=media_type)
        except ObjectStoreError as exc:
            raise UnprocessableError(f"file {index} could not be stored: {exc}") from None
        refs.append(FilePart(key=key, media_type=media_type, filename=filename, size=len(data)))
    return refs


def _decode(index: int, part: UIMessagePart, limit: int) -> tuple[str, str | None, bytes]:
    extra = part.model_extra or {}
    where = f"file part {index}"
    url, media_type, filename = extra.get("url"), extra.get("mediaType"), extra.get("filename")
    # A missing or mistyped field is the body's shape (422), as everywhere in the API.
    if not isinstance(url, str) or not url:
        raise UnprocessableError(f"{where} has no 'url'")
    if media_type is not None and not isinstance(media_type, str):
        raise UnprocessableError(f"{where}: 'mediaType' must be a string")
    if filename is not None and (not isinstance(filename, str) or len(filename) > 256):
        raise UnprocessableError(f"{where}: 'filename' must be text of at most 256 characters")
    if not url.startswith("data:"):
        raise BadRequestError(
            f"{where}: only data URLs are accepted (data:<type>;base64,...), not "
            f"{url.split(':', 1)[0][:20]!r} URLs"
        )
    header, comma, payload = url[len("data:") :].partition(",")
    params = header.split(";")
    if not comma or "base64" not in params[1:]:
        raise BadRequestError(f"{where}: the data URL is not base64 (data:<type>;base64,...)")
    declared = media_type if isinstance(media_type, str) and media_type else params[0]
    declared = declared.strip().lower()
    if declared not in ACCEPTED_MEDIA_TYPES:
        raise _unsupported(where, declared)
    # The base64 length says the size before it is decoded: a huge file is refused unread.
    if len(payload) // 4 * 3 > limit + 3:
        raise _too_large(where, limit)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError(f"{where}: the data URL's body is not valid base64") from None
    if len(data) > limit:
        raise _too_large(where, limit)
    if not data:
        raise BadRequestError(f"{where} is empty")
    _check_content(where, declared, data)
    return declared, filename, data


def _check_content(where: str, media_type: str, data: bytes) -> None:
    signatures = _SIGNATURES.get(media_type)
    if signatures is not None and not data.startswith(signatures):
        raise BadRequestError(f"{where}: the bytes are not {media_type}")
    if media_type == "image/webp" and not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        raise BadRequestError(f"{where}: the bytes are not image/webp")
    if media_type.startswith("text/"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestError(f"{where}: {media_type} must be UTF-8 text") from None


def _unsupported(where: str, media_type: str) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(
        f"{where}: media type {media_type[:80]!r} is not accepted (accepted: "
        f"{', '.join(sorted(ACCEPTED_MEDIA_TYPES))})"
    )


def _too_large(where: str, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"{where} is larger than the limit of {limit} bytes per file")


async def file_urls(
    services: Services | None, history: Iterable[tuple[int, Message]]
) -> dict[str, str]:
    """The data URL of every stored file the user messages of ``history`` reference, by
    key (for the snapshot's file parts). A file no longer in the store is left out."""
    keys = [
        ref
        for _, message in history
        if isinstance(message, UserMessage)
        for ref in message.files or ()
    ]
    if not keys or services is None or not services.has("objects"):
        return {}
    objects = services.objects
    urls: dict[str, str] = {}
    for ref in keys:
        if ref.key in urls:
            continue
        found = await objects.get(ref.key)
        if found is not None:
            urls[ref.key] = data_url(ref.media_type, found.data)
    return urls
