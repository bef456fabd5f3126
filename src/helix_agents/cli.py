"""The ``helix`` command: a new project, the local host, and its sessions from a terminal.

    helix new      DIR [--helix-source PATH|WHEEL|GIT-URL]   scaffold a Worker project
    helix dev      [--app APP] [--host 127.0.0.1] [--port 8787] [--data-dir .helix]
    helix run      [--app APP] AGENT "message" [--session ID] [--json]
    helix attach   SESSION           follow a session's current run
    helix resume   SESSION           continue an interrupted run
    helix approve  SESSION [--call ID] [--reason TEXT]    approve a call that waits
    helix deny     SESSION [--call ID] [--reason TEXT]    deny it
    helix answer   SESSION RESULT_JSON [--call ID] [--error]   a client tool's result
    helix sessions [SESSION]         list sessions, or show one (messages, runs, usage)
    helix migrate                    create or update the local database
    helix worker   [--app APP] [--port 8788] [--state-dir .helix/worker] [--with-testing]

``APP`` is ``MODULE:ATTR`` (an import path, found from the current directory or
``PYTHONPATH``) or ``path/to/file.py:ATTR``; without ``--app``, ``[tool.helix] app`` in
``./pyproject.toml`` (what ``helix new`` writes), else the bundled example agents. While a
``helix dev`` runs on the data dir, the session commands talk to it over HTTP
(:mod:`.cli_remote`) instead of opening the directory themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import os
import signal
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .agent import AgentRegistry
from .cli_render import Renderer, short
from .errors import HelixError

if TYPE_CHECKING:
    from .cli_remote import PendingCall, Remote, RemoteStream
    from .executor import RunHandle
    from .hosts.local.host import LocalHost

__all__ = ["load_app", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: 128 + SIGPIPE, what a shell reports for a command whose reader went away (``| head``).
EXIT_BROKEN_PIPE = 141

EXIT_CODES = """\
exit codes:
  0    the run completed (other commands: done)
  1    the run failed, or helix dev could not start
  2    bad input or refused: a usage error, an unknown agent or session, a call that is
       not pending, a data dir in use by another command
  3    the run stopped without finishing: it waits on an approval or a client tool
       (helix approve / deny / answer), or was interrupted (helix resume) or aborted
  130  Ctrl-C: helix dev / worker stop; a command following a run stops following, and
       the run goes on (helix attach SESSION follows it again)
  141  the output's reader went away (a closed pipe)
"""

APP_HELP = (
    "MODULE:ATTR (an import path from the current directory or PYTHONPATH) or "
    "path/to/file.py:ATTR, naming an AgentRegistry, an Agent, a list of agents or a "
    "function returning one; default: [tool.helix] app in ./pyproject.toml, else the "
    "bundled examples"
)


# -- the app -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppRef:
    """Where an app's module is: an import path and the folder to import it from."""

    module: str
    attr: str
    search_path: Path | None

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.attr}"


def app_ref(spec: str | None, *, base: Path | None = None) -> AppRef | None:
    """``--app``'s value, or the project's ``[tool.helix] app``; None for the examples."""
    if not spec:
        spec, base = _project_app()
        if not spec:
            return None
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise HelixError(f"--app must look like MODULE:ATTR or path/to/file.py:ATTR, got {spec!r}")
    if target.endswith(".py") or "/" in target or os.sep in target:
        path = ((base or Path.cwd()) / target).resolve()
        if not path.is_file():
            raise HelixError(f"--app {spec}: no file {path}")
        if not path.stem.isidentifier():
            raise HelixError(f"--app {spec}: {path.name} cannot be imported (not a name)")
        return AppRef(path.stem, attr, path.parent)
    return AppRef(target, attr, None)


def _project_app() -> tuple[str | None, Path | None]:
    pyproject = Path.cwd() / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None, None
    value = data.get("tool", {}).get("helix", {}).get("app")
    return (value, pyproject.parent) if isinstance(value, str) and value else (None, None)


def load_app(spec: str | None) -> AgentRegistry:
    """``--app``'s registry (see :func:`app_ref`); the bundled examples without one."""
    ref = app_ref(spec)
    if ref is None:
        from .examples import example_registry

        return example_registry()
    sys.path.insert(0, str(ref.search_path) if ref.search_path else os.getcwd())
    try:
        module = importlib.import_module(ref.module)
    except ImportError as exc:
        raise HelixError(f"cannot import {ref.module!r}: {exc}") from exc
    try:
        value = getattr(module, ref.attr)
    except AttributeError:
        raise HelixError(f"module {ref.module!r} has no attribute {ref.attr!r}") from None
    if callable(value) and not isinstance(value, AgentRegistry | list | tuple):
        from .agent import Agent

        if not isinstance(value, Agent):
            value = value()
    return AgentRegistry.coerce(value)


# -- the command line ------------------------------------------------------------------------


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
    except BrokenPipeError:
        # The reader left (``| head``): say nothing more, and let Python's own flush at
        # exit find a sink that does not fail either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helix",
        description="helix-agents: a new project, the local host, and its sessions. While a "
        "helix dev runs on the data dir, run / attach / resume / approve / deny / answer talk "
        "to it over HTTP.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")

    def command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=description or help,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def common(p: argparse.ArgumentParser, app: bool = True) -> None:
        if app:
            p.add_argument("--app", help=APP_HELP)
        p.add_argument(
            "--data-dir",
            default=".helix",
            help="where the local host keeps data (default .helix); while a helix dev runs "
            "on it, this command talks to that server",
        )

    new = command(
        "new",
        "scaffold a Worker project (pyproject.toml, wrangler.toml, src/, tests/)",
        "Write a new project: an agent with a tool in src/agents.py, the Worker's "
        "src/entry.py and wrangler.toml, tests on the offline test models, a README.",
    )
    new.add_argument("dir", help="the new project's folder (must not exist, or be empty)")
    new.add_argument("--name", help="the Worker's name (default: the folder's)")
    new.add_argument(
        "--helix-source",
        help="where uv takes helix-agents from: a clone's folder, a wheel (uv build) or a "
        "git URL (default: the clone this helix runs from, if any; else the package index)",
    )
    new.set_defaults(func=_cmd_new)

    dev = command("dev", "serve the HTTP API and the chat page")
    common(dev)
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8787)
    dev.set_defaults(func=_cmd_dev)

    run = command("run", "run an agent in the terminal, following its stream")
    common(run)
    run.add_argument("agent")
    run.add_argument("message")
    run.add_argument(
        "--session", help="continue this existing session (new sessions get their own id)"
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print chunks as JSON lines (AI SDK UI chunks when talking to helix dev)",
    )
    run.set_defaults(func=_cmd_run)

    attach = command("attach", "follow a session's current run (or show how it ended)")
    common(attach)
    attach.add_argument("session")
    attach.set_defaults(func=_cmd_attach)

    resume = command("resume", "continue an interrupted run")
    common(resume)
    resume.add_argument("session")
    resume.set_defaults(func=_cmd_resume)

    for name, verb in (("approve", "approve"), ("deny", "deny")):
        decide = command(name, f"{verb} a tool call that waits for approval, then follow")
        common(decide)
        decide.add_argument("session")
        decide.add_argument("--call", help="the tool call's id (needed when several wait)")
        decide.add_argument("--reason", help="why (the model sees it)")
        decide.set_defaults(func=_cmd_decide, approved=name == "approve")

    answer = command("answer", "a client tool's result for a call that waits, then follow")
    common(answer)
    answer.add_argument("session")
    answer.add_argument("result", help="the result, as JSON (a bare word is a string)")
    answer.add_argument("--call", help="the tool call's id (needed when several wait)")
    answer.add_argument("--error", action="store_true", help="the tool failed: RESULT says why")
    answer.set_defaults(func=_cmd_answer)

    sessions = command("sessions", "list sessions, or show one")
    common(sessions, app=False)
    sessions.add_argument("session", nargs="?")
    sessions.set_defaults(func=_cmd_sessions)

    migrate = command("migrate", "create or update the local database")
    common(migrate, app=False)
    migrate.set_defaults(func=_cmd_migrate)

    worker = command(
        "worker",
        "serve the app on the real Python Worker runtime (local workerd, offline)",
    )
    worker.add_argument("--app", help=APP_HELP)
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


# -- commands that need no host --------------------------------------------------------------


def _cmd_new(args: argparse.Namespace) -> int:
    from .scaffold import default_source, new_project

    source = args.helix_source or default_source()
    project = new_project(Path(args.dir), name=args.name, source=source)
    print(f"helix: created {project.name} in {project.root}")
    for path in project.files:
        print(f"  {path.relative_to(project.root)}")
    if source is None:
        print(
            "helix: helix-agents comes from the package index (no --helix-source): pass a "
            "clone, a wheel or a git URL if it is not on yours"
        )
    print(
        f"next:\n  cd {project.root}\n  uv sync\n  uv run pytest\n  uv run helix dev"
        "            # http://127.0.0.1:8787/\n  uv run helix worker         # the real "
        "Worker runtime, locally\n  uv run pywrangler deploy     # see README.md"
    )
    return EXIT_OK


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

    ref = app_ref(args.app)
    if ref is not None:
        load_app(args.app)  # fail here, with the local traceback, if the app cannot load
        if not args.with_testing and "helix_agents.testing" in sys.modules:
            # The Worker would fail to import it (it is left out, as on a deployed Worker):
            # say so now, rather than after starting the runtime.
            raise HelixError(
                f"{ref.spec} imports helix_agents.testing, which a Worker does not ship "
                "(a deployed one never has it): pass --with-testing to include it here, or "
                "use a real model or 'demo'"
            )
    worker = local_worker(
        app=AppSpec(
            ref.spec if ref else None,
            (ref.search_path if ref and ref.search_path else Path.cwd()),
            with_testing=args.with_testing,
        ),
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


def _cmd_sessions(args: argparse.Namespace) -> int:
    # Reads the SQLite database directly (WAL: safe beside a running host).
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


# -- the session commands: on a running helix dev, or on a host of their own -----------------


@dataclass
class _Following:
    """What the terminal follows, for the message a Ctrl-C leaves."""

    data_dir: str
    session_id: str | None = None
    remote_url: str | None = None


def _remote(args: argparse.Namespace) -> Remote | None:
    from .http.address import running_host

    url = running_host(Path(args.data_dir))
    if url is None:
        return None
    from .cli_remote import Remote

    print(f"helix: talking to helix dev at {url} (it runs on {args.data_dir})", file=sys.stderr)
    return Remote(url)


def _cmd_run(args: argparse.Namespace) -> int:
    from .ids import validate_session_id

    if args.session is not None:
        validate_session_id(args.session)
    remote = _remote(args)
    following = _Following(args.data_dir, args.session)
    if remote is not None:
        following.remote_url = remote.url
        with _closing(remote):
            if args.session is not None:
                remote.snapshot(args.session)  # an unknown id is an error, not a new session
            stream = remote.chat(args.agent, args.message, args.session)
            following.session_id = stream.session_id
            return _follow_remote(remote, stream, args, following, json_lines=args.json)
    registry = load_app(args.app)

    async def go(host: LocalHost) -> int:
        if args.session is not None and await host.store.load_session(args.session) is None:
            raise HelixError(
                f"session {args.session!r} not found (leave out --session to start a new one)"
            )
        handle = await host.executor.execute(args.agent, args.message, session_id=args.session)
        following.session_id = handle.session_id
        return await _follow(host, handle, args, json_lines=args.json)

    return _with_host(registry, following, go)


def _cmd_attach(args: argparse.Namespace) -> int:
    remote = _remote(args)
    following = _Following(args.data_dir, args.session)
    if remote is not None:
        following.remote_url = remote.url
        with _closing(remote):
            snapshot = remote.snapshot(args.session)
            stream = remote.reattach(args.session)
            if stream is None:  # nothing runs: say how the latest run ended
                return _ended(snapshot, args)
            return _follow_remote(remote, stream, args, following, json_lines=False)
    registry = load_app(args.app)

    async def go(host: LocalHost) -> int:
        handle = await host.executor.get_handle(args.session)
        if handle is None:
            raise HelixError(f"session {args.session!r} not found")
        return await _follow(host, handle, args, json_lines=False)

    return _with_host(registry, following, go)


def _cmd_resume(args: argparse.Namespace) -> int:
    remote = _remote(args)
    following = _Following(args.data_dir, args.session)
    if remote is not None:
        following.remote_url = remote.url
        with _closing(remote):
            stream = remote.resume(args.session)
            return _follow_remote(remote, stream, args, following, json_lines=False)
    registry = load_app(args.app)

    async def go(host: LocalHost) -> int:
        handle = await host.executor.resume(args.session)
        return await _follow(host, handle, args, json_lines=False)

    return _with_host(registry, following, go)


def _cmd_decide(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"approved": bool(args.approved)}
    if args.reason:
        body["reason"] = args.reason
    return _submit(args, "approval", body)


def _cmd_answer(args: argparse.Namespace) -> int:
    body: dict[str, Any]
    if args.error:
        body = {"errorText": args.result}
    else:
        try:
            body = {"output": json.loads(args.result)}
        except ValueError:
            body = {"output": args.result}  # a bare word: the string itself
    return _submit(args, "client", body)


def _submit(args: argparse.Namespace, kind: str, body: dict[str, Any]) -> int:
    """Settle a waiting call, then follow the run it resumes."""
    remote = _remote(args)
    following = _Following(args.data_dir, args.session)
    if remote is not None:
        from .cli_remote import pending_from_snapshot

        following.remote_url = remote.url
        with _closing(remote):
            snapshot = remote.snapshot(args.session)
            call = _choose(pending_from_snapshot(snapshot), args.call, kind, args.session)
            answer = remote.submit(args.session, {"toolCallId": call, **body})
            if isinstance(answer, dict):
                print(f"helix: {call} settled; other calls still wait", file=sys.stderr)
                return _ended(remote.snapshot(args.session), args)
            return _follow_remote(remote, answer, args, following, json_lines=False)
    registry = load_app(args.app)

    async def go(host: LocalHost) -> int:
        pending = await _pending_local(host, args.session)
        call = _choose(pending, args.call, kind, args.session)
        if kind == "approval":
            submission = await host.executor.submit_tool_result(
                args.session, tool_call_id=call, approved=body["approved"], reason=args.reason
            )
        elif "errorText" in body:
            submission = await host.executor.submit_tool_result(
                args.session, tool_call_id=call, result=body["errorText"], is_error=True
            )
        else:
            submission = await host.executor.submit_tool_result(
                args.session, tool_call_id=call, result=body["output"]
            )
        handle = host.executor.resumed_handle(submission)
        if handle is None:
            print(f"helix: {call} settled; other calls still wait", file=sys.stderr)
            latest = await host.store.latest_run(args.session)
            status = latest.status.value if latest else "unknown"
            Renderer(sys.stdout).finish(args.session, status)
            return _next_steps(status, args.session, await _pending_local(host, args.session), args)
        return await _follow(host, handle, args, json_lines=False)

    return _with_host(registry, following, go)


def _choose(pending: Sequence[PendingCall], call: str | None, kind: str, session: str) -> str:
    if call:
        return call  # the host checks it (a sub-agent's call may not be listed here)
    matching = [p for p in pending if p.kind == kind]
    if len(matching) == 1:
        return matching[0].tool_call_id
    what = "an approval" if kind == "approval" else "a client tool's result"
    if not matching:
        raise HelixError(f"nothing in session {session!r} waits for {what}")
    ids = ", ".join(p.tool_call_id for p in matching)
    raise HelixError(f"several calls wait for {what}: pass --call with one of {ids}")


async def _pending_local(host: LocalHost, session_id: str) -> list[PendingCall]:
    from .cli_remote import PendingCall
    from .core.submissions import hierarchy

    if await host.store.load_session(session_id) is None:
        raise HelixError(f"session {session_id!r} not found")
    found: list[PendingCall] = []
    async for current in hierarchy(host.store, session_id):
        state = await host.store.load_session(current)
        for p in state.pending_client_tool_calls if state is not None else ():
            if p.decision is None and p.result_status is None:
                found.append(PendingCall(p.tool_call_id, p.tool_name, p.arguments, p.kind))
    return found


# -- following a run -------------------------------------------------------------------------


def _with_host(registry: AgentRegistry, following: _Following, fn: Any) -> int:
    from .hosts.local.host import LocalHost

    async def go() -> int:
        async with LocalHost(registry, following.data_dir) as host:
            result: int = await fn(host)
            return result

    try:
        return asyncio.run(go())
    except (KeyboardInterrupt, asyncio.CancelledError):
        _stopped_following(following)
        return EXIT_INTERRUPTED


def _stopped_following(following: _Following) -> None:
    session = following.session_id
    if session is None:
        print("\nhelix: stopped before a run started", file=sys.stderr)
        return
    attach = f"helix attach {session}{_data_opt(following.data_dir)}"
    if following.remote_url is not None:
        where = f"goes on in helix dev ({following.remote_url}; its chat page can interrupt it)"
    else:
        # This process was the host: the run is saved and continues on the next host.
        where = f"is saved, unfinished: it continues when a host next opens {following.data_dir}"
    print(
        f"\nhelix: stopped following session {session}; its run {where}. Follow it with: {attach}",
        file=sys.stderr,
    )


async def _follow(
    host: LocalHost, handle: RunHandle, args: argparse.Namespace, *, json_lines: bool
) -> int:
    """Print a run's chunks as they arrive; the exit code says how it ended."""
    out = sys.stdout
    renderer = Renderer(out)
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
    pending = await _pending_local(host, handle.session_id) if status.startswith("susp") else []
    return _next_steps(status, handle.session_id, pending, args)


def _follow_remote(
    remote: Remote,
    stream: RemoteStream,
    args: argparse.Namespace,
    following: _Following,
    *,
    json_lines: bool,
) -> int:
    out = sys.stdout
    renderer = Renderer(out)
    try:
        for chunk in stream.chunks:
            if json_lines:
                print(json.dumps(chunk, ensure_ascii=False), file=out)
            else:
                renderer.render_ui(chunk)
            out.flush()
    except KeyboardInterrupt:
        _stopped_following(following)
        return EXIT_INTERRUPTED
    if not renderer.at_line_start:
        out.write("\n")
        renderer.at_line_start = True
    return _ended(remote.snapshot(stream.session_id), args, renderer)


def _ended(
    snapshot: dict[str, Any], args: argparse.Namespace, renderer: Renderer | None = None
) -> int:
    from .cli_remote import pending_from_snapshot

    session, status = str(snapshot["sessionId"]), str(snapshot["status"])
    (renderer or Renderer(sys.stdout)).finish(session, status)
    return _next_steps(status, session, pending_from_snapshot(snapshot), args)


def _next_steps(
    status: str, session: str, pending: Sequence[PendingCall], args: argparse.Namespace
) -> int:
    """Say what the person can do next; the exit code for ``status``."""
    opt = _data_opt(args.data_dir)
    lines: list[str] = []
    for p in pending:
        call = f"{p.tool_name}({short(p.arguments, 80)})"
        if p.kind == "approval":
            lines += [
                f"{call} waits for your approval:",
                f"  helix approve {session} --call {p.tool_call_id}{opt}",
                f"  helix deny {session} --call {p.tool_call_id} --reason 'why'{opt}",
            ]
        else:
            lines += [
                f"{call} is a client tool: send its result with",
                f"  helix answer {session} '<result as JSON>' --call {p.tool_call_id}{opt}",
            ]
    if status.startswith("suspended") and not pending:
        lines.append(f"the run waits on a sub-agent: helix attach {session}{opt}")
    if status == "interrupted":
        lines.append(f"interrupted: continue with  helix resume {session}{opt}")
    for line in lines:
        print(f"helix: {line}" if not line.startswith(" ") else line, file=sys.stderr)
    if status == "completed":
        return EXIT_OK
    if status == "failed":
        return EXIT_FAILED
    return EXIT_STOPPED


def _data_opt(data_dir: str) -> str:
    return "" if data_dir == ".helix" else f" --data-dir {data_dir}"


class _closing:
    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    def __enter__(self) -> Remote:
        return self.remote

    def __exit__(self, *exc: object) -> None:
        self.remote.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
