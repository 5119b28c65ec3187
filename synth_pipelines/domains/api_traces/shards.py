"""api-traces as shards: the sessions of a range of users, and the edge counts of the transition check.

A user's sessions are contiguous (session ids follow users), so users ``start .. stop`` own sessions
``first .. last``; they are simulated block by block as the unsharded run does (a range starting
inside a block simulates that block from its start and keeps its own sessions: sessions are
prefix-stable). The transition check is not decided per shard: each shard reports its edge counts,
the commit adds them up and compares the estimate of the whole set with the truth.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.api_traces.simulate import (
    CALLS_SCHEMA,
    SESSION_BLOCK,
    compile_workflow,
    draw_users,
    simulate_block,
)
from synth_pipelines.domains.api_traces.truth import estimate_transitions
from synth_pipelines.domains.api_traces.workflow import load_workflow

EDGE_SEPARATOR = " -> "  # "from -> to": edge count keys in a shard manifest


def simulate_sessions(cfg: ApiTracesConfig, seed: int, first: int, stop: int) -> pl.DataFrame:
    """Calls of sessions ``first .. stop`` (0-based; ids ``first + 1 ..``) as the unsharded run has them."""
    model = compile_workflow(load_workflow(cfg.workflow), cfg)
    users = draw_users(cfg, seed)
    session_user = np.repeat(np.arange(users.sessions.size), users.sessions)
    frames = []
    for block in range(first // SESSION_BLOCK, -(-stop // SESSION_BLOCK)):
        block_start = block * SESSION_BLOCK
        owners = session_user[block_start : min(stop, block_start + SESSION_BLOCK)]
        calls = simulate_block(
            model, cfg, seed, block, block_start + 1, users.user_id[owners], users.user_type[owners].astype(np.int64)
        )
        frames.append(calls.filter(pl.col("session_id") > first) if first > block_start else calls)
    return pl.concat(frames, rechunk=False) if frames else pl.DataFrame(schema=CALLS_SCHEMA)


def edge_counts(calls: pl.DataFrame) -> dict[str, int]:
    """``"from -> to": count`` of the walks in ``calls``: what a shard reports for the transition check."""
    if not calls.height:
        return {}
    edges = estimate_transitions(calls).edges
    return {f"{a}{EDGE_SEPARATOR}{b}": int(n) for a, b, n, _ in edges.iter_rows()}


def counts_frame(counts: dict[str, int]) -> pl.DataFrame:
    """Summed ``edge_counts`` of all shards as ``from, to, count`` (for ``truth.estimate_from_counts``)."""
    pairs = [key.split(EDGE_SEPARATOR, 1) for key in counts]
    return pl.DataFrame(
        {"from": [a for a, _ in pairs], "to": [b for _, b in pairs], "count": list(counts.values())},
        schema={"from": pl.String, "to": pl.String, "count": pl.Int64},
    )
