"""The API's OpenAPI 3.1 document: operations written here, schemas generated.

The paths and operations (what each route does, its statuses and why) are written by hand.
Every schema they refer to is generated from the definition the server itself uses: request
bodies from ``bodies.py``, JSON responses from ``schemas.py``, the stream's UI chunks from
``streaming/ui_schema.py``. So the document cannot drift from what the server accepts and
sends.

Built per app (``openapi_document``): whether requests need a bearer token and whether the
chat page is served are part of what the server does. Tests check the document against the
app's routes, every status the end-to-end tests and the fuzz test observe, and real
responses against their documented schemas.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final, Literal

__all__ = ["openapi_document"]

_REF_TEMPLATE: Final = "#/components/schemas/{model}"

_ID_PATTERN: Final = "^[a-zA-Z0-9_][a-zA-Z0-9_-]*$"

_JSON = "application/json"
_SSE = "text/event-stream"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF_TEMPLATE.format(model=name)}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref("Error")}}}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


_STREAM_HEADERS: Final = {
    "x-vercel-ai-ui-message-stream": {"schema": {"const": "v1"}},
    "x-accel-buffering": {"schema": {"const": "no"}},
    "cache-control": {"schema": {"const": "no-cache"}},
    "x-helix-session-id": {
        "description": "The session the stream belongs to (new sessions get one here).",
        "schema": {"type": "string"},
    },
    "x-helix-run-id": {
        "description": "The run instance streamed (the last one, when the stream spans "
        "several instances of a turn); event ids are positions in the turn.",
        "schema": {"type": "string"},
    },
}

_STREAM_DESCRIPTION: Final = (
    "The AI SDK UI message stream (Server-Sent Events): one event per UI chunk, each with "
    "`id: <position>` (the chunk's position in its turn: `n * 10^9 + sequence` for the "
    "turn's n-th resume, the sequence itself in its first instance) and "
    "`data: <chunk JSON>`; `: keep-alive` comments while idle; "
    "`data: [DONE]` when the run's instance ends (completed, failed, aborted, interrupted "
    "or suspended). A stream that breaks off ends with an `error` event and no `[DONE]`: "
    "reattach with `Last-Event-ID`."
)


def _stream(description: str = "The run's stream.") -> dict[str, Any]:
    return {
        "description": f"{description} {_STREAM_DESCRIPTION}",
        "headers": _STREAM_HEADERS,
        "content": {_SSE: {"schema": {"type": "string"}, "x-event-data": _ref("UIChunk")}},
    }


def _parameters() -> dict[str, Any]:
    return {
        "SessionId": {
            "name": "sessionId",
            "in": "path",
            "required": True,
            "description": "A session id: 1-64 characters of letters, digits, `_` and `-`, "
            "not starting with `-`. A malformed one is a 400; an unknown one (or another "
            "user's) a 404.",
            "schema": {"type": "string", "maxLength": 64, "pattern": _ID_PATTERN},
        },
        "LastEventId": {
            "name": "Last-Event-ID",
            "in": "header",
            "description": "Resume after this position (what `EventSource` sends by itself).",
            "schema": {"type": "string", "pattern": "^[ \\t]*[0-9]+[ \\t]*$"},
        },
        "ResumeFromSequence": {
            "name": "X-Resume-From-Sequence",
            "in": "header",
            "description": "Resume after this position (used when Last-Event-ID is absent).",
            "schema": {"type": "string", "pattern": "^[ \\t]*[0-9]+[ \\t]*$"},
        },
        "From": {
            "name": "from",
            "in": "query",
            "description": "Resume after this position (used when neither header is sent).",
            "schema": {"type": "string", "pattern": "^[ \\t]*[0-9]+[ \\t]*$"},
        },
        "Agent": {
            "name": "agent",
            "in": "query",
            "description": "The agent to run, when the body does not name one.",
            "schema": {"type": "string"},
        },
        "Limit": {
            "name": "limit",
            "in": "query",
            "description": "The most stored messages in the page (1-1000).",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
        "Before": {
            "name": "before",
            "in": "query",
            "description": "Only messages before this sequence: the newest of them (the "
            "cursor for an older page is the current page's `before`).",
            "schema": {"type": "integer", "minimum": 0},
        },
        "After": {
            "name": "after",
            "in": "query",
            "description": "Only messages after this sequence, oldest first (reading forwards).",
            "schema": {"type": "integer", "minimum": 0},
        },
        "ScheduleId": {
            "name": "scheduleId",
            "in": "path",
            "required": True,
            "description": "A schedule id. An unknown one (or another user's) is a 404.",
            "schema": {"type": "string", "maxLength": 64},
        },
        "ScheduleStatus": {
            "name": "status",
            "in": "query",
            "description": "Only schedules in this status.",
            "schema": {"enum": ["active", "done", "cancelled"]},
        },
        "AccessToken": {
            "name": "access_token",
            "in": "query",
            "description": "The bearer token, for clients that cannot set headers "
            "(EventSource, browser WebSockets). GET requests and WebSockets only.",
            "schema": {"type": "string"},
        },
    }


#: Public component names for models whose Python names say what they are to the server.
_RENAMED: Final = {
    "UseChatBody": "UseChatRequest",
    "HelixChatBody": "HelixChatRequest",
    "ReasonBody": "ReasonRequest",
    "SubmitToolResultBody": "SubmitToolResultRequest",
    "UIMessageIn": "UseChatMessage",
    "UIMessagePart": "UseChatMessagePart",
    "CreateScheduleBody": "CreateScheduleRequest",
}

_UI_CHUNK_DESCRIPTION: Final = (
    "An AI SDK UI message stream chunk (the v6 chunk set; `reset-step` and "
    "`tool-approval-response` only from a server configured with `ui_version=7`). Only "
    "documented keys; no nulls."
)


@cache
def _schemas() -> dict[str, Any]:
    """``components/schemas``: pydantic's JSON schemas of the request models (``bodies``),
    the response models (``schemas``) and the UI chunks (``streaming.ui_schema``).

    Built on first use (the first ``GET /openapi.json``), once per process: it is the
    costliest part of the document and the Worker should not pay for it at start."""
    from pydantic import TypeAdapter
    from pydantic.json_schema import GenerateJsonSchema

    from ..streaming.ui_schema import UIChunk
    from . import bodies, schedules, schemas
    from .branches import BRANCH_SCHEMAS

    class Generator(GenerateJsonSchema):
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False  # "Sessionid" says nothing the property's name does not

        def default_schema(self, schema: Any) -> Any:
            out = super().default_schema(schema)
            if isinstance(out, dict) and "default" in out and out["default"] is None:
                del out["default"]  # absent and null mean the same to every route
            return out

    sources: list[tuple[str, Literal["validation", "serialization"], Any]] = [
        ("UseChatRequest", "validation", bodies.UseChatBody),
        ("HelixChatRequest", "validation", bodies.HelixChatBody),
        ("ReasonRequest", "validation", bodies.ReasonBody),
        ("SubmitToolResultRequest", "validation", bodies.SubmitToolResultBody),
        ("Error", "serialization", schemas.Error),
        ("RunAccepted", "serialization", schemas.RunAccepted),
        ("SubmissionResult", "serialization", schemas.SubmissionResult),
        ("Waiting", "serialization", schemas.Waiting),
        ("Snapshot", "serialization", schemas.Snapshot),
        ("Agents", "serialization", schemas.Agents),
        ("Sessions", "serialization", schemas.Sessions),
        ("MessagePage", "serialization", schemas.MessagePage),
        ("Runs", "serialization", schemas.Runs),
        ("Health", "serialization", schemas.Health),
        ("UIChunk", "serialization", UIChunk),
        ("CreateScheduleRequest", "validation", schedules.CreateScheduleBody),
        ("ScheduleInfo", "serialization", schedules.ScheduleInfo),
        ("Schedules", "serialization", schedules.Schedules),
        ("ScheduleDetail", "serialization", schedules.ScheduleDetail),
        *BRANCH_SCHEMAS,
    ]
    generator = Generator(ref_template=_REF_TEMPLATE)
    by_key, defs = generator.generate_definitions(
        [(key, mode, TypeAdapter(kind).core_schema) for key, mode, kind in sources]
    )
    components: dict[str, Any] = {}
    for name, schema in defs.items():
        public = _RENAMED.get(name, name)
        components[public] = {**schema, "title": public} if "title" in schema else schema
    components["UIChunk"] = {
        **by_key[("UIChunk", "serialization")],
        "description": _UI_CHUNK_DESCRIPTION,
    }
    renamed: dict[str, Any] = _renamed_refs(components)
    for key, _, _ in sources:  # every source is a component under its public name
        assert key in renamed, key
    return renamed


def _renamed_refs(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _REF_TEMPLATE.format(model=_RENAMED.get(v.rsplit("/", 1)[1], v.rsplit("/", 1)[1]))
            if k == "$ref" and isinstance(v, str)
            else _renamed_refs(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_renamed_refs(v) for v in value]
    return value


def openapi_document(
    *, authenticated: bool, chat_page: bool, version: str, cors: bool = False
) -> dict[str, Any]:
    """The document for an app with (or without) authentication, the chat page and CORS.

    CORS preflights (``OPTIONS``) are not operations of the API, so they are not listed as
    paths; with CORS on, the description says how they are answered. Every document shares
    one ``components/schemas`` (built once): read it, never change it."""
    p = {name: {"$ref": f"#/components/parameters/{name}"} for name in _parameters()}
    auth_errors: dict[str, Any] = {}
    if authenticated:
        auth_errors = {
            "401": _err("No valid bearer token (`WWW-Authenticate: Bearer`)."),
            "403": _err("The authentication hook refused this caller."),
        }
    session_errors = {
        "400": _err("A malformed session id (`invalid_id`)."),
        **auth_errors,
        "404": _err("No such session, or it belongs to another user (`session_not_found`)."),
    }
    forbidden = (
        "A page of another origin that the CORS policy does not allow (`origin_refused`)"
        + (", or the authentication hook refused this caller." if authenticated else ".")
    )
    body_errors = {
        "400": _err("Not JSON (`malformed_json`), or a malformed id (`invalid_id`)."),
        "403": _err(forbidden),
        "413": _err("The body is larger than the limit (`payload_too_large`)."),
        "415": _err(
            "A body not declared as JSON (`unsupported_media_type`): send "
            "`Content-Type: application/json` (a POST without a body may omit it)."
        ),
        "422": _err("JSON of the wrong shape (`invalid_request`)."),
    }
    reason_body = {
        "required": False,
        "content": {_JSON: {"schema": _ref("ReasonRequest")}},
    }
    paths: dict[str, Any] = {
        "/chat": {
            "post": {
                "operationId": "chat",
                "summary": "Start or continue a session and stream the run",
                "description": "Accepts the `useChat` body or the Helix body. The agent "
                "comes from the body (`agentType`), else `?agent=`, else the session's "
                "agent, else the only agent served.",
                "parameters": [p["Agent"]],
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {"oneOf": [_ref("UseChatRequest"), _ref("HelixChatRequest")]}
                        }
                    },
                },
                "responses": {
                    "200": _stream(
                        "The new run's stream, from its first chunk (or, for a `useChat` "
                        "post that answers pending tool calls, the resumed run's)."
                    ),
                    "202": {
                        "description": "A `useChat` post whose last (assistant) message "
                        "answered pending tool calls while others still wait: nothing runs "
                        "yet.",
                        "content": {_JSON: {"schema": _ref("Waiting")}},
                    },
                    **auth_errors,
                    **body_errors,
                    "404": _err("The session belongs to another user (`session_not_found`)."),
                    "409": _err(
                        "A run is already active on the session, the session belongs to "
                        "another agent, or an answered tool call is not pending "
                        "(`conflict`)."
                    ),
                    "422": _err(
                        "JSON of the wrong shape (`invalid_request`), an unknown agent "
                        "(`unknown_agent`), or a malformed tool answer "
                        "(`invalid_tool_submission`)."
                    ),
                },
            }
        },
        "/chat/{sessionId}": {
            "parameters": [p["SessionId"]],
            "get": {
                "operationId": "getSession",
                "summary": "Snapshot: status, messages as UI messages, last sequence, usage",
                "description": "`messages` holds the newest page of the history, whole "
                "turns, at most `limit` stored messages (default 200); `page` says whether "
                "older turns exist and the cursor (`?before=`) that reads them.",
                "parameters": [
                    p["Limit"],
                    p["Before"],
                    *([p["AccessToken"]] if authenticated else []),
                ],
                "responses": {
                    "200": _json("The snapshot.", "Snapshot"),
                    **session_errors,
                    "400": _err("A malformed session id (`invalid_id`) or page (`bad_request`)."),
                },
            },
        },
        "/chat/{sessionId}/stream": {
            "parameters": [p["SessionId"]],
            "get": {
                "operationId": "reattach",
                "summary": "Reattach to the active turn's stream",
                "description": "Replays after `Last-Event-ID`, else `X-Resume-From-Sequence`, "
                "else `?from=`, else from the start of the current turn, across every run "
                "instance of the turn (one `start`, one `finish`: the whole response, as "
                "the AI SDK requires of a resumed stream), then follows live until the "
                "instance ends or suspends. Cursors are positions in the turn. With no run "
                "active: 204, except for a client whose cursor shows it missed the end of "
                "the latest turn, which gets the rest of it.",
                "parameters": [p["LastEventId"], p["ResumeFromSequence"], p["From"]]
                + ([p["AccessToken"]] if authenticated else []),
                "responses": {
                    "200": _stream("The active turn's stream after the cursor."),
                    "204": {
                        "description": "No run is active: nothing to resume (and, with a "
                        "cursor, nothing of the latest run after it)."
                    },
                    **session_errors,
                    "400": _err(
                        "A malformed session id (`invalid_id`), or a cursor that is not a "
                        "non-negative integer or is past the turn's last position "
                        "(`invalid_cursor`)."
                    ),
                },
            },
        },
        "/chat/{sessionId}/submit-tool-result": {
            "parameters": [p["SessionId"]],
            "post": {
                "operationId": "submitToolResult",
                "summary": "A client tool's result, or an approval decision",
                "description": "Settles one pending call of the session (or of a child "
                "session it started), from the session's owner, once. When nothing else "
                "waits, the run resumes as a new instance: the answer names it, or, when the "
                "request accepts `text/event-stream`, is that instance's stream.",
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("SubmitToolResultRequest")}},
                },
                "responses": {
                    "200": {
                        "description": "Accepted. JSON, or the resumed instance's stream "
                        "(with Accept: text/event-stream, when the submission resumed the run).",
                        "headers": _STREAM_HEADERS,
                        "content": {
                            _JSON: {"schema": _ref("SubmissionResult")},
                            _SSE: {"schema": {"type": "string"}, "x-event-data": _ref("UIChunk")},
                        },
                    },
                    **session_errors,
                    **body_errors,
                    "400": _err("A malformed session id, or a body that is not JSON."),
                    "409": _err(
                        "Nothing matching is pending, it was already settled, or its "
                        "suspension expired (`conflict`)."
                    ),
                    "422": _err(
                        "JSON of the wrong shape (`invalid_request`), or a submission of the "
                        "wrong kind for the call, or a result that fails the tool's output "
                        "schema (`invalid_tool_submission`)."
                    ),
                },
            },
        },
        "/chat/{sessionId}/interrupt": {
            "parameters": [p["SessionId"]],
            "post": {
                "operationId": "interrupt",
                "summary": "Soft stop: the run stops at its next safe point (resumable)",
                "requestBody": reason_body,
                "responses": {
                    "202": _json("The interrupt is requested.", "RunAccepted"),
                    **session_errors,
                    **body_errors,
                    "400": _err("A malformed session id, or a body that is not JSON."),
                    "409": _err("No run is active (`conflict`)."),
                },
            },
        },
        "/chat/{sessionId}/resume": {
            "parameters": [p["SessionId"]],
            "post": {
                "operationId": "resume",
                "summary": "Continue an interrupted run as a new instance",
                "description": "Answers 202 with the new instance's ids, or, when the "
                "request accepts `text/event-stream`, that instance's stream.",
                "requestBody": reason_body,
                "responses": {
                    "200": _stream(
                        "The resumed instance's stream (with Accept: text/event-stream)."
                    ),
                    "202": _json("The run continues.", "RunAccepted"),
                    **session_errors,
                    **body_errors,
                    "400": _err("A malformed session id, or a body that is not JSON."),
                    "409": _err("The latest run is not interrupted (`conflict`)."),
                },
            },
        },
        "/chat/{sessionId}/abort": {
            "parameters": [p["SessionId"]],
            "post": {
                "operationId": "abort",
                "summary": "Hard stop: the run ends aborted, for good",
                "requestBody": reason_body,
                "responses": {
                    "200": _json("The run is aborted.", "RunAccepted"),
                    **session_errors,
                    **body_errors,
                    "400": _err("A malformed session id, or a body that is not JSON."),
                    "409": _err("No run is active (`conflict`)."),
                },
            },
        },
        "/chat/{sessionId}/ws": {
            "parameters": [p["SessionId"]],
            "get": {
                "operationId": "websocket",
                "summary": "The active run's chunks over a WebSocket",
                "description": "Upgrade to a WebSocket. Server frames (JSON text): "
                '`{"seq": N, "chunk": <UIChunk>}` per event, then `{"done": true, "runId", '
                '"status"}` and close 1000; `{"done": true, "active": false}` without an '
                'active run; `{"error": {"code", "message"}}` then close `4000 + status` '
                "(4400, 4401, 4403 also for a page of an origin the CORS policy does not allow, "
                "4404). Replay starts after `?from=` (or Last-Event-ID / "
                'X-Resume-From-Sequence), else at the run\'s start; a client frame `{"from": '
                "N}` replays again from after N. With a cursor and no active run, the rest "
                "of the latest run. A plain GET without the upgrade is a 426.",
                "parameters": [p["From"]] + ([p["AccessToken"]] if authenticated else []),
                "responses": {
                    "101": {"description": "Switching to the WebSocket protocol."},
                    **session_errors,
                    "426": _err("A WebSocket upgrade is required (`upgrade_required`)."),
                },
            },
        },
        "/agents": {
            "get": {
                "operationId": "listAgents",
                "summary": "The agents this server runs",
                "responses": {"200": _json("The agents.", "Agents"), **auth_errors},
            }
        },
        "/sessions": {
            "get": {
                "operationId": "listSessions",
                "summary": "The caller's sessions, most recently updated first",
                "description": "Top-level sessions only (a sub-agent's session is reached "
                "through its parent's `data-subagent` part), at most 50, each with its latest "
                "run's status and its first message as a title (the chat page's list).",
                "responses": {"200": _json("The sessions.", "Sessions"), **auth_errors},
            }
        },
        "/sessions/{sessionId}/messages": {
            "parameters": [p["SessionId"]],
            "get": {
                "operationId": "listSessionMessages",
                "summary": "A page of the session's stored history",
                "description": "The stored messages (hidden ones included), in sequence "
                "order: by default the newest `limit` (100); `before` and `after` page "
                "backwards and forwards.",
                "parameters": [p["Limit"], p["Before"], p["After"]],
                "responses": {
                    "200": _json("The page.", "MessagePage"),
                    **session_errors,
                    "400": _err("A malformed session id (`invalid_id`) or page (`bad_request`)."),
                },
            },
        },
        "/sessions/{sessionId}/runs": {
            "parameters": [p["SessionId"]],
            "get": {
                "operationId": "listSessionRuns",
                "summary": "The session's runs, newest first, and the current one",
                "responses": {"200": _json("The runs.", "Runs"), **session_errors},
            },
        },
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness",
                "security": [],
                "responses": {"200": _json("The server is up.", "Health")},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document.",
                        "content": {_JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    paths.update(_schedule_paths(p, auth_errors, body_errors))
    from .mcp import mcp_paths

    paths.update(mcp_paths(auth_errors, body_errors, _err))
    from .branches import branch_paths

    paths.update(branch_paths(p, session_errors, body_errors, _err, _json, _ref))
    if chat_page:
        paths["/"] = {
            "get": {
                "operationId": "chatPage",
                "summary": "The chat page (one self-contained HTML file)",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        }
    description = (
        "Durable agent runs over HTTP: the AI SDK UI message stream, resumable with "
        'Last-Event-ID. Every error is `{"error": {"code", "message"}}`. Methods a path '
        "does not list answer 405; unknown paths 404."
    )
    if cors:
        description += (
            " CORS is on for configured origins: a preflight (`OPTIONS` with `Origin` and "
            "`Access-Control-Request-Method`) is answered 200 with the CORS headers, or 403 "
            "`cors_refused` when its origin, method or headers are not allowed."
        )
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "helix-agents HTTP API", "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": _schemas(), "parameters": _parameters()},
    }
    if authenticated:
        doc["components"]["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearerAuth": []}]
    return doc


def _schedule_paths(
    p: dict[str, Any], auth_errors: dict[str, Any], body_errors: dict[str, Any]
) -> dict[str, Any]:
    """``/schedules``: owned by the caller as sessions are (docs/triggers.md)."""
    not_found = {
        **auth_errors,
        "404": _err("No such schedule, or it belongs to another user (`schedule_not_found`)."),
    }
    return {
        "/schedules": {
            "get": {
                "operationId": "listSchedules",
                "summary": "The caller's schedules, newest first",
                "parameters": [p["ScheduleStatus"]],
                "responses": {
                    "200": _json("The schedules.", "Schedules"),
                    **auth_errors,
                    "400": _err("An unknown status (`invalid_schedule`)."),
                },
            },
            "post": {
                "operationId": "createSchedule",
                "summary": "Start an agent's turn later: once, after a delay, on cron, or "
                "every interval",
                "description": "Each due time fires once: one turn, in `sessionId` or in a "
                "new session per firing, with `message` (and `metadata` on the message). "
                "`GET /schedules/{scheduleId}` shows what each firing started.",
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("CreateScheduleRequest")}},
                },
                "responses": {
                    "201": _json("The schedule, with its first due time.", "ScheduleInfo"),
                    **auth_errors,
                    **body_errors,
                    "400": _err(
                        "Not JSON (`malformed_json`), a malformed session id (`invalid_id`), "
                        "or a schedule that cannot be: no due time or several, a cron "
                        "expression that does not parse, a time in the past "
                        "(`invalid_schedule`)."
                    ),
                    "404": _err(
                        "`sessionId` names no session of the caller's (`session_not_found`)."
                    ),
                    "422": _err(
                        "JSON of the wrong shape (`invalid_request`), or an unknown agent "
                        "(`unknown_agent`)."
                    ),
                },
            },
        },
        "/schedules/{scheduleId}": {
            "parameters": [p["ScheduleId"]],
            "get": {
                "operationId": "getSchedule",
                "summary": "A schedule and its latest firings",
                "responses": {"200": _json("The schedule.", "ScheduleDetail"), **not_found},
            },
            "delete": {
                "operationId": "cancelSchedule",
                "summary": "Cancel a schedule: no later firing starts",
                "description": "A firing already under way finishes. Cancelling a done or "
                "cancelled schedule changes nothing and answers it as it is.",
                "responses": {
                    "200": _json("The schedule, cancelled.", "ScheduleInfo"),
                    **not_found,
                    "403": _err(body_errors["403"]["description"]),
                },
            },
        },
    }
