"""Stdio MCP sessions kept open across calls: one server process per server per host.

Opening a stdio session starts the server's process and runs the initialize handshake,
about a second for a server written in Python. Opened for every use, a run that listed the
tools and called them ten times paid it eleven times. The local host keeps a
:class:`StdioSessions`: the first use of a server starts its process, later uses share it,
concurrent ones too (JSON-RPC requests carry ids), and it is closed after ``idle_timeout``
seconds unused, or when the host closes.

Durability does not rest on it. A tool call is a durable step whatever session carried it,
and after a restart the first use starts the process again. A server that keeps state
between calls keeps it while its process lives, as under any MCP host.

A reused session is asked to answer first (``tools/list``, which acts on nothing): a
process that died while idle is replaced before the call is sent, so the call is not lost
to it. A session that fails during a use (a dead process, a timeout, a protocol error) is
closed and the use fails as it would have; the next use starts a new process. A failed
call is never sent again here: the server may have acted on it (the tool step's own
retries decide, as for any tool).

Each session is held open by a task of its own: the official client keeps anyio task
groups, which must be entered and left by one task, and the uses come from many.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from ..errors import MCPError
from .servers import MCPClient, MCPServer, MCPServerStdio

if TYPE_CHECKING:
    import httpx

__all__ = ["StdioSessions", "connect"]

logger = logging.getLogger("helix_agents.mcp")

#: How long a session may stay unused before its process is stopped (seconds).
DEFAULT_IDLE_TIMEOUT = 300.0
#: How long closing waits for the processes to stop before it cancels what is left.
_CLOSE_TIMEOUT = 10.0


class _Session:
    """One open session and the task that holds it open."""

    def __init__(self, opener: AbstractAsyncContextManager[MCPClient], label: str) -> None:
        loop = asyncio.get_running_loop()
        self.label = label
        self.ready: asyncio.Future[MCPClient] = loop.create_future()
        self.users = 0
        #: Whether a use of it has ended: a later use asks it to answer first.
        self.used = False
        self.idle_timer: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self.task = loop.create_task(self._hold(opener), name=f"mcp-stdio:{label}")

    async def _hold(self, opener: AbstractAsyncContextManager[MCPClient]) -> None:
        try:
            async with opener as client:
                self.ready.set_result(client)
                await self._stop.wait()
        except asyncio.CancelledError:
            self._fail(MCPError(f"MCP server {self.label!r}: its session was cancelled"))
            raise
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc)
            self.ready.exception()  # retrieved: a session nobody waits for logs nothing

    @property
    def open(self) -> bool:
        return not self._stop.is_set() and not self.task.done()

    def stop(self) -> None:
        """Let the task leave the session (which stops the process)."""
        self._stop.set()
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None


class StdioSessions:
    """The open stdio sessions of one host, by server (see the module docstring).

    :meth:`connect` is :meth:`MCPServer.connect` for every server: a stdio server's session
    comes from here, any other server's is opened for the use as before.
    """

    def __init__(self, *, idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> None:
        self.idle_timeout = idle_timeout
        self._sessions: dict[MCPServerStdio, _Session] = {}
        #: Sessions stopped and not yet gone: close() waits for their processes.
        self._stopping: set[asyncio.Task[None]] = set()
        self._closed = False

    def __len__(self) -> int:
        """How many sessions are open now."""
        return sum(1 for s in self._sessions.values() if s.open)

    def connect(
        self,
        server: MCPServer,
        *,
        vars: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None,
    ) -> AbstractAsyncContextManager[MCPClient]:
        """An open session with ``server`` for one use (``async with``)."""
        if isinstance(server, MCPServerStdio) and not self._closed:
            return self._use(server, vars, transport)
        return server.connect(vars=vars, transport=transport)

    @asynccontextmanager
    async def _use(
        self,
        server: MCPServerStdio,
        vars: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None,
    ) -> AsyncIterator[MCPClient]:
        session, client = await self._acquire(server, vars, transport)
        try:
            yield client
        except MCPError:
            self._drop(server, session)  # the next use starts the process again
            raise
        finally:
            self._release(server, session)

    async def _acquire(
        self,
        server: MCPServerStdio,
        vars: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None,
    ) -> tuple[_Session, MCPClient]:
        session = self._sessions.get(server)
        if session is not None and session.open:
            self._take(session)
            try:
                client = await asyncio.shield(session.ready)
                if not session.used or await _answers(client):
                    return session, client
            except MCPError:
                pass
            except BaseException:
                self._release(server, session)
                raise
            self._release(server, session)
            self._drop(server, session)
            logger.info("MCP server %r stopped answering: starting it again", server.label)
        session = _Session(server.connect(vars=vars, transport=transport), server.label)
        self._sessions[server] = session
        self._take(session)
        try:
            client = await asyncio.shield(session.ready)
        except BaseException:
            self._release(server, session)
            self._drop(server, session)
            raise
        return session, client

    @staticmethod
    def _take(session: _Session) -> None:
        session.users += 1
        if session.idle_timer is not None:
            session.idle_timer.cancel()
            session.idle_timer = None

    def _release(self, server: MCPServerStdio, session: _Session) -> None:
        session.users -= 1
        session.used = True
        if session.users == 0 and session.open:
            loop = asyncio.get_running_loop()
            session.idle_timer = loop.call_later(self.idle_timeout, self._idle, server, session)

    def _idle(self, server: MCPServerStdio, session: _Session) -> None:
        session.idle_timer = None
        if session.users == 0:
            self._drop(server, session)

    def _drop(self, server: MCPServerStdio, session: _Session) -> None:
        if self._sessions.get(server) is session:
            del self._sessions[server]
        if not session.task.done():
            session.stop()
            self._stopping.add(session.task)
            session.task.add_done_callback(self._stopping.discard)

    async def aclose(self) -> None:
        """Stop every server process (the host closes): in use or not."""
        self._closed = True
        for server, session in list(self._sessions.items()):
            self._drop(server, session)
        tasks = list(self._stopping)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)


def connect(
    server: MCPServer,
    sessions: StdioSessions | None,
    *,
    vars: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
) -> AbstractAsyncContextManager[MCPClient]:
    """A session with ``server`` for one use: from the host's ``sessions`` when it keeps
    them (the local host), else opened for the use."""
    if sessions is not None:
        return sessions.connect(server, vars=vars, transport=transport)
    return server.connect(vars=vars, transport=transport)


async def _answers(client: MCPClient) -> bool:
    """Whether the session's server still answers (a request that acts on nothing)."""
    try:
        await client.ping()
    except MCPError:
        return False
    return True
