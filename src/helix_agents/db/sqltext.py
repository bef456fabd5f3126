"""Reading SQL text without executing it: splitting scripts, finding parameters and keywords.

Three jobs need to know where a statement's strings, quoted names and comments are, so that
a ``;``, a ``?`` or a word inside them is never mistaken for syntax:

- the programmatic migration splits ``migrations/*.sql`` into statements (D1's ``batch``
  takes one statement per entry), including ``CREATE TRIGGER ... BEGIN ... END;`` bodies;
- the drivers refuse transaction control (``BEGIN``, ``COMMIT``, ``SAVEPOINT`` ...) by the
  statement's first keyword, as D1 does;
- the D1 driver on the Python 3.12 runtime, where ``None`` cannot cross into JS, writes
  ``NULL`` in place of the ``?`` it would have been bound to.

The scanner follows SQLite's lexical rules for what matters here: ``'...'`` strings (``''``
escapes a quote), ``"..."``, ```...``` and ``[...]`` names, ``--`` and ``/* */`` comments,
and the parameter forms ``?``, ``?NNN``, ``:name``, ``@name`` and ``$name``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Literal, TypeVar

__all__ = [
    "TRANSACTION_KEYWORDS",
    "first_keyword",
    "inline_nulls",
    "insert_target",
    "is_transaction_control",
    "param_spans",
    "split_statements",
    "strip_comments",
    "words",
]

TokenKind = Literal["space", "comment", "string", "name", "word", "param", "semicolon", "other"]
T = TypeVar("T")

#: First keywords of the statements D1 refuses: it runs each batch in its own transaction.
TRANSACTION_KEYWORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})

_WORD_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WORD_CHARS = _WORD_START | frozenset("0123456789$")
_DIGITS = frozenset("0123456789")
_SPACE = frozenset(" \t\n\r\f\v")
_CLOSERS = {"'": "'", '"': '"', "`": "`", "[": "]"}
_BLANK = frozenset({"space", "comment"})
#: SQL texts up to this long have their first keyword remembered (first_keyword).
_REMEMBERED_CHARS = 4096


def _tokens(sql: str) -> Iterator[tuple[TokenKind, int, int]]:
    """``(kind, start, end)`` for every token of ``sql``, covering it completely."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        start = i
        if c in _SPACE:
            while i < n and sql[i] in _SPACE:
                i += 1
            yield "space", start, i
        elif c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            yield "comment", start, i
        elif c == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            yield "comment", start, i
        elif c in _CLOSERS:
            closer = _CLOSERS[c]
            i += 1
            while i < n:
                if sql[i] == closer:
                    # A doubled quote is an escaped quote (not for [...]).
                    if closer != "]" and i + 1 < n and sql[i + 1] == closer:
                        i += 2
                        continue
                    i += 1
                    break
                i += 1
            yield ("string" if c == "'" else "name"), start, i
        elif c == "?":
            i += 1
            while i < n and sql[i] in _DIGITS:
                i += 1
            yield "param", start, i
        elif c in ":@$" and i + 1 < n and sql[i + 1] in _WORD_CHARS:
            i += 1
            while i < n and sql[i] in _WORD_CHARS:
                i += 1
            yield "param", start, i
        elif c in _WORD_START:
            while i < n and sql[i] in _WORD_CHARS:
                i += 1
            yield "word", start, i
        elif c == ";":
            yield "semicolon", start, i + 1
            i += 1
        else:
            i += 1
            yield "other", start, i


def strip_comments(sql: str) -> str:
    """``sql`` with each comment replaced by a space (strings and names untouched)."""
    return "".join(
        " " if kind == "comment" else sql[start:end] for kind, start, end in _tokens(sql)
    ).strip()


def first_keyword(sql: str) -> str:
    """The statement's first word, upper-cased (``""`` when there is none)."""
    # Every statement a driver runs is asked this, and the same few texts come back on
    # every agent step: their answers are remembered (a bounded cache of short texts; a
    # text is its own key, so an answer can never be another text's).
    if len(sql) <= _REMEMBERED_CHARS:
        return _remembered_first_keyword(sql)
    return _scan_first_keyword(sql)


@functools.lru_cache(maxsize=512)
def _remembered_first_keyword(sql: str) -> str:
    return _scan_first_keyword(sql)


def _scan_first_keyword(sql: str) -> str:
    for kind, start, end in _tokens(sql):
        if kind in ("space", "comment"):
            continue
        return sql[start:end].upper() if kind == "word" else ""
    return ""


def param_spans(sql: str) -> list[tuple[int, int]]:
    """Where the statement's parameters are, in order: ``(start, end)`` of each."""
    return [(start, end) for kind, start, end in _tokens(sql) if kind == "param"]


def words(sql: str) -> frozenset[str]:
    """The statement's words outside strings, names and comments, upper-cased."""
    return frozenset(sql[start:end].upper() for kind, start, end in _tokens(sql) if kind == "word")


def insert_target(sql: str) -> str | None:
    """The table (or view) an ``INSERT`` or ``REPLACE`` writes, when named without a
    schema; None for any other statement."""
    tokens = [(kind, sql[start:end]) for kind, start, end in _tokens(sql) if kind not in _BLANK]
    if not tokens or tokens[0][0] != "word" or tokens[0][1].upper() not in ("INSERT", "REPLACE"):
        return None
    for i, (kind, text) in enumerate(tokens):
        if kind == "word" and text.upper() == "INTO":
            if i + 1 >= len(tokens) or tokens[i + 1][0] not in ("word", "name"):
                return None
            if i + 2 < len(tokens) and tokens[i + 2][1] == ".":
                return None  # schema-qualified (main.t): not followed here
            kind, name = tokens[i + 1]
            return name if kind == "word" else name[1:-1]
    return None


def is_transaction_control(sql: str) -> bool:
    """True for ``BEGIN``/``COMMIT``/``END``/``ROLLBACK``/``SAVEPOINT``/``RELEASE``."""
    return first_keyword(sql) in TRANSACTION_KEYWORDS


def split_statements(script: str) -> list[str]:
    """The statements of a script, comments removed, without their ``;``.

    A ``CREATE TRIGGER`` keeps its body whole: its ``;`` inside ``BEGIN ... END`` (with
    ``CASE ... END`` inside) do not end the statement.
    """
    statements: list[str] = []
    parts: list[str] = []
    words: list[str] = []  # the statement's first words, to recognise CREATE ... TRIGGER
    in_trigger = in_body = False
    case_depth = 0

    def flush() -> None:
        nonlocal in_trigger, in_body, case_depth
        text = "".join(parts).strip()
        if text:
            statements.append(text)
        parts.clear()
        words.clear()
        in_trigger = in_body = False
        case_depth = 0

    for kind, start, end in _tokens(script):
        token = script[start:end]
        if kind == "comment":
            parts.append(" ")
            continue
        if kind == "word":
            word = token.upper()
            if len(words) < 4:
                words.append(word)
                if words[0] == "CREATE" and word == "TRIGGER":
                    in_trigger = True
            if in_trigger:
                if word == "BEGIN" and not in_body:
                    in_body = True
                elif in_body and word == "CASE":
                    case_depth += 1
                elif in_body and word == "END":
                    if case_depth:
                        case_depth -= 1
                    else:
                        in_body = False
                        in_trigger = False  # the body is closed: the next ; ends it
        if kind == "semicolon" and not in_body:
            flush()
            continue
        parts.append(token)
    flush()
    return statements


def inline_nulls(sql: str, params: Sequence[T | None]) -> tuple[str, list[T]]:
    """Write ``NULL`` in place of each parameter bound to ``None``; renumber the rest.

    For the D1 binding on the Python 3.12 runtime, where ``None`` becomes JS ``undefined``
    and D1 refuses it. Binding ``NULL`` and writing it are the same to SQLite (``x = ?`` with
    NULL is ``x = NULL``), so the statement means what it meant. The remaining parameters
    become ``?1``, ``?2`` ... in their original order, so ``?`` and ``?NNN`` forms both work.
    Named parameters (``:name``) are not supported (the Database port binds by position).
    """
    if all(value is not None for value in params):
        return sql, [value for value in params if value is not None]
    out: list[str] = []
    highest = 0
    references: list[tuple[int, int, int]] = []  # (index, start, end), 1-based index
    for kind, start, end in _tokens(sql):
        if kind != "param":
            continue
        token = sql[start:end]
        if token[0] != "?":
            raise ValueError(f"named parameter {token} is not supported: bind by position")
        index = int(token[1:]) if len(token) > 1 else highest + 1
        highest = max(highest, index)
        references.append((index, start, end))
    if highest != len(params):
        raise ValueError(
            f"the statement has {highest} parameters but {len(params)} values were given"
        )
    renumber: dict[int, int] = {}
    kept: list[T] = []
    for position, value in enumerate(params, start=1):
        if value is not None:
            kept.append(value)
            renumber[position] = len(kept)
    cursor = 0
    for index, start, end in references:
        out.append(sql[cursor:start])
        new = renumber.get(index)
        # Spaces keep NULL from gluing to a neighbouring word (``LIMIT?``).
        out.append(" NULL " if new is None else f"?{new}")
        cursor = end
    out.append(sql[cursor:])
    return "".join(out), kept
