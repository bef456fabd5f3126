"""Step names key every instance's journal, so their shapes never change (ids.py)."""

from __future__ import annotations

from helix_agents.ids import (
    collect_step_name,
    expire_step_name,
    fail_step_name,
    model_step_name,
    step_prefix,
    suspend_step_name,
    tool_step_name,
    wait_step_name,
)


def test_every_step_name_keeps_its_shape() -> None:
    assert step_prefix(3, 2) == "turn-3/step-02"
    assert model_step_name(3, 2) == "turn-3/step-02/model"
    assert tool_step_name(3, 2, "call_1~a1b2c3d4") == "turn-3/step-02/tool/call_1~a1b2c3d4"
    assert wait_step_name(3, 2, "c1") == "turn-3/step-02/wait/c1"
    assert collect_step_name(3, 2, "c1") == "turn-3/step-02/collect/c1"
    assert suspend_step_name(3, 2) == "turn-3/step-02/suspend"
    assert expire_step_name(3, 2) == "turn-3/step-02/expire"
    assert fail_step_name(3, 2) == "turn-3/step-02/fail"
    # Steps past 99 widen rather than wrap.
    assert model_step_name(1, 100) == "turn-1/step-100/model"


def test_new_session_ids_sort_by_the_time_they_were_made() -> None:
    """Time first (a UUIDv7's idea), so a new session's rows go at the right edge of every
    index keyed by the session id; the rest random, and valid everywhere an id goes."""
    import re
    import time

    from helix_agents.ids import new_session_id, run_instance_id, validate_session_id

    made = []
    for _ in range(5):
        made.append(new_session_id())
        # A later millisecond (waiting on the clock itself: Pyodide's time.sleep may not).
        now = int(time.time() * 1000)
        while int(time.time() * 1000) <= now:
            pass
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    for session_id in made:
        assert re.fullmatch(r"s_[0-9a-f]{32}", session_id)
        assert validate_session_id(session_id) == session_id
        run_instance_id(session_id, 1, 2)  # room for the suffixes
    # Within one millisecond the random part keeps them apart.
    assert len({new_session_id() for _ in range(1000)}) == 1000
