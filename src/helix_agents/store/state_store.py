"""``StateStore``: every read and write of the runtime's state, over the Database port."""

from __future__ import annotations

from .checkpoints import CheckpointOps
from .control import ControlOps
from .messages import MessageOps
from .refs import SubSessionOps
from .runs import RunOps
from .sessions import SessionOps
from .steps import StepOps
from .summaries import SummaryOps
from .suspensions import SuspensionOps
from .usage import UsageOps

__all__ = ["StateStore"]


class StateStore(
    StepOps,
    CheckpointOps,
    SessionOps,
    MessageOps,
    RunOps,
    ControlOps,
    SubSessionOps,
    SuspensionOps,
    SummaryOps,
    UsageOps,
):
    """The state of sessions, in the V9 ``__agents_*`` schema, on any Database driver.

    ``StateStore(db, clock=...)``; ``clock`` returns epoch milliseconds (tests pass a fake).
    The schema must exist: call :func:`helix_agents.store.migrate` first (cheap to repeat).

    The methods come in parts, one module each:

    - sessions (:mod:`.sessions`): ``create_session``, ``load_session``,
      ``require_session``, ``save_session`` (guarded by the active run), ``set_step_count``,
      ``list_sessions``, ``list_session_heads`` (with each one's opening, in one statement);
    - messages (:mod:`.messages`): ``append_messages``/``append_message`` (idempotent by
      sequence), ``append_tool_result`` (with a custom-state patch), ``get_message``,
      ``load_messages`` (pages), ``count_messages``, ``next_sequence``;
    - runs (:mod:`.runs`): ``start_run``/``begin_run`` (one active run per session, or
      ``supersede``), ``get_run``, ``active_run``, ``latest_run``,
      ``list_runs``, ``list_active_runs``;
    - control (:mod:`.control`): ``request_interrupt``, ``interrupt_requested``,
      ``get_interrupt``, ``clear_interrupt``, ``abort``, ``abort_requested``,
      ``get_control``, ``set_suspension``, ``clear_suspension``, ``expired_suspensions``;
    - sub-sessions (:mod:`.refs`): ``add_sub_session``, ``update_sub_session``,
      ``get_sub_session``, ``list_sub_sessions``, ``find_sub_session_by_name``,
      ``find_parent``, ``swap_remote_json``;
    - steps (:mod:`.steps`): ``step_view``, ``commit_model_step``, ``commit_tool_step``:
      what one agent step reads and writes, one statement each; ``finish_run`` (a run's
      end outside a step's commit, through the same view);
    - suspensions (:mod:`.suspensions`): ``pending_view``, ``swap_pending`` and ``swap_suspension``
      (compare-and-swap, for submissions and the expiry sweep), ``suspended_sessions``,
      ``has_tool_result``, ``turn_started_by``;
    - checkpoints (:mod:`.checkpoints`): ``list_checkpoints``, ``get_checkpoint``,
      ``rewind``, ``fork``, ``set_custom_state`` (a human's edit, while no run is active);
    - usage (:mod:`.usage`): ``record_usage`` (idempotent by ``record_id``),
      ``usage_records``, ``run_usage``, ``usage_rollup`` (optionally over sub-sessions);
    - summaries (:mod:`.summaries`): ``latest_summary``, ``save_summary`` (what
      ``summarize_older`` stores, with its usage, idempotently).

    Errors: :class:`~helix_agents.errors.SessionNotFoundError`,
    :class:`~helix_agents.errors.ConflictError` (the writer does not hold the session, a
    duplicate session, a second active run), :class:`~helix_agents.errors.ValueTooLargeError`
    (over D1's 2 MB), and the driver's :class:`~helix_agents.errors.DatabaseError`.
    """
