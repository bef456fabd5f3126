"""The Cloudflare host's tests run in CPython over the fakes of
:mod:`helix_agents.testing.cloudflare`: the fake ``workers``, ``js`` and ``pyodide`` modules
are installed for them (``workers.asgi`` stays the SDK's own file)."""

from __future__ import annotations

from helix_agents.testing.cloudflare.shim import install

install()
