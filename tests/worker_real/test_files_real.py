"""``useChat`` file parts on the real Worker: kept in real R2 (local workerd), given back by
the snapshot (read from R2), a note to a model that reads no files, bad files refused."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.http.agents import echo
from tests.http.harness import assistant_text, read_wire

from .harness import RealWorker, WorkerPool, config_of, root_env

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def _file(media_type: str, data: bytes, filename: str) -> dict[str, Any]:
    url = f"data:{media_type};base64,{base64.b64encode(data).decode()}"
    return {"type": "file", "mediaType": media_type, "url": url, "filename": filename}


@pytest.fixture(scope="module")
def worker(worker_pool: WorkerPool) -> RealWorker:
    config, _ = config_of((echo(),), {})
    return worker_pool.get(root_env(config), "test_files_real")


@pytest.fixture
async def client(worker: RealWorker) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as c:
        yield c


async def test_a_file_part_is_kept_in_r2_and_shown_back(client: httpx.AsyncClient) -> None:
    chat = f"files-{uuid.uuid4().hex[:8]}"
    image = _file("image/png", PNG, "dot.png")
    body = {
        "id": chat,
        "messages": [
            {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "see"}, image]}
        ],
    }
    async with client.stream("POST", "/chat?agent=echo", json=body) as res:
        assert res.status_code == 200, await res.aread()
        wire = await read_wire(res)
    assert assistant_text(wire.chunks) == (
        "echo: see\n[attached file 'dot.png' (image/png): this model cannot read files]"
    )
    # The snapshot reads the file back from R2: the same data URL the client sent.
    snap = (await client.get(f"/chat/{chat}")).json()
    assert snap["messages"][0]["parts"] == [{"type": "text", "text": "see"}, image]


async def test_a_bad_file_is_refused_on_the_worker(client: httpx.AsyncClient) -> None:
    svg = _file("image/svg+xml", b"<svg/>", "x.svg")
    body = {"messages": [{"id": "u1", "role": "user", "parts": [svg]}]}
    res = await client.post("/chat?agent=echo", json=body)
    assert res.status_code == 415, res.text
    assert res.json()["error"]["code"] == "unsupported_media_type"
