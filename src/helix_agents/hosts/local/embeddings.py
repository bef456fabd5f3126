"""The offline embedder: deterministic, dependency-free, and NOT semantic.

:class:`HashingEmbedder` hashes each word (lowercased, split on anything that is not a
letter or digit), each word pair and each word's 4-letter pieces into a fixed number of
buckets with a signed weight (feature hashing), then normalizes the vector to length 1. Two
texts score close when they share words or word stems, so "deploy the worker" finds the
passage that says "deploying" and "worker", but "ship" does not find "deploy": it is a
lexical matcher in vector form. It
exists so that retrieval runs end to end without a provider or the network (development,
tests, the bundled example); use Workers AI or an OpenAI-compatible embedder for meaning.

The hash is BLAKE2b, not Python's ``hash`` (which is salted per process): the same text
gives the same vector in every process, on CPython and on Pyodide.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Sequence

from ...ports.embeddings import check_texts

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: Words too common to say anything about a passage.
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "do",
        "does",
        "can",
    ]
)


class HashingEmbedder:
    """The deterministic offline :class:`~helix_agents.ports.Embedder` (see the module)."""

    def __init__(self, dimensions: int = 256) -> None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 8:
            raise ValueError(f"dimensions must be an integer of at least 8, not {dimensions!r}")
        self._dimensions = dimensions

    def __repr__(self) -> str:
        return f"HashingEmbedder(dimensions={self._dimensions})"

    @property
    def model(self) -> str:
        return f"helix-hashing-{self._dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_one(text) for text in check_texts(texts)]

    def embed_one(self, text: str) -> list[float]:
        words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
        vector = [0.0] * self._dimensions
        features: list[tuple[str, float]] = [(w, 1.0) for w in words]
        # Pairs weigh less than words: they break ties toward passages in the same order.
        features += [(f"{a} {b}", 0.5) for a, b in itertools.pairwise(words)]
        # A word's 4-letter pieces let "approve" meet "approval" and "agents" meet "agent".
        features += [(f"#{w[i : i + 4]}", 0.25) for w in words for i in range(len(w) - 3)]
        for feature, weight in features:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            number = int.from_bytes(digest, "little")
            bucket = number % self._dimensions
            sign = 1.0 if (number >> 63) & 1 else -1.0
            vector[bucket] += sign * weight
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:
            # Only stop words or punctuation: a fixed unit vector, the same for all such texts.
            vector[0] = 1.0
            return vector
        return [x / norm for x in vector]
