"""What the Pyodide tier runs, and what it leaves out and why (the one place for both).

Pyodide in Node has no subprocesses, no threads and no listening sockets (so no uvicorn and
no OpenAI-compatible test server), so what needs them runs on CPython only.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["EXCLUDED", "EXCLUDED_PARAMS", "SUITES", "excluded_file", "exclusion_reason"]

#: The pure-Python suites: the data model and tools, the loop, the store, the engine, streams.
SUITES: tuple[str, ...] = (
    "tests/test_data_model.py",
    "tests/test_tools.py",
    "tests/loop",
    "tests/store",
    "tests/engine",
    "tests/streams",
    # Typed state and checkpoints (the HTTP and CLI files beside them need sockets and
    # subprocesses).
    "tests/state/test_typed_state.py",
    "tests/state/test_checkpoints.py",
    # Tracing's ids, encoding, configuration and replay rule (the Worker runs this code).
    "tests/tracing/test_tracing_units.py",
)

_OPENAI_SERVER = "serves a model over HTTP (tests.support.openai_server: uvicorn on a socket)"

#: Left out, each with its reason: a file (not even imported) or a test (deselected).
EXCLUDED: dict[str, str] = {
    "tests/loop/test_interrupt.py": _OPENAI_SERVER,
    "tests/loop/test_provider.py": _OPENAI_SERVER,
    "tests/store/test_processes.py": "races writers in separate processes (subprocesses)",
    "tests/engine/test_crash.py": "SIGKILLs an engine running in a subprocess",
    "tests/loop/test_crash_streams.py::test_every_reader_rebuilds_the_stored_message": (
        "200 Hypothesis examples of whole crashed turns take over 10 minutes in Pyodide; the "
        "file's fixed scenarios run the same check there"
    ),
    "tests/engine/test_deadlines.py::test_a_new_event_loop_starts_afresh": (
        "the tier runs every asyncio.run on Pyodide's one loop: there is no new loop to start"
    ),
    "tests/streams/test_ui_schema.py": (
        "jsonschema needs rpds-py, compiled, with no Pyodide wheel on PyPI"
    ),
}

#: Parameter values that need a host process, whichever test they parametrize.
EXCLUDED_PARAMS: dict[str, str] = {
    "d1-real": "the real local D1 runs in workerd under wrangler (a subprocess)",
}


def excluded_file(path: str) -> str | None:
    """Why this file (relative to the repository, ``/``-separated) is left out, or None."""
    return EXCLUDED.get(path) if "::" not in path else None


def exclusion_reason(nodeid: str, params: Mapping[str, object]) -> str | None:
    """Why this test does not run in Pyodide, or None when it does."""
    for prefix, reason in EXCLUDED.items():
        if nodeid == prefix or nodeid.startswith((prefix + "::", prefix + "[")):
            return reason
    for value in params.values():
        if isinstance(value, str) and value in EXCLUDED_PARAMS:
            return EXCLUDED_PARAMS[value]
    return None
