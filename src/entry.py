"""The Worker's main module (``main`` in wrangler.toml).

A placeholder until the Cloudflare host lands: it exports the three classes wrangler.toml
names, answers ``GET /health``, and says plainly (503) that nothing else is served yet.
Inside the Worker, imports are relative to ``src/``: this file never says ``src.``.
"""

from urllib.parse import urlsplit

from workers import DurableObject, Response, WorkerEntrypoint, WorkflowEntrypoint

_NOT_READY = {
    "error": {
        "code": "not_implemented",
        "message": "The Cloudflare host is not built yet: only GET /health is served.",
    }
}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if urlsplit(request.url).path == "/health":
            return Response.json({"status": "ok"})
        return Response.json(_NOT_READY, status=503)

    async def scheduled(self, controller, env, ctx):
        # The cron trigger: cleaning up expired suspensions arrives with the Cloudflare host.
        return None


class StreamManagerDO(DurableObject):
    async def fetch(self, request):
        return Response.json(_NOT_READY, status=503)


class AgentWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        raise NotImplementedError("AgentWorkflow arrives with the Cloudflare host")
