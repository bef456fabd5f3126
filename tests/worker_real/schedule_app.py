"""The Worker of ``test_schedules_real.py``'s declared-job and follow-up test: the schedule
agents, and a cron job declared in code that fires every minute. Shipped with
``AppSpec("tests.worker_real.schedule_app:app", <repo root>, with_testing=True)``; nothing
here does I/O or draws randomness at import."""

from __future__ import annotations

from helix_agents.hosts.cloudflare import CloudflareApp
from helix_agents.schedules import CronJob
from tests.schedules.agents import echo, reminder

MINUTELY = CronJob(name="minutely", cron="* * * * *", agent="echo", message="tick")

app = CloudflareApp([echo(), reminder()], schedules=[MINUTELY])
