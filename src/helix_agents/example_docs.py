"""The small corpus the bundled ``docs`` example answers from: the project's docs, condensed.

The docs themselves are not part of the installed package (nor of a Worker's upload), so
the example indexes these summaries instead, written for it: one entry per doc, with the
doc's path as its source so that citations point at the full page in the repository. They
are plain data (no I/O at import), the same on the local host and on the Worker.
"""

from __future__ import annotations

__all__ = ["DOCS_CORPUS"]

#: ``{"source", "title", "text"}`` per doc page.
DOCS_CORPUS: list[dict[str, str]] = [
    {
        "source": "README.md",
        "title": "helix-agents",
        "text": (
            "helix-agents is a durable AI-agent runtime in Python for Cloudflare Python "
            "Workers. You define agents in Python with a system prompt, typed tools and an "
            "optional structured output; the runtime runs each agent's loop as durable steps, "
            "keeps sessions and messages in SQLite (D1 on Cloudflare) and streams every token "
            "to browsers through the AI SDK's useChat, to SSE clients that reattach, and to "
            "WebSocket clients. The same agents run on a laptop without a Cloudflare account: "
            "the local host with SQLite and a local durable step engine is the default.\n\n"
            "make dev serves the local host on http://127.0.0.1:8787 with a chat page. "
            "make worker serves the same API on the real Worker runtime, offline, in a local "
            "workerd on port 8788."
        ),
    },
    {
        "source": "docs/getting-started.md",
        "title": "Getting started",
        "text": (
            "Start a project of your own with helix new ~/my-agents: it writes a Cloudflare "
            "Python Worker project with pyproject.toml, wrangler.toml, src/entry.py, one agent "
            "with one tool in src/agents.py, and tests. Then uv sync, uv run pytest (offline), "
            "and uv run helix dev to chat with the agent on port 8787.\n\n"
            "An agent is Agent(name, system_prompt, tools, model). A tool is a Python function "
            "decorated with @tool: its JSON schema comes from the signature and the docstring, "
            "and arguments are validated before it runs."
        ),
    },
    {
        "source": "docs/deploy.md",
        "title": "Deploying to Cloudflare",
        "text": (
            "To deploy, run uv run pywrangler deploy in the project helix new wrote; "
            "pywrangler vendors helix-agents and its dependencies into the Worker. Before the "
            "first deploy, log in with uv run pywrangler login, create the D1 database with "
            "uv run pywrangler d1 create my-agents, paste its id into wrangler.toml, and apply "
            "the schema with uv run pywrangler d1 migrations apply my-agents --remote. The Worker uses a Workflow for each run, a Durable "
            "Object for streams and D1 for sessions and messages.\n\n"
            "helix worker runs the same Worker locally in workerd before you deploy, with a real "
            "local D1, Durable Object and Workflow."
        ),
    },
    {
        "source": "docs/configuration.md",
        "title": "Configuration",
        "text": (
            "The model comes from the environment: HELIX_MODEL (for example "
            "workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast or openai:gpt-4o-mini), else "
            "OpenAI when OPENAI_API_KEY or OPENAI_BASE_URL is set, else the offline demo model. "
            "On a Worker these are vars and secrets of its env, set with wrangler secret put. "
            "HELIX_API_TOKEN protects the HTTP API with a bearer token."
        ),
    },
    {
        "source": "docs/hitl.md",
        "title": "Human in the loop",
        "text": (
            "A tool declared with requires_approval=True waits for a person before it runs. "
            "The run suspends durably, without holding a Worker, until someone approves or "
            "denies the call: helix approve SESSION or helix deny SESSION --reason ..., the "
            "chat page's buttons, or the AI SDK's approval response. A pending approval can "
            "expire after expires_in seconds. Client tools (execute='client') run in the "
            "browser and send their result back."
        ),
    },
    {
        "source": "docs/subagents.md",
        "title": "Sub-agents",
        "text": (
            "subagent_tool(agent) turns an agent into a tool of another: the parent delegates "
            "a question, the child runs in a session of its own (a child Workflow instance on "
            "Cloudflare), and its chunks are forwarded into the parent's stream as "
            "data-subagent parts. Companions are persistent child agents a parent can message "
            "again across turns."
        ),
    },
    {
        "source": "docs/streaming.md",
        "title": "Streaming",
        "text": (
            "Every run writes its chunks to an append-only stream log. The HTTP API serves "
            "them as AI SDK UI message stream chunks over SSE, with event ids that let a client "
            "resume with Last-Event-ID after a disconnect, and over WebSocket. A tool can send "
            "its own data parts with ctx.emit, and cite sources with ctx.emit_source, which "
            "become source-url or source-document parts that also appear in the session "
            "snapshot after a reload."
        ),
    },
    {
        "source": "docs/loop.md",
        "title": "The agent loop and durability",
        "text": (
            "Each turn runs as a sequence of durable steps: a model step (one model call, "
            "streamed) and a tool step per tool call. A completed step is never run again: "
            "after a crash the engine replays the journal and continues from the first step "
            "that did not finish, so a tool that completed is not called twice. Interrupt "
            "stops a run resumably, abort stops it for good."
        ),
    },
    {
        "source": "docs/services.md",
        "title": "Services and toolkits",
        "text": (
            "Tools reach the host's services through ctx.services: a key-value store (KV or "
            "SQLite), object storage (R2 or local files), a vector index (Vectorize or SQLite), "
            "a queue (Queues or SQLite) and embeddings (Workers AI, an OpenAI-compatible "
            "endpoint, or an offline hashing embedder that is not semantic). Ready-made "
            "toolkits add tools in one line: cache_toolkit, file_toolkit, retrieval_toolkit "
            "(search with cited sources, and index_documents) and queue_toolkit (hand_off a "
            "task to another agent through the queue)."
        ),
    },
    {
        "source": "docs/http-api.md",
        "title": "The HTTP API",
        "text": (
            "POST /chat starts a turn and streams it (useChat bodies or Helix bodies). GET "
            "/chat/{id}/stream reattaches to a running turn, GET /chat/{id} returns the "
            "session snapshot as AI SDK UI messages, GET /sessions lists sessions, and the control routes interrupt, resume, "
            "abort and submit tool results. /agents lists the agents, /openapi.json documents "
            "it all, and / serves the chat page."
        ),
    },
    {
        "source": "docs/cli.md",
        "title": "The helix command",
        "text": (
            "helix run AGENT MESSAGE runs one turn in the terminal; --session continues a "
            "session. helix attach follows a run, helix interrupt, resume and abort control "
            "it, helix sessions inspects what is stored, helix dev serves the HTTP API and chat "
            "page, and helix worker serves them on the real Worker runtime. --app names your "
            "own registry as module:attribute or a file path."
        ),
    },
]
