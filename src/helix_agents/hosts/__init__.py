"""The two hosts that run the same agents: ``local`` (SQLite, the local step engine,
uvicorn) and ``cloudflare`` (Workflows, D1, a StreamManager Durable Object, the Worker)."""
