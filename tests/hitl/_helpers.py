"""Helpers shared by the human-in-the-loop and sub-agent tests."""

from __future__ import annotations

from helix_agents.chunks import SequencedChunk
from helix_agents.executor import RunHandle


async def collect(handle: RunHandle) -> list[SequencedChunk]:
    return [item async for item in handle.stream()]


def kinds(chunks: list[SequencedChunk]) -> list[str]:
    return [c.chunk.type for c in chunks]


def text_of(chunks: list[SequencedChunk]) -> str:
    """The run's own text (a sub-agent's forwarded text is left out)."""
    return "".join(
        getattr(c.chunk, "delta", "")
        for c in chunks
        if c.chunk.type == "text-delta" and c.chunk.agent is None
    )
