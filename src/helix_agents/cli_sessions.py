"""The session commands of ``helix``: run, attach, resume, interrupt, abort, approve, deny
and answer. Each talks to the ``helix dev`` running on the data dir (:mod:`.cli_remote`), or
opens the directory itself with a host of its own, and follows the run it started or
resumed in the terminal; the exit code says how the run ended (docs/cli.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .agent import AgentRegistry
from .cli_app import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_STOPPED, load_app
from .cli_render import Renderer, short
from .errors import HelixError

if TYPE_CHECKING:
    from .cli_remote import PendingCall, Remote, RemoteStream
    from .executor import RunHandle
    from .hosts.local.host import LocalHost

__all__ = [
    "cmd_answer",
    "cmd_attach",
    "cmd_decide",
    "cmd_resume",
    "cmd_run",
    "cmd_stop",
]


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


def cmd_run(args: argparse.Namespace) -> int:
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


def cmd_attach(args: argparse.Namespace) -> int:
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


def cmd_resume(args: argparse.Namespace) -> int:
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


def cmd_stop(args: argparse.Namespace) -> int:
    """``helix interrupt`` / ``abort``: ask, then wait until the run has stopped and say how
    it ended (an interrupt takes effect at the run's next safe point, not at once)."""
    remote = _remote(args)
    following = _Following(args.data_dir, args.session)
    if remote is not None:
        following.remote_url = remote.url
        with _closing(remote):
            answer = remote.stop(args.session, args.how, args.reason)
            print(f"helix: {args.how} accepted for run {answer.get('runId')}", file=sys.stderr)
            stream = remote.reattach(args.session)
            if stream is not None:
                try:
                    for _ in stream.chunks:
                        pass  # drained, not shown: the run's end is what this waits for
                except KeyboardInterrupt:
                    _stopped_following(following)
                    return EXIT_INTERRUPTED
            return _stopped(_ended(remote.snapshot(args.session), args))
    registry = load_app(args.app)

    async def go(host: LocalHost) -> int:
        if args.how == "interrupt":
            run = await host.executor.interrupt(args.session, reason=args.reason)
        else:
            run = await host.executor.abort(args.session, reason=args.reason)
        print(f"helix: {args.how} accepted for run {run.run_id}", file=sys.stderr)
        handle = await host.executor.get_handle(args.session)
        if handle is not None:
            async for _ in handle.stream():
                pass  # this process is the host: the run stops here, under our eyes
        latest = await host.store.latest_run(args.session)
        status = latest.status.value if latest else "unknown"
        Renderer(sys.stdout).finish(args.session, status)
        pending = await _pending_local(host, args.session) if status.startswith("susp") else []
        return _stopped(_next_steps(status, args.session, pending, args))

    return _with_host(registry, following, go)


def _stopped(code: int) -> int:
    # The run stopped, as asked: for interrupt / abort that is success, not a stopped run.
    return EXIT_OK if code == EXIT_STOPPED else code


def cmd_decide(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"approved": bool(args.approved)}
    if args.reason:
        body["reason"] = args.reason
    return _submit(args, "approval", body)


def cmd_answer(args: argparse.Namespace) -> int:
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
