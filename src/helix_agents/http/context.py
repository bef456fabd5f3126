"""What every route needs: the executor, the caller's identity, the session they may see.

The API talks only to the :class:`~helix_agents.executor.Executor`, its state store and its
stream manager port, never to a host's internals, so the same routes serve the local host
and a Worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import HTTPConnection

from ..errors import SessionNotFoundError, StorageUnavailableError
from ..executor import Executor
from ..ids import validate_session_id
from ..services import Services
from ..state import SessionState
from ..streaming.ui import UIVersion
from .auth import AuthHook, resolve_user
from .errors import ServiceUnavailableError

__all__ = ["ApiContext", "ApiSettings", "ExecutorSource", "HasExecutor", "StorageHealth"]


class HasExecutor(Protocol):
    """Anything with an executor, such as a started host (``LocalHost``)."""

    @property
    def executor(self) -> Executor: ...


ExecutorSource = Executor | HasExecutor


class StorageHealth(Protocol):
    """A host that watches its storage (the local host's ``storage``): failures the API
    meets are reported to it, and ``/health`` shows its outage."""

    @property
    def unavailable(self) -> bool: ...

    def failure(self, exc: StorageUnavailableError, what: str) -> None: ...

    def status(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class ApiSettings:
    auth: AuthHook
    max_body_bytes: int
    #: Seconds of silence after which a stream gets a keep-alive comment.
    keep_alive: float
    ui_version: UIVersion
    #: The origins the CORS policy allows: pages that may POST and open WebSockets too.
    cors_origins: tuple[str, ...] = ()
    #: The host's model resolution, when it swaps models (a Worker's ``model_from_env``):
    #: ``/agents`` asks it whether the offline demo model really answers.
    resolve_model: Callable[[Any], Any] | None = None
    #: The host's services, when the app was given them (a Worker's); else the source's.
    services: Services | None = None


class ApiContext:
    """Shared by the routes of one app."""

    def __init__(self, source: ExecutorSource, settings: ApiSettings) -> None:
        self._source = source
        self.settings = settings

    @property
    def executor(self) -> Executor:
        # Looked up on each request: a host passed to create_app is started by the app's
        # lifespan, after the app was built.
        if isinstance(self._source, Executor):
            return self._source
        try:
            return self._source.executor
        except AttributeError:
            raise ServiceUnavailableError("the host is not started") from None

    def services(self) -> Services | None:
        """The host's services (object storage keeps chat file parts): the app's, else
        the source's (a started ``LocalHost`` has them); None when neither has any."""
        if self.settings.services is not None:
            return self.settings.services
        found = getattr(self._source, "services", None)
        return found if isinstance(found, Services) else None

    def storage(self) -> StorageHealth | None:
        """The host's storage monitor, if it has one (the local host; not a Worker)."""
        found = getattr(self._source, "storage", None)
        return found if hasattr(found, "status") and hasattr(found, "failure") else None

    def storage_outage(self) -> dict[str, Any] | None:
        """None while the host's storage takes writes (or the host does not watch it)."""
        storage = self.storage()
        return None if storage is None else storage.status()

    async def user(self, conn: HTTPConnection) -> str | None:
        return await resolve_user(self.settings.auth, conn)

    async def session(self, session_id: str, user: str | None) -> SessionState:
        """The session, if it exists and ``user`` may see it; 404 otherwise (another
        user's session does not exist for them)."""
        validate_session_id(session_id)
        state = await self.executor.store.load_session(session_id)
        if state is None or not may_see(state, user):
            raise SessionNotFoundError(f"session {session_id!r} not found")
        return state


def may_see(state: SessionState, user: str | None) -> bool:
    """The executor's ownership rule: a session created by a user belongs to them; an
    anonymous caller (no authentication) and an anonymous session are not checked."""
    return user is None or state.user_id is None or state.user_id == user
