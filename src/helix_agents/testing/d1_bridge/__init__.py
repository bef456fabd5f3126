"""A bridge to a real local D1, for tests: D1's engine, rules and messages, not a model of them.

``worker.js`` is a small JS Worker that runs what it is sent on ``env.DB``; ``wrangler dev
--local`` serves it with miniflare's D1 (SQLite inside workerd), offline.
:class:`D1BridgeServer` starts and stops that process; :class:`D1BridgeBinding` is a D1
binding with the surface a Python Worker sees, so the Cloudflare host's D1 driver runs on
it unchanged::

    with D1BridgeServer(tmp_dir, wrangler=["scripts/wrangler"]) as server:
        db = D1Database(D1BridgeBinding(server.url))

Not a fake: the real engine, reached from CPython. Test tooling only (``worker.js`` is never
part of a Worker's upload, nor is anything of :mod:`helix_agents.testing`).
"""

from ._binding import D1BridgeBinding, D1BridgeError, D1BridgeStatement, D1JsError
from ._codec import JsDict
from ._server import OFFLINE_ENV, D1BridgeServer

__all__ = [
    "OFFLINE_ENV",
    "D1BridgeBinding",
    "D1BridgeError",
    "D1BridgeServer",
    "D1BridgeStatement",
    "D1JsError",
    "JsDict",
]
