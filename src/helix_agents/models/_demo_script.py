"""The demo model's script: what to say or call next, decided from the request alone.

The rules are keyed on the tools an agent offers (``calculate``, ``get_weather``,
``remember``, ``check_service`` / ``deploy``, an ``ask_<agent>`` delegation tool, a clock
tool, a structured-output tool, a retrieval ``search`` tool), not on agent names, so they fit the bundled examples and
any agent built from the same tools. A tool is only called with arguments its schema
accepts; anything not understood gets a reply that says what this model is and how to
configure a real one. Everything is a pure function of the request: the same request gets
the same reply, which is what a replayed durable step needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from ..ports.model import ModelRequest, ToolDefinition
from . import _demo_parse as parse
from ._offline import example_arguments

__all__ = ["Reply", "script"]

#: Where a trip goes when the message names no place.
DEFAULT_CITY = "Lisbon"
DEFAULT_DAYS = 3
SETUP_HINT = (
    "For real answers, set OPENAI_API_KEY (or OPENAI_BASE_URL for any OpenAI-compatible "
    "server) and restart; see the README."
)
#: A tool whose name has one of these words (``current_time``, ``get_date``...) is a clock.
_CLOCK_WORDS = frozenset({"time", "date", "clock", "now", "today"})
_ACTIVITIES = (
    "walk the old town of {city} and get your bearings",
    "a museum in the morning, a market in the afternoon",
    "a day trip out of {city}",
    "parks and viewpoints, then dinner somewhere local",
    "a food tour of {city}",
    "a slow day: a café, a bookshop, a long lunch",
    "the best-known sights of {city}, early, before the crowds",
)


@dataclass(frozen=True)
class Reply:
    """One response: text to stream, then tool calls (ids are given by the model)."""

    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)


def script(request: ModelRequest) -> Reply:
    turn = _Turn.of(request)
    if not turn.results:
        return _first_move(turn)
    return _next_move(turn)


# -- what the model sees of the turn ---------------------------------------------------------


#: How much of a message the rules read: they look for short requests, and no message, however
#: long, may make the parsers' regular expressions slow.
MAX_READ = 2000


@dataclass
class _Turn:
    #: The user's message, whole (what a delegation passes on) ...
    message: str
    #: ... and the part the rules read.
    ask: str
    system: str
    tools: dict[str, ToolDefinition]
    output: ToolDefinition | None
    calls: dict[str, ToolCall]
    results: list[ToolResultMessage]
    #: The results that came in since the model last spoke: what the reply is about.
    fresh: list[ToolResultMessage]

    @classmethod
    def of(cls, request: ModelRequest) -> _Turn:
        ask = ""
        calls: dict[str, ToolCall] = {}
        results: list[ToolResultMessage] = []
        fresh = 0
        spoke = False
        for message in reversed(request.messages):
            if isinstance(message, UserMessage):
                ask = message.content
                break
            if isinstance(message, AssistantMessage):
                spoke = True
                calls.update((c.id, c) for c in message.tool_calls)
            elif isinstance(message, ToolResultMessage):
                results.append(message)
                fresh += 0 if spoke else 1
        results.reverse()
        output = next((t for t in request.tools if t.name == request.output_tool), None)
        tools = {t.name: t for t in request.tools if t.name != request.output_tool}
        newest = results[len(results) - fresh :]
        whole = ask.strip()
        return cls(whole, whole[:MAX_READ], request.system, tools, output, calls, results, newest)

    def call(self, name: str, **arguments: Any) -> ToolCall | None:
        """A call of ``name`` if the agent offers it and its schema takes these arguments."""
        tool = self.tools.get(name)
        if tool is None or not _fits(tool.parameters, arguments):
            return None
        return ToolCall(id="", name=name, arguments=arguments)

    def arguments_of(self, result: ToolResultMessage) -> dict[str, Any]:
        call = self.calls.get(result.tool_call_id)
        return dict(call.arguments) if call is not None else {}

    def result_of(self, name: str) -> ToolResultMessage | None:
        return next((r for r in reversed(self.results) if r.tool_name == name), None)

    def delegation(self) -> ToolDefinition | None:
        for tool in self.tools.values():
            if tool.name.startswith("ask_") and _fits(tool.parameters, {"message": "x"}):
                return tool
        return None

    def clock(self) -> ToolDefinition | None:
        for tool in self.tools.values():
            words = set(re.split(r"[^a-z]+", tool.name.lower()))
            if words & _CLOCK_WORDS and not tool.parameters.get("required"):
                return tool
        return None


def _fits(schema: dict[str, Any], arguments: dict[str, Any]) -> bool:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    return required <= set(arguments) and all(name in properties for name in arguments)


# -- the first response of a turn ------------------------------------------------------------


def _first_move(turn: _Turn) -> Reply:
    delegation = turn.delegation()
    if delegation is not None and turn.message:
        agent = delegation.name.removeprefix("ask_")
        call = ToolCall(id="", name=delegation.name, arguments={"message": turn.message})
        return Reply(f"Let me ask the {agent}.", [call])
    leads: list[str] = []
    calls: list[ToolCall] = []

    def plan(call: ToolCall | None, lead: str) -> None:
        if call is not None:
            calls.append(call)
            leads.append(lead)

    expression = parse.arithmetic(turn.ask) if "calculate" in turn.tools else None
    if expression is not None:
        plan(turn.call("calculate", expression=expression), f"Let me work out {expression}.")
    if "get_weather" in turn.tools and (parse.asks_weather(turn.ask) or turn.output):
        place = parse.city(turn.ask) or (DEFAULT_CITY if turn.output else None)
        if place is not None:
            plan(turn.call("get_weather", city=place), f"Let me check the weather in {place}.")
    fact = parse.fact_to_remember(turn.ask) if "remember" in turn.tools else None
    if fact is not None:
        plan(turn.call("remember", key=fact.key, value=fact.value), "I'll make a note of that.")
    action = parse.service_action(turn.ask) if _has_service_tools(turn) else None
    if action is not None:
        check = turn.call("check_service", service=action.service)
        if check is not None:
            first = " first" if action.deploy else ""
            plan(check, f"Let me check {action.service}{first}.")
        elif action.deploy and action.version is not None:
            plan(
                turn.call("deploy", service=action.service, version=action.version),
                f"Deploying {action.service} {action.version} needs your approval.",
            )
    if not calls and "search" in turn.tools and turn.ask and not parse.is_greeting(turn.ask):
        plan(turn.call("search", query=turn.ask[:300]), "Let me look that up.")
    clock = turn.clock() if parse.asks_time(turn.ask) and not calls else None
    if clock is not None:
        plan(ToolCall(id="", name=clock.name, arguments=example_arguments(clock)), "")
    if calls:
        return Reply(" ".join(lead for lead in leads if lead), calls)
    if turn.output is not None:
        return _deliver(turn)
    return Reply(_without_tools(turn))


def _has_service_tools(turn: _Turn) -> bool:
    return "check_service" in turn.tools or "deploy" in turn.tools


# -- after tool results ----------------------------------------------------------------------


def _next_move(turn: _Turn) -> Reply:
    if turn.output is not None:
        failed = any(r.tool_name == turn.output.name and r.status == "error" for r in turn.results)
        return _deliver(turn, fallback=failed)
    deploy = _deploy_after_check(turn)
    if deploy is not None:
        return deploy
    return Reply(_describe_all(turn))


def _deploy_after_check(turn: _Turn) -> Reply | None:
    """A deploy asked for goes ahead once the check says the service is healthy."""
    action = parse.service_action(turn.ask)
    checked = turn.result_of("check_service")
    if action is None or not action.deploy or checked is None or turn.result_of("deploy"):
        return None
    health = checked.content if isinstance(checked.content, dict) else {}
    if checked.status != "success" or health.get("healthy") is False:
        return None
    running = str(health.get("version") or "")
    version = action.version or (parse.next_version(running) if running else None)
    call = turn.call("deploy", service=action.service, version=version) if version else None
    if call is None:
        return None
    now = f"{action.service} is healthy on {running}. " if running else ""
    return Reply(f"{now}Deploying {version} needs your approval.", [call])


def _describe_all(turn: _Turn) -> str:
    return " ".join(_describe(turn, r) for r in turn.fresh if r.tool_name in turn.tools)


def _describe(turn: _Turn, result: ToolResultMessage) -> str:
    args = turn.arguments_of(result)
    content = result.content
    name = result.tool_name
    if name == "calculate":
        expression = args.get("expression", "that")
        if result.status == "success" and isinstance(content, int | float):
            return f"{expression} = {_number(content)}."
        return f"I could not work out {expression}: {_text(content)}."
    if result.status == "denied":
        if name == "deploy":
            service, version = args.get("service", "the service"), args.get("version", "")
            return f"The deploy of {service} {version} was not approved, so I stopped there."
        return f"{name} was not approved, so I stopped there."
    if result.status == "error":
        return f"{name} failed: {_text(content)}."
    if name == "get_weather" and isinstance(content, dict) and "temperature_c" in content:
        place = content.get("city", args.get("city", "there"))
        return f"In {place} it is {content['temperature_c']} °C and {content.get('sky', 'clear')}."
    if name == "remember":
        key, value = str(args.get("key", "note")), args.get("value", "")
        if key == "note":
            return f"Noted: {value}."
        return f"Noted: your {key.replace('_', ' ')} is {value}."
    if name == "check_service" and isinstance(content, dict):
        service = content.get("service", args.get("service", "the service"))
        state = "healthy" if content.get("healthy") else "not healthy"
        return f"{service} is {state} and runs version {content.get('version', 'unknown')}."
    if name == "deploy":
        return f"Done: {_text(content)}."
    if name == "search" and isinstance(content, dict):
        return _cite(content.get("results"))
    if name.startswith("ask_"):
        return f"The {name.removeprefix('ask_')} answered: {_text(content)}"
    clock = turn.clock()
    if clock is not None and name == clock.name:
        return f"It is {_text(content)}."
    return f"{name} returned {_text(content)}."


def _cite(results: Any) -> str:
    """An answer from search results: the best passage's opening, then the sources, each
    with its number (what a language model would paraphrase; this one quotes)."""
    hits = [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
    if not hits:
        return "I found nothing about that in the indexed documents."
    best = str(hits[0].get("text", "")).strip()
    sentences = re.split(r"(?<=[.!?])\s+", best)
    quote = " ".join(sentences[:2])[:400]
    cited: list[str] = []
    for hit in hits:
        label = f"{hit.get('title') or hit.get('source')} ({hit.get('source')})"
        if label not in cited:
            cited.append(label)
    sources = "; ".join(f"[{i}] {label}" for i, label in enumerate(cited, 1))
    return f"From the docs [1]: {quote} Sources: {sources}."


# -- text replies ----------------------------------------------------------------------------


def _without_tools(turn: _Turn) -> str:
    ask = turn.ask
    key = parse.fact_asked(ask)
    if key is not None and ("remember" in turn.tools or "Known facts:" in turn.system):
        facts = parse.known_facts(turn.system)
        label = key.replace("_", " ")
        if key in facts:
            return f"Your {label} is {facts[key]}."
        return f'I don\'t know your {label} yet: tell me with "remember that my {label} is …".'
    if "get_weather" in turn.tools and parse.asks_weather(ask):
        return 'Which city? Ask me, say, "what is the weather in Paris?"'
    if _has_service_tools(turn) and re.search(r"\bdeploy\b", ask, re.I):
        return 'Which service, and which version? Say, "deploy billing 1.5.0".'
    opening = "Hello! " if parse.is_greeting(ask) or not ask else "Sorry, I can't answer that. "
    about = (
        "I'm the offline demo model of helix-agents: a few fixed rules rather than a "
        "language model, so I only understand what this agent's tools are for."
    )
    tries = _suggestions(turn)
    offer = f" Try {_or_list(tries)}." if tries else ""
    return f"{opening}{about}{offer} {SETUP_HINT}"


def _suggestions(turn: _Turn) -> list[str]:
    tries = []
    if "calculate" in turn.tools:
        tries.append('"what is 12*7?"')
    if "get_weather" in turn.tools:
        tries.append('"what is the weather in Paris?"')
    if "remember" in turn.tools:
        tries.append('"remember that my name is Ada"')
    if "check_service" in turn.tools:
        tries.append('"check billing"')
    if "deploy" in turn.tools:
        tries.append('"deploy billing 1.5.0"')
    if turn.clock() is not None:
        tries.append('"what time is it?"')
    if "search" in turn.tools:
        tries.append('"how do I deploy to Cloudflare?"')
    return tries


def _or_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# -- structured output -----------------------------------------------------------------------


def _deliver(turn: _Turn, *, fallback: bool = False) -> Reply:
    """End through the output tool: a plan from the message and the weather looked up, or
    (after the output was refused) the schema's own example, which is valid by design."""
    assert turn.output is not None
    arguments = example_arguments(turn.output)
    if fallback:
        return Reply(
            "Here is the result.", [ToolCall(id="", name=turn.output.name, arguments=arguments)]
        )
    weather = turn.result_of("get_weather")
    forecast = weather.content if weather is not None and isinstance(weather.content, dict) else {}
    place = str(forecast.get("city") or parse.city(turn.ask) or DEFAULT_CITY)
    properties = turn.output.parameters.get("properties") or {}
    count = _clamp(parse.days(turn.ask) or DEFAULT_DAYS, properties.get("days"))
    activities = [a.format(city=place) for a in _ACTIVITIES]
    activities = [activities[i % len(activities)] for i in range(count)]
    if str(forecast.get("sky", "")).lower() in {"rain", "rainy", "storm", "snow"}:
        activities[0] = f"{forecast['sky']} is forecast: museums and covered markets first"
    _overlay(properties, arguments, {"city": place, "days": count, "activities": activities})
    sky = (
        f" It is {forecast['temperature_c']} °C and {forecast.get('sky', 'clear')} there."
        if ("temperature_c" in forecast)
        else ""
    )
    text = f"Here is a {count}-day plan for {place}.{sky}"
    return Reply(text, [ToolCall(id="", name=turn.output.name, arguments=arguments)])


def _clamp(value: int, schema: Any) -> int:
    if isinstance(schema, dict):
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, int | float):
            value = max(value, int(low))
        if isinstance(high, int | float):
            value = min(value, int(high))
    return value


def _overlay(properties: dict[str, Any], arguments: dict[str, Any], values: dict[str, Any]) -> None:
    """Put ``values`` into ``arguments`` where the schema plainly takes them; anything with
    a shape or constraint not checked here keeps the schema's example value."""
    for name, value in values.items():
        schema = properties.get(name)
        if isinstance(schema, dict) and _takes(schema, value):
            arguments[name] = value


def _takes(schema: dict[str, Any], value: Any) -> bool:
    kind = schema.get("type")
    if kind == "integer":
        return isinstance(value, int)
    if kind == "string":
        return isinstance(value, str) and _plain_string(schema, value)
    if kind == "array" and isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, dict) or items.get("type") != "string":
            return False
        if not all(isinstance(v, str) and _plain_string(items, v) for v in value):
            return False
        return bool(schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)))
    return False


def _plain_string(schema: dict[str, Any], value: str) -> bool:
    if any(k in schema for k in ("pattern", "format", "enum", "const")):
        return False
    return bool(schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)))


# -- formatting ------------------------------------------------------------------------------


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False, separators=(", ", ": "), default=str)
