"""The Embedder port: texts to vectors, for a vector index.

Contract:

- ``embed(texts)`` returns one vector per text, in order, each of ``dimensions`` finite
  numbers. The same text embedded twice by the same embedder gives the same vector (within
  the provider's float noise), so a query can be matched against what was indexed.
- ``model`` names what produced the vectors: an index must be queried with the model it
  was filled with (vectors of two models are not comparable even at equal dimensions).
- An empty list is answered with an empty list without calling the provider; an empty text
  is refused. Implementations split long lists into the provider's batch size themselves.
- Errors are :class:`helix_agents.errors.EmbeddingError` (the provider's message kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..errors import EmbeddingError

__all__ = ["Embedder", "check_request_allowed", "check_texts", "check_vectors_shape"]


@runtime_checkable
class Embedder(Protocol):
    @property
    def model(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list, or an :class:`EmbeddingError` naming the bad one."""
    if isinstance(texts, str):
        raise EmbeddingError("embed takes a list of texts, not one string")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str) or not text.strip():
            raise EmbeddingError(f"text {i}: a non-empty string, got {text!r}")
    return out


def check_request_allowed(what: str) -> None:
    """An embedder that calls a provider asks first: a test suite that forbids real model
    requests (``helix_agents.testing.forbid_model_requests``) forbids these too."""
    from ..models._requests import model_requests_allowed

    if not model_requests_allowed():
        raise EmbeddingError(
            f"{what}: real model requests are forbidden here (helix_agents.testing."
            "forbid_model_requests): use the offline HashingEmbedder, or wrap the test in "
            "helix_agents.testing.allow_model_requests() if it talks to a local server"
        )


def check_vectors_shape(vectors: object, count: int, dimensions: int | None, what: str) -> None:
    """Refuse a provider's answer that is not ``count`` vectors of ``dimensions`` numbers."""
    if not isinstance(vectors, list) or len(vectors) != count:
        got = len(vectors) if isinstance(vectors, list) else type(vectors).__name__
        raise EmbeddingError(f"{what}: expected {count} vectors, got {got}")
    for vector in vectors:
        if not isinstance(vector, list) or (dimensions is not None and len(vector) != dimensions):
            raise EmbeddingError(f"{what}: expected vectors of {dimensions} numbers")
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in vector):
            raise EmbeddingError(f"{what}: a vector holds something other than numbers")
