"""``python -m helix_agents.workerd prepare``: build (or find current) everything the local
Worker runtime needs, the Makefile's ``install-worker`` step."""

from __future__ import annotations

import sys
import time

from .runtime import prepare_runtime
from .vendor import vendored_modules


def main(argv: list[str]) -> int:
    if argv != ["prepare"]:
        print("usage: python -m helix_agents.workerd prepare", file=sys.stderr)
        return 2
    started = time.monotonic()
    runtime = prepare_runtime()
    modules = vendored_modules(runtime.cache)
    print(
        f"helix: local Worker runtime ready in {time.monotonic() - started:.1f} s "
        f"(workerd {runtime.tooling.workerd_version()}, bundle {runtime.bundle}, "
        f"python_modules {modules})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
