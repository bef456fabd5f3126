"""HTTP errors: the API's own error classes and the one table from our errors to statuses.

Every error leaves the API as ``{"error": {"code": ..., "message": ...}}`` with a 4xx status
(or a logged 500 for a bug, which no request may be able to reach). The HTTP layer's own
errors (bad JSON, a missing token, an oversized body) derive from
:class:`~helix_agents.errors.HelixError` like everything else the runtime raises, so one
handler serves both.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import (
    CheckpointNotFoundError,
    ConflictError,
    HelixError,
    InvalidCursorError,
    InvalidIdError,
    ScheduleError,
    ScheduleNotFoundError,
    SessionNotFoundError,
    StateValidationError,
    StorageUnavailableError,
    StreamNotFoundError,
    ToolSubmissionError,
    UnknownAgentError,
    ValueTooLargeError,
)
from .responses import JsonResponse
from .schemas import Error, ErrorDetail, dump

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "CORSRefusedError",
    "MethodNotAllowedError",
    "MisdirectedRequestError",
    "NotFoundError",
    "OriginRefusedError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ServiceUnavailableError",
    "UnauthenticatedServiceError",
    "UnprocessableError",
    "UnsupportedMediaTypeError",
    "UpgradeRequiredError",
    "error_body",
    "error_response",
    "status_for",
]

logger = logging.getLogger("helix_agents.http")


class ApiError(HelixError):
    """An error the HTTP layer answers with ``status``; ``code`` is the machine-readable
    name clients switch on."""

    status: int = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class BadRequestError(ApiError):
    """The request is malformed: not JSON, a bad header or cursor."""

    status = 400
    code = "bad_request"


class AuthenticationError(ApiError):
    """No credentials, or credentials that do not identify anyone (401).

    Raise it from an authentication hook to refuse a request."""

    status = 401
    code = "unauthorized"


class PermissionDeniedError(ApiError):
    """The caller is known but may not do this (403). Raise it from a hook."""

    status = 403
    code = "forbidden"


class CORSRefusedError(PermissionDeniedError):
    """A CORS preflight the policy refuses: an origin, method or header not allowed."""

    code = "cors_refused"


class OriginRefusedError(PermissionDeniedError):
    """A POST or a WebSocket from a page of another origin that the CORS policy does not
    allow (a cross-site form, a ``no-cors`` fetch, a WebSocket opened by any web page)."""

    code = "origin_refused"


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowedError(ApiError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLargeError(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(ApiError):
    """A POST whose body is not declared as JSON (``Content-Type: application/json``)."""

    status = 415
    code = "unsupported_media_type"


class MisdirectedRequestError(ApiError):
    """A ``Host`` this server does not answer for (the local host's guard against DNS
    rebinding)."""

    status = 421
    code = "misdirected_request"


class UpgradeRequiredError(ApiError):
    """A plain request to a WebSocket route."""

    status = 426
    code = "upgrade_required"


class ServiceUnavailableError(ApiError):
    """The server cannot answer yet (its host is not started)."""

    status = 503
    code = "unavailable"


class UnauthenticatedServiceError(ServiceUnavailableError):
    """A Worker deployed with no authentication and no explicit opt-out: it refuses every
    API request until its deployer sets one or the other (a server-side configuration
    fault, hence 5xx; no credential a client could send would help, hence not 401)."""

    code = "auth_not_configured"


class UnprocessableError(ApiError):
    """Well-formed JSON whose content is not acceptable: wrong types, missing fields."""

    status = 422
    code = "invalid_request"


#: Our errors by the status they answer with; the first match (in order) wins, so
#: subclasses come before their bases.
_STATUSES: Final[tuple[tuple[type[HelixError], int], ...]] = (
    (ApiError, 0),  # its own status
    (InvalidIdError, 400),
    (InvalidCursorError, 400),
    (SessionNotFoundError, 404),
    (CheckpointNotFoundError, 404),
    (ScheduleNotFoundError, 404),
    (ScheduleError, 400),
    (StreamNotFoundError, 404),
    (UnknownAgentError, 422),
    (ToolSubmissionError, 422),
    (StateValidationError, 422),
    (ConflictError, 409),
    (ValueTooLargeError, 413),
    (StorageUnavailableError, 503),
)

#: Seconds a client should wait before trying again after a full disk's 503.
STORAGE_RETRY_AFTER: Final = "5"


def status_for(exc: HelixError) -> int:
    """The HTTP status for one of our errors; 500 for anything that is a server fault."""
    for kind, status in _STATUSES:
        if isinstance(exc, kind):
            return exc.status if isinstance(exc, ApiError) else status
    return 500


def error_body(code: str, message: str) -> dict[str, Any]:
    return dump(Error(error=ErrorDetail(code=code, message=message)))


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(error_body(code, message), status_code=status, headers=headers)


def helix_error_response(exc: HelixError) -> JsonResponse:
    status = status_for(exc)
    if isinstance(exc, StorageUnavailableError):
        # Not a bug: the disk is full. Said plainly, without a traceback per request (the
        # host's storage monitor logs the outage once).
        return error_response(status, exc.code, str(exc), {"retry-after": STORAGE_RETRY_AFTER})
    if status >= 500 and not isinstance(exc, ApiError):
        logger.error("server error answering a request", exc_info=exc)
        return error_response(status, "internal_error", "internal server error")
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    return error_response(status, exc.code, str(exc), headers)


# -- Starlette exception handlers ------------------------------------------------------------

_HTTP_CODES: Final = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


async def handle_helix_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HelixError)
    api = getattr(request.app.state, "api", None)
    storage = api.storage() if api is not None else None
    if storage is not None:
        if isinstance(exc, StorageUnavailableError):
            storage.failure(exc, f"{request.method} {request.url.path} refused")
        elif isinstance(exc, ConflictError) and _new_turn(request) and storage.unavailable:
            # The active run is paused by the outage, not busy: say what really blocks.
            outage = storage.status() or {}
            message = outage.get("message", "storage unavailable")
            return error_response(
                503,
                StorageUnavailableError.code,
                f"{message}: {exc}, paused until writes succeed again",
                {"retry-after": STORAGE_RETRY_AFTER},
            )
    return helix_error_response(exc)


def _new_turn(request: Request) -> bool:
    return request.method == "POST" and request.url.path.rstrip("/").endswith("/chat")


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (no such method on a route), as our JSON."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "http_error")
    if status == 404:
        message = f"no route for {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(status, code, message, dict(exc.headers or {}) or None)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: log it with its traceback and answer 500 without details."""
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error")
