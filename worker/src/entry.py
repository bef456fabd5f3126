"""The Worker's main module (``main`` in wrangler.toml): the bundled example agents.

Inside the Worker, imports are relative to ``src/``: this file never says ``src.``. The
examples run on the offline demo model unless the Worker is configured for a real one
(``HELIX_MODEL``, ``OPENAI_API_KEY``, or ``HELIX_WORKERS_AI_MODEL`` with an ``AI`` binding;
see docs/deploy.md): the Worker's ``env`` decides, through ``model_from_env``, not the
process environment. Nothing here does I/O or draws randomness: the runtime snapshots this
module after importing it.
"""

from helix_agents.examples import example_registry
from helix_agents.hosts.cloudflare import CloudflareApp

app = CloudflareApp(example_registry("demo"), model_from_env=True)


class Default(app.Worker):
    """The HTTP API (the same routes as the local host), WebSocket upgrades, and the cron
    trigger that expires abandoned suspensions."""


class AgentWorkflow(app.Workflow):
    """One instance per turn of a session, and per resume of a turn."""


class StreamManagerDO(app.DurableObject):
    """One per session: the chunk logs of its runs, their readers and WebSockets."""
