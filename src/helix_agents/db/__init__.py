"""Drivers of the :class:`~helix_agents.ports.Database` port, and D1's rules they share.

- :mod:`helix_agents.db.sqlite` — ``SQLiteDatabase``, the local host's driver (stdlib ``sqlite3``);
- :mod:`helix_agents.db.rules` — D1's limits and value conversions, enforced by every driver;
- :mod:`helix_agents.db.sqltext` — reading SQL text (statement splitting, parameters, keywords).

The D1 driver lives with the Cloudflare host (:mod:`helix_agents.hosts.cloudflare.d1`) and a
fake D1 binding for tests in :mod:`helix_agents.testing.d1`. Nothing is imported here, so that
the Worker never loads ``sqlite3``.
"""
