"""CORS for browser apps on other origins, with refusals in the API's own error shape.

Starlette's ``CORSMiddleware`` decides; only the refusal of a preflight changes. Starlette
answers it with a plain-text 400; here it is a JSON 403 (``cors_refused``), like every other
error of the API. For a browser either one fails the preflight (the Fetch standard treats
any status outside 200-299 as a failure, and the refusal carries no
``Access-Control-Allow-Origin``); 403 because the request is well formed and the policy
refuses it, and JSON so that a person reading it in the network panel, or a non-browser
client, is told why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from .errors import CORSRefusedError, helix_error_response

__all__ = ["ALLOWED_HEADERS", "CORS_ENV", "EXPOSED_HEADERS", "ApiCORSMiddleware", "origins_from"]

#: Comma-separated origins whose browser apps may call the API (CORS), e.g.
#: ``http://localhost:3000`` for a ``useChat`` app served by a dev server.
CORS_ENV = "HELIX_CORS_ORIGINS"

#: The request headers a browser app may send: auth, JSON bodies, resume cursors, and the
#: caller's trace context.
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "last-event-id",
    "x-resume-from-sequence",
    # W3C Trace Context: a browser's instrumentation sends them (docs/tracing.md).
    "traceparent",
    "tracestate",
)
#: The response headers a browser app may read.
EXPOSED_HEADERS = ("x-helix-session-id", "x-helix-run-id")
#: A browser may reuse a successful preflight for this many seconds.
MAX_AGE = 600


def origins_from(environ: Mapping[str, str]) -> list[str]:
    """The origins :data:`CORS_ENV` names in ``environ`` (none when unset)."""
    return [o.strip() for o in (environ.get(CORS_ENV) or "").split(",") if o.strip()]


class ApiCORSMiddleware(CORSMiddleware):
    """The API's CORS policy for ``origins``: GET and POST with the headers above."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=list(ALLOWED_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            max_age=MAX_AGE,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if 200 <= response.status_code < 300:
            return response
        refused = helix_error_response(CORSRefusedError(_why(self, request_headers)))
        # Only ``Vary`` is kept: it tells caches the answer depends on the origin; the
        # allow-* headers of a refusal would only mislead.
        vary = response.headers.get("vary")
        if vary:
            refused.headers["vary"] = vary
        return refused


def _why(policy: CORSMiddleware, headers: Headers) -> str:
    origin = headers.get("origin", "")
    reasons = []
    if not policy.is_allowed_origin(origin):
        reasons.append(f"origin {origin!r} is not allowed")
    method = headers.get("access-control-request-method", "")
    if method not in policy.allow_methods:
        reasons.append(f"method {method!r} is not allowed")
    asked = headers.get("access-control-request-headers")
    if asked is not None and not policy.allow_all_headers:
        extra = sorted(
            {h.strip().lower() for h in asked.split(",") if h.strip()} - set(policy.allow_headers)
        )
        if extra:
            reasons.append(f"request headers {', '.join(extra)} are not allowed")
    private = headers.get("access-control-request-private-network") is not None
    if private and not policy.allow_private_network:
        reasons.append("private network access is not allowed")
    because = "; ".join(reasons) or "the request is not allowed"
    return f"CORS preflight refused: {because}"
