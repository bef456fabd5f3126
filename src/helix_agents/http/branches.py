"""A session's state and checkpoints over HTTP (docs/checkpoints.md):

- ``GET /sessions/{id}/state``: the state as JSON (the agent's ``state_type`` validated);
- ``PUT /sessions/{id}/state``: a human's edit, the body being the whole new state,
  validated against the model (422 naming the fields) and refused while a run is active
  (409);
- ``GET /sessions/{id}/checkpoints``: the message boundaries after each agent step;
- ``POST /sessions/{id}/rewind`` ``{"checkpoint": N}``: back to a checkpoint (409 while a
  run is active);
- ``POST /sessions/{id}/fork`` ``{"checkpoint": N, "sessionId"?}``: a new session (201).

Each route checks the caller may see the session (404 otherwise) first.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from ..state import Checkpoint
from .bodies import parse_body, read_json
from .context import ApiContext
from .responses import JsonResponse

__all__ = [
    "BRANCH_SCHEMAS",
    "CheckpointList",
    "ForkRequest",
    "Forked",
    "RewindRequest",
    "SessionStateView",
    "branch_paths",
    "fork_session",
    "get_state",
    "list_checkpoints",
    "put_state",
    "rewind_session",
]

_MAX_ID = 256


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class RewindRequest(_Body):
    checkpoint: int = Field(ge=0, description="The checkpoint's sequence (from /checkpoints).")


class ForkRequest(_Body):
    checkpoint: int = Field(ge=0, description="The checkpoint's sequence (from /checkpoints).")
    session_id: str | None = Field(
        default=None,
        alias="sessionId",
        max_length=_MAX_ID,
        description="The new session's id; a fresh one when absent.",
    )


class SessionStateView(BaseModel):
    """A session's state (``GET`` and ``PUT /sessions/{id}/state``, a rewind's answer)."""

    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    session_id: str = Field(alias="sessionId")
    state: dict[str, Any] = Field(
        description="The state: the agent's state model as JSON (defaults filled in), or the "
        "stored object for an agent without one."
    )


class CheckpointList(BaseModel):
    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    session_id: str = Field(alias="sessionId")
    checkpoints: list[Checkpoint] = Field(
        description="Oldest first; the last is the session's current end (`kind: head`) "
        "while no run is active."
    )


class Forked(BaseModel):
    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    session_id: str = Field(alias="sessionId", description="The new session.")
    forked_from: dict[str, Any] = Field(
        alias="forkedFrom", description="`{sessionId, checkpoint}` of the origin."
    )
    state: dict[str, Any]


async def get_state(request: Request) -> Response:
    api, user, session_id = await _prelude(request)
    state = await api.executor.state(session_id, user_id=user)
    return _json(SessionStateView(session_id=session_id, state=state))


async def put_state(request: Request) -> Response:
    api, user, session_id = await _prelude(request)
    body = await read_json(request, api.settings.max_body_bytes)
    state = await api.executor.set_state(session_id, body, user_id=user)
    return _json(SessionStateView(session_id=session_id, state=state))


async def list_checkpoints(request: Request) -> Response:
    api, user, session_id = await _prelude(request)
    found = await api.executor.checkpoints(session_id, user_id=user)
    return _json(CheckpointList(session_id=session_id, checkpoints=found))


async def rewind_session(request: Request) -> Response:
    api, user, session_id = await _prelude(request)
    body = parse_body(RewindRequest, await read_json(request, api.settings.max_body_bytes))
    await api.executor.rewind(session_id, body.checkpoint, user_id=user)
    state = await api.executor.state(session_id, user_id=user)
    return _json(SessionStateView(session_id=session_id, state=state))


async def fork_session(request: Request) -> Response:
    api, user, session_id = await _prelude(request)
    body = parse_body(ForkRequest, await read_json(request, api.settings.max_body_bytes))
    forked = await api.executor.fork(
        session_id, body.checkpoint, new_session_id=body.session_id, user_id=user
    )
    state = await api.executor.state(forked.session_id, user_id=user)
    answer = Forked(
        session_id=forked.session_id,
        forked_from={"sessionId": session_id, "checkpoint": body.checkpoint},
        state=state,
    )
    return _json(answer, status=201)


def _json(model: BaseModel, *, status: int = 200) -> Response:
    return JsonResponse(model.model_dump(mode="json", by_alias=True), status_code=status)


async def _prelude(request: Request) -> tuple[ApiContext, str | None, str]:
    api: ApiContext = request.app.state.api
    user = await api.user(request)
    state = await api.session(request.path_params["session_id"], user)
    return api, user, state.session_id


def branch_paths(
    p: dict[str, Any],
    session_errors: dict[str, Any],
    body_errors: dict[str, Any],
    err: Any,
    json_of: Any,
    ref: Any,
) -> dict[str, Any]:
    """The OpenAPI paths of these routes (``http/openapi.py`` adds them)."""
    busy = err("A run is active (`conflict`): wait for it to end, or interrupt it.")
    no_checkpoint = err(
        "No such session (`session_not_found`) or checkpoint (`checkpoint_not_found`)."
    )

    def body(schema: str, description: str) -> dict[str, Any]:
        return {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": ref(schema)}},
        }

    return {
        "/sessions/{sessionId}/state": {
            "parameters": [p["SessionId"]],
            "get": {
                "operationId": "getSessionState",
                "summary": "The session's state (its agent's state model, validated)",
                "responses": {"200": json_of("The state.", "SessionStateView"), **session_errors},
            },
            "put": {
                "operationId": "putSessionState",
                "summary": "Replace the session's state between runs",
                "description": "The body is the whole new state, validated against the "
                "agent's state model. Tools of the next run see it.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": json_of("The state as stored.", "SessionStateView"),
                    **session_errors,
                    **body_errors,
                    "409": busy,
                    "422": err("The state does not fit the model (`state_invalid`)."),
                },
            },
        },
        "/sessions/{sessionId}/checkpoints": {
            "parameters": [p["SessionId"]],
            "get": {
                "operationId": "listCheckpoints",
                "summary": "The session's checkpoints: a boundary before each turn and step",
                "responses": {
                    "200": json_of("The checkpoints.", "CheckpointList"),
                    **session_errors,
                },
            },
        },
        "/sessions/{sessionId}/rewind": {
            "parameters": [p["SessionId"]],
            "post": {
                "operationId": "rewindSession",
                "summary": "Take the session back to a checkpoint",
                "description": "The messages from the checkpoint on are deleted and the "
                "state is the checkpoint's; a suspension or interruption left behind is "
                "forgotten. The next turn continues from there.",
                "requestBody": body("RewindRequest", "The checkpoint."),
                "responses": {
                    "200": json_of("The state after the rewind.", "SessionStateView"),
                    **session_errors,
                    **body_errors,
                    "404": no_checkpoint,
                    "409": busy,
                },
            },
        },
        "/sessions/{sessionId}/fork": {
            "parameters": [p["SessionId"]],
            "post": {
                "operationId": "forkSession",
                "summary": "A new session branched from a checkpoint",
                "description": "The new session holds the messages before the checkpoint "
                "and its state; its metadata's `forkedFrom` names the origin, which is not "
                "changed.",
                "requestBody": body("ForkRequest", "The checkpoint, and the new id if wanted."),
                "responses": {
                    "201": json_of("The new session.", "Forked"),
                    **session_errors,
                    **body_errors,
                    "404": no_checkpoint,
                    "409": err("The id is taken, or the origin's end moves (`conflict`)."),
                },
            },
        },
    }


#: ``components/schemas`` entries: (public name, mode, model).
BRANCH_SCHEMAS: list[tuple[str, Literal["validation", "serialization"], Any]] = [
    ("RewindRequest", "validation", RewindRequest),
    ("ForkRequest", "validation", ForkRequest),
    ("SessionStateView", "serialization", SessionStateView),
    ("CheckpointList", "serialization", CheckpointList),
    ("Forked", "serialization", Forked),
]
