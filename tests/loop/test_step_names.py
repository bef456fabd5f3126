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
