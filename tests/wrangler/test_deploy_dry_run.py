"""`wrangler deploy --dry-run` on the shipped Worker project (worker/), offline.

It validates the config, collects the modules it would upload and lists the bindings, without
an account. It runs plain wrangler, not pywrangler: vendoring the Python dependencies
(pywrangler sync) needs a Pyodide interpreter and index that are not reachable here, so the
test vendors helix-agents itself the way pywrangler does (the installed package, whole, in
``python_modules/``) and checks what wrangler would upload of it: everything but
``helix_agents.testing`` (test doubles) and ``helix_agents.workerd`` (the local runtime
builder), left out by the config's ``[python_modules] exclude``
(docs/cloudflare-local-checks.md, docs/deploy.md).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import helix_agents
from helix_agents.workerd.site import NOT_SHIPPED
from tests.wrangler.helpers import WORKER, run_wrangler

pytestmark = pytest.mark.wrangler

PACKAGE = Path(helix_agents.__file__).parent
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def package_files() -> set[str]:
    """Every file of the installed package, as a path under it (nothing compiled)."""
    return {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    project = tmp_path_factory.mktemp("project")
    shutil.copy2(WORKER / "wrangler.toml", project / "wrangler.toml")
    shutil.copytree(WORKER / "src", project / "src", ignore=_IGNORE)
    shutil.copytree(PACKAGE, project / "python_modules" / "helix_agents", ignore=_IGNORE)
    outdir = tmp_path_factory.mktemp("dry-run")
    return run_wrangler("deploy", "--dry-run", "--outdir", str(outdir), cwd=project), outdir


def uploaded_package(outdir: Path) -> set[str]:
    root = outdir / "python_modules" / "helix_agents"
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_lists_the_three_bindings(dry_run: tuple[str, Path]) -> None:
    output, _ = dry_run
    assert re.search(r"env\.DB \([^)]*\)\s+D1 Database", output), output
    assert re.search(r"env\.STREAM_MANAGER \(StreamManagerDO\)\s+Durable Object", output), output
    assert re.search(r"env\.AGENT_WORKFLOW \(AgentWorkflow\)\s+Workflow", output), output
    assert "--dry-run: exiting now." in output


def test_config_draws_no_warnings(dry_run: tuple[str, Path]) -> None:
    output, _ = dry_run
    assert "[WARNING]" not in output, output


def test_no_test_code_nor_local_tooling_is_uploaded(dry_run: tuple[str, Path]) -> None:
    """The done-when of "no test code in the Worker upload": of the vendored package,
    exactly the modules outside testing/ and workerd/ go up, nothing of those two."""
    _, outdir = dry_run
    uploaded = uploaded_package(outdir)
    assert NOT_SHIPPED == ("testing", "workerd")
    left_out = {f for f in package_files() if f.split("/")[0] in NOT_SHIPPED}
    assert "testing/cloudflare/workflows.py" in left_out  # the package has them to leave out
    assert "workerd/site.py" in left_out
    assert not {f for f in uploaded if f.split("/")[0] in NOT_SHIPPED}
    assert uploaded == package_files() - left_out
    # Nothing else of the project goes up: the entry, and python_modules/.
    tops = {p.name for p in outdir.iterdir()} - {"README.md"}  # wrangler's note on the folder
    assert tops == {"entry.py", "python_modules"}


def test_the_demo_model_and_what_is_read_at_run_time_go_up(dry_run: tuple[str, Path]) -> None:
    _, outdir = dry_run
    uploaded = uploaded_package(outdir)
    # The examples answer on the demo model until a real one is configured.
    assert {"examples.py", "models/demo.py", "models/_demo_script.py"} <= uploaded
    for module in ("app", "entrypoints", "worker", "runtime", "step", "launcher", "stream_hub"):
        assert f"hosts/cloudflare/{module}.py" in uploaded
    # Read from the package at run time: the schema files and the chat page.
    for sql in sorted((PACKAGE / "store" / "migrations").glob("*.sql")):
        shipped = outdir / "python_modules" / "helix_agents" / "store" / "migrations" / sql.name
        assert shipped.read_text(encoding="utf-8") == sql.read_text(encoding="utf-8")
    assert "http/static/chat.html" in uploaded
    entry = (outdir / "entry.py").read_text(encoding="utf-8")
    for name in ("Default", "AgentWorkflow", "StreamManagerDO"):
        assert f"class {name}(app." in entry


def test_nothing_on_the_workers_import_path_needs_what_is_left_out() -> None:
    """The modules that go up never import testing/ or workerd/ (a docstring may name them):
    the Worker that starts under `helix worker` without them (tests/workerd) shows the same
    at run time."""
    offenders = []
    pattern = re.compile(
        r"^\s*(?:from|import)\s+(?:helix_agents|\.+)\.?(?:" + "|".join(NOT_SHIPPED) + r")\b.*$",
        re.M,
    )
    for name in sorted(package_files()):
        if name.split("/")[0] in NOT_SHIPPED or not name.endswith(".py"):
            continue
        for match in pattern.finditer((PACKAGE / name).read_text(encoding="utf-8")):
            offenders.append(f"{name}: {match.group(0).strip()}")
    assert offenders == [
        # `helix worker` builds the local Worker: the command runs on the machine, never in
        # a Worker (nothing there imports cli.py).
        "cli.py: from .workerd import AppSpec",
        "cli.py: from .workerd.launch import local_worker, worker_vars",
        # infer_model("test") imports TestModel lazily and turns its absence into a
        # configuration error naming HELIX_MODEL (tests/models/test_offline_models.py).
        "models/__init__.py: from ..testing.models import TestModel",
    ]
