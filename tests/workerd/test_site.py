"""The Worker project folder ``helix worker`` serves (``helix_agents.workerd.site``): the app's
module or top-level package shipped as a user's ``src/`` would hold it, the generated entry,
the development flag, and the env in ``.dev.vars``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import helix_agents
from helix_agents.errors import ConfigurationError
from helix_agents.workerd import launch
from helix_agents.workerd.site import (
    COMPATIBILITY_DATE,
    DEV_FLAG,
    AppSpec,
    build_site,
    python_modules_exclude,
)


@pytest.fixture
def python_modules(tmp_path: Path) -> Path:
    """A stand-in for the vendored packages (the real ones: test_caches.py)."""
    modules = tmp_path / "python_modules"
    (modules / "somepkg" / "__pycache__").mkdir(parents=True)
    (modules / "somepkg" / "__init__.py").write_text("X = 1\n", encoding="utf-8")
    (modules / "somepkg" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    (modules / ".complete").write_text("[]\n", encoding="utf-8")
    return modules


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_lone_module_is_shipped_as_src_module(tmp_path: Path, python_modules: Path) -> None:
    project = tmp_path / "project"
    write(project / "myagents.py", "registry = []\n")
    write(project / "other.py", "# not part of the app\n")
    site = build_site(
        tmp_path / "site", app=AppSpec("myagents:registry", project), python_modules=python_modules
    )
    assert files(site / "src") == {"myagents.py", "entry.py"}
    assert (site / "src" / "myagents.py").read_text(encoding="utf-8") == "registry = []\n"
    entry = (site / "src" / "entry.py").read_text(encoding="utf-8")
    assert "from myagents import registry as _served" in entry
    assert "app = CloudflareApp(AgentRegistry.coerce(_served))" in entry
    for name in ("Default(app.Worker)", "AgentWorkflow(app.Workflow)", "StreamManagerDO"):
        assert f"class {name}" in entry
    compile(entry, "entry.py", "exec")

    # The vendored packages, helix-agents from the installed package, nothing compiled.
    modules = site / "python_modules"
    assert (modules / "somepkg" / "__init__.py").exists()
    assert not (modules / ".complete").exists()
    package = Path(helix_agents.__file__).parent
    assert (modules / "helix_agents" / "__init__.py").read_bytes() == (
        package / "__init__.py"
    ).read_bytes()
    assert (modules / "helix_agents" / "hosts" / "cloudflare" / "entrypoints.py").exists()
    assert not list(site.rglob("__pycache__"))
    assert not list(site.rglob("*.pyc"))
    # No env given: no .dev.vars.
    assert not (site / ".dev.vars").exists()


def test_a_package_module_ships_its_top_level_package(tmp_path: Path, python_modules: Path) -> None:
    project = tmp_path / "project"
    write(project / "pkg" / "__init__.py")
    write(project / "pkg" / "helpers.py", "HELP = 1\n")
    write(project / "pkg" / "sub" / "__init__.py")
    write(project / "pkg" / "sub" / "agents.py", "from pkg.helpers import HELP\nregistry = []\n")
    write(project / "pkg" / "sub" / "__pycache__" / "agents.cpython-311.pyc", "x")
    write(project / "unrelated.py")
    site = build_site(
        tmp_path / "site",
        app=AppSpec("pkg.sub.agents:registry", project),
        python_modules=python_modules,
    )
    assert files(site / "src") == {
        "entry.py",
        "pkg/__init__.py",
        "pkg/helpers.py",
        "pkg/sub/__init__.py",
        "pkg/sub/agents.py",
    }
    entry = (site / "src" / "entry.py").read_text(encoding="utf-8")
    assert "from pkg.sub.agents import registry as _served" in entry


def test_a_project_with_a_src_folder(tmp_path: Path, python_modules: Path) -> None:
    project = tmp_path / "project"
    write(project / "src" / "pkg" / "__init__.py")
    write(project / "src" / "pkg" / "agents.py", "registry = []\n")
    site = build_site(
        tmp_path / "site",
        app=AppSpec("pkg.agents:registry", project),
        python_modules=python_modules,
    )
    assert files(site / "src") == {"entry.py", "pkg/__init__.py", "pkg/agents.py"}


def test_a_rebuild_starts_from_nothing(tmp_path: Path, python_modules: Path) -> None:
    project = tmp_path / "project"
    write(project / "a.py", "registry = []\n")
    write(project / "b.py", "registry = []\n")
    site = build_site(
        tmp_path / "site", app=AppSpec("a:registry", project), python_modules=python_modules
    )
    write(site / "stale.txt")
    build_site(site, app=AppSpec("b:registry", project), python_modules=python_modules)
    assert files(site / "src") == {"b.py", "entry.py"}
    assert not (site / "stale.txt").exists()


def test_without_an_app_the_examples_on_the_env_model(tmp_path: Path, python_modules: Path) -> None:
    site = build_site(tmp_path / "site", app=AppSpec(None, tmp_path), python_modules=python_modules)
    assert files(site / "src") == {"entry.py"}
    entry = (site / "src" / "entry.py").read_text(encoding="utf-8")
    assert 'app = CloudflareApp(example_registry("demo"), model_from_env=True)' in entry
    compile(entry, "entry.py", "exec")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("myagents", "--app must look like MODULE:ATTR, got 'myagents'"),
        (":registry", "--app must look like MODULE:ATTR, got ':registry'"),
        ("myagents:", "--app must look like MODULE:ATTR, got 'myagents:'"),
        ("my-agents:registry", "--app must look like MODULE:ATTR, got 'my-agents:registry'"),
        ("pkg..agents:registry", "--app must look like MODULE:ATTR"),
        ("myagents:make-registry", "--app's attribute must be a name, got 'make-registry'"),
        ("missing:registry", "cannot find module 'missing' under "),
        ("nopkg.agents:registry", "cannot find module 'nopkg' under "),
    ],
)
def test_a_bad_spec_is_a_clear_error(
    tmp_path: Path, python_modules: Path, spec: str, message: str
) -> None:
    write(tmp_path / "myagents.py", "registry = []\n")
    (tmp_path / "nopkg").mkdir()  # a folder without __init__.py is no package
    write(tmp_path / "nopkg" / "agents.py")
    with pytest.raises(ConfigurationError) as caught:
        build_site(tmp_path / "site", app=AppSpec(spec, tmp_path), python_modules=python_modules)
    assert message in str(caught.value)
    if "cannot find" in message:
        assert str(tmp_path.resolve()) in str(caught.value)
        assert "run helix worker from the folder that holds it" in str(caught.value)


def dev_vars(site: Path) -> dict[str, str]:
    """``.dev.vars`` read back: every line ``KEY=`` and the value in one kind of quotes
    (whether wrangler reads them back exactly is for the real Worker: test_helix_worker.py)."""
    out = {}
    for line in (site / ".dev.vars").read_text(encoding="utf-8").splitlines():
        key, _, quoted = line.partition("=")
        assert quoted[0] in "'`\"", line
        assert quoted[-1] == quoted[0], line
        out[key] = quoted[1:-1]
    return out


def test_dev_vars_carry_the_env(tmp_path: Path, python_modules: Path) -> None:
    env = {"HELIX_API_TOKEN": "s3cret", "HELIX_MODEL": "demo", "OTHER": "a b=c"}
    site = build_site(
        tmp_path / "site", app=AppSpec(None, tmp_path), python_modules=python_modules, env_vars=env
    )
    assert dev_vars(site) == env
    # Not in wrangler.json (whose vars anyone reading the folder sees).
    assert "s3cret" not in (site / "wrangler.json").read_text(encoding="utf-8")


def test_the_generated_config(tmp_path: Path, python_modules: Path) -> None:
    site = build_site(tmp_path / "site", app=AppSpec(None, tmp_path), python_modules=python_modules)
    config = json.loads((site / "wrangler.json").read_text(encoding="utf-8"))
    assert config["main"] == "src/entry.py"
    assert config["compatibility_date"] == COMPATIBILITY_DATE
    assert DEV_FLAG == "python_workers_development"
    assert config["compatibility_flags"] == ["python_workers", DEV_FLAG]
    assert [d["binding"] for d in config["d1_databases"]] == ["DB"]
    assert config["durable_objects"]["bindings"] == [
        {"name": "STREAM_MANAGER", "class_name": "StreamManagerDO"}
    ]
    assert [w["class_name"] for w in config["workflows"]] == ["AgentWorkflow"]
    assert config["triggers"]["crons"] == ["*/5 * * * *"]


def test_local_worker_passes_only_the_named_env(tmp_path: Path, tooling: object) -> None:
    """``helix worker`` hands the Worker the model and auth settings of its environment,
    and nothing else of it."""
    environ = {
        "HELIX_API_TOKEN": "tok",
        "HELIX_MODEL": "demo",
        "OPENAI_API_KEY": "",  # empty: not passed
        "AWS_SECRET_ACCESS_KEY": "never",
        "PATH": "/usr/bin",
    }
    worker = launch.local_worker(
        app=AppSpec(None, tmp_path), state_dir=tmp_path / "state", port=1, environ=environ
    )
    site = worker.site
    assert site == (tmp_path / "state" / "site").resolve()
    assert worker.persist == (tmp_path / "state" / "persist").resolve()
    assert worker.url == "http://127.0.0.1:1"
    assert dev_vars(site) == {"HELIX_API_TOKEN": "tok", "HELIX_MODEL": "demo"}
    assert (site / "python_modules" / "pydantic_core").is_dir()
    assert worker.process is None  # made, not started


def test_project_dependencies(tmp_path: Path) -> None:
    assert launch.project_dependencies(tmp_path) == []
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\ndependencies = ["helix-agents", "tabulate>=0.9"]\n',
    )
    assert launch.project_dependencies(tmp_path) == ["helix-agents", "tabulate>=0.9"]


def test_a_tokenless_local_worker_opts_out_explicitly() -> None:
    """A Worker refuses every API request without a token or ``HELIX_AUTH=none``: the
    local one (127.0.0.1 only) gets the opt-out when no token is given, and only then."""
    assert launch.worker_vars({"HELIX_MODEL": "demo"}) == {
        "HELIX_MODEL": "demo",
        "HELIX_AUTH": "none",
    }
    assert launch.worker_vars({"HELIX_API_TOKEN": "tok"}) == {"HELIX_API_TOKEN": "tok"}
    assert launch.worker_vars({}, {"HELIX_API_TOKEN": "t"}) == {"HELIX_API_TOKEN": "t"}
    assert launch.worker_vars({}, {"HELIX_AUTH": "other"}) == {"HELIX_AUTH": "other"}
    assert launch.worker_vars({"HELIX_API_TOKEN": ""}, open_without_token=False) == {}


def test_the_shipped_app_leaves_testing_out_and_the_test_worker_keeps_it(
    tmp_path: Path, python_modules: Path
) -> None:
    """The package is vendored whole (as pywrangler does); the config's exclude decides what
    the Worker gets: never workerd/, testing/ only for an app that asks for it."""
    shipped = build_site(
        tmp_path / "shipped", app=AppSpec(None, tmp_path), python_modules=python_modules
    )
    testing = build_site(
        tmp_path / "testing",
        app=AppSpec(None, tmp_path, with_testing=True),
        python_modules=python_modules,
    )
    for site in (shipped, testing):
        assert (site / "python_modules" / "helix_agents" / "testing" / "models.py").is_file()
        assert (site / "python_modules" / "helix_agents" / "models" / "demo.py").is_file()

    def excluded(site: Path) -> list[str]:
        config = json.loads((site / "wrangler.json").read_text(encoding="utf-8"))
        globs: list[str] = config["python_modules"]["exclude"]
        return globs

    assert excluded(shipped) == python_modules_exclude()
    assert excluded(shipped) == [
        "**/*.pyc",
        "helix_agents/testing/**",
        "helix_agents/workerd/**",
    ]
    assert excluded(testing) == python_modules_exclude(with_testing=True)
    assert excluded(testing) == ["**/*.pyc", "helix_agents/workerd/**"]
