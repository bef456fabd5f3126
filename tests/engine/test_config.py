"""Step configs: Workflows' defaults, merging, validation and the backoff formulas."""

from __future__ import annotations

from typing import Any

import pytest

from helix_agents.errors import ConfigurationError
from helix_agents.workflow_rules import (
    DEFAULT_STEP_CONFIG,
    ResolvedStepConfig,
    resolve_step_config,
    validate_step_name,
)


def test_defaults_are_cloudflares() -> None:
    resolved = resolve_step_config(None)
    assert resolved == ResolvedStepConfig(
        limit=5, delay_ms=10_000.0, backoff="exponential", timeout_ms=600_000.0
    )
    assert resolve_step_config({}) == resolved
    assert resolve_step_config(DEFAULT_STEP_CONFIG) == resolved


def test_a_partial_config_is_merged_over_the_defaults() -> None:
    resolved = resolve_step_config({"retries": {"limit": 2}})
    assert resolved == ResolvedStepConfig(
        limit=2, delay_ms=10_000.0, backoff="exponential", timeout_ms=600_000.0
    )
    assert resolve_step_config({"timeout": "30 seconds"}).timeout_ms == 30_000.0
    assert resolve_step_config({"retries": {"limit": 1, "delay": "2 seconds"}}).delay_ms == 2_000.0


@pytest.mark.parametrize(
    ("backoff", "delays"),
    [
        ("constant", [1000, 1000, 1000, 1000]),
        ("linear", [1000, 2000, 3000, 4000]),
        ("exponential", [1000, 2000, 4000, 8000]),
    ],
)
def test_backoff_formulas(backoff: str, delays: list[float]) -> None:
    config = resolve_step_config({"retries": {"limit": 9, "delay": 1000, "backoff": backoff}})
    assert [config.retry_delay_ms(n) for n in (1, 2, 3, 4)] == delays


def test_a_long_exponential_series_is_capped() -> None:
    config = resolve_step_config({"retries": {"limit": 10_000, "delay": "1 day"}})
    assert config.retry_delay_ms(10_000) == 365 * 86_400_000.0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("5 retries", "must be a dict"),
        ({"retry": {}}, "unknown step config keys"),
        ({"retries": 3}, "must be a dict"),
        ({"retries": {"limit": 1, "jitter": True}}, "unknown keys"),
        ({"retries": {"limit": -1}}, "between 0 and 10000"),
        ({"retries": {"limit": 10_001}}, "between 0 and 10000"),
        ({"retries": {"limit": 1.5}}, "integer"),
        ({"retries": {"limit": True}}, "integer"),
        ({"retries": {"limit": 1, "delay": "later"}}, "retries.delay"),
        ({"retries": {"limit": 1, "backoff": "random"}}, "backoff"),
        ({"timeout": 0}, "more than 0"),
        ({"timeout": "forever"}, "timeout"),
    ],
)
def test_bad_configs_are_clear_errors(config: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve_step_config(config)


def test_the_sensitive_flag_is_accepted() -> None:
    assert resolve_step_config({"sensitive": "output"}).limit == 5


@pytest.mark.parametrize("bad", ["", "x" * 257, "tab\there", "new\nline", 42, None])
def test_bad_step_names(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        validate_step_name(bad)


def test_good_step_names() -> None:
    for name in ["turn-1/step-01/model", "turn-1/step-01/tool/call_abc", "x" * 256, "émoji ✓"]:
        assert validate_step_name(name) == name


def test_a_config_changed_in_place_is_resolved_again() -> None:
    # Configs are remembered per object (every step resolves the same few): an edit in
    # place must be seen, True vs 1 included (they are == and hash alike).
    config: dict[str, Any] = {"retries": {"limit": 1}, "timeout": "1 minute"}
    assert resolve_step_config(config).limit == 1
    assert resolve_step_config(config).limit == 1
    config["retries"]["limit"] = True
    with pytest.raises(ConfigurationError, match=r"retries\.limit must be an integer"):
        resolve_step_config(config)
    config["retries"]["limit"] = 3
    assert resolve_step_config(config).limit == 3
    config["timeout"] = 1000.0
    assert resolve_step_config(config).timeout_ms == 1000.0
    config["timeout"] = 0
    with pytest.raises(ConfigurationError, match="more than 0"):
        resolve_step_config(config)
    # An equal config of another object gets the same answer.
    assert resolve_step_config({"retries": {"limit": 3}}).limit == 3
