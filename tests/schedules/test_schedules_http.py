"""``/schedules`` over real HTTP on the local host: made, fired once on time, listed,
inspected, cancelled; owned by the caller; bad input is a 4xx with a message."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http.test_openapi import documented, routes_of
from tests.schedules.test_local_schedules import echo

pytestmark = pytest.mark.timeout(60)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_a_schedule_made_over_http_fires_once_on_time(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        made_at = int(time.time() * 1000)
        res = await client.post(
            "/schedules",
            json={"agent": "echo", "message": "ping", "delaySeconds": 1, "metadata": {"k": 1}},
        )
        assert res.status_code == 201, res.text
        schedule = res.json()
        sid = schedule["scheduleId"]
        assert schedule["kind"] == "once"
        assert schedule["status"] == "active"
        due = schedule["nextDueMs"]
        assert made_at + 1000 <= due <= made_at + 1500
        assert "userId" not in schedule

        deadline = time.monotonic() + 15
        while True:
            detail = (await client.get(f"/schedules/{sid}")).json()
            if detail["firings"] and detail["firings"][0]["status"] == "started":
                break
            assert time.monotonic() < deadline, detail
            await asyncio.sleep(0.05)
        firing = detail["firings"][0]
        assert firing["dueMs"] == due
        assert due <= firing["firedAt"] <= due + 2000  # on time
        assert detail["schedule"]["status"] == "done"
        assert "nextDueMs" not in detail["schedule"]

        session = firing["sessionId"]
        while (snap := (await client.get(f"/chat/{session}")).json())["status"] == "active":
            assert time.monotonic() < deadline, snap
            await asyncio.sleep(0.05)
        texts = [
            part.get("text")
            for m in snap["messages"]
            for part in m["parts"]
            if part.get("type") == "text"
        ]
        assert texts[0] == "ping"
        assert "heard: ping" in texts[-1]
        await asyncio.sleep(1)
        assert len((await client.get(f"/schedules/{sid}")).json()["firings"]) == 1

        listed = (await client.get("/schedules")).json()["schedules"]
        assert [s["scheduleId"] for s in listed] == [sid]
        assert (await client.get("/schedules?status=active")).json()["schedules"] == []


async def test_cron_and_cancel_over_http(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        res = await client.post(
            "/schedules", json={"agent": "echo", "message": "daily", "cron": "0 9 * * mon-fri"}
        )
        assert res.status_code == 201, res.text
        made = res.json()
        assert made["kind"] == "cron"
        assert made["nextDueMs"] % 60_000 == 0
        res = await client.delete(f"/schedules/{made['scheduleId']}")
        assert res.status_code == 200
        assert res.json()["status"] == "cancelled"
        assert "nextDueMs" not in res.json()
        again = await client.delete(f"/schedules/{made['scheduleId']}")
        assert again.status_code == 200
        assert again.json()["status"] == "cancelled"
        at = await client.post(
            "/schedules",
            json={"agent": "echo", "message": "then", "at": "2099-01-01T00:00:00Z"},
        )
        assert at.status_code == 201
        assert at.json()["nextDueMs"] == 4070908800000


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"agent": "echo", "message": "x"}, 400, "invalid_schedule"),
        ({"agent": "echo", "message": "x", "delaySeconds": 1, "cron": "* * * * *"}, 400, None),
        ({"agent": "echo", "message": "x", "cron": "every day"}, 400, "invalid_schedule"),
        ({"agent": "echo", "message": "x", "at": "tomorrow"}, 400, "invalid_schedule"),
        ({"agent": "echo", "message": "x", "at": "2020-01-01T00:00:00Z"}, 400, None),
        ({"agent": "echo", "message": "x", "at": "2099-01-01T00:00:00"}, 400, None),
        ({"agent": "echo", "message": "x", "everySeconds": 0.5}, 422, "invalid_request"),
        ({"agent": "echo", "message": "x", "delaySeconds": -1}, 422, "invalid_request"),
        ({"agent": "echo", "message": "x", "delaySeconds": "1"}, 422, "invalid_request"),
        ({"agent": "echo", "message": "x", "delaySeconds": 1, "onBusy": "no"}, 422, None),
        ({"agent": "echo", "message": "x", "delaySeconds": 1, "extra": 1}, 422, None),
        ({"agent": "nobody", "message": "x", "delaySeconds": 1}, 422, "unknown_agent"),
        ({"message": "x", "delaySeconds": 1}, 400, "invalid_schedule"),
        ({"message": "x", "delaySeconds": 1, "sessionId": "nope"}, 404, "session_not_found"),
        ({"message": "x", "delaySeconds": 1, "sessionId": "bad id"}, 400, "invalid_id"),
        ({"agent": "echo", "message": "", "delaySeconds": 1}, 400, "invalid_schedule"),
        ({"agent": "echo", "message": "x", "delaySeconds": 1e300}, 400, "invalid_schedule"),
        ({"agent": "echo", "message": "x", "everySeconds": 1e300}, 400, "invalid_schedule"),
        ({"agent": "echo", "message": "x", "at": 10**30}, 400, "invalid_schedule"),
        ({"agent": "echo", "message": "x", "at": "9999-12-31T00:00:00+00:00"}, 201, None),
        ({"agent": "echo", "message": "x", "everySeconds": 10**12}, 400, "invalid_schedule"),
    ],
)
async def test_bad_schedules_are_refused(
    make_server: Any, body: dict[str, Any], status: int, code: str | None
) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        res = await client.post("/schedules", json=body)
        assert res.status_code == status, res.text
        if status == 201:
            return
        if code is not None:
            assert res.json()["error"]["code"] == code
        assert res.json()["error"]["message"]
        assert (await client.get("/schedules")).json()["schedules"] == []


async def test_schedules_belong_to_their_user(make_server: Any) -> None:
    server = await make_server(echo(), token={"tok-alice": "alice", "tok-bob": "bob"})
    alice, bob = bearer("tok-alice"), bearer("tok-bob")
    async with server.client() as client:
        assert (await client.get("/schedules")).status_code == 401
        res = await client.post(
            "/schedules", json={"agent": "echo", "message": "x", "delaySeconds": 600}, headers=alice
        )
        sid = res.json()["scheduleId"]
        for method in ("GET", "DELETE"):
            res = await client.request(method, f"/schedules/{sid}", headers=bob)
            assert res.status_code == 404
            assert res.json()["error"]["code"] == "schedule_not_found"
        assert (await client.get("/schedules", headers=bob)).json()["schedules"] == []
        assert len((await client.get("/schedules", headers=alice)).json()["schedules"]) == 1
        chat = await client.post(
            "/chat", json={"message": "hi", "sessionId": "alices"}, headers=alice
        )
        assert chat.status_code == 200
        res = await client.post(
            "/schedules",
            json={"message": "x", "delaySeconds": 1, "sessionId": "alices"},
            headers=bob,
        )
        assert res.status_code == 404
        assert res.json()["error"]["code"] == "session_not_found"
        res = await client.get("/schedules/unknown", headers=alice)
        assert res.status_code == 404


async def test_the_openapi_document_lists_the_schedule_routes(make_server: Any) -> None:
    server = await make_server(echo())
    async with server.client() as client:
        doc = (await client.get("/openapi.json")).json()
    assert {("/schedules", "get"), ("/schedules", "post")} <= documented(doc)
    assert {("/schedules/{scheduleId}", "get"), ("/schedules/{scheduleId}", "delete")} <= (
        documented(doc)
    )
    assert documented(doc) == routes_of(server.app)
    assert "CreateScheduleRequest" in doc["components"]["schemas"]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "agent": st.sampled_from(["echo", "nobody", ""]) | JSON,
        "message": st.text(max_size=30) | JSON,
        "at": st.sampled_from(["2099-01-01T00:00:00Z", "2099-01-01", "now", ""])
        | st.integers()
        | JSON,
        "delaySeconds": st.floats(allow_nan=False, allow_infinity=False) | st.integers() | JSON,
        "cron": st.sampled_from(["* * * * *", "61 * * * *", "@daily", "0 0 31 2 *"]) | JSON,
        "everySeconds": st.floats(allow_nan=False, allow_infinity=False) | st.integers() | JSON,
        "sessionId": st.sampled_from(["nope", "bad id", "-x", "a" * 80]) | JSON,
        "metadata": JSON,
        "onBusy": st.sampled_from(["queue", "skip", "supersede", "later"]) | JSON,
        "misfire": st.sampled_from(["run_late", "skip", "x"]) | JSON,
        "misfireGraceSeconds": st.floats(allow_nan=False, allow_infinity=False)
        | st.integers()
        | JSON,
    },
)


async def test_no_body_or_id_makes_a_server_error(make_server: Any) -> None:
    # Hypothesis drives the cases from a plain function; each request goes to the live
    # server through the running loop (the server shares it).
    server = await make_server(echo())
    loop = asyncio.get_running_loop()
    seen: set[int] = set()

    async def one(body: Any, schedule_id: str) -> None:
        async with server.client() as client:
            res = await client.post("/schedules", json=body)
            assert res.status_code < 500, (body, res.text)
            assert res.status_code in (201, 400, 404, 422), (body, res.text)
            if res.status_code >= 400:
                assert res.json()["error"]["message"]
            seen.add(res.status_code)
            for method in ("GET", "DELETE"):
                res = await client.request(method, f"/schedules/{quote(schedule_id, safe='')}")
                assert res.status_code in (404, 405), (schedule_id, res.text)

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(FIELDS, JSON), st.text(min_size=1, max_size=70))
    def check(body: Any, schedule_id: str) -> None:
        asyncio.run_coroutine_threadsafe(one(body, schedule_id), loop).result(timeout=30)

    await asyncio.to_thread(check)
    assert {400, 422} <= seen
