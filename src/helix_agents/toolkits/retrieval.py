"""Retrieval on the vector index and embeddings ports: index documents, search passages.

``retrieval_toolkit()`` gives an agent a ``search`` tool (and, with ``indexing=True``, an
``index_documents`` tool) over ``ctx.services.vectors`` and ``ctx.services.embeddings``:
Vectorize and Workers AI on Cloudflare, the SQLite index and the offline embedder (or a
configured provider) locally. ``search`` returns passages with their source, title, chunk
number and score, and cites each source to the UI (``ctx.emit_source``: the AI SDK's
``source-url`` part when the document has a URL, ``source-document`` otherwise), which the
stored result keeps, so a reload shows them too.

:func:`index_documents` and :func:`search_passages` are the same operations for code that
is not a tool (seeding an index at deploy time, a script, a test).

Each tool is an ordinary durable tool step. Indexing is idempotent: a passage's vector id
is derived from its document's ``source`` and its chunk number, so indexing a document again
(a retried step, an edited document) replaces its vectors instead of adding copies. A
document that became shorter leaves its old tail chunks behind: delete them by id
(:func:`chunk_id`) or index into a fresh namespace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from ..errors import ConfigurationError, ToolError
from ..ports.embeddings import Embedder
from ..ports.vectors import MAX_BATCH, Vector, VectorIndex
from ..tools import Tool, ToolContext, tool
from .chunking import chunk_text

__all__ = [
    "Document",
    "Passage",
    "chunk_id",
    "index_documents",
    "retrieval_toolkit",
    "search_passages",
]

#: The passage text kept in a vector's metadata is cut here (Vectorize allows 10 KiB).
_MAX_STORED_TEXT = 6000


class Document(BaseModel):
    """A document to index: its text, where it comes from, and how to cite it."""

    source: str = Field(description="A stable id of the document, e.g. its path or URL")
    text: str = Field(description="The document's text")
    title: str | None = Field(default=None, description="A title to cite it by")
    url: str | None = Field(default=None, description="A link to it, if it has one")


class Passage(BaseModel):
    """A search result: a passage of a document and how close it is to the query."""

    text: str
    source: str
    title: str
    chunk: int
    score: float
    url: str | None = None


def chunk_id(source: str, chunk: int) -> str:
    """The vector id of chunk ``chunk`` of document ``source`` (at most 64 bytes, as
    Vectorize requires: a hash when ``source`` is long)."""
    ident = f"{source}#{chunk}"
    if len(ident.encode("utf-8")) <= 64:
        return ident
    digest = hashlib.blake2b(source.encode("utf-8"), digest_size=16).hexdigest()
    return f"h:{digest}#{chunk}"


async def index_documents(
    documents: Sequence[Document | Mapping[str, Any]],
    *,
    embedder: Embedder,
    index: VectorIndex,
    namespace: str | None = None,
    max_chars: int = 800,
    overlap: int = 150,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Chunk, embed and upsert ``documents``; returns how many documents and chunks."""
    if embedder.dimensions != index.dimensions:
        raise ConfigurationError(
            f"the embedder {embedder.model!r} makes {embedder.dimensions}-dimension vectors "
            f"but the index has {index.dimensions}: create the index with "
            f"--dimensions={embedder.dimensions} or use the embedder it was filled with"
        )
    docs = [d if isinstance(d, Document) else Document.model_validate(dict(d)) for d in documents]
    pending: list[tuple[str, dict[str, Any]]] = []
    for doc in docs:
        for number, passage in enumerate(
            chunk_text(doc.text, max_chars=max_chars, overlap=overlap)
        ):
            meta: dict[str, Any] = {
                **(metadata or {}),
                "source": doc.source,
                "title": doc.title or doc.source,
                "chunk": number,
                "text": passage[:_MAX_STORED_TEXT],
                "model": embedder.model,
            }
            if doc.url:
                meta["url"] = doc.url
            pending.append((passage, meta))
    for start in range(0, len(pending), MAX_BATCH):
        part = pending[start : start + MAX_BATCH]
        vectors = await embedder.embed([text for text, _ in part])
        await index.upsert(
            [
                Vector(chunk_id(meta["source"], meta["chunk"]), values, meta, namespace)
                for (_, meta), values in zip(part, vectors, strict=True)
            ]
        )
    return {"documents": len(docs), "chunks": len(pending)}


async def search_passages(
    query: str,
    *,
    embedder: Embedder,
    index: VectorIndex,
    top_k: int = 5,
    namespace: str | None = None,
    filter: Mapping[str, Any] | None = None,
    min_score: float | None = None,
) -> list[Passage]:
    """The ``top_k`` passages closest to ``query`` (closest first)."""
    [vector] = await embedder.embed([query])
    matches = await index.query(
        vector, top_k=top_k, filter=filter, namespace=namespace, return_metadata=True
    )
    passages: list[Passage] = []
    for match in matches:
        if min_score is not None and match.score < min_score:
            continue
        meta = match.metadata or {}
        passages.append(
            Passage(
                text=str(meta.get("text", "")),
                source=str(meta.get("source", match.id)),
                title=str(meta.get("title") or meta.get("source") or match.id),
                chunk=int(meta.get("chunk", 0)),
                score=round(float(match.score), 4),
                url=meta.get("url") if isinstance(meta.get("url"), str) else None,
            )
        )
    return passages


def retrieval_toolkit(
    *,
    top_k: int = 5,
    namespace: str | None = None,
    filter: Mapping[str, Any] | None = None,
    min_score: float | None = None,
    indexing: bool = False,
    max_chars: int = 800,
    overlap: int = 150,
    cite: bool = True,
    seed: Sequence[Document | Mapping[str, Any]] | None = None,
) -> list[Tool]:
    """The ``search`` tool (and ``index_documents`` with ``indexing=True``).

    ``namespace`` and ``filter`` scope every search (and ``namespace`` every write);
    ``min_score`` drops weak matches (cosine scores: from -1 to 1); ``cite=False`` keeps
    the sources out of the UI. ``seed`` is a corpus the agent ships with: the first search on
    a host indexes it unless the index already holds this very corpus (a fingerprint of the
    documents, the chunking and the embedder's model is kept with its vectors), so an edited
    corpus or another embedder is indexed again.
    """
    if not 1 <= top_k <= 20:
        raise ConfigurationError("retrieval_toolkit: top_k must be from 1 to 20")
    chunk_text("x" * 60, max_chars=max_chars, overlap=overlap)  # refuse bad sizes now
    fixed_filter = dict(filter) if filter else None
    seed_docs = [
        d if isinstance(d, Document) else Document.model_validate(dict(d)) for d in seed or ()
    ]
    seeded_on: list[VectorIndex] = []  # the indexes of this process known to hold the seed

    async def ensure_seeded(ctx: ToolContext, embedder: Embedder, index: VectorIndex) -> None:
        if not seed_docs or any(known is index for known in seeded_on):
            return
        fingerprint = hashlib.blake2b(digest_size=12)
        for doc in seed_docs:
            fingerprint.update(doc.model_dump_json().encode("utf-8"))
        fingerprint.update(f"{max_chars}/{overlap}/{namespace}/{embedder.model}".encode())
        mark = fingerprint.hexdigest()
        found = await index.get([chunk_id(seed_docs[0].source, 0)])
        if not found or found[0].metadata.get("seed") != mark:
            counts = await index_documents(
                seed_docs,
                embedder=embedder,
                index=index,
                namespace=namespace,
                max_chars=max_chars,
                overlap=overlap,
                metadata={"seed": mark},
            )
            ctx.record_usage("embeddings.texts", counts["chunks"])
            ctx.record_usage("vectors.writes", counts["chunks"])
        seeded_on.append(index)

    @tool
    async def search(ctx: ToolContext, query: str, limit: int | None = None) -> dict[str, Any]:
        """Search the indexed documents for passages about a question or topic. Cite the
        sources of the passages you use.

        Args:
            query: What to look for, in a few words or a question.
            limit: How many passages to return (default: the toolkit's).
        """
        if not query.strip():
            raise ToolError("search needs a non-empty query")
        k = top_k if limit is None else max(1, min(int(limit), 20))
        embedder, index = ctx.services.embeddings, ctx.services.vectors
        await ensure_seeded(ctx, embedder, index)
        passages = await search_passages(
            query,
            embedder=embedder,
            index=index,
            top_k=k,
            namespace=namespace,
            filter=fixed_filter,
            min_score=min_score,
        )
        ctx.record_usage("embeddings.texts", 1)
        ctx.record_usage("vectors.queries", 1)
        if cite:
            for p in passages:
                await ctx.emit_source(
                    p.url or p.source,
                    url=p.url,
                    title=p.title,
                    media_type="text/markdown" if p.source.endswith(".md") else "text/plain",
                    filename=None if p.url else p.source,
                )
        results = [p.model_dump(exclude_none=True) for p in passages]
        return {"query": query, "results": results}

    tools = [search]
    if indexing:

        @tool(name="index_documents")
        async def index_documents_tool(
            ctx: ToolContext, documents: list[Document]
        ) -> dict[str, int]:
            """Add documents to the search index (split into passages, embedded, stored).
            Indexing a document again with the same source replaces it.

            Args:
                documents: The documents, each with a source id, its text, and optionally a
                    title and a URL.
            """
            if not documents:
                raise ToolError("index_documents needs at least one document")
            counts = await index_documents(
                documents,
                embedder=ctx.services.embeddings,
                index=ctx.services.vectors,
                namespace=namespace,
                max_chars=max_chars,
                overlap=overlap,
            )
            ctx.record_usage("embeddings.texts", counts["chunks"])
            ctx.record_usage("vectors.writes", counts["chunks"])
            return counts

        tools.append(index_documents_tool)
    return tools
