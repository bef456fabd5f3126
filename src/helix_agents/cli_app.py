"""What the ``helix`` commands share: the app they serve (``--app``) and their exit codes."""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .agent import AgentRegistry
from .errors import HelixError

__all__ = [
    "APP_HELP",
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "AppRef",
    "app_ref",
    "load_app",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: 128 + SIGPIPE, what a shell reports for a command whose reader went away (``| head``).
EXIT_BROKEN_PIPE = 141

EXIT_CODES = """\
exit codes:
  0    the run completed (other commands: done)
  1    the run failed, or helix dev could not start
  2    bad input or refused: a usage error, an unknown agent or session, a call that is
       not pending, nothing to interrupt or abort, a data dir in use by another command
  3    the run stopped without finishing: it waits on an approval or a client tool
       (helix approve / deny / answer), or was interrupted (helix resume) or aborted;
       for helix interrupt / abort, 0 once the run has stopped
  130  Ctrl-C: helix dev / worker stop; a command following a run stops following, and
       the run goes on (helix attach SESSION follows it again)
  141  the output's reader went away (a closed pipe)
"""

APP_HELP = (
    "MODULE:ATTR (an import path from the current directory or PYTHONPATH) or "
    "path/to/file.py:ATTR (a file anywhere; inside a package, imported with it), naming an "
    "AgentRegistry, an Agent, a list of agents or a function returning one; default: "
    "[tool.helix] app in ./pyproject.toml, else the bundled examples"
)


# -- the app -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppRef:
    """Where an app's module is: an import path and the folder to import it from."""

    module: str
    attr: str
    search_path: Path | None

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.attr}"


def app_ref(spec: str | None, *, base: Path | None = None) -> AppRef | None:
    """``--app``'s value, or the project's ``[tool.helix] app``; None for the examples."""
    if not spec:
        spec, base = _project_app()
        if not spec:
            return None
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise HelixError(f"--app must look like MODULE:ATTR or path/to/file.py:ATTR, got {spec!r}")
    if target.endswith(".py") or "/" in target or os.sep in target:
        path = ((base or Path.cwd()) / target).resolve()
        if not path.is_file():
            raise HelixError(f"--app {spec}: no file {path}")
        if not path.stem.isidentifier():
            raise HelixError(f"--app {spec}: {path.name} cannot be imported (not a name)")
        # A module inside a package is imported as part of it (its relative imports work),
        # from the folder that holds the top-level package.
        names, root = [path.stem], path.parent
        while (root / "__init__.py").is_file() and root.name.isidentifier():
            names.insert(0, root.name)
            root = root.parent
        return AppRef(".".join(names), attr, root)
    return AppRef(target, attr, None)


def _project_app() -> tuple[str | None, Path | None]:
    pyproject = Path.cwd() / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None, None
    value = data.get("tool", {}).get("helix", {}).get("app")
    return (value, pyproject.parent) if isinstance(value, str) and value else (None, None)


def load_app(spec: str | None) -> AgentRegistry:
    """``--app``'s registry (see :func:`app_ref`); the bundled examples without one."""
    ref = app_ref(spec)
    if ref is None:
        from .examples import example_registry

        return example_registry()
    sys.path.insert(0, str(ref.search_path) if ref.search_path else os.getcwd())
    try:
        module = importlib.import_module(ref.module)
    except ImportError as exc:
        hint = ""
        if ref.search_path is None and exc.name and ref.module.startswith(exc.name):
            hint = (
                " (an import path is looked up from the current directory and PYTHONPATH; "
                "for a module elsewhere pass its file: --app path/to/module.py:ATTR)"
            )
        raise HelixError(f"cannot import {ref.module!r}: {exc}{hint}") from exc
    try:
        value = getattr(module, ref.attr)
    except AttributeError:
        raise HelixError(f"module {ref.module!r} has no attribute {ref.attr!r}") from None
    if callable(value) and not isinstance(value, AgentRegistry | list | tuple):
        from .agent import Agent

        if not isinstance(value, Agent):
            value = value()
    return AgentRegistry.coerce(value)
