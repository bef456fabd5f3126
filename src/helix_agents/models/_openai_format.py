"""The OpenAI chat-completions wire format: our messages out, chunks and completions in.

Shared by the HTTP adapter and the Workers AI adapter (whose newer models speak the same
dialect). Everything here is pure: dicts in, dicts or events out, ModelProtocolError for a
shape that is not the protocol.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ModelProtocolError
from ..file_parts import data_url, file_note
from ..messages import AssistantMessage, Message, ToolResultMessage, UserMessage
from ..ports.model import ModelEvent, ModelRequest, ToolDefinition
from ..usage import Usage
from ._assemble import ResponseAssembler

__all__ = [
    "ErrorFrame",
    "apply_chunk",
    "apply_completion",
    "apply_tool_calls",
    "parse_usage",
    "to_openai_messages",
    "to_openai_tools",
    "tool_choice",
    "tool_result_text",
    "user_content",
]


class ErrorFrame(Exception):
    """An ``{"error": ...}`` object inside an event stream: the provider failed mid-response.
    Internal: the adapter decides whether that is retried or becomes a ModelError."""

    def __init__(self, message: str, body: Any) -> None:
        super().__init__(message)
        self.body = body


# -- requests ------------------------------------------------------------------------------


#: ``json.dumps`` with these options, built once (it would build an encoder per call).
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def _compact(value: Any) -> str:
    return _COMPACT.encode(value)


def tool_result_text(message: ToolResultMessage) -> str:
    """A tool result as the text the model reads. The status is spelled out because the wire
    format has no field for it, and a model must know that a result is an error."""
    content = message.content
    text = content if isinstance(content, str) else ("" if content is None else _compact(content))
    if message.status == "error":
        return f"Error: {text}" if text else "Error: the tool failed."
    if message.status == "denied":
        reason = f" {text}" if text else ""
        return f"The user denied this tool call.{reason}"
    return text


def to_openai_messages(
    system: str,
    messages: Sequence[Message],
    *,
    null_content: bool = True,
    tool_names: bool = False,
    files: Mapping[str, bytes] | None = None,
) -> list[dict[str, Any]]:
    """Our history as chat-completions messages. ``null_content=False`` sends ``""`` where
    OpenAI allows ``null`` (the Workers AI binding's schema refuses null); ``tool_names``
    adds the tool's ``name`` to tool results (Workers AI's models use it; OpenAI's schema has
    no such field). ``files`` are the bytes of attached files by key (``FilePart.key``): a
    user message with files is sent as content parts (:func:`user_content`)."""
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    #: Our call ids to the provider's (they differ when the provider reused an id).
    wire_ids: dict[str, str] = {}
    for message in messages:
        if isinstance(message, UserMessage):
            content = user_content(message, files or {}) if message.files else message.content
            out.append({"role": "user", "content": content})
        elif isinstance(message, AssistantMessage):
            item: dict[str, Any] = {"role": "assistant"}
            if message.tool_calls:
                wire_ids.update((call.id, call.wire_id) for call in message.tool_calls)
                item["content"] = message.content or (None if null_content else "")
                item["tool_calls"] = [
                    {
                        "id": call.wire_id,
                        "type": "function",
                        "function": {
                            "name": call.name,
                            "arguments": call.raw_arguments
                            if call.raw_arguments is not None and not call.arguments
                            else _compact(call.arguments),
                        },
                    }
                    for call in message.tool_calls
                ]
            else:
                item["content"] = message.content
            out.append(item)
        elif isinstance(message, ToolResultMessage):
            result: dict[str, Any] = {
                "role": "tool",
                "tool_call_id": wire_ids.get(message.tool_call_id, message.tool_call_id),
                "content": tool_result_text(message),
            }
            if tool_names:
                result["name"] = message.tool_name
            out.append(result)
    return out


def user_content(message: UserMessage, files: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """A user message with files as chat-completions content parts: its text, then each
    image as an ``image_url`` part (a data URL), each PDF as a ``file`` part, and each text
    file as text; a file whose bytes are missing becomes a note saying so."""
    parts: list[dict[str, Any]] = []
    if message.content:
        parts.append({"type": "text", "text": message.content})
    for ref in message.files or ():
        data = files.get(ref.key)
        if data is None:
            parts.append({"type": "text", "text": file_note(ref, "no longer stored")})
        elif ref.media_type.startswith("image/"):
            url = data_url(ref.media_type, data)
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif ref.media_type == "application/pdf":
            document = {
                "filename": ref.filename or "file.pdf",
                "file_data": data_url(ref.media_type, data),
            }
            parts.append({"type": "file", "file": document})
        else:
            name = f" {ref.filename}" if ref.filename else ""
            text = data.decode("utf-8", "replace")
            parts.append({"type": "text", "text": f"[file{name} ({ref.media_type})]\n{text}"})
    return parts


def to_openai_tools(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters or {"type": "object", "properties": {}},
            },
        }
        for tool in tools
    ]


def tool_choice(request: ModelRequest) -> Any:
    """``tool_choice`` for a request, or None to leave the server's default (``auto``).

    With structured output the model must end by calling the output tool. When that is the
    only tool, it is forced by name; when other tools are offered, forcing it by name would
    forbid them for the whole run, so ``required`` makes the model call some tool instead of
    answering in text, and it finishes when it calls the output tool.
    """
    if request.output_tool is None:
        return None
    others = [t for t in request.tools if t.name != request.output_tool]
    if others:
        return "required"
    return {"type": "function", "function": {"name": request.output_tool}}


# -- responses -----------------------------------------------------------------------------


def _int(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelProtocolError(f"usage.{what} is not a number: {value!r}")
    return int(value)


def parse_usage(value: Any) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ModelProtocolError(f"usage is not an object: {value!r}")
    prompt = _int(value.get("prompt_tokens"), "prompt_tokens")
    completion = _int(value.get("completion_tokens"), "completion_tokens")
    total = _int(value.get("total_tokens"), "total_tokens") or prompt + completion
    return Usage(input_tokens=prompt, output_tokens=completion, total_tokens=total, requests=1)


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ModelProtocolError(f"{what} is not a string: {value!r}")
    return value


def _error_frame(chunk: dict[str, Any]) -> ErrorFrame:
    error = chunk.get("error")
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("type") or error)
    else:
        message = str(error)
    return ErrorFrame(message, chunk)


def _first_choice(body: dict[str, Any], what: str) -> dict[str, Any] | None:
    choices = body.get("choices")
    if choices is None:
        return None
    if not isinstance(choices, list):
        raise ModelProtocolError(f"{what}: 'choices' is not a list")
    for choice in choices:
        if not isinstance(choice, dict):
            raise ModelProtocolError(f"{what}: a choice is not an object")
        # We ask for one completion (n=1); a server may still label it with an index.
        if choice.get("index", 0) == 0:
            return choice
    return None


def apply_tool_calls(calls: Any, assembler: ResponseAssembler, what: str) -> list[ModelEvent]:
    if calls is None:
        return []
    if not isinstance(calls, list):
        raise ModelProtocolError(f"{what}: 'tool_calls' is not a list")
    events: list[ModelEvent] = []
    for call in calls:
        if not isinstance(call, dict):
            raise ModelProtocolError(f"{what}: a tool call is not an object")
        function = call.get("function")
        if function is None:
            # The flat shape some servers use: {"name", "arguments"} at the top.
            function = {"name": call.get("name"), "arguments": call.get("arguments")}
        if not isinstance(function, dict):
            raise ModelProtocolError(f"{what}: a tool call's 'function' is not an object")
        index = call.get("index")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise ModelProtocolError(f"{what}: a tool call's index is not an integer")
        call_id = call.get("id")
        name = function.get("name")
        arguments = function.get("arguments")
        if call_id is not None and not isinstance(call_id, str):
            raise ModelProtocolError(f"{what}: a tool call's id is not a string")
        if name is not None and not isinstance(name, str):
            raise ModelProtocolError(f"{what}: a tool call's name is not a string")
        if not call_id and not name and not arguments:
            # A null "finalisation" fragment (Workers AI sends these): nothing to add.
            continue
        event = assembler.add_tool_call(
            index=index, id=call_id or None, name=name, arguments=arguments
        )
        if event is not None:
            events.append(event)
    return events


def apply_chunk(chunk: Any, assembler: ResponseAssembler) -> list[ModelEvent]:
    """One ``chat.completion.chunk``: feed it to the assembler, return the events to yield."""
    if not isinstance(chunk, dict):
        raise ModelProtocolError(f"a stream chunk is not a JSON object: {chunk!r:.200}")
    choice = _open(chunk, assembler, "stream chunk")
    if choice is None:
        return []
    delta = choice.get("delta")
    events = [] if delta is None else _apply_part(delta, "delta", "stream chunk", assembler)
    _apply_finish(choice, assembler)
    return events


def apply_completion(body: Any, assembler: ResponseAssembler) -> list[ModelEvent]:
    """A whole ``chat.completion`` (a server that ignored ``stream``), as events."""
    if not isinstance(body, dict):
        raise ModelProtocolError("the completion is not a JSON object")
    choice = _open(body, assembler, "completion")
    if choice is None:
        raise ModelProtocolError("the completion has no choices")
    events = _apply_part(choice.get("message"), "message", "completion", assembler)
    _apply_finish(choice, assembler)
    return events


def _open(body: dict[str, Any], assembler: ResponseAssembler, where: str) -> dict[str, Any] | None:
    """What a chunk and a completion both carry at the top (an error, the model, usage);
    returns the first choice (None when there is none)."""
    if body.get("error") is not None:
        raise _error_frame(body)
    if isinstance(body.get("model"), str):
        assembler.model_name = body["model"]
    usage = parse_usage(body.get("usage"))
    if usage is not None:
        assembler.set_usage(usage)
    return _first_choice(body, where)


def _apply_part(part: Any, name: str, where: str, assembler: ResponseAssembler) -> list[ModelEvent]:
    """A stream chunk's ``delta`` or a completion's ``message``: reasoning, text and tool
    calls, as events."""
    if not isinstance(part, dict):
        raise ModelProtocolError(f"{where}: {name!r} is not an object")
    events: list[ModelEvent] = []
    # Reasoning models put their thinking in one of two non-standard fields.
    for key in ("reasoning_content", "reasoning"):
        event = assembler.add_reasoning(_text(part.get(key), f"{name}.{key}"))
        if event is not None:
            events.append(event)
    text_event = assembler.add_text(_text(part.get("content"), f"{name}.content"))
    if text_event is not None:
        events.append(text_event)
    events.extend(apply_tool_calls(part.get("tool_calls"), assembler, where))
    return events


def _apply_finish(choice: dict[str, Any], assembler: ResponseAssembler) -> None:
    finish = choice.get("finish_reason")
    if finish is not None:
        assembler.finish_reason = _text(finish, "finish_reason")
