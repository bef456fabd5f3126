"""``helix schedules``: list, show, create and cancel schedules (docs/triggers.md).

While a ``helix dev`` runs on the data dir, every subcommand goes through its HTTP API
(``/schedules``, with ``HELIX_API_TOKEN`` when set). Otherwise ``list`` and ``show`` read
the SQLite database directly, and ``create`` and ``cancel`` open the data dir with a host
of their own: a schedule made then fires once a host runs on the directory again (a due
time that passed meanwhile follows the schedule's misfire policy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .agent import AgentRegistry
from .cli_app import APP_HELP, EXIT_OK, load_app
from .errors import HelixError

__all__ = ["add_schedules_command"]


def add_schedules_command(command: Any, common: Any) -> None:
    """``helix schedules`` and its subcommands, on the main parser's ``command`` helper."""
    schedules = command("schedules", "list, show, create or cancel schedules")
    sub = schedules.add_subparsers(dest="action", required=True)

    listing = sub.add_parser("list", help="the schedules, newest first")
    common(listing, app=False)
    listing.add_argument("--status", choices=["active", "done", "cancelled"])
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="a schedule and its latest firings, as JSON")
    common(show, app=False)
    show.add_argument("schedule")
    show.set_defaults(func=cmd_show)

    create = sub.add_parser(
        "create",
        help="start a turn later: once (--at, --in), on --cron or --every",
        description="Make a schedule. Exactly one of --at, --in, --cron, --every (--every "
        "may come with --at, its first due time). Prints the schedule as JSON.",
    )
    common(create, app=False)
    create.add_argument("--app", help=APP_HELP)
    create.add_argument("agent", help="the agent ('-' with --session: the session's)")
    create.add_argument("message")
    create.add_argument("--at", help="an ISO 8601 time with its offset (2026-12-03T09:00Z)")
    create.add_argument("--in", dest="delay", type=float, help="seconds from now")
    create.add_argument("--cron", help="five fields, UTC ('0 9 * * mon-fri')")
    create.add_argument("--every", type=float, help="seconds between due times")
    create.add_argument("--session", help="an existing session (default: a new one per firing)")
    create.add_argument("--metadata", help="a JSON object, kept on the message")
    create.add_argument("--on-busy", choices=["queue", "skip", "supersede"], default="queue")
    create.add_argument("--misfire", choices=["run_late", "skip"], default="run_late")
    create.set_defaults(func=cmd_create)

    cancel = sub.add_parser("cancel", help="cancel a schedule: no later firing starts")
    common(cancel, app=False)
    cancel.add_argument("--app", help=APP_HELP)
    cancel.add_argument("schedule")
    cancel.set_defaults(func=cmd_cancel)


# -- the subcommands ---------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    remote = _remote(args)
    if remote is not None:
        query = f"?status={args.status}" if args.status else ""
        rows = _call(remote, "GET", f"/schedules{query}")["schedules"]
    else:
        rows = asyncio.run(_read(args, lambda ops: ops.list_for(status=args.status)))
    for row in rows:
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            due = _when(row.get("nextDueMs"))
            print(
                f"{row['scheduleId']}  {row['status']:<9} {_spec(row):<22} {due:<20} "
                f"{row['agent']:<16} {' '.join(row['message'].split())[:40]}"
            )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    remote = _remote(args)
    if remote is not None:
        out = _call(remote, "GET", f"/schedules/{quote(args.schedule, safe='')}")
    else:

        async def both(ops: Any) -> dict[str, Any]:
            schedule = await ops.get(args.schedule)
            firings = await ops.firings(args.schedule)
            return {"schedule": schedule, "firings": firings}

        out = asyncio.run(_read(args, both))
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_create(args: argparse.Namespace) -> int:
    metadata = _metadata(args.metadata)
    agent = None if args.agent == "-" else args.agent
    body: dict[str, Any] = {"agent": agent, "message": args.message, "metadata": metadata}
    for key, value in (
        ("at", args.at),
        ("delaySeconds", args.delay),
        ("cron", args.cron),
        ("everySeconds", args.every),
        ("sessionId", args.session),
    ):
        if value is not None:
            body[key] = value
    body.update(onBusy=args.on_busy, misfire=args.misfire)
    remote = _remote(args)
    if remote is not None:
        made = _call(remote, "POST", "/schedules", {k: v for k, v in body.items() if v is not None})
    else:
        from .http.schedules import parse_at

        async def make(host: Any) -> Any:
            return await host.executor.schedule(
                agent,
                args.message,
                at=parse_at(args.at),
                delay=args.delay,
                cron=args.cron,
                every=args.every,
                session_id=args.session,
                metadata=metadata,
                on_busy=args.on_busy,
                misfire=args.misfire,
            )

        made = _json(_with_host(args, make))
        print(
            "helix: no helix dev runs on this data dir: the schedule fires once one does",
            file=sys.stderr,
        )
    print(json.dumps(made, indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    remote = _remote(args)
    if remote is not None:
        out = _call(remote, "DELETE", f"/schedules/{quote(args.schedule, safe='')}")
    else:
        out = _json(_with_host(args, lambda host: host.executor.cancel_schedule(args.schedule)))
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return EXIT_OK


# -- where the commands go ---------------------------------------------------------------------


def _remote(args: argparse.Namespace) -> str | None:
    from .http.address import running_host

    url = running_host(Path(args.data_dir))
    if url is not None:
        print(f"helix: talking to helix dev at {url} (it runs on {args.data_dir})", file=sys.stderr)
    return url


def _call(url: str, method: str, path: str, body: Any = None) -> Any:
    import httpx

    token = os.environ.get("HELIX_API_TOKEN")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    res = httpx.request(method, url.rstrip("/") + path, json=body, headers=headers, timeout=30)
    data = res.json() if res.content else {}
    if res.status_code >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        raise HelixError(error.get("message") or f"{method} {path}: {res.status_code}")
    return data


async def _read(args: argparse.Namespace, fn: Any) -> Any:
    """Read-only: straight from the SQLite file (WAL: safe beside a running host)."""
    from .core.schedule_ops import ScheduleOps
    from .db.sqlite import SQLiteDatabase
    from .store import StateStore, migrate

    db = SQLiteDatabase(Path(args.data_dir) / "state.db")
    try:
        await migrate(db)
        store = StateStore(db)
        ops = ScheduleOps(AgentRegistry(), store, _NoLauncher(), store.clock)
        return _json(await fn(ops))
    finally:
        await db.close()


def _with_host(args: argparse.Namespace, fn: Any) -> Any:
    from .hosts.local.host import LocalHost

    registry = load_app(getattr(args, "app", None))

    async def go() -> Any:
        async with LocalHost(registry, args.data_dir, sweep_interval=None) as host:
            return await fn(host)

    return asyncio.run(go())


class _NoLauncher:
    """Reading schedules starts nothing."""

    def __getattr__(self, name: str) -> Any:  # pragma: no cover - never called
        raise HelixError("reading schedules does not start instances")


def _json(value: Any) -> Any:
    """Records (and lists and dicts of them) as the API's camelCase JSON."""
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    to_dict = getattr(value, "to_dict", None)
    if to_dict is None:
        return value
    out = dict(to_dict())
    out.pop("userId", None)
    return out


def _metadata(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise HelixError(f"--metadata is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise HelixError("--metadata must be a JSON object")
    return value


def _spec(row: dict[str, Any]) -> str:
    if row["kind"] == "cron":
        return f"cron {row['cron']}"
    if row["kind"] == "interval":
        return f"every {row['everyMs'] / 1000:g}s"
    return "once"


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
