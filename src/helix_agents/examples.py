"""The bundled example agents that ``helix dev`` and ``helix run`` serve without ``--app``.

They run on the offline demo model (:class:`helix_agents.models.demo.DemoModel`: a few fixed
rules that know these agents' tools) by default, so the local host works with no account
and no network. Set ``OPENAI_API_KEY`` and/or ``OPENAI_BASE_URL`` (and optionally
``HELIX_OPENAI_MODEL``) to run them on a real OpenAI-compatible model instead, or
``HELIX_MODEL`` to any model string ``infer_model`` accepts.

- ``assistant``: weather, a calculator and a memory;
- ``planner``: a structured trip plan (``output_type``);
- ``ops``: checks a service and deploys it, but a deploy waits for a human's approval
  (docs/hitl.md);
- ``manager``: hands questions to the ``assistant`` as a sub-agent (docs/subagents.md);
- ``docs``: answers questions about helix-agents from its docs, citing them, with the
  retrieval toolkit over the host's vector index and embeddings (docs/services.md): a
  corpus it ships with (:mod:`helix_agents.example_docs`) is indexed on its first search.
"""

from __future__ import annotations

import ast
import operator
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from .agent import Agent, AgentRegistry
from .example_docs import DOCS_CORPUS
from .ports.model import Model
from .subagents import subagent_tool
from .toolkits.retrieval import retrieval_toolkit
from .tools import ToolContext, tool

__all__ = ["example_model", "example_registry"]

_CITIES = {
    "paris": (18, "cloudy"),
    "london": (14, "rain"),
    "tokyo": (22, "sunny"),
    "new york": (20, "windy"),
    "san francisco": (17, "fog"),
}


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather in a city.

    Args:
        city: The city, e.g. "Paris".
    """
    temperature, sky = _CITIES.get(city.strip().lower(), (21, "clear"))
    return {"city": city, "temperature_c": temperature, "sky": sky}


_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.Mod: operator.mod,
}


@tool
def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression (+ - * / ** % and parentheses).

    Args:
        expression: For example "(2 + 3) * 4".
    """

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            if isinstance(node.op, ast.Pow) and abs(ev(node.right)) > 100:
                raise ValueError("exponent too large")
            return float(_OPS[type(node.op)](ev(node.left), ev(node.right)))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.operand)))
        raise ValueError(f"unsupported expression: {ast.dump(node)[:60]}")

    if len(expression) > 200:
        raise ValueError("expression too long")
    return ev(ast.parse(expression, mode="eval"))


@tool
def remember(ctx: ToolContext, key: str, value: str) -> str:
    """Remember a fact for the rest of the conversation.

    Args:
        key: A short name for the fact.
        value: The fact.
    """
    notes = dict(ctx.state.get("notes", {}))
    notes[key] = value
    ctx.state["notes"] = notes
    return f"remembered {key}"


@tool
def check_service(service: str) -> dict[str, Any]:
    """The health of a service and the version it runs.

    Args:
        service: The service's name, e.g. "billing".
    """
    return {"service": service, "healthy": True, "version": "1.4.2"}


@tool(requires_approval=True, expires_in=3600)
def deploy(service: str, version: str) -> str:
    """Deploy a version of a service (a human approves each deploy first).

    Args:
        service: The service's name.
        version: The version to deploy, e.g. "1.5.0".
    """
    # An example: nothing is deployed anywhere.
    return f"{service} {version} is rolling out"


class TripPlan(BaseModel):
    """A short travel plan."""

    city: str = Field(description="The destination")
    days: int = Field(ge=1, le=14, description="How many days")
    activities: list[str] = Field(description="One activity per day")


def example_model(environ: Mapping[str, str] | None = None) -> str:
    """The model the examples run on, from the environment (default ``os.environ``):
    ``HELIX_MODEL`` if set; else OpenAI-compatible when ``OPENAI_API_KEY`` or
    ``OPENAI_BASE_URL`` is (a local server may need no key); else the offline ``"demo"``.

    The Cloudflare host's ``model_from_env`` replaces ``"demo"`` with the model the Worker's
    own ``env`` configures, since a Worker has no ``os.environ`` to speak of.
    """
    env = os.environ if environ is None else environ
    explicit = env.get("HELIX_MODEL", "").strip()
    if explicit:
        return explicit
    if env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL"):
        return "openai:" + (env.get("HELIX_OPENAI_MODEL") or "gpt-4o-mini")
    return "demo"


def _assistant_prompt(state: Any) -> str:
    notes = state.custom_state.get("notes") if state is not None else None
    base = "You are a helpful assistant. Use the tools when they help."
    return f"{base}\nKnown facts: {notes}" if notes else base


def example_registry(model: Model | str | None = None) -> AgentRegistry:
    """Build the example agents, all on ``model``.

    By default the model is :func:`example_model`'s (the environment is read now, not at
    import); offline, that is a :class:`~helix_agents.models.demo.DemoModel` that streams at a
    reading pace, since someone is watching ``helix dev`` or ``helix run``. The string
    ``"demo"`` gives the same model without the pace (what the Worker's entry uses: there,
    chunks are batched into Durable Object writes anyway, and waiting costs wall time).
    """
    if model is None:
        model = example_model()
        if model == "demo":
            from .models.demo import DEMO_DELAY, DemoModel

            model = DemoModel(delta_delay=DEMO_DELAY)
    assistant = Agent(
        name="assistant",
        description="A general assistant with weather, a calculator and a memory.",
        system_prompt=_assistant_prompt,
        tools=[get_weather, calculate, remember],
        model=model,
    )
    return AgentRegistry(
        [
            assistant,
            Agent(
                name="planner",
                description="Plans a short trip and answers with a structured plan.",
                system_prompt="Plan short trips. Check the weather first.",
                tools=[get_weather],
                model=model,
                output_type=TripPlan,
            ),
            Agent(
                name="ops",
                description="Checks services and deploys them; every deploy needs approval.",
                system_prompt=(
                    "You operate services. Check a service before deploying it. Deploys need "
                    "a human's approval: if one is denied, say so and stop."
                ),
                tools=[check_service, deploy],
                model=model,
            ),
            Agent(
                name="docs",
                description="Answers questions about helix-agents from its docs, with sources.",
                system_prompt=(
                    "You answer questions about helix-agents, the durable agent runtime. "
                    "Search its docs first, answer from the passages found, and cite each "
                    "source you use by its number and title. If the docs do not say, say so."
                ),
                tools=retrieval_toolkit(top_k=3, seed=DOCS_CORPUS),
                model=model,
            ),
            Agent(
                name="manager",
                description="Answers by delegating questions to the assistant agent.",
                system_prompt=(
                    "You manage an assistant. Hand each question to it with ask_assistant, "
                    "then report its answer."
                ),
                tools=[subagent_tool(assistant)],
                model=model,
            ),
        ]
    )
