"""One session of a run, from Python: the API-trace generator's ``generate_session()``, here.

``generate_session`` draws only the block of sessions that holds the one asked for (blocks have their
own keyed streams), so its calls are exactly that session's rows of ``calls.parquet`` from
``synth api-traces`` or Dagster with the same workflow, seed and settings, without simulating the run.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import polars as pl

from synth_pipelines.core.limits import require_memory
from synth_pipelines.domains.api_traces.config import CALL_BYTES_MIN, SESSION_BYTES, USER_BYTES, ApiTracesConfig
from synth_pipelines.domains.api_traces.simulate import SESSION_BLOCK, USER_TYPES, SessionPlan, plan_sessions
from synth_pipelines.domains.api_traces.workflow import Workflow, load_workflow


def generate_session(
    workflow: str | os.PathLike[str] | Workflow = "ecommerce",
    *,
    seed: int = 42,
    session_id: int | None = None,
    user_type: str | None = None,
    **settings: Any,
) -> pl.DataFrame:
    """The calls of one session (``calls.parquet``'s columns, ordered by ``seq``) of the run with these settings.

    ``workflow``: a built-in name, a YAML path or a loaded ``Workflow``; ``settings``: any other field of
    ``ApiTracesConfig`` (``users``, ``days``, ``cascade_failure_rate``...), as in the CLI and Dagster.
    ``session_id`` (1-based, as in the output) picks the session; without it, ``user_type`` picks the
    run's first session of a ``premium``, ``free`` or ``guest`` user, and with neither it is session 1.
    A user's type is part of the run (drawn with the user), so ``user_type`` selects, never overrides:
    given with a ``session_id`` of another type, it is refused. Bad arguments raise ``ValueError``.
    """
    if user_type is not None and user_type not in USER_TYPES:
        raise ValueError(f"user_type must be one of {', '.join(USER_TYPES)}, got {user_type!r}")
    if isinstance(workflow, Workflow):
        flow, name = workflow, workflow.name
    else:
        name = os.fspath(workflow)
        flow = load_workflow(name)
    cfg = ApiTracesConfig.model_validate({"workflow": name, **settings})
    _require_memory_for_one_block(cfg)
    plan = plan_sessions(flow, cfg, seed)
    if session_id is None:
        session_id = 1 if user_type is None else _first_session_of(plan, user_type, seed)
    if not 1 <= session_id <= plan.sessions:
        raise ValueError(f"session_id must be 1..{plan.sessions:,} for this run (seed {seed}), got {session_id}")
    actual = USER_TYPES[plan.users.user_type[plan.session_user[session_id - 1]]]
    if user_type is not None and actual != user_type:
        raise ValueError(f"session {session_id} (seed {seed}) belongs to a {actual} user, not {user_type}")
    block = (session_id - 1) // SESSION_BLOCK
    start = block * SESSION_BLOCK
    calls = plan.block(block, start, min(SESSION_BLOCK, plan.sessions - start))
    return calls.filter(pl.col("session_id") == session_id)


def _first_session_of(plan: SessionPlan, user_type: str, seed: int) -> int:
    """The 1-based id of the first session of the run's first user of ``user_type``."""
    of_type = np.flatnonzero(plan.users.user_type == USER_TYPES.index(user_type))
    if not of_type.size:
        raise ValueError(f"no {user_type} user in this run ({plan.cfg.users:,} users, seed {seed})")
    return int(plan.users.sessions[: of_type[0]].sum()) + 1  # sessions are numbered user by user


def _require_memory_for_one_block(cfg: ApiTracesConfig) -> None:
    """The users and the session owners of the whole run, and the calls of one block (not of the run)."""
    sessions = cfg.users * max(1.0, cfg.sessions_per_user_mean)
    require_memory(
        f"users {cfg.users:,} x sessions_per_user_mean {cfg.sessions_per_user_mean:g} (~{sessions:,.0f} sessions)",
        cfg.users * USER_BYTES + sessions * SESSION_BYTES + min(sessions, SESSION_BLOCK) * CALL_BYTES_MIN,
        "lower users or sessions_per_user_mean",
    )
