"""api-traces: session j depends only on the seed and j (more users add sessions after, never change earlier ones)."""

from __future__ import annotations

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from synth_pipelines.core.domain import RunContext
from synth_pipelines.core.rng import BLOCK_ROWS
from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.api_traces.domain import ApiTracesDomain
from synth_pipelines.domains.api_traces.simulate import compile_workflow, draw_users, simulate_block
from synth_pipelines.domains.api_traces.workflow import load_workflow


def _calls(users: int, workflow: str) -> pl.DataFrame:
    domain = ApiTracesDomain()
    cfg = domain.parse_config({"users": users, "workflow": workflow, "cascade_failure_rate": 0.3})
    return domain.normalize(domain.draw(cfg, 5, RunContext()), cfg)["calls"]


def test_100_users_are_the_first_sessions_of_300_users() -> None:
    for workflow in ("ecommerce", "microservices"):
        small, large = _calls(100, workflow), _calls(300, workflow)
        sessions = small["session_id"].max()
        assert large["session_id"].max() > sessions
        assert small.height > 0
        assert_frame_equal(small, large.filter(pl.col("session_id") <= sessions))


def test_users_and_sessions_straddling_a_block_boundary_are_prefixes() -> None:
    cfg = ApiTracesConfig(users=BLOCK_ROWS + 20, cascade_failure_rate=0.3)
    fewer, more = draw_users(cfg, 5), draw_users(cfg.model_copy(update={"users": BLOCK_ROWS + 90}), 5)
    assert np.array_equal(fewer.user_type, more.user_type[: fewer.user_type.size])
    assert np.array_equal(fewer.sessions, more.sessions[: fewer.sessions.size])
    # The second block of sessions, cut short at 20 or 90 sessions: the first 20 agree.
    model = compile_workflow(load_workflow("ecommerce"), cfg)
    users = np.arange(1, 91, dtype=np.int64)
    types = more.user_type[:90].astype(np.int64)
    short = simulate_block(model, cfg, 5, 1, BLOCK_ROWS + 1, users[:20], types[:20])
    long = simulate_block(model, cfg, 5, 1, BLOCK_ROWS + 1, users, types)
    assert_frame_equal(short, long.filter(pl.col("session_id") <= BLOCK_ROWS + 20))
