from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mcp_protocol._server import http_server

TOKEN = "mcp-test-token"


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    """A real MCP server over Streamable HTTP, behind a bearer token (``TOKEN``)."""
    with http_server(TOKEN) as url:
        yield url
