"""The librarian (typed deps, a cached tool, the file tools, a cached model) over the HTTP
API of the local host; tests/worker_real/test_services_real.py runs the same scenario on
the real Worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.http.harness import start_server
from tests.services.librarian import librarian, scenario
from tests.services.over_http import http_chat, http_usage

pytestmark = pytest.mark.timeout(60)


async def test_the_librarian_on_the_local_host(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "host", librarian())
    try:
        async with server.client() as client:

            async def read_object(key: str) -> str | None:
                stored = await server.host.services.objects.get(key)
                return None if stored is None else stored.text()

            await scenario(http_chat(client), read_object, http_usage(client), "local", "shelf-1")
        # The same figures in the store the snapshot reads them from.
        rollup = await server.host.store.usage_rollup("shelf-1")
        assert rollup.usage.custom["cache.hit"] == 1
    finally:
        await server.stop()
