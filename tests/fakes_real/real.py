"""The probe Worker (:mod:`.probe`) on the real runtime: a Worker project of its own
(``wrangler.json`` with the probe's Workflow and Durable Object, ``src/entry.py`` the probe
module as it is, and of the vendored packages only the ``workers`` SDK), served by
``wrangler dev --local`` through :class:`~helix_agents.workerd.LocalWorker`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from helix_agents.workerd import LocalWorker
from helix_agents.workerd.runtime import prepare_runtime
from helix_agents.workerd.site import COMPATIBILITY_DATE, DEV_FLAG
from helix_agents.workerd.vendor import vendored_modules

__all__ = ["WORKFLOW_NAME", "probe_worker"]

WORKFLOW_NAME = "probe-workflow"
PROBE = Path(__file__).with_name("probe.py")


def _config() -> dict[str, object]:
    return {
        "name": "helix-agents-probe",
        "main": "src/entry.py",
        "compatibility_date": COMPATIBILITY_DATE,
        "compatibility_flags": ["python_workers", DEV_FLAG],
        "durable_objects": {"bindings": [{"name": "PROBE_OBJECT", "class_name": "ProbeObject"}]},
        "migrations": [{"tag": "v1", "new_sqlite_classes": ["ProbeObject"]}],
        "workflows": [
            {"binding": "PROBE_WORKFLOW", "name": WORKFLOW_NAME, "class_name": "ProbeWorkflow"}
        ],
    }


def _link(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_hard_link)
    else:
        _hard_link(str(source), str(target))


def _hard_link(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def probe_worker(state_dir: Path) -> LocalWorker:
    """A :class:`LocalWorker` serving the probe, not yet started."""
    runtime = prepare_runtime()
    modules = vendored_modules(runtime.cache, [])
    site = state_dir / "site"
    shutil.rmtree(site, ignore_errors=True)
    (site / "src").mkdir(parents=True)
    (site / "python_modules").mkdir()
    # The SDK and its runtime hooks only: the probe imports nothing else, and a smaller
    # python_modules/ starts faster.
    for entry in modules.iterdir():
        if entry.name.startswith(("workers", "_workers_sdk", "_cloudflare", "_pyodide")):
            _link(entry, site / "python_modules" / entry.name)
    shutil.copy2(PROBE, site / "src" / "entry.py")
    (site / "wrangler.json").write_text(json.dumps(_config(), indent=2) + "\n", encoding="utf-8")
    return LocalWorker(runtime, site, state_dir / "persist")
