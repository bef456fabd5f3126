"""``helix new``: a deployable project, laid out as a Cloudflare Python Worker is.

The project depends on helix-agents through ``[tool.uv.sources]`` when this package was not
installed from an index (it is not on one yet): a path to a clone or to a wheel
(``uv build`` makes one), or a git URL. By default, the clone this package runs from, if it
runs from one. The templates are package data (``template/``), filled by plain
substitution: nothing here runs at import time.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ConfigurationError

__all__ = ["COMPATIBILITY_DATE", "Project", "default_source", "new_project"]

#: Python 3.14 on Pyodide 314.0.6 (from 2026-09-08), the runtime `helix worker` runs locally.
COMPATIBILITY_DATE = "2026-11-01"

#: template name -> where it goes in the project.
_FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "wrangler.toml.tmpl": "wrangler.toml",
    "entry.py.tmpl": "src/entry.py",
    "agents.py.tmpl": "src/agents.py",
    "test_agents.py.tmpl": "tests/test_agents.py",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
}
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    files: list[Path]
    source: str | None


def default_source() -> str | None:
    """The clone this package runs from (an editable or path install), else None."""
    root = Path(__file__).resolve().parents[3]
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    return str(root) if re.search(r'^name = "helix-agents"$', text, re.MULTILINE) else None


def _sources_table(source: str | None) -> str:
    if source is None:
        return ""
    if source.startswith(("git+", "https://", "http://", "ssh://")):
        url = source.removeprefix("git+")
        entry = f'{{ git = "{url}" }}'
    else:
        path = Path(source).expanduser().resolve()
        if path.is_dir() and not (path / "pyproject.toml").is_file():
            raise ConfigurationError(f"--helix-source {source}: no pyproject.toml there")
        if not path.is_dir() and not (path.is_file() and path.suffix == ".whl"):
            raise ConfigurationError(
                f"--helix-source {source}: not a helix-agents clone, a .whl file or a git URL"
            )
        extra = ", editable = false" if path.is_dir() else ""
        entry = f'{{ path = "{path.as_posix()}"{extra} }}'
    return (
        "\n# helix-agents is not on a package index yet: uv takes it from here.\n"
        f"[tool.uv.sources]\nhelix-agents = {entry}\n"
    )


def new_project(dest: Path, *, name: str | None = None, source: str | None = None) -> Project:
    """Write a new project into ``dest`` (which must not exist, or be empty)."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigurationError(f"{dest} already exists and is not empty")
    name = name or dest.resolve().name.lower().replace("_", "-")
    if not _NAME.match(name):
        raise ConfigurationError(
            f"{name!r} cannot name a Worker: lowercase letters, digits and '-', starting with "
            "a letter (pass --name)"
        )
    values = {
        "name": name,
        "compatibility_date": COMPATIBILITY_DATE,
        "sources": _sources_table(source),
    }
    template = resources.files(__package__) / "template"
    written: list[Path] = []
    for src, target in _FILES.items():
        text = template.joinpath(src).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        path = dest / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    # D1 applies the schema from here (wrangler.toml's migrations_dir): the package's files.
    migrations = resources.files("helix_agents.store") / "migrations"
    (dest / "migrations").mkdir()
    for item in sorted(migrations.iterdir(), key=lambda i: i.name):
        if item.name.endswith(".sql"):
            path = dest / "migrations" / item.name
            with resources.as_file(item) as file:
                shutil.copyfile(file, path)
            written.append(path)
    return Project(root=dest, name=name, files=written, source=source)
