"""Every reference in the code and the docs points inside the repository, at something that
is there: files the docs link to and their headings, the docs the code names, the
invariants and platform facts cited by number."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
MARKDOWN = [ROOT / "README.md", *DOCS]
SKIP = {"node_modules", "python_modules", ".venv", ".cache", ".git", ".helix", "dist"}


def _sources() -> list[Path]:
    """Code, tests, benchmarks, the Worker, the scaffold template, the Makefile."""
    found = [ROOT / "Makefile", ROOT / "pyproject.toml"]
    for folder in ("src", "tests", "benchmarks", "worker", "scripts"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and not SKIP & set(path.parts) and path.suffix != ".pyc":
                found.append(path)
    return found


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", _text(path), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def numbered(path: Path, pattern: str) -> int:
    """How many numbered entries a doc has; they must run 1, 2, 3, ... without a gap."""
    numbers = [int(n) for n in re.findall(pattern, _text(path), re.M)]
    assert numbers == list(range(1, len(numbers) + 1)), f"{path.name}: {numbers}"
    return len(numbers)


def test_nothing_refers_outside_the_repository() -> None:
    # The team's design notes and reference documents live beside the repository, not in
    # it: a user's clone has none of them, so nothing may point there. The names are
    # assembled, so that this guard does not itself contain what it looks for.
    notes = "shared"
    outside = re.compile(
        "|".join([r"DESIGN\.md", r"\.\./" + notes, "/work/" + notes, notes + "/reference"])
    )
    hits = [
        str(p.relative_to(ROOT))
        for p in [*MARKDOWN, *_sources()]
        if p != Path(__file__) and outside.search(_text(p))
    ]
    assert not hits, hits


@pytest.mark.parametrize("doc", MARKDOWN, ids=lambda p: p.name)
def test_links_resolve(doc: Path) -> None:
    text = re.sub(r"```.*?```", "", _text(doc), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address: not ours to check offline
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        missing_anchor = anchor and path.suffix == ".md" and anchor not in anchors(path)
        if not path.exists() or missing_anchor:
            broken.append(target)
    assert not broken, f"{doc.name}: {broken}"


def test_the_docs_the_code_names_exist() -> None:
    missing = set()
    for path in [*_sources(), *MARKDOWN]:
        for name in re.findall(r"(?<![\"'}/\w])docs/([a-z][a-z0-9_-]*\.md)", _text(path)):
            if not (ROOT / "docs" / name).exists():
                missing.add(f"{path.relative_to(ROOT)}: docs/{name}")
    assert not missing, sorted(missing)


def test_cited_invariants_and_platform_facts_exist() -> None:
    invariants = numbered(ROOT / "docs/invariants.md", r"^(\d+)\. \*\*")
    facts = numbered(ROOT / "docs/platform.md", r"^- \*\*P(\d+)\.")
    assert invariants >= 8
    assert facts >= 10
    bad = set()
    for path in [*_sources(), *MARKDOWN]:
        text = _text(path)
        for n in re.findall(r"\binvariants?\s+(\d+)", text, re.I):
            if not 1 <= int(n) <= invariants:
                bad.add(f"{path.relative_to(ROOT)}: invariant {n}")
        for n in re.findall(r"\bplatform facts?\s+P(\d+)", text, re.I):
            if not 1 <= int(n) <= facts:
                bad.add(f"{path.relative_to(ROOT)}: platform fact P{n}")
    assert not bad, sorted(bad)
