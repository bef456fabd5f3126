"""What the loop needs from its host, in one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clock import wall_clock_ms
from ..ports.step import StepConfig
from ..ports.streams import StreamManager
from .host_resources import HostResources
from .stream_writer import LOCAL_FLUSH_POLICY, FlushPolicy

if TYPE_CHECKING:
    from ..agent import AgentRegistry
    from ..ports.launcher import Launcher
    from ..ports.model import Model
    from ..store import StateStore
    from ..tracing import TracingConfig

__all__ = ["RunDeps"]


@dataclass
class RunDeps:
    registry: AgentRegistry
    store: StateStore
    streams: StreamManager
    #: Resolves an agent's ``model`` (an instance or a string) to a Model.
    resolve_model: Callable[[Model | str], Model]
    flush_policy: FlushPolicy = LOCAL_FLUSH_POLICY
    clock: Callable[[], int] = wall_clock_ms
    model_step_config: StepConfig | None = None
    tool_step_config: StepConfig | None = None
    #: Starts sub-agent instances (sub-agents and companions).
    launcher: Launcher | None = None
    #: Services, settings and the agents' typed deps that tools see (``ctx.services``...).
    resources: HostResources = field(default_factory=HostResources)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Where spans go (``tracing.tracing_config``), or None: tracing off.
    tracing: TracingConfig | None = None
