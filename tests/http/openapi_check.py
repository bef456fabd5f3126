"""Does a response match what /openapi.json says of its route? Shared by the tests that
check the document against what the server really does."""

from __future__ import annotations

import re
from typing import Any

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
        import json

        data = json.loads(body)
        assert set(data) == {"error"}, data
        assert set(data["error"]) == {"code", "message"}, data
        assert isinstance(data["error"]["code"], str)
        assert isinstance(data["error"]["message"], str)
