"""The ``helix`` command: the local host from a terminal.

    helix dev      [--app MODULE:ATTR] [--host 127.0.0.1] [--port 8787] [--data-dir .helix]
    helix run      [--app ...] AGENT "message" [--session ID]
    helix attach   SESSION           follow a session's current run
    helix resume   SESSION           continue an interrupted run
    helix sessions [SESSION]         list sessions, or show one (messages, runs, usage)
    helix migrate                    create or update the local database
    helix worker   [--app MODULE:ATTR] [--port 8788] [--state-dir .helix/worker]
                   [--with-testing]  the same API on the real Cloudflare runtime, locally

Without ``--app`` the bundled example agents are served, on the offline demo model unless
``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` (and optionally ``HELIX_OPENAI_MODEL``), or
``HELIX_MODEL``, is set (see :func:`helix_agents.examples.example_model`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .agent import AgentRegistry
from .errors import HelixError

if TYPE_CHECKING:
    from .executor import RunHandle
    from .hosts.local.host import LocalHost

__all__ = ["load_app", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def load_app(spec: str | None) -> AgentRegistry:
    """``MODULE:ATTR`` naming an AgentRegistry, an Agent or a list of agents; None for the
    bundled examples."""
    if not spec:
        from .examples import example_registry

        return example_registry()
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise HelixError(f"--app must look like MODULE:ATTR, got {spec!r}")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HelixError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        value = getattr(module, attr)
    except AttributeError:
        raise HelixError(f"module {module_name!r} has no attribute {attr!r}") from None
    if callable(value) and not isinstance(value, AgentRegistry | list | tuple):
        from .agent import Agent

        if not isinstance(value, Agent):
            value = value()
    return AgentRegistry.coerce(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        result: int = args.func(args)
        return result
    except HelixError as exc:
        print(f"helix: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helix", description="helix-agents local host")
    sub = parser.add_subparsers(dest="command")

    def common(p: argparse.ArgumentParser, app: bool = True) -> None:
        if app:
            p.add_argument("--app", help="MODULE:ATTR naming an AgentRegistry or agents")
        p.add_argument("--data-dir", default=".helix", help="where the local host keeps data")

    dev = sub.add_parser("dev", help="serve the HTTP API and the chat page")
    common(dev)
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8787)
    dev.set_defaults(func=_cmd_dev)

    run = sub.add_parser("run", help="run an agent to completion in the terminal")
    common(run)
    run.add_argument("agent")
    run.add_argument("message")
    run.add_argument("--session", help="continue this session (multi-turn)")
    run.add_argument("--json", action="store_true", help="print chunks as JSON lines")
    run.set_defaults(func=_cmd_run)

    attach = sub.add_parser("attach", help="follow a session's current run")
    common(attach)
    attach.add_argument("session")
    attach.set_defaults(func=_cmd_attach)

    resume = sub.add_parser("resume", help="continue an interrupted run")
    common(resume)
    resume.add_argument("session")
    resume.set_defaults(func=_cmd_resume)

    sessions = sub.add_parser("sessions", help="list sessions, or show one")
    common(sessions, app=False)
    sessions.add_argument("session", nargs="?")
    sessions.set_defaults(func=_cmd_sessions)

    migrate = sub.add_parser("migrate", help="create or update the local database")
    common(migrate, app=False)
    migrate.set_defaults(func=_cmd_migrate)

    worker = sub.add_parser(
        "worker",
        help="serve the registry on the real Python Worker runtime (local workerd, offline)",
    )
    worker.add_argument("--app", help="MODULE:ATTR naming an AgentRegistry or agents")
    worker.add_argument("--port", type=int, default=8788)
    worker.add_argument(
        "--state-dir",
        default=".helix/worker",
        help="where D1, Durable Objects and Workflows keep their state across restarts",
    )
    worker.add_argument(
        "--with-testing",
        action="store_true",
        help="also ship helix_agents.testing, for an app on its test models (a deployed "
        "Worker never includes it)",
    )
    worker.set_defaults(func=_cmd_worker)
    return parser


# -- commands ------------------------------------------------------------------------------


def _cmd_dev(args: argparse.Namespace) -> int:
    registry = load_app(args.app)
    # Imported here: the HTTP server's dependencies (starlette, uvicorn) are the local
    # host's, not the library's.
    serve = importlib.import_module("helix_agents.http.serve").serve
    code: int = serve(registry, host=args.host, port=args.port, data_dir=Path(args.data_dir))
    return code


def _cmd_worker(args: argparse.Namespace) -> int:
    from .workerd import AppSpec
    from .workerd.launch import local_worker, worker_vars

    if args.app:
        load_app(args.app)  # fail here, with the local traceback, if the app cannot load
        if not args.with_testing and "helix_agents.testing" in sys.modules:
            # The Worker would fail to import it (it is left out, as on a deployed Worker):
            # say so now, rather than after starting the runtime.
            raise HelixError(
                f"{args.app} imports helix_agents.testing, which a Worker does not ship "
                "(a deployed one never has it): pass --with-testing to include it here, or "
                "use a real model or 'demo'"
            )
    worker = local_worker(
        app=AppSpec(args.app, Path.cwd(), with_testing=args.with_testing),
        state_dir=Path(args.state_dir),
        port=args.port,
    )
    print(f"helix: starting the local Worker runtime at {worker.url} (Ctrl-C stops)", flush=True)
    if worker_vars(os.environ).get("HELIX_AUTH") == "none":
        print(
            "helix: no HELIX_API_TOKEN: the Worker gets HELIX_AUTH=none and serves its API "
            "to anyone who can reach it on 127.0.0.1 (a deployed Worker without either "
            "refuses every API request). Set HELIX_API_TOKEN to require a token.",
            flush=True,
        )

    def stop_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # wrangler runs in a process group of its own, so a Ctrl-C (or a `kill -INT` of this
    # process alone) reaches only us: SIGINT, SIGTERM and SIGHUP all stop it the same way.
    signal.signal(signal.SIGTERM, stop_signal)
    signal.signal(signal.SIGHUP, stop_signal)
    worker.start(foreground=True)
    assert worker.process is not None
    try:
        # The first request starts Pyodide (seconds): make it now, not on the user's first chat.
        try:
            took = worker.wait_ready()
        except HelixError:
            worker.kill()
            raise
        print(
            f"helix: ready at {worker.url} after {took:.1f} s (Python 3.14 on Pyodide)", flush=True
        )
        return worker.process.wait()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        # Let wrangler shut workerd down as on its own Ctrl-C; kill the group if it does
        # not (or if a second Ctrl-C comes first). Nothing is left running either way.
        try:
            worker.stop(15)
        except KeyboardInterrupt:
            worker.kill()


def _cmd_run(args: argparse.Namespace) -> int:
    registry = load_app(args.app)

    async def go(host: LocalHost) -> int:
        handle = await host.executor.execute(args.agent, args.message, session_id=args.session)
        return await _follow(host, handle, json_lines=args.json)

    return _with_host(registry, args.data_dir, go)


def _cmd_attach(args: argparse.Namespace) -> int:
    registry = load_app(args.app)

    async def go(host: LocalHost) -> int:
        handle = await host.executor.get_handle(args.session)
        if handle is None:
            raise HelixError(f"session {args.session!r} not found")
        return await _follow(host, handle, json_lines=False)

    return _with_host(registry, args.data_dir, go)


def _cmd_resume(args: argparse.Namespace) -> int:
    registry = load_app(args.app)

    async def go(host: LocalHost) -> int:
        handle = await host.executor.resume(args.session)
        return await _follow(host, handle, json_lines=False)

    return _with_host(registry, args.data_dir, go)


def _cmd_sessions(args: argparse.Namespace) -> int:
    async def go() -> int:
        from .db.sqlite import SQLiteDatabase
        from .store import StateStore, migrate

        db = SQLiteDatabase(Path(args.data_dir) / "state.db")
        try:
            await migrate(db)
            store = StateStore(db)
            if args.session is None:
                for state in await store.list_sessions():
                    print(f"{state.session_id}  {state.agent_type:<16} {state.status.value}")
                return EXIT_OK
            found = await store.load_session(args.session)
            if found is None:
                raise HelixError(f"session {args.session!r} not found")
            out = {
                "session": found.to_dict(),
                "runs": [r.to_dict() for r in await store.list_runs(args.session)],
                "messages": [
                    {"sequence": seq, **m.to_dict()}
                    for seq, m in await store.load_messages(args.session)
                ],
                "usage": (
                    await store.usage_rollup(args.session, include_sub_sessions=True)
                ).to_dict(),
            }
            print(json.dumps(out, indent=2, ensure_ascii=False))
            return EXIT_OK
        finally:
            await db.close()

    return asyncio.run(go())


def _cmd_migrate(args: argparse.Namespace) -> int:
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)

    async def go() -> int:
        from .db.sqlite import SQLiteDatabase
        from .store import migrate

        db = SQLiteDatabase(Path(args.data_dir) / "state.db")
        try:
            await migrate(db)
        finally:
            await db.close()
        print(f"migrated {Path(args.data_dir) / 'state.db'}")
        return EXIT_OK

    return asyncio.run(go())


# -- running in the terminal ---------------------------------------------------------------


def _with_host(registry: AgentRegistry, data_dir: str, fn: Any) -> int:
    from .hosts.local.host import LocalHost

    async def go() -> int:
        async with LocalHost(registry, data_dir) as host:
            task = asyncio.ensure_future(fn(host))
            try:
                result: int = await task
                return result
            except asyncio.CancelledError:
                return EXIT_INTERRUPTED

    try:
        return asyncio.run(go())
    except KeyboardInterrupt:
        print("\nhelix: stopped; the run continues when the host runs again", file=sys.stderr)
        return EXIT_INTERRUPTED


async def _follow(host: LocalHost, handle: RunHandle, *, json_lines: bool) -> int:
    """Print a run's chunks as they arrive; the exit code says how it ended."""
    out = sys.stdout
    renderer = _Renderer(out)
    status = "active"
    async for item in handle.stream():
        chunk = item.chunk
        if json_lines:
            print(json.dumps({"seq": item.seq, **chunk.to_dict()}, ensure_ascii=False), file=out)
        else:
            renderer.render(chunk)
        if chunk.type == "run-end":
            status = chunk.status
        out.flush()
    renderer.finish(handle.session_id, status)
    if status == "completed":
        return EXIT_OK
    if status == "failed":
        return EXIT_FAILED
    return EXIT_STOPPED


class _Renderer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.at_line_start = True
        self.dim = "\x1b[2m" if out.isatty() else ""
        self.reset = "\x1b[0m" if out.isatty() else ""

    def _line(self, text: str) -> None:
        if not self.at_line_start:
            self.out.write("\n")
        self.out.write(f"{self.dim}{text}{self.reset}\n")
        self.at_line_start = True

    def render(self, chunk: Any) -> None:
        kind = chunk.type
        prefix = f"[{chunk.agent}] " if getattr(chunk, "agent", None) else ""
        if kind == "text-delta":
            self.out.write(chunk.delta)
            self.at_line_start = chunk.delta.endswith("\n")
        elif kind == "reasoning-delta":
            self.out.write(f"{self.dim}{chunk.delta}{self.reset}")
            self.at_line_start = False
        elif kind == "tool-input-available":
            args = json.dumps(chunk.input, ensure_ascii=False)
            self._line(f"{prefix}→ {chunk.tool_name}({args})")
        elif kind == "tool-output":
            self._line(f"{prefix}← {_short(chunk.output)}")
        elif kind == "tool-error":
            self._line(f"{prefix}✗ {chunk.error}")
        elif kind == "tool-approval-request":
            self._line(f"{prefix}? approval needed for {chunk.tool_call_id}")
        elif kind == "data":
            self._line(f"{prefix}• {chunk.name}: {_short(chunk.data)}")
        elif kind == "error":
            self._line(f"{prefix}error: {chunk.message}")
        elif kind == "output":
            self._line(f"output: {json.dumps(chunk.output, ensure_ascii=False)}")
        elif kind == "subagent-start":
            self._line(f"⇢ sub-agent {chunk.child_agent_type} ({chunk.child_session_id})")
        elif kind == "subagent-end":
            self._line(f"⇠ sub-agent {chunk.child_agent_type}: {chunk.status}")

    def finish(self, session_id: str, status: str) -> None:
        self._line(f"[{status}] session {session_id}")


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
