"""The Cloudflare host on the real Python Worker runtime (local workerd, offline).

    python -m benchmarks.worker_real [--starts 3] [--steps 0,10,50,200] [--repeats 3]
                                     [--count 250] [--interval 0.02] [--probe-starts 2]

Needs the runtime ``make install-worker`` builds (``HELIX_NODE_MODULES`` and
``HELIX_CACHE_DIR`` as the Makefile sets them). ``wrangler dev --local`` serves
:mod:`benchmarks.worker_app` (Python 3.14 on Pyodide, local D1, Durable Objects and
Workflows); the clients run in this process on the same machine. It measures:

1. **cold start**: ``starts`` fresh wrangler processes (the first on an empty state, the
   others on the state the first left): process start to wrangler's "Ready", then the
   first ``GET /health`` alone (Pyodide's start, the Worker module's import, the D1 schema
   check and the HTTP app's construction), against warm ``GET /health`` requests;
2. **agent steps**: whole runs of the ``steps`` agent (a zero-latency model, one no-op tool
   per agent step), ``POST /chat`` to the SSE stream's ``[DONE]``; a least-squares line
   through all runs gives the cost of one more agent step and the fixed cost of a run;
3. **chunk-to-reader latency**: the ``ticker`` agent stamps each text delta with the
   Worker's ``time.time_ns()`` (Pyodide's clock is the machine's; workerd moves it on only
   at I/O and timers, so a stamp is the moment the model's timer fired), and
   a reader compares with its own clock on receipt: the ``POST /chat`` SSE response, then
   one WebSocket on ``/chat/{id}/ws``;
4. **upload size**: ``wrangler deploy --dry-run --outdir`` on a project folder for the
   bundled examples (the generated ``entry.py`` and ``python_modules/``, helix-agents
   included): wrangler's own total and gzip figures, and a breakdown by package;
5. **imports**: a probe Worker (:mod:`benchmarks._worker`) on the same runtime: the modules
   of a bare Python Worker, and what ``helix_agents``, ``helix_agents.hosts.cloudflare``,
   the rest of the generated ``entry.py``, the HTTP app, the benchmark app and the OpenAI
   adapter add, each timed from outside on ``probe-starts`` fresh processes; and the modules
   the ``modules`` agent finds loaded after the runs that none of those loaded.

The machine's load average is printed before and after: other work on the machine shows in
every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from helix_agents.workerd import AppSpec, LocalWorker, build_site
from helix_agents.workerd.launch import local_worker, project_dependencies
from helix_agents.workerd.vendor import vendored_modules

from ._http import SSEReader, percentile
from ._worker import (
    LIMIT_RAW,
    LIMITS_GZIP,
    MIB,
    PROBE_IMPORTS,
    WORKER_MODULE,
    Probe,
    Size,
    Start,
    cold_start,
    get,
    probe_site,
    run_probe,
    upload_size,
)
from .http_latency import ws_reader

ROOT = Path(__file__).resolve().parents[1]
APP = AppSpec("benchmarks.worker_app:registry", ROOT, with_testing=True)  # FunctionModel


def _host_port(worker: LocalWorker) -> tuple[str, int]:
    parts = urlsplit(worker.url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def _snapshot(worker: LocalWorker, session: str) -> dict[str, Any]:
    body, _ = get(f"{worker.url}/chat/{session}")
    result: dict[str, Any] = json.loads(body)
    return result


# -- agent steps -----------------------------------------------------------------------------


async def steps_run(worker: LocalWorker, steps: int) -> float:
    """One run of ``steps`` agent steps, POST to ``[DONE]``, in seconds (checked complete)."""
    host, port = _host_port(worker)
    body = {"agentType": "steps", "message": f"steps={steps}"}
    started = time.perf_counter()
    reader = await SSEReader().run(host, port, "POST", "/chat", body)
    elapsed = time.perf_counter() - started
    assert reader.done, "the stream did not end"
    assert reader.session is not None
    snap = _snapshot(worker, reader.session)
    assert snap["status"] == "completed", snap["status"]
    assert snap["usage"]["toolCalls"] == steps, snap["usage"]
    return elapsed


def fit(points: Iterable[tuple[int, float]]) -> tuple[float, float]:
    """Least squares ``seconds = fixed + per_step * steps``: (fixed, per_step)."""
    xs, ys = zip(*points, strict=True)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return mean_y - slope * mean_x, slope


# -- chunk-to-reader latency -----------------------------------------------------------------


async def sse_latency(worker: LocalWorker, spec: str) -> list[float]:
    host, port = _host_port(worker)
    body = {"agentType": "ticker", "message": f"{spec} delay=0.3"}
    reader = await SSEReader(clock=time.time_ns).run(host, port, "POST", "/chat", body)
    assert reader.done, "the SSE stream did not end"
    return reader.latencies_ms


async def ws_latency(worker: LocalWorker, spec: str) -> list[float]:
    """A run whose POST reader leaves at once, followed by one WebSocket from the start (the
    ticker waits a second, so the socket is there before the first delta)."""
    session = f"bench-ws-{time.time_ns()}"
    body = {"agentType": "ticker", "message": f"{spec} delay=1.0", "sessionId": session}
    async with (
        httpx.AsyncClient(base_url=worker.url, timeout=60) as client,
        client.stream("POST", "/chat", json=body) as res,
    ):
        assert res.status_code == 200, res.status_code
    host, port = _host_port(worker)
    return await ws_reader(f"ws://{host}:{port}/chat/{session}/ws?from=0", clock=time.time_ns)


async def loaded_modules(worker: LocalWorker) -> list[str]:
    """``sys.modules`` where the ``modules`` agent's model step runs (after the runs)."""
    host, port = _host_port(worker)
    body = {"agentType": "modules", "message": "list"}
    reader = await SSEReader().run(host, port, "POST", "/chat", body)
    assert reader.session is not None
    output: list[str] = json.loads(_snapshot(worker, reader.session)["output"])
    return output


def _packages(modules: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in modules:
        top = name.split(".")[0]
        counts[top] = counts.get(top, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _fmt_packages(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items())


# -- the whole benchmark ---------------------------------------------------------------------


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms" + (
        f" ({min(values):.0f}-{max(values):.0f})" if len(values) > 1 else ""
    )


async def _measure_running(
    worker: LocalWorker, steps: list[int], repeats: int, spec: str
) -> tuple[float, dict[int, list[float]], dict[str, list[float]], list[str]]:
    first_run = await steps_run(worker, 1)
    runs: dict[int, list[float]] = {}
    for n in steps:
        for _ in range(repeats if n <= 50 else 1):
            runs.setdefault(n, []).append(await steps_run(worker, n))
        print(f"  steps={n}: {[round(s, 3) for s in runs[n]]} s", flush=True)
    latencies = {
        "SSE": await sse_latency(worker, spec),
        "WebSocket": await ws_latency(worker, spec),
    }
    return first_run, runs, latencies, await loaded_modules(worker)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--steps", default="0,10,50,200")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--count", type=int, default=250)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--probe-starts", type=int, default=2)
    args = parser.parse_args()
    steps = [int(x) for x in args.steps.split(",")]
    spec = f"count={args.count} interval={args.interval}"
    began = time.monotonic()
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="helix-bench-") as tmp_name:
        tmp = Path(tmp_name)
        # The runtime, python_modules and the Worker folder: prepared before any timing.
        worker = local_worker(app=APP, state_dir=tmp / "bench", environ={})
        runtime = worker.runtime
        modules_dir = vendored_modules(runtime.cache, project_dependencies(ROOT))
        examples = build_site(tmp / "examples" / "site", app=AppSpec(), python_modules=modules_dir)

        print("cold starts", flush=True)
        starts: list[Start] = []
        try:
            for i in range(args.starts):
                if i:
                    worker.stop()
                starts.append(cold_start(worker, "empty" if i == 0 else "kept"))
                print(f"  {starts[-1]}", flush=True)
            print("agent steps, latency, modules", flush=True)
            first_run, runs, latencies, after_runs = asyncio.run(
                _measure_running(worker, steps, args.repeats, spec)
            )
        finally:
            worker.stop()

        print("probe", flush=True)
        probe = run_probe(
            runtime,
            probe_site(tmp / "probe" / "site", APP, modules_dir, examples / "src" / "entry.py"),
            tmp / "probe" / "persist",
            args.probe_starts,
        )
        print("upload size", flush=True)
        size = upload_size(runtime, examples, tmp / "dry-run" / "out")
    load_after = os.getloadavg()

    _report(starts, first_run, runs, latencies, after_runs, probe, size, args)
    print(
        f"\n{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; {time.monotonic() - began:.0f} s in all"
    )


def _report(
    starts: list[Start],
    first_run: float,
    runs: dict[int, list[float]],
    latencies: dict[str, list[float]],
    after_runs: list[str],
    probe: Probe,
    size: Size,
    args: argparse.Namespace,
) -> None:
    print("\n1. cold start (GET /health)")
    print("| start | state | process -> Ready | first request | process -> first 200 | warm |")
    print("|---|---|---|---|---|---|")
    for i, s in enumerate(starts, 1):
        print(
            f"| {i} | {s.state} | {s.ready_s:.2f} s | {s.first_request_s:.2f} s | "
            f"{s.total_s:.2f} s | {s.warm_ms:.1f} ms |"
        )
    print(
        f"bare Python Worker (the probe): process -> Ready "
        f"{_ms([s * 1000 for s in probe.ready_s])}, first request "
        f"{_ms([s * 1000 for s in probe.first_request_s])}, warm {_ms(probe.trivial_ms)}"
    )
    for name, what in PROBE_IMPORTS.items():
        print(
            f"import {name} ({what}): {_ms(probe.imports[name])}, {len(probe.added[name])} modules"
        )
    module_ms = [
        sum(probe.imports[name][i] for name in WORKER_MODULE) for i in range(len(probe.ready_s))
    ]
    print(f"the Worker module (entry.py) in all: {_ms(module_ms)}")

    print("\n2. agent steps (zero-latency model, one no-op tool per step; POST to [DONE])")
    print(f"first run after the start (1 step): {first_run * 1000:.0f} ms")
    print("| steps | runs | median run | per agent step | beyond the 0-step run, per step |")
    print("|---|---|---|---|---|")
    base = statistics.median(runs[0]) if 0 in runs else None
    for n, values in runs.items():
        median = statistics.median(values)
        per = f"{median * 1000 / (n + 0.5):.1f} ms" if n else "—"
        beyond = f"{(median - base) * 1000 / n:.1f} ms" if n and base is not None else "—"
        print(f"| {n} | {len(values)} | {median * 1000:.0f} ms | {per} | {beyond} |")
    fixed, per_step = fit((n, s) for n, values in runs.items() for s in values)
    print(f"fit: {per_step * 1000:.1f} ms per agent step + {fixed * 1000:.0f} ms per run")

    print(f"\n3. chunk-to-reader latency ({args.count} deltas, one every {args.interval} s)")
    print("| transport | deltas | min | p50 | p99 | max |")
    print("|---|---|---|---|---|---|")
    for transport, lat in latencies.items():
        print(
            f"| {transport} | {len(lat)} | {min(lat):.1f} ms | {percentile(lat, 0.5):.1f} ms | "
            f"{percentile(lat, 0.99):.1f} ms | {max(lat):.1f} ms |"
        )

    print("\n4. upload (wrangler deploy --dry-run, the bundled examples' Worker)")
    print(
        f"wrangler: {size.modules} modules, {size.wrangler_raw / MIB:.2f} MiB, "
        f"gzip {size.wrangler_gzip / MIB:.2f} MiB; "
        f"{size.wrangler_raw / LIMIT_RAW:.0%} of {LIMIT_RAW // MIB} MiB uncompressed; "
        + ", ".join(
            f"{size.wrangler_gzip / v:.0%} of {k} {v // MIB} MB" for k, v in LIMITS_GZIP.items()
        )
    )
    print("| part | raw | gzip |")
    print("|---|---|---|")
    for name, (raw, packed) in sorted(size.groups.items(), key=lambda kv: -kv[1][0]):
        print(f"| {name} | {raw / 1024:.0f} KiB | {packed / 1024:.0f} KiB |")

    print("\n5. modules")
    bare = set(probe.bare)
    print(f"bare Python Worker: {len(bare)} modules")
    at_start: set[str] = set().union(*(probe.added[name] for name in WORKER_MODULE))
    print(f"the Worker module adds {len(at_start)}: {_fmt_packages(_packages(at_start))}")
    seen = bare | at_start
    for name in list(PROBE_IMPORTS)[3:]:
        added = set(probe.added[name])
        seen |= added
        print(f"{name} adds {len(added)}: {_fmt_packages(_packages(added))}")
    later = set(after_runs) - seen
    print(
        f"loaded after the runs ({len(after_runs)} in all), not yet above: {len(later)}: "
        f"{_fmt_packages(_packages(later))}"
    )
    if ours := sorted(m for m in later if m.startswith("helix_agents")):
        print("  of helix_agents: " + ", ".join(ours))


if __name__ == "__main__":
    main()
