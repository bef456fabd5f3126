"""The shipped worker/wrangler.toml and worker/src/entry.py agree with each other and with
docs/cloudflare.md.

Static checks (no wrangler run): what `wrangler deploy --dry-run` cannot see, such as whether
the classes the config names exist in the entry module.
"""

from __future__ import annotations

import ast
import tomllib
from datetime import date
from typing import Any

from tests.wrangler.helpers import ROOT, WORKER


def _config() -> dict[str, Any]:
    with (WORKER / "wrangler.toml").open("rb") as f:
        return tomllib.load(f)


def _entry_names() -> set[str]:
    """Names bound at the top level of worker/src/entry.py: classes defined or imported there."""
    tree = ast.parse((WORKER / "src" / "entry.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def test_python_worker_settings() -> None:
    config = _config()
    assert config["main"] == "src/entry.py"
    assert "python_workers" in config["compatibility_flags"]
    # Python 3.14 on Pyodide 314.0.6 from 2026-09-08 on: the runtime the worker-real tier
    # runs. An earlier date deploys Python 3.13, which nothing here can run.
    assert date.fromisoformat(config["compatibility_date"]) >= date(2026, 9, 8)
    # The development flag makes workerd read a local Pyodide bundle: never deployed.
    assert "python_workers_development" not in config["compatibility_flags"]


def test_the_local_worker_config_is_the_deployed_one_plus_the_development_flag() -> None:
    from helix_agents.workerd.site import DEV_FLAG, WORKFLOW_NAME, worker_config

    deployed, local = _config(), worker_config()
    assert local["compatibility_date"] == deployed["compatibility_date"]
    assert local["compatibility_flags"] == [*deployed["compatibility_flags"], DEV_FLAG]
    # python_modules: what of helix-agents stays out of the Worker, the same for the
    # shipped app under `helix worker` as on Cloudflare.
    for key in (
        "durable_objects",
        "migrations",
        "triggers",
        "python_modules",
        "kv_namespaces",
        "r2_buckets",
        "vars",
    ):
        assert local[key] == deployed[key], key
    # Queues run for real locally; the deployed file has the producer commented out, since
    # a deploy needs the queue created first.
    assert local["queues"]["producers"][0]["binding"] == "QUEUE"
    assert local["workflows"] == deployed["workflows"]
    assert local["workflows"][0]["name"] == WORKFLOW_NAME
    strip = {"migrations_dir"}
    assert local["d1_databases"] == [
        {k: v for k, v in db.items() if k not in strip} for db in deployed["d1_databases"]
    ]


def test_bindings_name_classes_that_the_entry_module_exports() -> None:
    config = _config()
    exported = _entry_names()
    assert "Default" in exported
    (d1,) = config["d1_databases"]
    assert d1["binding"] == "DB"
    (stream_manager,) = config["durable_objects"]["bindings"]
    assert stream_manager == {"name": "STREAM_MANAGER", "class_name": "StreamManagerDO"}
    assert "StreamManagerDO" in exported
    assert any("StreamManagerDO" in m.get("new_sqlite_classes", []) for m in config["migrations"])
    (workflow,) = config["workflows"]
    assert workflow["binding"] == "AGENT_WORKFLOW"
    assert workflow["class_name"] == "AgentWorkflow"
    assert "AgentWorkflow" in exported
    assert config["triggers"]["crons"], "the suspension cleanup needs a cron trigger"


def test_d1_migrations_dir_is_the_packaged_schema() -> None:
    (d1,) = _config()["d1_databases"]
    migrations = WORKER / d1["migrations_dir"]
    # One source of truth: wrangler and the runtime's programmatic migration read the same files.
    assert (
        migrations.resolve() == (ROOT / "src" / "helix_agents" / "store" / "migrations").resolve()
    )
    assert sorted(p.name for p in migrations.glob("*.sql"))


def test_the_worker_project_vendors_this_package_as_a_users_would() -> None:
    """worker/ is laid out as a user's project: pywrangler vendors [project].dependencies,
    helix-agents among them (from this repository), and the exclude keeps its test code and
    local tooling out of the upload (test_deploy_dry_run.py checks the upload itself)."""
    from helix_agents.workerd.site import python_modules_exclude

    with (WORKER / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)
    assert project["project"]["dependencies"] == ["helix-agents"]
    source = project["tool"]["uv"]["sources"]["helix-agents"]
    assert (WORKER / source["path"]).resolve() == ROOT.resolve()
    assert {"workers-py", "workers-runtime-sdk"} <= set(project["dependency-groups"]["dev"])
    assert _config()["python_modules"]["exclude"] == python_modules_exclude()
    # The repository itself is no Worker project any more: its src/ holds the package only.
    assert not (ROOT / "wrangler.toml").exists()
    assert not (ROOT / "src" / "entry.py").exists()
