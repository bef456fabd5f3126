"""Starting the real MCP test server (``server_app``) in a process of its own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The stdio server, as an MCPServerStdio's command and args.
STDIO_COMMAND = sys.executable
STDIO_ARGS = ["-m", "tests.mcp_protocol.server_app", "stdio"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def http_server(token: str | None = None, port: int | None = None) -> Iterator[str]:
    """The server on a free port; yields its endpoint URL, stops it after."""
    port = port or free_port()
    args = [sys.executable, "-m", "tests.mcp_protocol.server_app", "http", str(port)]
    if token:
        args.append(token)
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the MCP test server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
