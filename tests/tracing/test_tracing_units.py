"""Tracing's parts on their own: the OTEL_* configuration, ids, the OTLP JSON encoding, and
the rule that a step served from the journal records nothing again."""

from __future__ import annotations

from typing import Any

import pytest

from helix_agents.core.params import RunParams
from helix_agents.errors import ConfigurationError
from helix_agents.ports.step import StepConfig, StepContext, StepFn
from helix_agents.tracing import TracingConfig, tracing_config
from helix_agents.tracing.otlp import encode_spans
from helix_agents.tracing.spans import Span, Tracer, derive_id, parse_traceparent
from helix_agents.tracing.steps import TracedStep, instance_tracer, run_span_id, turn_trace_id
from tests.support.otlp_receiver import parse_request


def test_unconfigured_or_disabled_is_off() -> None:
    assert tracing_config({}) is None
    assert tracing_config({"OTEL_SERVICE_NAME": "x"}) is None
    on = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}
    assert tracing_config({**on, "OTEL_SDK_DISABLED": "true"}) is None
    assert tracing_config({**on, "OTEL_TRACES_EXPORTER": "none"}) is None
    config = tracing_config(on)
    assert config is not None
    assert config.endpoint == "http://collector:4318/v1/traces"
    assert config.service_name == "helix-agents"


def test_configuration_from_the_standard_variables() -> None:
    config = tracing_config(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://otlp.example/api/traces",
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%3Db, x-team = core ",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=from-res",
        }
    )
    assert config is not None
    assert config.endpoint == "https://otlp.example/api/traces"
    assert config.headers == {"api-key": "a=b", "x-team": "core"}
    assert config.timeout == 2.5
    assert config.service_name == "from-res"
    assert config.resource["deployment.environment"] == "prod"
    # A lookup function works as well as a mapping (the Worker's env).
    via_lookup = tracing_config({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}.get)
    assert via_lookup is not None


@pytest.mark.parametrize(
    "bad",
    [
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
    ],
)
def test_bad_configuration_is_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        tracing_config(bad)


def test_ids_are_derived_and_valid() -> None:
    assert derive_id(16, "a") == derive_id(16, "a")
    assert derive_id(16, "a") != derive_id(16, "b")
    assert len(derive_id(16, "a")) == 32
    assert len(derive_id(8, "a")) == 16
    trace = turn_trace_id("s1", 3)
    assert parse_traceparent(f"00-{trace}-{run_span_id('s1--t3')}-01") == (
        trace,
        run_span_id("s1--t3"),
    )
    assert parse_traceparent("00-" + "0" * 32 + "-" + "1" * 16 + "-01") is None
    assert parse_traceparent("garbage") is None


def params(**overrides: Any) -> RunParams:
    base: dict[str, Any] = {
        "session_id": "s1",
        "agent_type": "a",
        "run_id": "s1--t2",
        "turn": 2,
        "stream_id": "s1--t2",
        "base_sequence": 0,
        "message_id": "m",
    }
    return RunParams(**{**base, **overrides})


CONFIG = TracingConfig(endpoint="http://127.0.0.1:1/v1/traces")


def test_an_instance_finds_its_place_in_the_trace() -> None:
    first = instance_tracer(params(), CONFIG)
    assert first.trace_id == turn_trace_id("s1", 2)
    assert first.parent_span_id is None
    resume = instance_tracer(params(run_id="s1--t2--r1", resume=1), CONFIG)
    assert resume.trace_id == first.trace_id
    assert resume.parent_span_id == first.run_span_id
    parent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    child = instance_tracer(params(session_id="c", run_id="c--t1", trace_parent=parent), CONFIG)
    assert (child.trace_id, child.parent_span_id) == ("ab" * 16, "cd" * 8)


def test_the_encoding_is_otlp_json() -> None:
    span = Span("ab" * 16, "cd" * 8, None, "x", start_ns=10, end_ns=20)
    span.set("n", 3)
    span.set("f", 0.5)
    span.set("b", True)
    span.set("l", ["stop"])
    span.set("s", "text")
    span.status = (2, "boom")
    body = encode_spans(CONFIG, [span])
    [received] = parse_request(body)  # the receiver's checks of the protobuf JSON mapping
    assert received.attributes == {"n": 3, "f": 0.5, "b": True, "l": ["stop"], "s": "text"}
    assert received.status == {"code": 2, "message": "boom"}
    assert received.resource == {"service.name": "helix-agents"}
    assert body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] == "10"


class Journal:
    """A Step whose journal already holds some results: those steps run no body (what a
    replay after a restart does on both hosts)."""

    def __init__(self, done: dict[str, Any]) -> None:
        self.done = done
        self.ran: list[str] = []

    async def do(self, name: str, fn: StepFn, config: StepConfig | None = None) -> Any:
        if name in self.done:
            return self.done[name]
        self.ran.append(name)
        return await fn(StepContext(name=name, attempt=1))

    async def sleep(self, name: str, duration: int | float | str) -> None:
        return None

    async def wait_for_event(self, name: str, event_type: str, timeout: Any = "1 hour") -> Any:
        return None


async def test_a_replayed_step_records_no_span_again() -> None:
    exported: list[list[Span]] = []

    async def export(config: TracingConfig, spans: list[Span]) -> None:
        exported.append(spans)

    tracer = Tracer(
        CONFIG, trace_id="ab" * 16, run_span_id="cd" * 8, parent_span_id=None, export=export
    )
    journal = Journal({"turn-1/step-01/model": {"final": False}})
    step = TracedStep(journal, tracer)

    async def body(ctx: StepContext) -> dict[str, Any]:
        inner = tracer.start("chat m", key="model")
        tracer.end(inner)
        return {"ok": True}

    assert await step.do("turn-1/step-01/model", body) == {"final": False}
    assert exported == []  # journaled: no body, no span
    assert await step.do("turn-1/step-01/tool/c1", body) == {"ok": True}
    await tracer.drain()
    [batch] = exported  # exported as the step ended
    names = {s.name: s for s in batch}
    assert set(names) == {"turn-1/step-01/tool/c1", "chat m"}
    assert names["chat m"].parent_id == names["turn-1/step-01/tool/c1"].span_id
    assert names["turn-1/step-01/tool/c1"].parent_id == "cd" * 8


async def test_a_failing_export_never_fails_the_step() -> None:
    async def export(config: TracingConfig, spans: list[Span]) -> None:
        raise OSError("collector down")

    tracer = Tracer(
        CONFIG, trace_id="ab" * 16, run_span_id="cd" * 8, parent_span_id=None, export=export
    )

    async def body(ctx: StepContext) -> int:
        return 7

    assert await TracedStep(Journal({}), tracer).do("s", body) == 7
    await tracer.drain()


async def test_an_unreachable_collector_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from helix_agents.tracing.otlp import export_spans

    await export_spans(
        TracingConfig(endpoint="http://127.0.0.1:9/v1/traces", timeout=2.0),
        [Span("ab" * 16, "cd" * 8, None, "x", start_ns=1, end_ns=2)],
    )
    assert "OTLP export of 1 spans failed" in caplog.text
