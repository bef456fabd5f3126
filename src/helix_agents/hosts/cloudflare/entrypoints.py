"""The three classes Workers instantiates, kept thin: each forwards to a
:class:`~.app.CloudflareApp`.

This is the one module of the host that imports ``workers`` at its top (the base classes
must exist to be subclassed); it is imported when an app's classes are first asked for,
i.e. by a Worker's ``src/entry.py``. The runtime calls:

- ``Worker.fetch(request)`` and ``Worker.scheduled(controller, env, ctx)`` (every parameter
  declared: the runtime calls ``scheduled`` strictly), ``Worker.queue(batch, env, ctx)`` (the
  queue consumer), and the Worker's RPC methods for other Workers bound to it
  (``start_run``, ``result``, ``snapshot``, ``submit_tool_result``, ``approve``,
  ``interrupt``, ``abort``: :class:`helix_agents.rpc.RunApi`; JSON values in, a JS object
  out);
- ``Workflow.run(event, step)``, wrapped by the SDK (event converted, step wrapped);
- the Durable Object's public methods as RPC (``create``, ``write``, ``read``,
  ``set_status``, ``info``, ``request_stop``, ``wait_stop``), ``fetch`` for WebSocket upgrades, ``alarm``,
  and the hibernation handlers under their camelCase names (``webSocketMessage``,
  ``webSocketClose``, ``webSocketError``), which are the only names the runtime calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workers import DurableObject, WorkerEntrypoint, WorkflowEntrypoint

from ._convert import js_arg
from .js_values import clean

if TYPE_CHECKING:
    from .app import CloudflareApp

__all__ = ["build_entrypoints"]


def build_entrypoints(app: CloudflareApp) -> tuple[type[Any], type[Any], type[Any]]:
    """The Worker, Workflow and Durable Object classes of ``app``."""

    class HelixWorker(WorkerEntrypoint):
        """The Worker: the HTTP API, WebSocket upgrades, the cron trigger, the queue
        consumer, and RPC methods for Workers bound to it (never routes of its URL)."""

        async def fetch(self, request: Any) -> Any:
            return await app.fetch(self.env, request)

        async def scheduled(self, controller: Any, env: Any, ctx: Any) -> None:
            await app.scheduled(self.env)

        async def queue(self, batch: Any, env: Any = None, ctx: Any = None) -> None:
            await app.queue(self.env, batch)

        # -- RPC, for Workers bound to this one by a service binding (docs/triggers.md) --

        async def start_run(
            self,
            agent_type: Any,
            message: Any,
            session_id: Any = None,
            metadata: Any = None,
            message_id: Any = None,
        ) -> Any:
            api = await app.rpc(self.env)
            return js_arg(
                await api.start_run(
                    clean(agent_type),
                    clean(message),
                    clean(session_id),
                    clean(metadata),
                    clean(message_id),
                )
            )

        async def result(self, session_id: Any) -> Any:
            return js_arg(await (await app.rpc(self.env)).result(clean(session_id)))

        async def snapshot(self, session_id: Any) -> Any:
            return js_arg(await (await app.rpc(self.env)).snapshot(clean(session_id)))

        async def submit_tool_result(
            self, session_id: Any, tool_call_id: Any, result: Any = None, is_error: Any = False
        ) -> Any:
            api = await app.rpc(self.env)
            return js_arg(
                await api.submit_tool_result(
                    clean(session_id), clean(tool_call_id), clean(result), clean(is_error)
                )
            )

        async def approve(
            self, session_id: Any, tool_call_id: Any, approved: Any = True, reason: Any = None
        ) -> Any:
            api = await app.rpc(self.env)
            return js_arg(
                await api.approve(
                    clean(session_id), clean(tool_call_id), clean(approved), clean(reason)
                )
            )

        async def interrupt(self, session_id: Any, reason: Any = None) -> Any:
            api = await app.rpc(self.env)
            return js_arg(await api.interrupt(clean(session_id), clean(reason)))

        async def abort(self, session_id: Any, reason: Any = None) -> Any:
            api = await app.rpc(self.env)
            return js_arg(await api.abort(clean(session_id), clean(reason)))

    class HelixAgentWorkflow(WorkflowEntrypoint):
        """One instance per turn of a session, and per resume of a turn."""

        async def run(self, event: Any, step: Any) -> Any:
            return await app.run(self.env, event, step)

    class HelixStreamManager(DurableObject):  # type: ignore[no-untyped-call]
        """One per session: its runs' chunk logs, readers and WebSockets."""

        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            self._hub = app.stream_hub(self.ctx)

        async def create(self, stream_id: str) -> Any:
            return await self._hub.create(stream_id)

        async def write(self, stream_id: str, payload: str, status: Any = None) -> Any:
            return await self._hub.write(stream_id, payload, status)

        async def read(self, stream_id: str, after: int, timeout: float, limit: int) -> Any:
            return await self._hub.read(stream_id, after, timeout, limit)

        async def set_status(self, stream_id: str, status: str) -> Any:
            return await self._hub.set_status(stream_id, status)

        async def info(self, stream_id: str) -> Any:
            return await self._hub.info(stream_id)

        async def request_stop(self, stream_id: str, kind: str) -> Any:
            return await self._hub.request_stop(stream_id, kind)

        async def wait_stop(self, stream_id: str, timeout: float) -> Any:
            return await self._hub.wait_stop(stream_id, timeout)

        async def fetch(self, request: Any) -> Any:
            return await self._hub.fetch(request)

        async def alarm(self, alarm_info: Any = None) -> None:
            await self._hub.alarm()

        async def webSocketMessage(self, ws: Any, message: Any) -> None:
            await self._hub.websocket_message(ws, message)

        async def webSocketClose(self, ws: Any, code: int, reason: str, wasClean: bool) -> None:
            await self._hub.websocket_close(ws, code, reason)

        async def webSocketError(self, ws: Any, error: Any) -> None:
            await self._hub.websocket_error(ws, error)

    return HelixWorker, HelixAgentWorkflow, HelixStreamManager
