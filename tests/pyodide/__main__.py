"""``python -m tests.pyodide prepare`` builds the tier's packages (the Makefile's
``install-worker`` runs it); ``python -m tests.pyodide [pytest args]`` runs the tier."""

from __future__ import annotations

import sys
import time

from tests.pyodide.tier import packages, run_tier


def main(argv: list[str]) -> int:
    if argv == ["prepare"]:
        print(f"helix: Pyodide test tier packages in {packages()}")
        return 0
    started = time.monotonic()
    result = run_tier(argv, timeout=3600)
    print(result.output, end="")
    print(f"pyodide tier: exit {result.returncode} in {time.monotonic() - started:.0f} s")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
