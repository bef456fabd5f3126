"""Who is calling: the authentication hook and the default bearer-token check.

A hook is any callable (sync or async) from the connection (an HTTP request or a WebSocket)
to a user id, or ``None`` for "anyone" (no ownership checks). It refuses a request by
raising :class:`~helix_agents.http.errors.AuthenticationError` (401) or
:class:`~helix_agents.http.errors.PermissionDeniedError` (403). Sessions created by a user
belong to that user: the executor treats another user's session as not found.
"""

from __future__ import annotations

import hmac
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from starlette.requests import HTTPConnection

from ..errors import ConfigurationError
from .errors import AuthenticationError, UnauthenticatedServiceError

__all__ = ["AuthHook", "BearerTokenAuth", "allow_anyone", "refuse_unconfigured", "resolve_user"]

AuthHook = Callable[[HTTPConnection], "str | Awaitable[str | None] | None"]

#: Environment variable the default configuration reads the API token from.
TOKEN_ENV: Final = "HELIX_API_TOKEN"
#: The Worker's explicit opt-out of authentication: ``HELIX_AUTH = "none"`` (a var).
AUTH_ENV: Final = "HELIX_AUTH"
#: The one value of :data:`AUTH_ENV` that opts out.
AUTH_NONE: Final = "none"
#: The query parameter that carries the token where a client cannot set headers
#: (``EventSource`` and browser WebSockets).
TOKEN_QUERY: Final = "access_token"


def allow_anyone(conn: HTTPConnection) -> str | None:
    """No authentication: every caller is the same anonymous user."""
    return None


def refuse_unconfigured(conn: HTTPConnection) -> str | None:
    """A Worker with neither a token nor an explicit opt-out: every request is refused
    (503 ``auth_not_configured``), saying what to set."""
    raise UnauthenticatedServiceError(
        f"this Worker has no authentication configured, so it serves no one: set the "
        f"{TOKEN_ENV} secret (`wrangler secret put {TOKEN_ENV}`; clients then send "
        f"'Authorization: Bearer <token>'), or opt out explicitly with the var "
        f'{AUTH_ENV} = "{AUTH_NONE}" (anyone who can reach the Worker may then run its agents)'
    )


class BearerTokenAuth:
    """``Authorization: Bearer <token>``, compared in constant time.

    ``tokens`` is one token (its holder is the anonymous user, ``None``: one shared secret,
    one tenant) or a mapping from token to user id (each token is its own user, and owns the
    sessions it creates). GET requests and WebSockets may carry the token as
    ``?access_token=`` instead, since ``EventSource`` and browser WebSockets cannot set
    headers.
    """

    def __init__(self, tokens: str | Mapping[str, str]) -> None:
        pairs = [(tokens, None)] if isinstance(tokens, str) else list(tokens.items())
        if not pairs or any(not isinstance(t, str) or not t for t, _ in pairs):
            raise ConfigurationError("an API token must be a non-empty string")
        self._tokens: list[tuple[bytes, str | None]] = [(t.encode(), u) for t, u in pairs]

    def __call__(self, conn: HTTPConnection) -> str | None:
        given = _presented_token(conn)
        if given is None:
            raise AuthenticationError(
                "this API needs a bearer token: send 'Authorization: Bearer <token>'"
            )
        candidate = given.encode("utf-8", "surrogateescape")
        found = False
        user: str | None = None
        # Compare against every token, so the time taken says nothing about which matched.
        for token, owner in self._tokens:
            if hmac.compare_digest(candidate, token):
                found, user = True, owner
        if not found:
            raise AuthenticationError("the bearer token is not valid")
        return user


def _presented_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    is_websocket = conn.scope.get("type") == "websocket"
    if is_websocket or conn.scope.get("method") in ("GET", "HEAD"):
        return conn.query_params.get(TOKEN_QUERY)
    return None


async def resolve_user(hook: AuthHook, conn: HTTPConnection) -> str | None:
    """Run the hook; a hook that returns something other than a string or None is a bug in
    the hook, reported as a configuration error."""
    result = hook(conn)
    if inspect.isawaitable(result):
        result = await result
    if result is not None and not isinstance(result, str):
        raise ConfigurationError(
            f"the authentication hook returned {type(result).__name__}; expected a user id "
            "string or None"
        )
    return result
