"""The README's and the docs' code blocks run as printed.

Every fenced block in README.md and docs/*.md is one of:

- ``python``: run, in a fresh interpreter of the project's environment, in an empty
  temporary folder, offline (no model variables: the examples name an offline model).
  A block preceded by ``<!-- docs: continue -->`` runs after the previous Python block of
  the same file, in the same interpreter (it uses what that one defined).
- ``sh`` (also ``bash``, ``console``, ``shell``): says, in a comment on the line before it,
  how it is checked: ``<!-- docs: run -->`` (each command runs here, offline; `helix` is
  the project's, exit code 0, or 3 for a run that stops for an approval),
  ``<!-- docs: covered by tests/....py -->`` (a heavier test runs those steps) or
  ``<!-- docs: not run: REASON -->`` (e.g. it needs a Cloudflare account).
- a Python block may be ``<!-- docs: not run: REASON -->`` too (a fragment of a larger
  program); the reason is in the doc, for its reader.
- ``text`` after ``<!-- docs: output -->``: what the Python block before it prints, exactly.
- ``<!-- docs: scaffold PATH -->`` before any block: the file PATH exactly as ``helix new``
  writes it (the project named ``my-agents``, from the clone).
- anything else (``toml``, ``json``, ``text``, ``tsx``, no language) is data, a diagram or
  output, not run; a block of commands must not hide there without a language.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"sh", "bash", "console", "shell"}
#: An untagged block that starts like this holds commands: it must say so (``sh``).
COMMAND = re.compile(r"\s*(\$ |helix |make |uv |\.venv/|curl |npx |cd |git |python )")
#: What would point an example at a real model, or at the repository's environment.
STRIPPED = ("HELIX_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "HELIX_OPENAI_MODEL")
pytestmark = pytest.mark.timeout(120)


@dataclass
class Block:
    doc: Path
    line: int
    lang: str
    marker: str  # the ``docs:`` comment before the block, or ""
    code: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


FENCE = re.compile(
    r"^(?P<indent> *)(?P<fence>```|~~~)(?P<lang>[\w+-]*)[^\n]*\n(?P<code>.*?)^(?P=indent)(?P=fence)",
    re.S | re.M,
)


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        marker = ""
        if before.startswith("<!-- docs:") and before.endswith("-->"):
            marker = before.removeprefix("<!-- docs:").removesuffix("-->").strip()
        indent = match["indent"]
        code = "\n".join(line.removeprefix(indent) for line in match["code"].splitlines())
        line = text[: match.start()].count("\n") + 1
        found.append(Block(doc, line, match["lang"], marker, code + "\n" if code else ""))
    return found


#: Docs whose shell blocks are not checked here, and why.
UNCHECKED_SHELL = {
    "benchmarks.md": "its commands are the benchmarks that make its figures (minutes each)",
}
ALL = [b for doc in DOCS for b in blocks(doc)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = ""
    return env


def python_programs() -> list[tuple[Block, str, Block | None]]:
    """(the block, the program it ends, the ``output`` block after it) per Python block."""
    programs: list[tuple[Block, str, Block | None]] = []
    for doc in DOCS:
        found = blocks(doc)
        program = ""
        for i, block in enumerate(found):
            if block.lang != "python" or block.marker.startswith(
                ("not run", "scaffold", "covered by")
            ):
                continue
            program = program + block.code if block.marker == "continue" else block.code
            after = found[i + 1] if i + 1 < len(found) else None
            output = after if after is not None and after.marker == "output" else None
            programs.append((block, program, output))
    return programs


def test_every_block_says_what_it_is() -> None:
    problems = []
    for block in ALL:
        if block.doc.name in UNCHECKED_SHELL and block.lang != "python":
            continue
        marker = block.marker
        if not block.lang and COMMAND.match(block.code):
            problems.append(f"{block.where}: commands in a block without a language (sh?)")
        elif marker.startswith("not run"):
            if not marker.removeprefix("not run").strip(" :"):
                problems.append(f"{block.where}: 'not run' without a reason")
        elif marker.startswith("covered by "):
            test = marker.removeprefix("covered by ").split()[0]
            if not (ROOT / test.split("::")[0]).is_file():
                problems.append(f"{block.where}: no test {test}")
        elif block.lang in SHELL and marker != "run":
            problems.append(f"{block.where}: a shell block needs a docs: marker")
        elif marker not in {"", "run", "continue", "output"} and not marker.startswith("scaffold "):
            problems.append(f"{block.where}: unknown marker {marker!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("block", "program", "output"),
    python_programs(),
    ids=[b.where for b, _, _ in python_programs()],
)
def test_python_blocks_run_as_printed(
    block: Block, program: str, output: Block | None, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, f"{block.where}:\n{done.stdout}\n{done.stderr}"
    if output is not None:
        assert done.stdout.strip() == output.code.strip(), f"{block.where} prints otherwise"


RUN = [b for b in ALL if b.lang in SHELL and b.marker == "run"]


@pytest.mark.parametrize("block", RUN, ids=[b.where for b in RUN])
def test_shell_blocks_run_as_printed(block: Block, tmp_path: Path) -> None:
    commands = [
        line.split("  #")[0].strip()
        for line in block.code.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.returncode in (0, 3), f"{block.where}: {command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"{block.where}: {command}\n{done.stderr}"


SCAFFOLD = [b for b in ALL if b.marker.startswith("scaffold ")]


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helix_agents.scaffold import new_project

    root = tmp_path_factory.mktemp("scaffold") / "my-agents"
    new_project(root, source=str(ROOT))
    return root


@pytest.mark.parametrize("block", SCAFFOLD, ids=[b.where for b in SCAFFOLD])
def test_scaffold_files_are_shown_as_written(block: Block, scaffolded: Path) -> None:
    path = block.marker.removeprefix("scaffold ").strip()
    written = (scaffolded / path).read_text(encoding="utf-8")
    written = written.replace(ROOT.as_posix(), "/path/to/helix-agents")
    assert block.code == written, f"{block.where}: not what `helix new` writes to {path}"


def test_every_scaffold_file_is_shown_in_deploy_md(scaffolded: Path) -> None:
    shown = {b.marker.removeprefix("scaffold ").strip() for b in SCAFFOLD}
    written = {
        str(p.relative_to(scaffolded))
        for p in scaffolded.rglob("*")
        if p.is_file() and p.parent.name != "migrations"  # the schema: described, not shown
    }
    assert written == shown
