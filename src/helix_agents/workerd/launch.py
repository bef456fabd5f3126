"""Everything ``helix worker`` does before the Worker answers: prepare the runtime, vendor
the packages, build the project folder, and make the :class:`LocalWorker` for it."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from .process import LocalWorker
from .runtime import prepare_runtime
from .site import AppSpec, build_site
from .vendor import vendored_modules

__all__ = ["ENV_PASSED", "local_worker", "project_dependencies", "worker_vars"]

#: The process environment variables ``helix worker`` hands into the Worker's ``env``.
ENV_PASSED = (
    "HELIX_MODEL",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "HELIX_OPENAI_MODEL",
    "HELIX_API_TOKEN",
    "HELIX_CORS_ORIGINS",
)

#: What opts a Worker out of authentication (``helix_agents.http.auth``: not imported here).
TOKEN_ENV, AUTH_ENV, AUTH_NONE = "HELIX_API_TOKEN", "HELIX_AUTH", "none"


def project_dependencies(root: Path) -> list[str]:
    """``[project].dependencies`` of ``root/pyproject.toml`` (what pywrangler would vendor)."""
    try:
        with (root / "pyproject.toml").open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return []
    deps = data.get("project", {}).get("dependencies", [])
    return [str(d) for d in deps] if isinstance(deps, list) else []


def worker_vars(
    environ: Mapping[str, str],
    extra_vars: Mapping[str, str] | None = None,
    *,
    open_without_token: bool = True,
) -> dict[str, str]:
    """The Worker's vars: :data:`ENV_PASSED` from ``environ``, then ``extra_vars``. A
    Worker refuses every API request without a token unless it opts out explicitly; the
    local one listens on 127.0.0.1 only, so with ``open_without_token`` and no
    ``HELIX_API_TOKEN`` (nor ``HELIX_AUTH``) it gets ``HELIX_AUTH=none``."""
    env_vars = {k: environ[k] for k in ENV_PASSED if environ.get(k)}
    env_vars.update(extra_vars or {})
    if open_without_token and not env_vars.get(TOKEN_ENV) and AUTH_ENV not in env_vars:
        env_vars[AUTH_ENV] = AUTH_NONE
    return env_vars


def local_worker(
    *,
    app: AppSpec,
    state_dir: Path,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
    extra_vars: Mapping[str, str] | None = None,
    open_without_token: bool = True,
) -> LocalWorker:
    """A :class:`LocalWorker` for ``app``, not yet started. ``environ`` (default: the
    process environment) supplies :data:`ENV_PASSED`; ``extra_vars`` adds more; see
    :func:`worker_vars` for ``open_without_token``."""
    environ = os.environ if environ is None else environ
    state_dir = state_dir.resolve()
    runtime = prepare_runtime()
    deps = project_dependencies(app.search_path.resolve()) if app.spec else []
    modules = vendored_modules(runtime.cache, deps)
    env_vars = worker_vars(environ, extra_vars, open_without_token=open_without_token)
    site = build_site(state_dir / "site", app=app, python_modules=modules, env_vars=env_vars)
    return LocalWorker(runtime, site, state_dir / "persist", port=port)
