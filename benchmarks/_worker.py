"""Measuring a local Worker from outside, for ``benchmarks.worker_real``: its cold start,
its upload (``wrangler deploy --dry-run``), and a probe Worker that times imports.

The probe is a bare Python Worker on the same runtime, whose ``fetch`` imports a module on
request and answers with the modules that import added (``GET /import/<module>``), or with
all it has (``GET /modules``). A Worker's clock stands still within a request, so the time
of an import is taken outside: the request's time minus a trivial request's. Each import is
timed once per fresh process, after the ones before it.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from helix_agents.workerd import AppSpec, LocalWorker, PreparedRuntime, build_site
from helix_agents.workerd.process import wrangler_environ
from helix_agents.workerd.site import worker_config

__all__ = [
    "LIMITS_GZIP",
    "LIMIT_RAW",
    "MIB",
    "PROBE_IMPORTS",
    "WORKER_MODULE",
    "Probe",
    "Size",
    "Start",
    "cold_start",
    "get",
    "probe_site",
    "run_probe",
    "upload_size",
]

MIB = 1024 * 1024
#: Worker size limits: what the pinned wrangler checks (64 MiB uncompressed, on every plan),
#: and the compressed limits Cloudflare documented before (3 MB free, 10 MB paid).
LIMIT_RAW = 64 * MIB
LIMITS_GZIP = {"free (former)": 3 * MIB, "paid (former)": 10 * MIB}
#: What the probe imports, in order, and what each stands for. The first three make the
#: Worker module (the generated entry of ``helix worker`` for the bundled examples).
PROBE_IMPORTS = {
    "helix_agents": "the package",
    "helix_agents.hosts.cloudflare": "the Cloudflare host",
    "entry_examples": "the rest of the Worker module",
    "helix_agents.http.app": "the HTTP app, which the first request builds",
    "entry_bench": "the benchmark app's entry, after those",
    "helix_agents.models.openai": "the OpenAI adapter and httpx: a run's model resolution imports them",
}
WORKER_MODULE = list(PROBE_IMPORTS)[:3]
PROBE_ENTRY = '''"""benchmarks.worker_real's probe: a bare Python Worker that imports on request."""

import importlib
import json
import sys

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = str(request.url).split("://", 1)[-1].partition("/")[2].partition("?")[0]
        if path == "modules":
            return Response(json.dumps(sorted(sys.modules)))
        if path.startswith("import/"):
            before = set(sys.modules)
            importlib.import_module(path[len("import/") :])
            return Response(json.dumps(sorted(set(sys.modules) - before)))
        return Response("ok")
'''
_NO_BINDINGS = ("d1_databases", "durable_objects", "migrations", "workflows", "triggers")
_TOTAL = re.compile(r"Total Upload: ([0-9.]+) KiB / gzip: ([0-9.]+) KiB")


def get(url: str, timeout: float = 120.0) -> tuple[bytes, float]:
    """GET ``url`` (retrying while the port refuses connections): the body and the seconds
    the answering attempt took."""
    deadline = time.monotonic() + timeout
    while True:
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {url}: {response.status}")
                return body, time.perf_counter() - started
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def wait_for_log(worker: LocalWorker, offset: int, needle: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process is not None and worker.process.poll() is not None:
            raise RuntimeError(f"wrangler exited:\n{worker.log_tail()}")
        try:
            with worker.log_path.open("rb") as log:
                log.seek(offset)
                if needle.encode() in log.read():
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"no {needle!r} within {timeout:.0f} s:\n{worker.log_tail()}")


@dataclass
class Start:
    """One fresh process: seconds to wrangler's "Ready", then of the first request alone,
    and in all; the median of five warm requests after it, in ms."""

    state: str
    ready_s: float
    first_request_s: float
    total_s: float
    warm_ms: float


def cold_start(worker: LocalWorker, state: str, path: str = "/health") -> Start:
    """Start ``worker``'s process and time it to its first answer of ``path``."""
    offset = worker.log_path.stat().st_size if worker.log_path.exists() else 0
    started = time.perf_counter()
    worker.start()
    wait_for_log(worker, offset, "Ready on")
    ready = time.perf_counter() - started
    _, first = get(worker.url + path)
    total = time.perf_counter() - started
    warm = statistics.median(get(worker.url + path)[1] for _ in range(5))
    return Start(state, ready, first, total, warm * 1000)


@dataclass
class Size:
    """Bytes wrangler reports (all modules, and their concatenation gzipped), the number of
    modules, and (raw, gzip) bytes per part."""

    wrangler_raw: int
    wrangler_gzip: int
    modules: int
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)


def _group(relative: Path) -> str:
    parts = relative.parts
    if parts[0] != "python_modules" or len(parts) < 2:
        return "entry.py and app"
    top = parts[1]
    if top.endswith(".dist-info"):
        return "*.dist-info"
    if top in ("helix_agents", "pydantic_core", "pydantic"):
        return top
    return "other packages"


def upload_size(runtime: PreparedRuntime, site: Path, out: Path) -> Size:
    """What ``wrangler deploy --dry-run`` would upload for ``site``."""
    env = wrangler_environ(runtime, out.parent / "wrangler-home")
    env.update(NO_COLOR="1", FORCE_COLOR="0")
    command = [
        str(runtime.tooling.node), str(runtime.tooling.wrangler_js),
        "deploy", "--dry-run", "--outdir", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=site, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    output = done.stdout + done.stderr
    match = _TOTAL.search(output)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrangler deploy --dry-run failed:\n{output[-3000:]}")
    contents: dict[str, list[bytes]] = {}
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "README.md")
    for path in files:
        contents.setdefault(_group(path.relative_to(out)), []).append(path.read_bytes())
    # wrangler's gzip figure is one gzip of every module's content, concatenated: the same
    # per group.
    groups = {
        name: (sum(map(len, data)), len(gzip.compress(b"".join(data))))
        for name, data in contents.items()
    }
    return Size(round(float(match[1]) * 1024), round(float(match[2]) * 1024), len(files), groups)


@dataclass
class Probe:
    """Per fresh process: seconds to "Ready" and of the first request, a trivial request's
    ms, and each import's ms; the modules of the bare Worker and those each import added."""

    ready_s: list[float] = field(default_factory=list)
    first_request_s: list[float] = field(default_factory=list)
    trivial_ms: list[float] = field(default_factory=list)
    bare: list[str] = field(default_factory=list)
    imports: dict[str, list[float]] = field(default_factory=dict)
    added: dict[str, list[str]] = field(default_factory=dict)


def probe_site(site: Path, app: AppSpec, modules: Path, examples_entry: Path) -> Path:
    """The project folder of the probe: ``app``'s folder, its generated entry kept as
    ``entry_bench.py``, the examples' as ``entry_examples.py``, and no bindings."""
    build_site(site, app=app, python_modules=modules)
    src = site / "src"
    (src / "entry.py").rename(src / "entry_bench.py")
    shutil.copy2(examples_entry, src / "entry_examples.py")
    (src / "entry.py").write_text(PROBE_ENTRY, encoding="utf-8")
    config = worker_config("helix-bench-probe", with_testing=app.with_testing)
    config = {k: v for k, v in config.items() if k not in _NO_BINDINGS}
    (site / "wrangler.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return site


def run_probe(runtime: PreparedRuntime, site: Path, persist: Path, starts: int) -> Probe:
    probe = Probe()
    worker = LocalWorker(runtime, site, persist)
    for _ in range(starts):
        try:
            start = cold_start(worker, "probe", "/")
            probe.ready_s.append(start.ready_s)
            probe.first_request_s.append(start.first_request_s)
            probe.trivial_ms.append(start.warm_ms)
            probe.bare = json.loads(get(worker.url + "/modules")[0])
            for name in PROBE_IMPORTS:
                body, seconds = get(f"{worker.url}/import/{name}")
                probe.imports.setdefault(name, []).append(seconds * 1000 - start.warm_ms)
                probe.added[name] = json.loads(body)
        finally:
            worker.stop()
    return probe
