"""The ``helix`` command: a new project, the local host, and its sessions from a terminal.

    helix new      DIR [--helix-source PATH|WHEEL|GIT-URL]   scaffold a Worker project
    helix dev      [--app APP] [--host 127.0.0.1] [--port 8787] [--data-dir .helix]
    helix run      [--app APP] AGENT "message" [--session ID] [--json]
    helix attach   SESSION           follow a session's current run
    helix resume   SESSION           continue an interrupted run
    helix interrupt SESSION [--reason TEXT]   stop the active run, resumably
    helix abort    SESSION [--reason TEXT]    stop the run for good (active or waiting)
    helix approve  SESSION [--call ID] [--reason TEXT]    approve a call that waits
    helix deny     SESSION [--call ID] [--reason TEXT]    deny it
    helix answer   SESSION RESULT_JSON [--call ID] [--error]   a client tool's result
    helix sessions [SESSION]         list sessions, or show one (messages, runs, usage)
    helix sessions checkpoints|rewind|fork SESSION [CHECKPOINT]   a session's checkpoints
    helix schedules list|show|create|cancel   turns started by the clock (docs/triggers.md)
    helix migrate                    create or update the local database
    helix worker   [--app APP] [--port 8788] [--state-dir .helix/worker] [--with-testing]

``APP`` is ``MODULE:ATTR`` (an import path, found from the current directory or
``PYTHONPATH``) or ``path/to/file.py:ATTR``; without ``--app``, ``[tool.helix] app`` in
``./pyproject.toml`` (what ``helix new`` writes), else the bundled example agents. While a
``helix dev`` runs on the data dir, the session commands talk to it over HTTP
(:mod:`.cli_remote`) instead of opening the directory themselves (:mod:`.cli_sessions`).
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
from collections.abc import Sequence
from pathlib import Path

from .cli_app import (
    APP_HELP,
    EXIT_BROKEN_PIPE,
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    app_ref,
    load_app,
)
from .cli_schedules import add_schedules_command
from .cli_sessions import cmd_answer, cmd_attach, cmd_decide, cmd_resume, cmd_run, cmd_stop
from .errors import HelixError

__all__ = ["EXIT_INTERRUPTED", "load_app", "main"]

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
        "helix dev runs on the data dir, run / attach / resume / interrupt / abort / approve / "
        "deny / answer talk to it over HTTP.",
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
    run.set_defaults(func=cmd_run)

    attach = command("attach", "follow a session's current run (or show how it ended)")
    common(attach)
    attach.add_argument("session")
    attach.set_defaults(func=cmd_attach)

    resume = command("resume", "continue an interrupted run")
    common(resume)
    resume.add_argument("session")
    resume.set_defaults(func=cmd_resume)

    for name, what in (
        (
            "interrupt",
            "stop the session's active run at its next safe point (helix resume continues it)",
        ),
        ("abort", "stop the session's run for good: the active one, or one that waits"),
    ):
        stop = command(name, what)
        common(stop)
        stop.add_argument("session")
        stop.add_argument("--reason", help="why (kept with the run)")
        stop.set_defaults(func=cmd_stop, how=name)

    for name, verb in (("approve", "approve"), ("deny", "deny")):
        decide = command(name, f"{verb} a tool call that waits for approval, then follow")
        common(decide)
        decide.add_argument("session")
        decide.add_argument("--call", help="the tool call's id (needed when several wait)")
        decide.add_argument("--reason", help="why (the model sees it)")
        decide.set_defaults(func=cmd_decide, approved=name == "approve")

    answer = command("answer", "a client tool's result for a call that waits, then follow")
    common(answer)
    answer.add_argument("session")
    answer.add_argument("result", help="the result, as JSON (a bare word is a string)")
    answer.add_argument("--call", help="the tool call's id (needed when several wait)")
    answer.add_argument("--error", action="store_true", help="the tool failed: RESULT says why")
    answer.set_defaults(func=cmd_answer)

    sessions = command(
        "sessions",
        "list sessions, or show one; its checkpoints, a rewind or a fork",
        "helix sessions [SESSION]: list sessions, or show one. "
        "helix sessions checkpoints SESSION | rewind SESSION CHECKPOINT | "
        "fork SESSION CHECKPOINT [--as NEW_ID]: a session's checkpoints (docs/checkpoints.md).",
    )
    common(sessions, app=False)
    sessions.add_argument("session", nargs="?")
    sessions.add_argument("more", nargs="*", help=argparse.SUPPRESS)
    sessions.add_argument("--as", dest="new_id", help="the new session's id (fork)")
    sessions.set_defaults(func=_cmd_sessions)

    add_schedules_command(command, common)

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
    from .cli_branches import BRANCH_ACTIONS, cmd_branch

    if args.session in BRANCH_ACTIONS and args.more:
        return cmd_branch(args.data_dir, [args.session, *args.more], args.new_id)
    if args.more:
        raise HelixError(f"unexpected arguments: {' '.join(args.more)}")

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
