"""`wrangler deploy --dry-run` on the shipped wrangler.toml, offline.

It validates the config, collects the modules it would upload and lists the bindings, without
an account. It runs plain wrangler, not pywrangler: vendoring the Python dependencies
(pywrangler sync) needs a Pyodide interpreter and index that are not reachable here, so the
upload checked is the project's own modules (docs/cloudflare-local-checks.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.wrangler.helpers import ROOT, run_wrangler

pytestmark = pytest.mark.wrangler


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    outdir = tmp_path_factory.mktemp("dry-run")
    return run_wrangler("deploy", "--dry-run", "--outdir", str(outdir)), outdir


def test_lists_the_three_bindings(dry_run: tuple[str, Path]) -> None:
    output, _ = dry_run
    assert re.search(r"env\.DB \([^)]*\)\s+D1 Database", output), output
    assert re.search(r"env\.STREAM_MANAGER \(StreamManagerDO\)\s+Durable Object", output), output
    assert re.search(r"env\.AGENT_WORKFLOW \(AgentWorkflow\)\s+Workflow", output), output
    assert "--dry-run: exiting now." in output


def test_uploads_the_package_and_its_schema_files(dry_run: tuple[str, Path]) -> None:
    output, outdir = dry_run
    assert (outdir / "entry.py").is_file()
    for sql in sorted((ROOT / "src" / "helix_agents" / "store" / "migrations").glob("*.sql")):
        name = f"helix_agents/store/migrations/{sql.name}"
        # Text modules: the runtime's programmatic migration reads them at run time.
        assert re.search(re.escape(name) + r"\s*│\s*text", output), output
        assert (outdir / name).read_text(encoding="utf-8") == sql.read_text(encoding="utf-8")
    assert re.search(r"helix_agents/ports/database\.py\s*│\s*python", output), output
    # The bridge worker is test tooling, never part of the product's upload.
    assert "d1_bridge/worker.js" not in output


def test_config_draws_no_warnings(dry_run: tuple[str, Path]) -> None:
    output, _ = dry_run
    assert "[WARNING]" not in output, output


def test_uploads_the_cloudflare_host_and_the_chat_page(dry_run: tuple[str, Path]) -> None:
    output, outdir = dry_run
    for module in ("app", "entrypoints", "worker", "runtime", "step", "launcher", "stream_hub"):
        assert re.search(rf"helix_agents/hosts/cloudflare/{module}\.py\s*│\s*python", output), (
            output
        )
    # The chat page is read from the package at run time: it must be uploaded as a Text module.
    assert re.search(r"helix_agents/http/static/chat\.html\s*│\s*text", output), output
    entry = (outdir / "entry.py").read_text(encoding="utf-8")
    for name in ("Default", "AgentWorkflow", "StreamManagerDO"):
        assert f"class {name}(app." in entry
