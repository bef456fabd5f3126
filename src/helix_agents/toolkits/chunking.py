"""Splitting documents into overlapping passages for a vector index.

A passage is at most ``max_chars`` characters, cut at a paragraph break where one is near,
else at a sentence end, else at a space (never inside a word unless the word itself is
longer). Each passage after the first starts with the last ``overlap`` characters of the
one before (from a word boundary), so a sentence cut in two is whole in one of them.
Deterministic: the same text always gives the same passages, so re-indexing a document
replaces its vectors id for id.
"""

from __future__ import annotations

import re

__all__ = ["chunk_text"]

_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def chunk_text(text: str, *, max_chars: int = 800, overlap: int = 150) -> list[str]:
    """``text`` as passages of at most ``max_chars`` characters (see the module)."""
    if max_chars < 50:
        raise ValueError("max_chars must be at least 50")
    if not 0 <= overlap < max_chars // 2:
        raise ValueError("overlap must be from 0 to less than half of max_chars")
    clean = _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", text.replace("\r\n", "\n"))).strip()
    if not clean:
        return []
    passages: list[str] = []
    start = 0
    while start < len(clean):
        end = min(start + max_chars, len(clean))
        if end < len(clean):
            end = _cut(clean, start, end)
        passage = clean[start:end].strip()
        if passage:
            passages.append(passage)
        if end >= len(clean):
            break
        next_start = end - overlap if overlap else end
        if overlap:
            space = clean.find(" ", next_start, end)
            next_start = space + 1 if space != -1 else next_start
        start = max(next_start, start + 1)
    return passages


def _cut(text: str, start: int, end: int) -> int:
    """The best place to end a passage in ``text[start:end]``: the latest paragraph break in
    its second half, else the latest sentence end, else the latest space."""
    half = start + (end - start) // 2
    for pattern in ("\n\n", ". ", "? ", "! ", "\n", " "):
        at = text.rfind(pattern, half, end)
        if at != -1:
            return at + len(pattern.rstrip(" ")) if pattern != " " else at
    return end
