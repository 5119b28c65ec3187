"""api-traces as shards: the sessions of a range of users, and the transition check over all shards.

A user's sessions are contiguous (session ids follow users), so users ``start .. stop`` own sessions
``first .. last``; they are simulated block by block as the unsharded run does (a range starting
inside a block simulates that block from its start and keeps its own sessions: sessions are
prefix-stable). The transition check is not decided per shard: each shard reports its edge counts,
the commit adds them up and compares the estimate of the whole set with the truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from synth_pipelines.core.domain import SCHEMA_CHECK, ConstraintViolation, RunContext, UnitsWritten
from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.api_traces.simulate import (
    CALLS_SCHEMA,
    SESSION_BLOCK,
    compile_workflow,
    draw_users,
    simulate_block,
)
from synth_pipelines.domains.api_traces.truth import estimate_from_counts, estimate_transitions
from synth_pipelines.domains.api_traces.workflow import load_workflow

if TYPE_CHECKING:
    from synth_pipelines.domains.api_traces.domain import ApiTracesDomain

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


def write_users(
    domain: ApiTracesDomain, cfg: ApiTracesConfig, seed: int, start: int, stop: int, out_dir: Path, ctx: RunContext
) -> UnitsWritten:
    """Users ``start .. stop``: their sessions' calls checked as the unsharded run checks them, then exported."""
    from synth_pipelines.domains.api_traces.domain import check_walks, conform_calls, walks_outcome

    workflow = load_workflow(cfg.workflow)
    sessions = np.concatenate([[0], np.cumsum(draw_users(cfg, seed).sessions)])
    calls = conform_calls(simulate_sessions(cfg, seed, int(sessions[start]), int(sessions[stop])))
    check_walks(calls, workflow)
    schema = domain.schema_outcome({"calls": calls}, cfg)
    walks = walks_outcome(calls, workflow)
    for outcome in (schema, walks):
        if not outcome.passed:
            raise ConstraintViolation(f"{domain.name} seed={seed} users {start}..{stop}: {outcome.summary}")
    edges = estimate_transitions(calls).edges if calls.height else None
    counts = {} if edges is None else {f"{a}{EDGE_SEPARATOR}{b}": int(n) for a, b, n, _ in edges.iter_rows()}
    files = domain.export({"calls": calls}, cfg, seed, out_dir, ctx)
    return UnitsWritten(
        files,
        {
            SCHEMA_CHECK.name: {"passed": True, "rows": calls.height},
            walks.name: {"passed": True, "sessions": int(walks.metadata["sessions"]), "violations": 0},
            # Decided over all shards (transitions_over_shards): a shard's counts alone prove nothing.
            "transition_probabilities_recovered": {"passed": True, "edge_counts": counts},
        },
    )


def transitions_over_shards(cfg: ApiTracesConfig, checks: dict[str, Any]) -> dict[str, Any]:
    """The transition check of the whole set, from the edge counts every shard reported (summed)."""
    from synth_pipelines.domains.api_traces.domain import TRANSITIONS_CHECK, transitions_outcome_of

    summed = checks[TRANSITIONS_CHECK.name]["edge_counts"]
    pairs = [key.split(EDGE_SEPARATOR, 1) for key in summed]
    counts = pl.DataFrame(
        {"from": [a for a, _ in pairs], "to": [b for _, b in pairs], "count": list(summed.values())},
        schema={"from": pl.String, "to": pl.String, "count": pl.Int64},
    )
    outcome = transitions_outcome_of(estimate_from_counts(counts), load_workflow(cfg.workflow))
    numbers = {k: v for k, v in outcome.metadata.items() if isinstance(v, int | float | bool | str)}
    return checks | {
        TRANSITIONS_CHECK.name: {"passed": outcome.passed, "summary": outcome.summary, **numbers, "edge_counts": summed}
    }
