"""The cron trigger on the real Worker: its ``scheduled`` handler sweeps suspensions past
their expiry, and the run fails ``suspension_expired`` as on the local host
(tests/hitl/test_expiry.py). wrangler dev runs the handler on
``GET /cdn-cgi/local/scheduled``.

The app (helix_worker.py) is the ``ops`` example's tools on the demo model, with
``pending_expires_in`` of a few seconds: a deploy waits for an approval that never comes.
"""

from __future__ import annotations

import time

import httpx
import pytest

from .helix_worker import HelixWorker, chat, snapshot, wait_for_status

pytestmark = [pytest.mark.worker_real, pytest.mark.timeout(300)]

EXPIRES_IN = 4.0  # write_app's default


def trigger_cron(worker: HelixWorker) -> None:
    response = httpx.get(
        worker.url + "/cdn-cgi/local/scheduled", params={"cron": "*/5 * * * *"}, timeout=60
    )
    assert response.status_code == 200, response.text


def test_the_cron_expires_a_suspended_run(app_worker: HelixWorker) -> None:
    url = app_worker.url
    asked = time.monotonic()  # the suspension, and so its expiry's start, came after this
    response, chunks = chat(url, "ops", "deploy billing 1.5.0", "cron-1")
    assert response.status_code == 200
    suspended_at = time.monotonic()
    approvals = [c for c in chunks if c["type"] == "tool-approval-request"]
    assert len(approvals) == 1, chunks
    state = snapshot(url, "cron-1")
    assert state["status"] == "suspended_client_tool", state
    [deploy_part] = [p for p in state["messages"][-1]["parts"] if p.get("type") == "tool-deploy"]
    assert deploy_part["state"] == "approval-requested"

    # Before the expiry, the sweep leaves it waiting (checked unless this machine was too
    # slow to ask in time).
    trigger_cron(app_worker)
    if time.monotonic() < asked + EXPIRES_IN:
        assert snapshot(url, "cron-1")["status"] == "suspended_client_tool"

    time.sleep(max(0.0, EXPIRES_IN + 1.0 - (time.monotonic() - suspended_at)))
    trigger_cron(app_worker)
    state = wait_for_status(url, "cron-1", {"failed"})
    assert state["status"] == "failed", state
    assert state["activeRun"] is None
    assert "expired" in (state["error"] or ""), state
    assert "deploy" in (state["error"] or ""), state
    assert state["runId"] == "cron-1--t1--r1"
    [deploy_part] = [p for p in state["messages"][-1]["parts"] if p.get("type") == "tool-deploy"]
    # An unanswered approval that expires ends as what it is: not approved (docs/hitl.md).
    assert deploy_part["state"] == "output-denied"
    assert deploy_part["approval"]["approved"] is False

    # Expired for good: an approval now is refused, and a new turn works.
    late = httpx.post(
        f"{url}/chat/cron-1/submit-tool-result",
        json={"toolCallId": deploy_part["toolCallId"], "approved": True},
        timeout=60,
    )
    assert late.status_code == 409, late.text
    trigger_cron(app_worker)  # and a later sweep finds nothing more to do
    assert snapshot(url, "cron-1")["status"] == "failed"
    response, chunks = chat(url, "ops", "check billing", "cron-1")
    assert response.status_code == 200
    assert snapshot(url, "cron-1")["status"] == "completed"
