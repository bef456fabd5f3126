"""Does a response match what /openapi.json says of its route? Shared by the tests that
check the document against what the server really does: its status is documented, and its
JSON body (or each UI chunk of its stream) validates against the documented schema."""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator

_TEMPLATE = re.compile(r"\{[^/]+\}")


def operation(doc: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The documented path template and operation for a concrete request, if any."""
    method = "get" if method.upper() == "HEAD" else method.lower()
    for template, item in doc["paths"].items():
        pattern = (
            "^"
            + _TEMPLATE.sub("[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
            + "$"
        )
        if re.match(pattern, path) and method in item:
            return template, item[method]
    return None


def path_known(doc: dict[str, Any], path: str) -> bool:
    for template in doc["paths"]:
        pattern = "^" + _TEMPLATE.sub("[^/]+", template) + "$"
        if re.match(pattern, path):
            return True
    return False


def check_response(doc: dict[str, Any], method: str, path: str, status: int, body: bytes) -> None:
    """The status is one the document lists for the operation (404/405 for routes and
    methods it does not list), and an error has the documented shape."""
    found = operation(doc, method, path)
    if found is None:
        expected = {405} if path_known(doc, path) else {404}
        assert status in expected, (method, path, status, body[:200])
    else:
        template, op = found
        assert str(status) in op["responses"], (method, template, status, body[:200])
    if status >= 400 and method.upper() != "HEAD":
        data = json.loads(body)
        assert set(data) == {"error"}, data
        assert set(data["error"]) == {"code", "message"}, data
        assert isinstance(data["error"]["code"], str)
        assert isinstance(data["error"]["message"], str)
    if found is not None and method.upper() != "HEAD" and body[:1] == b"{":
        check_json(doc, method, path, status, json.loads(body))


def json_schema(doc: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    """The documented schema of a JSON response (an assertion error if there is none)."""
    found = operation(doc, method, path)
    assert found is not None, (method, path)
    template, op = found
    response = op["responses"].get(str(status))
    assert response is not None, (method, template, status)
    content = response.get("content", {})
    assert "application/json" in content, (method, template, status, sorted(content))
    schema: dict[str, Any] = content["application/json"]["schema"]
    return schema


def check_json(doc: dict[str, Any], method: str, path: str, status: int, data: Any) -> None:
    """``data`` (a parsed JSON body) validates against what the document says of it."""
    problems = _problems(doc, json_schema(doc, method, path, status), data)
    assert not problems, (method, path, status, problems, data)


def check_ui_chunks(doc: dict[str, Any], chunks: list[dict[str, Any]]) -> None:
    """Every chunk of a stream validates against the document's ``UIChunk``."""
    schema = {"$ref": "#/components/schemas/UIChunk"}
    for chunk in chunks:
        problems = _problems(doc, schema, chunk)
        assert not problems, (problems, chunk)


def _problems(doc: dict[str, Any], schema: dict[str, Any], data: Any) -> list[str]:
    # The components ride along in the root schema, so that the document's own
    # "#/components/schemas/..." references resolve.
    rooted = {**schema, "components": doc["components"]}
    validator = Draft202012Validator(rooted)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)
    ]
