"""Tools: typed Python functions the model can call.

``@tool`` turns a sync or async function into a :class:`Tool`. The JSON schema of its
arguments comes from the signature (via pydantic) and its docstring (the summary becomes the
description, Google/NumPy/Sphinx-style parameter docs become the properties' descriptions).
Arguments are validated before the function runs; a validation error goes back to the model
as a tool error so it can correct itself.

A tool may take a :class:`ToolContext` as any parameter (detected by annotation): it is
injected by the runtime and is not part of the schema.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_origin, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo
from typing_extensions import TypeVar

from .errors import ConfigurationError, ToolArgumentsError

if TYPE_CHECKING:
    from .ports.step import StepConfig
    from .services import Services

__all__ = ["ApprovalPredicate", "Tool", "ToolArgumentsError", "ToolContext", "tool"]


#: The type of an agent's dependencies (``Agent(deps_type=...)``), as ``ToolContext[Deps]``.
DepsT = TypeVar("DepsT", default=Any, covariant=True)
#: The session state as tools see it: ``ToolContext[Deps, MyState]`` for an agent with
#: ``state_type=MyState``; a plain dict otherwise.
StateT = TypeVar("StateT", default=dict[str, Any], covariant=True)


class ToolContext(Protocol[DepsT, StateT]):
    """What a tool can see and do while it runs. The runtime supplies it.

    ``ToolContext[MyDeps]`` types ``ctx.deps`` (a bare ``ToolContext`` is
    ``ToolContext[Any]``); ``ToolContext[MyDeps, MyState]`` types ``ctx.state`` too."""

    @property
    def session_id(self) -> str: ...

    @property
    def run_id(self) -> str: ...

    @property
    def agent_name(self) -> str: ...

    @property
    def tool_call_id(self) -> str: ...

    @property
    def state(self) -> StateT:
        """The session's state: an instance of the agent's ``state_type`` when it has one,
        else the custom-state dict. Changes made here are persisted with the tool's step
        (replayed from the journal after a restart, never recomputed), in-place changes to
        nested values included (``state["items"].append(x)``, ``state.items.append(x)``):
        every top-level key whose JSON changed is written, and streamed as a JSON Patch
        (``data-state-patch``). Each call gets its own copy until its step's write."""
        ...

    def update_state(self, values: Mapping[str, Any]) -> None:
        """Set several keys of the custom state at once."""
        ...

    @property
    def deps(self) -> DepsT:
        """The agent's dependencies, built by its ``deps_factory`` on this host (once per
        host or isolate; rebuilt, never serialized, across durable steps). None when the
        agent declares none."""
        ...

    @property
    def services(self) -> Services:
        """The host's services (key-value, objects, vectors, queues, embeddings):
        :class:`helix_agents.services.Services`."""
        ...

    @property
    def env(self) -> Any:
        """The Worker's raw ``env`` on Cloudflare; on the local host it raises
        :class:`~helix_agents.errors.ServiceNotConfiguredError` naming the port to use."""
        ...

    async def emit(self, name: str, data: Any, *, transient: bool = False) -> None:
        """Send custom data to the stream (a ``data-<name>`` part in the UI)."""
        ...

    async def emit_source(
        self,
        source_id: str,
        *,
        url: str | None = None,
        title: str | None = None,
        media_type: str | None = None,
        filename: str | None = None,
    ) -> None:
        """Cite a source: the UI gets an AI SDK ``source-url`` part (with ``url``) or a
        ``source-document`` part (without), and the call's stored result keeps it, so a
        reload shows it too. A source id is shown once per call."""
        ...

    def record_usage(self, kind: str, amount: float = 1) -> None:
        """Record custom usage (``searches``, ``credits`` ...), rolled up per run and session."""
        ...

    async def is_interrupted(self) -> bool:
        """True when an interrupt or abort was requested: a long tool may stop early."""
        ...


#: ``requires_approval`` may decide per call from the arguments and the context.
ApprovalPredicate = Callable[[dict[str, Any], ToolContext], bool | Awaitable[bool]]


def describe_validation_error(exc: ValidationError, root: str) -> str:
    """``"city: Field required; days: ..."``: pydantic's errors in words a model can act on
    (``root`` names the whole value when an error has no location)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or root}: {err['msg']}"
        for err in exc.errors(include_url=False)
    )


_ARGS_CONFIG = ConfigDict(extra="forbid", arbitrary_types_allowed=False)


@dataclass(eq=False)
class Tool:
    """A tool the model can call. Build one with :func:`tool`."""

    name: str
    description: str
    function: Callable[..., Any] | None
    args_model: type[BaseModel]
    #: The parameter that receives the ToolContext, if any.
    context_param: str | None = None
    execute: Literal["server", "client"] = "server"
    requires_approval: bool | ApprovalPredicate = False
    #: For client tools: the JSON schema the client's result must satisfy, if declared.
    output_schema: dict[str, Any] | None = None
    #: Durable step config for this tool's step (retries, timeout).
    step_config: StepConfig | None = None
    #: How long a pending approval or client result may wait (seconds) before it expires.
    expires_in: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The pydantic model a client tool's result must satisfy, when one was given.
    output_model: type[BaseModel] | None = None

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments."""
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        return schema

    @property
    def is_async(self) -> bool:
        return self.function is not None and inspect.iscoroutinefunction(self.function)

    def validate_arguments(self, arguments: Mapping[str, Any]) -> BaseModel:
        """Validate the model's arguments, or raise ToolArgumentsError with a message
        the model can act on."""
        try:
            return self.args_model.model_validate(dict(arguments))
        except ValidationError as exc:
            problems = describe_validation_error(exc, "(arguments)")
            raise ToolArgumentsError(
                f"Invalid arguments for tool {self.name!r}: {problems}. "
                "Fix the arguments and call the tool again."
            ) from None

    async def call(self, arguments: Mapping[str, Any], ctx: ToolContext | None) -> Any:
        """Validate and run the tool. Raises ToolArgumentsError for bad arguments."""
        if self.function is None:
            raise ConfigurationError(f"tool {self.name!r} executes in the client")
        validated = self.validate_arguments(arguments)
        kwargs = {name: getattr(validated, name) for name in type(validated).model_fields}
        if self.context_param is not None:
            kwargs[self.context_param] = ctx
        result = self.function(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def validate_result(self, value: Any) -> Any:
        """A client's result for this tool, checked against the declared output schema
        (the JSON value to store). Raises ValueError with the problems."""
        if self.output_model is not None:
            try:
                return self.output_model.model_validate(value).model_dump(mode="json")
            except ValidationError as exc:
                problems = describe_validation_error(exc, "(result)")
                raise ValueError(f"invalid result for tool {self.name!r}: {problems}") from None
        if self.output_schema is not None:
            from ._schema_check import schema_errors

            problems_found = schema_errors(value, self.output_schema)
            if problems_found:
                raise ValueError(
                    f"invalid result for tool {self.name!r}: {'; '.join(problems_found)}"
                )
        return value

    async def needs_approval(self, arguments: dict[str, Any], ctx: ToolContext) -> bool:
        decide = self.requires_approval
        if isinstance(decide, bool):
            return decide
        verdict = decide(arguments, ctx)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool | ApprovalPredicate = False,
    execute: Literal["server", "client"] = "server",
    retries: int | None = None,
    timeout: float | str | None = None,
    expires_in: float | None = None,
    output_schema: dict[str, Any] | type[BaseModel] | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool | ApprovalPredicate = False,
    execute: Literal["server", "client"] = "server",
    retries: int | None = None,
    timeout: float | str | None = None,
    expires_in: float | None = None,
    output_schema: dict[str, Any] | type[BaseModel] | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a tool from a function: ``@tool`` or ``@tool(requires_approval=True)``.

    ``execute="client"`` declares a tool that the client runs: the function's body is not
    called (it documents the arguments), the run suspends until the client submits a result,
    which must satisfy ``output_schema`` (a JSON schema or a pydantic model) when given.
    ``requires_approval`` (a bool, or a function of the arguments and the context deciding
    per call) makes the run suspend until a human approves or denies the call.
    ``expires_in`` (seconds) bounds how long such a call may wait (default: the agent's
    ``pending_expires_in``). ``retries`` and ``timeout`` configure the tool's durable step.
    """

    def build(fn: Callable[..., Any]) -> Tool:
        return _build_tool(
            fn,
            name=name,
            description=description,
            requires_approval=requires_approval,
            execute=execute,
            retries=retries,
            timeout=timeout,
            expires_in=expires_in,
            output_schema=output_schema,
        )

    if function is not None:
        return build(function)
    return build


def _build_tool(
    fn: Callable[..., Any],
    *,
    name: str | None,
    description: str | None,
    requires_approval: bool | ApprovalPredicate,
    execute: Literal["server", "client"],
    retries: int | None,
    timeout: float | str | None,
    expires_in: float | None,
    output_schema: dict[str, Any] | type[BaseModel] | None,
) -> Tool:
    tool_name = name or fn.__name__
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool_name):
        raise ConfigurationError(
            f"tool name {tool_name!r} must be 1-64 characters of letters, digits, _ or -"
        )
    summary, param_docs = _parse_docstring(inspect.getdoc(fn) or "")
    signature = inspect.signature(fn)
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as exc:  # unresolved forward references in user code
        raise ConfigurationError(
            f"cannot read the type hints of tool {tool_name!r}: {exc}"
        ) from exc

    fields: dict[str, Any] = {}
    context_param: str | None = None
    for param in signature.parameters.values():
        annotation = hints.get(param.name, Any)
        if _is_context_annotation(annotation):
            context_param = param.name
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigurationError(f"tool {tool_name!r}: *args and **kwargs are not supported")
        if param.kind is param.POSITIONAL_ONLY:
            raise ConfigurationError(
                f"tool {tool_name!r}: positional-only parameters are not supported"
            )
        default = param.default
        if isinstance(default, FieldInfo):
            info = default
            if info.description is None and param.name in param_docs:
                info.description = param_docs[param.name]
            fields[param.name] = (annotation, info)
        else:
            fields[param.name] = (
                annotation,
                FieldInfo(
                    default=... if default is param.empty else default,
                    description=param_docs.get(param.name),
                ),
            )
    args_model = create_model(f"{tool_name}_arguments", __config__=_ARGS_CONFIG, **fields)

    schema: dict[str, Any] | None
    output_model: type[BaseModel] | None = None
    if isinstance(output_schema, type) and issubclass(output_schema, BaseModel):
        output_model = output_schema
        schema = output_schema.model_json_schema()
    else:
        schema = output_schema
    if expires_in is not None and not expires_in > 0:
        raise ConfigurationError(f"tool {tool_name!r}: expires_in must be > 0 seconds")

    step_config: StepConfig = {}
    if retries is not None:
        step_config["retries"] = {"limit": retries, "delay": 1000, "backoff": "exponential"}
    if timeout is not None:
        step_config["timeout"] = timeout
    return Tool(
        name=tool_name,
        description=description or summary or tool_name,
        function=fn if execute == "server" else None,
        args_model=args_model,
        context_param=context_param,
        execute=execute,
        requires_approval=requires_approval,
        output_schema=schema,
        step_config=step_config or None,
        expires_in=expires_in,
        output_model=output_model,
    )


def _is_context_annotation(annotation: Any) -> bool:
    if annotation is ToolContext or get_origin(annotation) is ToolContext:
        return True
    name = getattr(annotation, "__name__", None) or str(annotation)
    return name.endswith("ToolContext")


_SECTION_RE = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:?\s*$", re.IGNORECASE)
_END_SECTION_RE = re.compile(
    r"^(Returns|Return|Raises|Yields|Examples?|Notes?|See Also)\s*:?\s*$", re.IGNORECASE
)
_GOOGLE_PARAM_RE = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM_RE = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (text before any section) and per-parameter descriptions."""
    lines = doc.splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    in_params = False
    current: str | None = None
    seen_section = False
    for raw in lines:
        line = raw.strip()
        sphinx = _SPHINX_PARAM_RE.match(line)
        if sphinx:
            seen_section = True
            current = sphinx.group(1)
            params[current] = sphinx.group(2).strip()
            continue
        if _SECTION_RE.match(line):
            in_params = seen_section = True
            current = None
            continue
        if _END_SECTION_RE.match(line) or line.startswith(":return") or line.startswith(":raises"):
            in_params = False
            seen_section = True
            current = None
            continue
        if in_params:
            if set(line) <= {"-"}:  # NumPy underline
                continue
            match = _GOOGLE_PARAM_RE.match(line)
            indented = raw.startswith((" ", "\t")) and current is not None
            if match and not (indented and raw[: len(raw) - len(raw.lstrip())].count(" ") > 4):
                current = match.group(1).lstrip("*")
                params[current] = match.group(3).strip()
            elif current is not None and line:
                params[current] = (params[current] + " " + line).strip()
            continue
        if not seen_section:
            summary.append(line)
    text = " ".join(part for part in summary if part).strip()
    return text, {k: v for k, v in params.items() if v}
