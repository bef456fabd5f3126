"""How long ``import helix_agents`` takes in a fresh interpreter.

    python -m benchmarks.import_time [--repeat 15]

Each sample is a new process that times its own ``import helix_agents`` (pydantic and
everything else it pulls in included; the interpreter's start and exit excluded). Bytecode
is compiled first, as an installed package has it: with ``PYTHONDONTWRITEBYTECODE`` set,
every sample would otherwise recompile every module from source.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys

_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
_CODE = "import time; t = time.perf_counter(); import helix_agents; print(time.perf_counter() - t)"


def _sample() -> float:
    out = subprocess.run(
        [sys.executable, "-c", _CODE], check=True, env=_ENV, capture_output=True, text=True
    )
    return float(out.stdout.strip())


def _compile() -> None:
    import helix_agents

    roots = {os.path.dirname(os.path.dirname(helix_agents.__file__))}
    roots |= {p for p in sys.path if p.endswith("site-packages")}
    for root in roots:
        compileall.compile_dir(root, quiet=1, workers=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    _compile()
    _sample()  # warm the OS file cache
    samples = sorted(_sample() for _ in range(args.repeat))
    print(
        f"import helix_agents: median {statistics.median(samples) * 1000:.1f} ms, "
        f"max {samples[-1] * 1000:.1f} ms ({args.repeat} fresh interpreters)"
    )


if __name__ == "__main__":
    main()
