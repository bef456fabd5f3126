"""The "d1-real" database kind: the Cloudflare host's D1 driver over a real local D1.

One bridge server (``wrangler dev --local`` running the bridge worker) serves the whole test
session: it starts on first use and stops when pytest finishes (or, failing that, when the
interpreter exits). Each test gets an empty database: the bridge drops every table first.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from pathlib import Path

import pytest

from helix_agents.ports import Database
from helix_agents.testing.d1_bridge import D1BridgeBinding, D1BridgeError, D1BridgeServer

__all__ = ["WRANGLER", "bridge_url", "open_real_d1", "real_d1_binding"]

ROOT = Path(__file__).resolve().parents[2]
#: The repository's wrangler: its own Node 22, telemetry and update checks off.
WRANGLER = ROOT / "scripts" / "wrangler"

_server: D1BridgeServer | None = None
# A bridge that failed to start fails every later test at once, with the same message.
_failure: D1BridgeError | None = None


def _stop_server() -> None:
    global _server
    server, _server = _server, None
    if server is not None:
        server.stop()
        shutil.rmtree(server.state_dir, ignore_errors=True)


def bridge_url(config: pytest.Config) -> str:
    """The session's bridge, started on first use. Blocks while it starts (a few seconds)."""
    global _server, _failure
    if _failure is not None:
        raise _failure
    if _server is not None and _server.running:
        return _server.url
    _stop_server()
    if not WRANGLER.exists():
        raise D1BridgeError(f"{WRANGLER} is missing")
    server = D1BridgeServer(tempfile.mkdtemp(prefix="helix-d1-bridge-"), wrangler=[str(WRANGLER)])
    # Registered before start: a start that fails half-way still leaves no process behind.
    _server = server
    config.add_cleanup(_stop_server)
    atexit.register(_stop_server)
    try:
        return server.start()
    except D1BridgeError as exc:
        # Keep its state directory: the error names the log inside it.
        _server, _failure = None, exc
        server.stop()
        raise


async def real_d1_binding(request: pytest.FixtureRequest) -> D1BridgeBinding:
    """A D1 binding on the session's real local D1, emptied for this test."""
    url = await asyncio.to_thread(bridge_url, request.config)
    binding = D1BridgeBinding(url)
    await binding.reset()
    return binding


async def open_real_d1(request: pytest.FixtureRequest) -> Database:
    """``D1Database`` (the Cloudflare host's driver) over a fresh, empty real local D1."""
    from helix_agents.hosts.cloudflare.d1 import D1Database

    return D1Database(await real_d1_binding(request))
