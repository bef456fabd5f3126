"""The services on the real Worker: KV and R2 (real, in local workerd) pass the same
conformance checks as the local host's twins, run inside the Worker; and the librarian
(typed deps, a cached tool, the file tools) runs the scenario of tests/services/ over the
Worker's HTTP API. One Worker for the module."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conformance import kv_suite, objects_suite
from tests.services.librarian import librarian, scenario
from tests.services.over_http import http_chat, http_usage
from tests.worker_real.app import mount_path
from tests.worker_real.services_route import SERVICES_PATH

from .harness import RealWorker, WorkerPool, config_of, root_env

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]

RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def worker(worker_pool: WorkerPool) -> tuple[RealWorker, str]:
    config, _ = config_of((librarian(),), {})
    chosen = worker_pool.get(root_env(config), "test_services_real")
    return chosen, chosen.url + mount_path(config.app)


@pytest.fixture
async def client(worker: tuple[RealWorker, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=worker[0].url, timeout=60) as c:
        yield c


async def _run(client: httpx.AsyncClient, suite: str, check: str) -> None:
    body = {"suite": suite, "check": check, "prefix": f"real/{RUN}/{check}/"}
    res = await client.post(SERVICES_PATH, json=body)
    assert res.status_code == 200, res.text
    answer = res.json()
    assert answer["ok"], answer["error"]


async def test_the_worker_builds_kv_and_r2_from_its_bindings(client: httpx.AsyncClient) -> None:
    res = await client.get(SERVICES_PATH)
    assert res.json() == {"kv": "WorkersKV()", "objects": "R2ObjectStore(max_bytes=26214400)"}


@pytest.mark.parametrize("check", sorted(kv_suite.CHECKS))
async def test_kv_conformance_on_real_kv(client: httpx.AsyncClient, check: str) -> None:
    await _run(client, "kv", check)


@pytest.mark.parametrize("check", sorted(objects_suite.CHECKS))
async def test_objects_conformance_on_real_r2(client: httpx.AsyncClient, check: str) -> None:
    await _run(client, "objects", check)


async def test_the_librarian_on_the_real_worker(worker: tuple[RealWorker, str]) -> None:
    real, url = worker
    since = real.log_length()
    async with (
        httpx.AsyncClient(base_url=url, timeout=60) as api,
        httpx.AsyncClient(base_url=real.url, timeout=60) as raw,
    ):

        async def read_object(key: str) -> str | None:
            res = await raw.get(SERVICES_PATH, params={"object": key})
            res.raise_for_status()
            text: str | None = res.json()["text"]
            return text

        await scenario(http_chat(api), read_object, http_usage(api), "cloudflare", f"shelf-{RUN}")
        last = await raw.get(SERVICES_PATH, params={"kv": "librarian/last-host"})
        assert last.json() == {"value": "cloudflare"}
    assert real.error_lines(since) == []
