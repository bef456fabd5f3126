"""Ready-made tools on the host's services, each added to an agent in one line.

Every toolkit is a function returning tools, each an ordinary durable tool step that finds
its service on ``ctx.services`` when it runs, so the same agent runs on the local host and
on Cloudflare::

    Agent("helper", tools=[*file_toolkit(prefix="notes/"), cached(get_weather, ttl=600)])

See ``docs/services.md``.
"""

from .cache import cache_toolkit, cached
from .files import file_toolkit
from .model_cache import cached_model
from .queue import agent_task_handler, queue_toolkit
from .retrieval import Document, index_documents, retrieval_toolkit, search_passages
from .schedule import schedule_toolkit

__all__ = [
    "Document",
    "agent_task_handler",
    "cache_toolkit",
    "cached",
    "cached_model",
    "file_toolkit",
    "index_documents",
    "queue_toolkit",
    "retrieval_toolkit",
    "schedule_toolkit",
    "search_passages",
]
