"""Every environment variable the code reads is in docs/configuration.md's tables, and every
variable there is read somewhere: one list, the same names everywhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "configuration.md"
#: Where code lives (Python, the Makefile). The Worker's own project is worker/.
CODE_DIRS = ("src", "worker/src", "benchmarks", "tests", "scripts")
#: Our prefixes: any such name in code or docs must be a listed variable (a typo is not).
OURS = re.compile(r"\b(?:HELIX|OPENAI)_[A-Z0-9_]+\b")
#: How code reads a variable: from os.environ, a Worker's env, or a constant naming it.
READS = (
    re.compile(r"""environ\.get\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\](?!\s*=[^=])"""),
    re.compile(r"""getenv\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""\benv\.get\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""env_var\(\s*\w+\s*,\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""\b[A-Z_]*_(?:ENV|VAR)\b\s*(?::\s*Final)?\s*=\s*["']([A-Z][A-Z0-9_]*)["']"""),
)
#: The system's own, read to pass them on to a child process: not settings of ours.
SYSTEM = frozenset({"PATH", "HOME"})


def _code_files() -> list[Path]:
    files = [ROOT / "Makefile"]
    for folder in CODE_DIRS:
        files += [
            p
            for p in (ROOT / folder).rglob("*.py")
            if not {"node_modules", "python_modules", ".venv"} & set(p.parts)
        ]
    return files


def listed() -> set[str]:
    """The variables of the tables: the first cell of each row, in backticks."""
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", TABLE.read_text(encoding="utf-8"), re.M)
    assert len(rows) == len(set(rows)), "a variable is listed twice"
    return set(rows)


def read_by_code() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in _code_files():
        text = path.read_text(encoding="utf-8")
        for pattern in READS:
            for name in pattern.findall(text):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def mentioned(paths: list[Path]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for name in OURS.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_variable_the_code_reads_is_listed() -> None:
    missing = {k: v for k, v in read_by_code().items() if k not in listed() | SYSTEM}
    assert not missing, f"read by the code, not in docs/configuration.md: {missing}"


def test_every_listed_variable_is_read_by_the_code() -> None:
    unused = listed() - set(read_by_code())
    assert not unused, f"in docs/configuration.md, read nowhere: {sorted(unused)}"


def test_code_and_docs_spell_our_variables_as_listed() -> None:
    docs = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    scaffold = [*(ROOT / "src/helix_agents/scaffold/template").iterdir()]
    worker = [ROOT / "worker/wrangler.toml"]
    unknown = {
        k: v
        for k, v in {**mentioned(_code_files()), **mentioned(docs + scaffold + worker)}.items()
        if k not in listed()
    }
    assert not unknown, f"not a variable of docs/configuration.md (a typo?): {unknown}"
