"""The state store: sessions, messages, runs, flags, sub-sessions and usage in the V9 schema.

``migrate(db)`` creates or updates the schema from ``migrations/*.sql`` (the files wrangler
applies); ``StateStore(db)`` reads and writes it through the Database port, the same on the
local SQLite file and on D1.
"""

from .control import ControlFlags, InterruptRequest, SuspendedSession
from .messages import StoredMessage
from .migrate import Migration, applied_versions, ensure_schema, load_migrations, migrate
from .runs import StartedRun
from .sessions import SessionHead
from .state_store import StateStore
from .steps import Outcome, StepView, Suspension
from .suspensions import PendingView

__all__ = [
    "ControlFlags",
    "InterruptRequest",
    "Migration",
    "Outcome",
    "PendingView",
    "SessionHead",
    "StartedRun",
    "StateStore",
    "StepView",
    "StoredMessage",
    "SuspendedSession",
    "Suspension",
    "applied_versions",
    "ensure_schema",
    "load_migrations",
    "migrate",
]
