"""Running the repository's wrangler (scripts/wrangler) from tests."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.support.real_d1 import ROOT, WRANGLER

__all__ = ["ROOT", "WORKER", "WRANGLER", "run_wrangler"]

#: The Worker project of the bundled examples: its wrangler.toml is the deployed config.
WORKER = ROOT / "worker"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_wrangler(*args: str, cwd: Path = WORKER, timeout: float = 180.0) -> str:
    """Run wrangler to completion and return its output (stdout, then stderr), uncoloured.

    A failure fails the test with the whole output, which is what one needs to see.
    """
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    proc = subprocess.run(
        [str(WRANGLER), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = _ANSI.sub("", proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"wrangler {' '.join(args)} exited {proc.returncode}:\n{output}"
    return output
