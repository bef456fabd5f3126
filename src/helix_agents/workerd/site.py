"""A Worker project folder for the local runtime: what ``wrangler dev`` serves.

``<state>/site/`` holds a generated ``wrangler.json`` (the deployed configuration's bindings,
with the test-only flag ``python_workers_development`` that makes workerd read our Pyodide
bundle; never deploy it), ``src/entry.py`` (the Worker's classes around the chosen registry),
the app's module or top-level package under ``src/`` (as a user's own ``src/`` would be), and
``python_modules/`` (the vendored packages, and helix-agents itself copied whole from the
installed package, as pywrangler vendors a dependency). As in a deployed project, the
generated config's ``python_modules.exclude`` keeps ``helix_agents.testing`` (test doubles)
and ``helix_agents.workerd`` (this builder) out of the Worker, so the shipped app runs
without them; the test Worker of the suite, whose apps run on the test models, asks for
``helix_agents.testing`` with :attr:`AppSpec.with_testing`. State (D1, Durable Objects, Workflows) lives beside it in ``<state>/persist/``:
wrangler reloads on every change inside the site folder, so nothing is written there while
it runs.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = [
    "COMPATIBILITY_DATE",
    "DEAD_LETTER_QUEUE",
    "DEV_FLAG",
    "KV_NAMESPACE_ID",
    "NOT_SHIPPED",
    "QUEUE_CONSUMER",
    "QUEUE_NAME",
    "R2_BUCKET_NAME",
    "WORKFLOW_NAME",
    "AppSpec",
    "build_site",
    "dev_var",
    "python_modules_exclude",
    "worker_config",
]

#: Python 3.14 on Pyodide 314.0.6 in production from 2026-09-08 on; the deployed
#: wrangler.toml carries the same date (a test holds them together).
COMPATIBILITY_DATE = "2026-11-01"
DEV_FLAG = "python_workers_development"
WORKFLOW_NAME = "helix-agents-agent-workflow"
#: The deployed wrangler.toml's placeholders for the KV namespace and R2 bucket.
KV_NAMESPACE_ID = "00000000000000000000000000000000"
R2_BUCKET_NAME = "helix-agents-files"
#: The local Worker's queue (the ``QUEUE`` producer binding, and the queue it consumes).
QUEUE_NAME = "helix-agents-tasks"
#: Where its consumer sends messages that failed every delivery (poison messages).
DEAD_LETTER_QUEUE = "helix-agents-tasks-dlq"
#: The consumer's settings, as worker/wrangler.toml has them (a test holds them together).
QUEUE_CONSUMER: dict[str, Any] = {
    "queue": QUEUE_NAME,
    "max_batch_size": 10,
    "max_batch_timeout": 1,
    "max_retries": 3,
    "dead_letter_queue": DEAD_LETTER_QUEUE,
}

#: The subpackages of helix-agents a Worker never needs: the test doubles and this local
#: builder (never imported inside a Worker). docs/deploy.md gives the same globs to users, and
#: the repository's wrangler.toml uploads everything but these (tests/wrangler/ checks both).
NOT_SHIPPED = ("testing", "workerd")
#: wrangler's own default for ``python_modules.exclude``, which a config's list replaces.
_WRANGLER_DEFAULT_EXCLUDE = ("**/*.pyc",)

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")


def python_modules_exclude(*, with_testing: bool = False) -> list[str]:
    """The ``python_modules.exclude`` globs of a project that vendors helix-agents: wrangler's
    default, and the subpackages of :data:`NOT_SHIPPED` (``testing`` kept when asked)."""
    kept = {"testing"} if with_testing else set()
    return [
        *_WRANGLER_DEFAULT_EXCLUDE,
        *(f"helix_agents/{name}/**" for name in NOT_SHIPPED if name not in kept),
    ]


def worker_config(
    name: str = "helix-agents-local", *, with_testing: bool = False
) -> dict[str, Any]:
    """The local Worker's configuration: the bindings of the deployed ``wrangler.toml``
    (D1 ``DB``, KV ``KV``, R2 ``BUCKET``, Durable Object ``STREAM_MANAGER``, Workflow
    ``AGENT_WORKFLOW``, the cron trigger) and the flags, with ``python_workers_development`` added; what of helix-agents
    is left out of the Worker (:func:`python_modules_exclude`)."""
    return {
        "name": name,
        "main": "src/entry.py",
        "compatibility_date": COMPATIBILITY_DATE,
        "compatibility_flags": ["python_workers", DEV_FLAG],
        "d1_databases": [
            {
                "binding": "DB",
                "database_name": "helix-agents",
                "database_id": "00000000-0000-0000-0000-000000000000",
            }
        ],
        # The services tools see as ctx.services (docs/services.md): local simulations.
        "kv_namespaces": [{"binding": "KV", "id": KV_NAMESPACE_ID}],
        "r2_buckets": [{"binding": "BUCKET", "bucket_name": R2_BUCKET_NAME}],
        # Queues run for real in local workerd; Vectorize and Workers AI do not exist here,
        # so retrieval runs offline (the hashing embedder, the index in D1), as deployed
        # until they are bound (worker/wrangler.toml).
        # The Worker's `queue` handler consumes it (one run per message); the test Worker
        # also drains the dead-letter queue, to show what reached it.
        "queues": {
            "producers": [{"binding": "QUEUE", "queue": QUEUE_NAME}],
            "consumers": [
                dict(QUEUE_CONSUMER),
                *([{"queue": DEAD_LETTER_QUEUE, "max_batch_timeout": 1}] if with_testing else []),
            ],
        },
        "vars": {"HELIX_RETRIEVAL": "offline"},
        "durable_objects": {
            "bindings": [{"name": "STREAM_MANAGER", "class_name": "StreamManagerDO"}]
        },
        "migrations": [{"tag": "v1", "new_sqlite_classes": ["StreamManagerDO"]}],
        "workflows": [
            {"binding": "AGENT_WORKFLOW", "name": WORKFLOW_NAME, "class_name": "AgentWorkflow"}
        ],
        "triggers": {"crons": ["*/5 * * * *"]},
        "python_modules": {"exclude": python_modules_exclude(with_testing=with_testing)},
    }


@dataclass(frozen=True)
class AppSpec:
    """``MODULE:ATTR`` naming the registry (as ``helix dev --app``), found on ``search_path``;
    None serves the bundled examples.

    ``ATTR`` is an :class:`~helix_agents.AgentRegistry`, an agent or a list of agents (or a
    callable returning one), served by a ``CloudflareApp`` the entry makes; or a ready
    :class:`~helix_agents.hosts.cloudflare.CloudflareApp`, used as is (for the options only
    code can give: an ``auth`` hook, ``max_body_bytes``, ``keep_alive``, its own classes).

    ``with_testing`` ships :mod:`helix_agents.testing` too, for an app that runs on its test
    models (``helix worker --with-testing``, the suite's test Worker); a deployed Worker
    never has it, so by default neither does this one.
    """

    spec: str | None = None
    search_path: Path = Path()
    with_testing: bool = False

    def parts(self) -> tuple[str, str]:
        module, _, attr = (self.spec or "").partition(":")
        if not module or not attr or not all(p.isidentifier() for p in module.split(".")):
            raise ConfigurationError(f"--app must look like MODULE:ATTR, got {self.spec!r}")
        if not attr.isidentifier():
            raise ConfigurationError(f"--app's attribute must be a name, got {attr!r}")
        return module, attr

    def source(self) -> Path:
        """The file or package folder to ship: a lone module as itself, a module inside a
        package with its top-level package."""
        module, _ = self.parts()
        top = module.split(".")[0]
        root = self.search_path.resolve()
        for candidate in (root / top, root / f"{top}.py"):
            if candidate.is_dir() and (candidate / "__init__.py").exists():
                return candidate
            if candidate.is_file():
                return candidate
        if (root / "src" / top).is_dir() or (root / "src" / f"{top}.py").is_file():
            return AppSpec(self.spec, root / "src").source()
        raise ConfigurationError(
            f"cannot find module {top!r} under {root} (or {root / 'src'}): run helix worker "
            "from the folder that holds it"
        )


def _entry_source(app: AppSpec) -> str:
    header = (
        '"""Generated by ``helix worker``: the Worker\'s classes around the served registry.\n\n'
        "Nothing here does I/O or draws randomness: the runtime snapshots this module.\n"
        '"""\n\n'
        "from helix_agents.hosts.cloudflare import CloudflareApp\n"
    )
    if app.spec is None:
        body = (
            "from helix_agents.examples import example_registry\n\n"
            'app = CloudflareApp(example_registry("demo"), model_from_env=True)\n'
        )
    else:
        module, attr = app.parts()
        body = (
            "from helix_agents.agent import Agent, AgentRegistry\n"
            f"from {module} import {attr} as _served\n\n"
            "if isinstance(_served, CloudflareApp):\n"
            "    app = _served\n"
            "else:\n"
            "    if callable(_served) and not isinstance(\n"
            "        _served, Agent | AgentRegistry | list | tuple\n"
            "    ):\n"
            "        _served = _served()\n"
            "    app = CloudflareApp(AgentRegistry.coerce(_served))\n"
        )
    classes = (
        "\n\nclass Default(app.Worker):\n    pass\n\n\n"
        "class AgentWorkflow(app.Workflow):\n    pass\n\n\n"
        "class StreamManagerDO(app.DurableObject):\n    pass\n"
    )
    return header + body + classes


def _copy_tree(source: Path, target: Path) -> None:
    # Hard links where the file system allows: the vendored tree is ~12 MB of files that
    # never change once built.
    def link_or_copy(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(source, target, ignore=_IGNORE, copy_function=link_or_copy)


def dev_var(value: str) -> str:
    """``value`` quoted for ``.dev.vars`` so that wrangler reads it back exactly.

    wrangler parses the file with ``dotenv``, which unescapes nothing but ``\\n`` and
    ``\\r`` inside double quotes (so ``json.dumps`` quoting garbled a value holding ``"``
    or ``\\``) and takes single- and backtick-quoted values literally, newlines included:
    the value is quoted with a quote character it does not contain."""
    for quote in ("'", "`"):
        if quote not in value:
            return f"{quote}{value}{quote}"
    if '"' not in value and "\\" not in value:
        return f'"{value}"'
    raise ConfigurationError(
        "a Worker var cannot hold all of ', `, \" and \\ at once (.dev.vars cannot carry it)"
    )


def build_site(
    site: Path,
    *,
    app: AppSpec,
    python_modules: Path,
    env_vars: dict[str, str] | None = None,
) -> Path:
    """(Re)build the Worker project folder ``site`` and return it."""
    if site.exists():
        shutil.rmtree(site)
    (site / "src").mkdir(parents=True)
    _copy_tree(python_modules, site / "python_modules")
    (site / "python_modules" / ".complete").unlink(missing_ok=True)
    import helix_agents

    # All of it, as pywrangler vendors it: the config's exclude is what keeps parts out,
    # so that this Worker proves the setting docs/deploy.md gives users.
    package = Path(helix_agents.__file__).parent
    shutil.copytree(package, site / "python_modules" / "helix_agents", ignore=_IGNORE)
    if app.spec is not None:
        source = app.source()
        target = site / "src" / source.name
        if source.is_dir():
            shutil.copytree(source, target, ignore=_IGNORE)
        else:
            shutil.copy2(source, target)
    (site / "src" / "entry.py").write_text(_entry_source(app), encoding="utf-8")
    config = worker_config(with_testing=app.with_testing)
    (site / "wrangler.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    if env_vars:
        # wrangler dev reads .dev.vars into the Worker's env (vars and secrets alike), and
        # keeps the values out of the process list.
        lines = [f"{key}={dev_var(value)}" for key, value in sorted(env_vars.items())]
        (site / ".dev.vars").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return site
