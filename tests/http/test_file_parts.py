"""``useChat`` file parts over a real socket: stored in object storage, shown by the snapshot,
sent to an OpenAI-compatible model as content parts (a note for a model that reads none),
and bad files refused with a 4xx."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helix_agents import Agent
from helix_agents.http import create_app
from helix_agents.models.openai import OpenAIChatModel
from tests.support.openai_server import OpenAIServer, reply_text

from .agents import echo
from .harness import assistant_text, read_wire, serve_on_loopback, stop_serving

pytestmark = [pytest.mark.timeout(60)]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
TEXT = b"name,count\nfigs,3\n"


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def use_chat(message_id: str, *parts: dict[str, Any], chat: str = "chat1") -> dict[str, Any]:
    return {
        "id": chat,
        "trigger": "submit-message",
        "messages": [{"id": message_id, "role": "user", "parts": list(parts)}],
    }


def file_part(media_type: str, data: bytes, filename: str | None = None) -> dict[str, Any]:
    part = {"type": "file", "mediaType": media_type, "url": data_url(media_type, data)}
    if filename is not None:
        part["filename"] = filename
    return part


@pytest.fixture(scope="module")
def openai() -> Iterator[OpenAIServer]:
    server = OpenAIServer(api_key="test-key")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.model_requests
async def test_files_are_stored_shown_and_sent_to_the_model(
    make_server: Any, openai: OpenAIServer
) -> None:
    openai.reset()
    openai.script(reply_text("Seen ", "them."))
    model = OpenAIChatModel("gpt-test", base_url=openai.base_url, api_key="test-key")
    server = await make_server(Agent(name="eyes", model=model))
    body = use_chat(
        "u1",
        {"type": "text", "text": "What is in these?"},
        file_part("image/png", PNG, "dot.png"),
        file_part("application/pdf", PDF, "doc.pdf"),
        file_part("text/csv", TEXT),
    )
    async with server.client() as client:
        async with client.stream("POST", "/chat", json=body) as res:
            assert res.status_code == 200
            wire = await read_wire(res)
        assert assistant_text(wire.chunks) == "Seen them."
        # A retried request (same message id) gets the same turn, and stores nothing twice.
        async with client.stream("POST", "/chat", json=body) as res:
            assert res.status_code == 200
            again = await read_wire(res)
        assert assistant_text(again.chunks) == "Seen them."
        snap = (await client.get("/chat/chat1")).json()

    objects = server.host.services.objects
    listing = await objects.list(prefix="files/chat1/")
    assert [o.key for o in listing.objects] == [
        "files/chat1/u1/0",
        "files/chat1/u1/1",
        "files/chat1/u1/2",
    ]
    stored = await objects.get("files/chat1/u1/0")
    assert stored is not None
    assert stored.data == PNG
    assert stored.info.content_type == "image/png"

    # The model got the files as content parts, once (the retry started no second call).
    assert len(openai.requests) == 1
    sent = openai.requests[0].body["messages"][-1]
    assert sent["role"] == "user"
    assert sent["content"] == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}},
        {
            "type": "file",
            "file": {"filename": "doc.pdf", "file_data": data_url("application/pdf", PDF)},
        },
        {"type": "text", "text": "[file (text/csv)]\n" + TEXT.decode()},
    ]

    # The snapshot gives the files back as the client sent them.
    user = snap["messages"][0]
    assert user["id"] == "u1"
    assert user["parts"] == [
        {"type": "text", "text": "What is in these?"},
        *body["messages"][0]["parts"][1:],
    ]


async def test_a_model_that_reads_no_files_gets_a_note(make_server: Any) -> None:
    server = await make_server(echo())
    body = use_chat("u1", file_part("image/png", PNG, "dot.png"), chat="chat2")
    async with server.client() as client:
        async with client.stream("POST", "/chat?agent=echo", json=body) as res:
            assert res.status_code == 200
            wire = await read_wire(res)
        snap = (await client.get("/chat/chat2")).json()
    assert assistant_text(wire.chunks) == (
        "echo: [attached file 'dot.png' (image/png): this model cannot read files]"
    )
    # Only the request had the note: the stored message (and the snapshot) has the file.
    assert snap["messages"][0]["parts"] == body["messages"][0]["parts"]
    history = await server.host.executor.store.load_messages("chat2")
    first = history[0][1]
    assert first.role == "user"
    assert first.content == ""
    assert first.files is not None
    assert first.files[0].key == "files/chat2/u1/0"


async def test_bad_files_are_refused(make_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import helix_agents.http.files as files

    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1000)
    server = await make_server(echo())
    text = {"type": "text", "text": "look"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            {"type": "file", "mediaType": "image/png", "url": "data:image/png;base64,%%%not"},
            400,
            "not valid base64",
        ),
        (
            {"type": "file", "mediaType": "image/png", "url": "data:image/png,plain"},
            400,
            "not base64",
        ),
        (
            {"type": "file", "mediaType": "image/png", "url": "https://example.com/a.png"},
            400,
            "only data URLs",
        ),
        (file_part("image/png", PNG + bytes(2000)), 413, "limit of 1000 bytes"),
        (file_part("image/svg+xml", b"<svg/>"), 415, "not accepted"),
        (file_part("image/png", b"GIF89a" + bytes(10)), 400, "not image/png"),
        (file_part("text/plain", b"\xff\xfe\x00bad"), 400, "UTF-8"),
        ({"type": "file", "mediaType": "image/png"}, 422, "no 'url'"),
    ]
    async with server.client() as client:
        for part, status, needle in cases:
            res = await client.post("/chat?agent=echo", json=use_chat("u1", text, part))
            assert res.status_code == status, (part, res.text)
            assert needle in res.json()["error"]["message"], (part, res.text)
        many = [file_part("text/plain", b"x")] * 11
        res = await client.post("/chat?agent=echo", json=use_chat("u1", text, *many))
        assert res.status_code == 422
        assert "at most 10 files" in res.text
    listing = await server.host.services.objects.list(prefix="files/")
    assert listing.objects == []  # nothing refused was stored


async def test_a_host_without_object_storage_says_so(make_server: Any, tmp_path: Path) -> None:
    server = await make_server(echo())
    # The API over the bare executor: no host, so no services to keep files in.
    url, uv, task = await serve_on_loopback(create_app(server.host.executor, environ={}))
    try:
        import httpx

        async with httpx.AsyncClient(base_url=url) as client:
            body = use_chat("u1", {"type": "text", "text": "x"}, file_part("image/png", PNG))
            res = await client.post(
                "/chat?agent=echo",
                content=json.dumps(body),
                headers={"content-type": "application/json"},
            )
            assert res.status_code == 422, res.text
            assert res.json()["error"]["code"] == "files_not_supported"
            # Text alone still works there.
            res = await client.post(
                "/chat?agent=echo",
                json=use_chat("u2", {"type": "text", "text": "x"}, chat="chat9"),
            )
            assert res.status_code == 200
    finally:
        await stop_serving(uv, task)
