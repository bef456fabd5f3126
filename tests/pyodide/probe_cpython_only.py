"""Probes of the Pyodide tier itself (not collected on CPython: the name does not match
``test_*``). ``test_pyodide_tier.py`` runs this file in Pyodide and checks each outcome, so a
tier that silently ran on CPython, skipped async tests or let a hang through would show."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest


@pytest.fixture
async def ticks() -> AsyncIterator[list[str]]:
    seen = ["setup"]
    yield seen
    await asyncio.sleep(0)


def test_runs_in_pyodide() -> None:
    assert sys.platform == "emscripten"
    assert sys.version_info[:2] == (3, 14)


async def test_async_with_an_async_fixture(ticks: list[str]) -> None:
    await asyncio.sleep(0.01)
    task = asyncio.create_task(asyncio.sleep(0.01, result="done"))
    assert (ticks, await task) == (["setup"], "done")


def test_cpython_only_subprocess() -> None:
    subprocess.run(["true"], check=True)  # must fail: Pyodide has no processes


@pytest.mark.timeout(0.5)
async def test_a_hang_is_cut_by_its_timeout() -> None:
    await asyncio.sleep(60)  # must fail after 0.5 s, not hang the tier
