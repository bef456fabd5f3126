"""/openapi.json: a valid OpenAPI 3.1 document that lists exactly the app's routes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route, WebSocketRoute

from helix_agents.http import create_app

from .agents import echo

pytestmark = pytest.mark.timeout(60)


def routes_of(app: Any) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        path = re.sub(r"\{session_id\}", "{sessionId}", route.path)
        if isinstance(route, WebSocketRoute):
            out.add((path, "get"))
        elif isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    out.add((path, method.lower()))
    return out


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete", "patch"}
    }


@pytest.mark.parametrize("authenticated", [False, True])
@pytest.mark.parametrize("page", [False, True])
async def test_the_document_is_valid_and_lists_every_route(
    make_server: Any, authenticated: bool, page: bool
) -> None:
    kwargs: dict[str, Any] = {"chat_page_enabled": page}
    if authenticated:
        kwargs["token"] = "t"
    server = await make_server(echo(), **kwargs)
    async with server.client() as client:
        res = await client.get("/openapi.json")
    assert res.status_code == 200
    doc = res.json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert documented(doc) == routes_of(server.app)
    assert ("/", "get") in documented(doc) if page else ("/", "get") not in documented(doc)
    statuses = {
        s
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "responses" in op
        for s in op["responses"]
    }
    assert ("401" in statuses) is authenticated
    assert not any(s.startswith("5") for s in statuses)  # nothing documents a server error


def test_every_operation_documents_its_errors_with_the_error_schema() -> None:
    from helix_agents.http.openapi import openapi_document

    doc = openapi_document(authenticated=True, chat_page=True, version="x")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method)


def test_the_app_is_built_without_io_beyond_its_own_package() -> None:
    # create_app reads the chat page from the package and nothing else: an executor is
    # looked up on each request, so an unstarted host is fine here.
    class NotStarted:
        pass

    app = create_app(NotStarted(), environ={})  # type: ignore[arg-type]
    assert app.state.chat_page.startswith("<!doctype html>")
