"""Request bodies: reading JSON within a size limit, and the shapes each route accepts.

Parsing is strict and explicit: malformed JSON is a 400, JSON of the wrong shape (a missing
field, a number where text belongs) a 422 naming the field, a body over the limit a 413. No
value is coerced: ``"message": 5`` is refused, not read as ``"5"``.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect, Request

from .._json import loads_bounded
from .errors import BadRequestError, PayloadTooLargeError, UnprocessableError

__all__ = [
    "DEFAULT_MAX_BODY",
    "HelixChatBody",
    "ReasonBody",
    "SubmitToolResultBody",
    "UIMessageIn",
    "UseChatBody",
    "parse_body",
    "read_json",
]

#: Default limit on a request body: 1 MiB.
DEFAULT_MAX_BODY: Final = 1024 * 1024
#: Longest id we accept for a client's own message ids.
_MAX_ID: Final = 256

M = TypeVar("M", bound=BaseModel)


async def read_json(request: Request, limit: int, *, optional: bool = False) -> Any:
    """The request's JSON body, refused with 413 once it passes ``limit`` bytes.

    The declared ``Content-Length`` is checked first, and the body is counted as it arrives,
    so an oversized upload is cut off without being buffered. With ``optional``, an empty
    body reads as ``{}``.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        digits = declared.strip()
        if not (digits.isascii() and digits.isdigit()):
            raise BadRequestError(f"Content-Length {declared[:40]!r} is not a number")
        # By length first: Python refuses to read an int of more than 4,300 digits.
        if len(digits.lstrip("0")) > 18 or int(digits) > limit:
            raise _too_large(limit)
    body = bytearray()
    try:
        async for piece in request.stream():
            body += piece
            if len(body) > limit:
                raise _too_large(limit)
    except ClientDisconnect:
        raise BadRequestError("the client went away while sending the body") from None
    if not body.strip():
        if optional:
            return {}
        raise BadRequestError("the request needs a JSON body", code="malformed_json")
    try:
        # Bounded: JSON nested deep enough to exhaust a Worker's stack kills its isolate
        # (helix_agents._json).
        return loads_bounded(bytes(body), parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        # UnicodeDecodeError and JSONDecodeError are ValueErrors, and so is JSON nested past
        # the limit; RecursionError is JSON nested too deep for the parser; all are the
        # client's malformed JSON.
        raise BadRequestError(
            f"the body is not valid JSON: {_short(str(exc))}", code="malformed_json"
        ) from None


def parse_body(model: type[M], data: Any) -> M:
    """Validate parsed JSON against ``model`` strictly; a 422 naming every bad field."""
    if not isinstance(data, dict):
        raise UnprocessableError(f"the body must be a JSON object, not {_json_type(data)}")
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False)[:5]:
            where = ".".join(str(p) for p in error["loc"]) or "body"
            problems.append(f"{where}: {error['msg']}")
        raise UnprocessableError("invalid body: " + "; ".join(problems)) from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the request body is larger than the limit of {limit} bytes")


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else type(value).__name__


# -- shapes ------------------------------------------------------------------------------
# The docstrings and field descriptions below are the descriptions of /openapi.json, whose
# request schemas are generated from these models (openapi.py): they speak to API clients.


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class UIMessagePart(BaseModel):
    """One part of a UI message. `text` parts are read, and a user message's `file` parts
    (`mediaType`, a base64 data `url`, `filename`); the others ride along."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    type: str
    text: Any = None


class UIMessageIn(BaseModel):
    """A message as `useChat` sends it (the AI SDK's `UIMessage`)."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    id: str = Field(default="", max_length=_MAX_ID)
    role: Literal["system", "user", "assistant"]
    parts: list[UIMessagePart] = Field(default_factory=list)

    def text(self) -> str:
        return "\n".join(
            p.text for p in self.parts if p.type == "text" and isinstance(p.text, str) and p.text
        )


class UseChatBody(BaseModel):
    """The AI SDK `useChat` body. The server's stored history is the truth: only the text
    and file parts of the last user message are read, as the new input; files are kept in
    the host's object storage (at most 10, 10 MiB each: images, PDFs, text). A last
    assistant message carries answers to pending tool calls instead. `regenerate-message`
    runs the last stored user message again as a new turn. Extra keys are allowed
    (`useChat`'s `body` option merges the app's own fields into the request); `agentType`
    is read from them.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    id: str | None = Field(default=None, description="The chat id, used as the session id.")
    messages: list[UIMessageIn]
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    message_id: str | None = Field(default=None, alias="messageId")
    agent_type: str | None = Field(default=None, alias="agentType")


class ContextMessageIn(_Body):
    """A message sent with the turn's message, before it."""

    content: str = Field(max_length=1_000_000)
    metadata: dict[str, Any] | None = Field(
        default=None,
        description='Kept with the message; `{"hidden": true}` sends it to the model but '
        "leaves it out of the snapshot.",
    )


class HelixChatBody(_Body):
    """The Helix body: a message for an agent, in a new session or a named one."""

    agent_type: str | None = Field(default=None, alias="agentType")
    message: str
    metadata: dict[str, Any] | None = Field(
        default=None, description="Kept with the message (and shown with it)."
    )
    context: list[ContextMessageIn] = Field(
        default_factory=list,
        max_length=100,
        description="Messages that start the turn with `message`, stored before it (context "
        "for the model; hidden ones are not shown).",
    )
    session_id: str | None = Field(default=None, alias="sessionId")
    message_id: str | None = Field(default=None, alias="messageId", max_length=_MAX_ID)
    supersede: bool = Field(
        default=False, description="Replace an active run instead of being refused (409)."
    )


class ReasonBody(_Body):
    """Optional; an empty body is fine."""

    reason: str | None = Field(default=None, max_length=1000)


class SubmitToolResultBody(_Body):
    """A client tool's result (`toolCallId` with `output` or `errorText`), or an approval
    decision (`approved`, with `toolCallId` or the request's `approvalId`, and an optional
    `reason`)."""

    tool_call_id: str | None = Field(default=None, alias="toolCallId", max_length=_MAX_ID)
    output: Any = None
    error_text: str | None = Field(default=None, alias="errorText")
    approval_id: str | None = Field(default=None, alias="approvalId", max_length=_MAX_ID)
    approved: bool | None = None
    reason: str | None = Field(default=None, max_length=1000)
    arguments: dict[str, Any] | None = Field(
        default=None,
        description="With `approved: true`: the arguments to run the call with instead of "
        "the model's (checked against the tool's schema: 422 when they do not fit).",
    )

    def kind(self) -> Literal["result", "approval"]:
        """Which submission this is; a 422 for a body that is neither or both."""
        if self.approved is not None:
            if self.tool_call_id is None and self.approval_id is None:
                raise UnprocessableError("an approval decision needs 'toolCallId' or 'approvalId'")
            if self.error_text is not None or "output" in self.model_fields_set:
                raise UnprocessableError(
                    "send either a tool result (toolCallId with output or errorText) or an "
                    "approval decision (approved, with toolCallId or approvalId), not both"
                )
            return "approval"
        if self.tool_call_id is None:
            raise UnprocessableError(
                "the body needs 'toolCallId' with 'output' or 'errorText' (a client tool's "
                "result), or 'approved' with 'toolCallId' or 'approvalId' (a decision)"
            )
        if self.approval_id is not None or self.reason is not None:
            raise UnprocessableError(
                "'approvalId' and 'reason' belong to a decision: send 'approved'"
            )
        if self.error_text is not None and "output" in self.model_fields_set:
            raise UnprocessableError("send 'output' or 'errorText', not both")
        if self.error_text is None and "output" not in self.model_fields_set:
            raise UnprocessableError("a tool result needs 'output' or 'errorText'")
        return "result"
