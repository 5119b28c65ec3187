"""Ground truth, estimation from calls, and the comparison users run on their own learned matrix.

``ground_truth(workflow)`` is what ``ground_truth.json`` holds: the entry and transition
probabilities that generated the calls. ``estimate_transitions(calls)`` counts them back from the
calls (retry duplicates excluded: a retry repeats a call, it is not a step of the walk), and
``compare_transitions(learned, truth)`` reports absolute errors per state. The entry distribution is
compared as the pseudo-state ``ENTRY``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from synth_pipelines.domains.api_traces.workflow import Workflow

ENTRY = "(entry)"
# How many standard errors an estimated probability may stray before the check calls it wrong.
# With a few hundred edges per workflow, a 5-sigma excursion happens by chance about once in 10^4 runs.
DEFAULT_Z = 5.0
# The hard promise: from this many sessions on, no estimated probability is off by 0.01 or more.
# The built-in workflows are designed to keep it (every state is left often enough; tested on many seeds).
BOUND_SESSIONS = 100_000
BOUND_MAX_ABS_ERROR = 0.01


def expected_visits(workflow: Workflow) -> dict[str, float]:
    """Expected calls to each endpoint per session (retries excluded), from the fundamental matrix."""
    endpoints = workflow.endpoints
    n = len(endpoints)
    p, start = workflow.arrays()
    # visits = start + visits @ P  (exit rows of P are zero), so visits = start @ (I - P)^-1.
    visits = np.linalg.solve((np.eye(n) - p).T, start)
    return {e: float(v) for e, v in zip(endpoints, visits, strict=True)}


def ground_truth(workflow: Workflow) -> dict[str, Any]:
    visits = expected_visits(workflow)
    return {
        "workflow": workflow.name,
        "states": workflow.endpoints,
        "entry_points": dict(workflow.entry_points),
        "transitions": {src: dict(row) for src, row in workflow.transitions.items()},
        "exit_points": list(workflow.exit_points),
        "expected_calls_per_session": round(sum(visits.values()), 12),
        "expected_visits_per_session": {e: round(v, 12) for e, v in visits.items()},
    }


def ground_truth_json(workflow: Workflow) -> str:
    return json.dumps(ground_truth(workflow), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# Estimation


def walk_steps(calls: pl.DataFrame) -> pl.DataFrame:
    """One row per step of each walk: ``session_id, from, to`` (``from`` is ``ENTRY`` for the first).

    Retries are dropped first, so a retried call counts once.
    """
    steps = calls.filter(~pl.col("is_retry")).select("session_id", "seq", "endpoint").sort("session_id", "seq")
    first = pl.col("session_id") != pl.col("session_id").shift(1)
    return steps.select(
        "session_id",
        pl.when(first.fill_null(True)).then(pl.lit(ENTRY)).otherwise(pl.col("endpoint").shift(1)).alias("from"),
        pl.col("endpoint").alias("to"),
    )


@dataclass(frozen=True)
class TransitionEstimate:
    """Maximum-likelihood entry and transition probabilities, with the counts behind them."""

    entry_points: dict[str, float]
    transitions: dict[str, dict[str, float]]
    observations: dict[str, int]  # departures per state (``ENTRY``: number of sessions)
    edges: pl.DataFrame  # from, to, count, probability


def estimate_transitions(calls: pl.DataFrame) -> TransitionEstimate:
    """Count the walk back from the calls (retries excluded)."""
    return estimate_from_counts(walk_steps(calls).group_by("from", "to").len("count"))


def estimate_from_counts(counts: pl.DataFrame) -> TransitionEstimate:
    """The estimate from edge counts (``from, to, count``): counts of shards add up to the whole set's."""
    edges = counts.with_columns((pl.col("count") / pl.col("count").sum().over("from")).alias("probability")).sort(
        "from", "to"
    )
    table: dict[str, dict[str, float]] = {}
    observations: dict[str, int] = {}
    for src, dst, count, prob in edges.iter_rows():
        table.setdefault(src, {})[dst] = prob
        observations[src] = observations.get(src, 0) + count
    entry = table.pop(ENTRY, {})
    return TransitionEstimate(entry, table, observations, edges)


# ---------------------------------------------------------------------------------------------
# Comparison


Learned = TransitionEstimate | Mapping[str, Any] | pl.DataFrame
Truth = Workflow | Mapping[str, Any] | str | os.PathLike[str]


def _truth_tables(truth: Truth) -> tuple[dict[str, float], dict[str, dict[str, float]], list[str]]:
    if isinstance(truth, Workflow):
        truth = ground_truth(truth)
    elif isinstance(truth, str | os.PathLike):
        truth = json.loads(Path(truth).read_text())
    if "transitions" not in truth:
        raise ValueError("truth must be a Workflow, a ground_truth.json path or its parsed dict (no 'transitions')")
    exits = list(truth.get("exit_points", []))
    return dict(truth.get("entry_points") or {}), {k: dict(v) for k, v in truth["transitions"].items()}, exits


def _learned_tables(
    learned: Learned,
) -> tuple[dict[str, float] | None, dict[str, dict[str, float]], dict[str, int]]:
    if isinstance(learned, TransitionEstimate):
        return learned.entry_points, learned.transitions, learned.observations
    if isinstance(learned, pl.DataFrame):
        missing = {"from", "to", "probability"} - set(learned.columns)
        if missing:
            raise ValueError(f"a learned frame needs columns from, to, probability; missing {sorted(missing)}")
        table: dict[str, dict[str, float]] = {}
        for src, dst, prob in learned.select("from", "to", "probability").iter_rows():
            table.setdefault(src, {})[dst] = float(prob)
        entry = table.pop(ENTRY, None)
        return entry, table, {}
    if "transitions" in learned:
        entry = learned.get("entry_points")
        return (
            (dict(entry) if entry is not None else None),
            {k: dict(v) for k, v in learned["transitions"].items()},
            {},
        )
    table = {k: dict(v) for k, v in learned.items()}
    return table.pop(ENTRY, None), table, {}


@dataclass(frozen=True)
class TransitionComparison:
    """Absolute errors of a learned chain against the truth, per state and per edge."""

    states: pl.DataFrame  # state, edges, observations, max_abs_error, mean_abs_error, max_z
    edges: pl.DataFrame  # from, to, truth, learned, abs_error, tolerance
    missing_states: list[str] = field(default_factory=list)  # truth states the learned chain never left

    @property
    def max_abs_error(self) -> float:
        return float(self.edges["abs_error"].max() or 0.0) if self.edges.height else 0.0

    @property
    def mean_abs_error(self) -> float:
        return float(self.edges["abs_error"].mean() or 0.0) if self.edges.height else 0.0

    def within(self, max_abs_error: float) -> bool:
        return self.max_abs_error < max_abs_error

    def within_sampling_error(self) -> bool:
        """Every edge within ``z`` standard errors of the truth (needs observation counts)."""
        return bool((self.edges["abs_error"] <= self.edges["tolerance"]).all())

    def worst_edges(self, limit: int = 10) -> pl.DataFrame:
        return self.edges.sort("abs_error", descending=True).head(limit)


def compare_transitions(learned: Learned, truth: Truth, z: float = DEFAULT_Z) -> TransitionComparison:
    """Compare a learned Markov chain with the ground truth.

    ``learned`` is a ``TransitionEstimate``, a dict shaped like ``ground_truth.json`` (``entry_points``
    and ``transitions``), a plain ``{state: {next: p}}`` dict (``"(entry)"`` as a state for the entry
    distribution), or a polars frame with columns ``from, to, probability``. ``truth`` is a
    ``Workflow``, the parsed ``ground_truth.json`` or its path. An edge missing on either side counts
    as probability 0. A truth state the learned chain has no row for is listed in ``missing_states``
    and left out of the errors. ``tolerance`` per edge is ``z`` standard errors of a multinomial share
    plus half an observation (infinite when the learned side carries no counts).
    """
    truth_entry, truth_transitions, _ = _truth_tables(truth)
    learned_entry, learned_transitions, observations = _learned_tables(learned)
    rows_truth = {ENTRY: truth_entry, **truth_transitions} if learned_entry is not None else truth_transitions
    rows_learned = {ENTRY: learned_entry or {}, **learned_transitions}
    missing = [s for s in rows_truth if s not in rows_learned or not rows_learned[s]]
    edge_rows: list[tuple[str, str, float, float, float, float]] = []
    for state, truth_row in rows_truth.items():
        if state in missing:
            continue
        learned_row = rows_learned[state]
        n = observations.get(state)
        for dst in [*truth_row, *(d for d in learned_row if d not in truth_row)]:
            p, q = float(truth_row.get(dst, 0.0)), float(learned_row.get(dst, 0.0))
            tol = z * math.sqrt(p * (1 - p) / n) + 0.5 / n if n else math.inf
            edge_rows.append((state, dst, p, q, abs(p - q), tol))
    for state, learned_row in rows_learned.items():
        if state not in rows_truth and learned_row:  # a state the truth does not know at all
            n = observations.get(state)
            for dst, q in learned_row.items():
                edge_rows.append((state, dst, 0.0, float(q), abs(float(q)), 0.5 / n if n else math.inf))
    edges = pl.DataFrame(
        edge_rows,
        schema={
            "from": pl.String,
            "to": pl.String,
            "truth": pl.Float64,
            "learned": pl.Float64,
            "abs_error": pl.Float64,
            "tolerance": pl.Float64,
        },
        orient="row",
    )
    counts = pl.DataFrame(
        {"state": list(observations), "observations": list(observations.values())},
        schema={"state": pl.String, "observations": pl.Int64},
    )
    states = (
        edges.group_by("from", maintain_order=True)
        .agg(
            pl.len().alias("edges"),
            pl.col("abs_error").max().alias("max_abs_error"),
            pl.col("abs_error").mean().alias("mean_abs_error"),
        )
        .rename({"from": "state"})
        .join(counts, on="state", how="left")
        .select("state", "edges", "observations", "max_abs_error", "mean_abs_error")
    )
    return TransitionComparison(states=states, edges=edges, missing_states=missing)


@dataclass(frozen=True)
class RecoveryVerdict:
    """Whether an estimate recovered the truth, and by which criterion."""

    passed: bool
    criterion: str  # human-readable: what was required
    within_bound: bool | None  # max abs error < BOUND_MAX_ABS_ERROR; None below BOUND_SESSIONS sessions
    within_sampling_error: bool


def recovery_verdict(comparison: TransitionComparison, sessions: int) -> RecoveryVerdict:
    """The rule the Dagster check applies to an estimate from ``sessions`` sessions.

    With at least ``BOUND_SESSIONS`` sessions the hard bound (max absolute error below
    ``BOUND_MAX_ABS_ERROR``) must hold, and every edge must also be within sampling error. With fewer
    sessions a fixed bound would be unfair to rare states (and too lax for frequent ones), so only the
    sampling-error criterion applies: every edge within ``z`` standard errors plus half an observation.
    """
    sampling = comparison.within_sampling_error()
    if sessions >= BOUND_SESSIONS:
        bound = comparison.within(BOUND_MAX_ABS_ERROR)
        return RecoveryVerdict(
            passed=bound and sampling,
            criterion=f"{sessions:,} sessions >= {BOUND_SESSIONS:,}: max abs error < {BOUND_MAX_ABS_ERROR} "
            f"and every edge within {DEFAULT_Z:g} standard errors",
            within_bound=bound,
            within_sampling_error=sampling,
        )
    return RecoveryVerdict(
        passed=sampling,
        criterion=f"{sessions:,} sessions < {BOUND_SESSIONS:,}: every edge within {DEFAULT_Z:g} standard "
        f"errors (the {BOUND_MAX_ABS_ERROR} bound applies from {BOUND_SESSIONS:,} sessions)",
        within_bound=None,
        within_sampling_error=sampling,
    )


# ---------------------------------------------------------------------------------------------
# Structure of the walks


def _text(*parts: pl.Expr) -> pl.Expr:
    # concat_str rather than pl.format: polars 2.1 panics in pl.format over some filtered frames.
    return pl.concat_str(parts)


def session_path_violations(calls: pl.DataFrame, truth: Truth) -> pl.DataFrame:
    """Every way a session breaks the workflow: ``session_id, seq, problem`` (empty when all is well).

    A session must start at an entry point (positive probability), take only declared edges
    (positive probability), end at an exit point, number its calls 0..n-1, and a retry must repeat
    the call right before it.
    """
    entry, transitions, exits = _truth_tables(truth)
    entry_ok = [e for e, p in entry.items() if p > 0]
    declared = pl.DataFrame(
        [(src, dst) for src, row in transitions.items() for dst, p in row.items() if p > 0],
        schema={"from": pl.String, "to": pl.String},
        orient="row",
    ).with_columns(pl.lit(True).alias("declared"))
    ordered = calls.select("session_id", "seq", "endpoint", "is_retry").sort("session_id", "seq")
    same_session = (pl.col("session_id") == pl.col("session_id").shift(1)).fill_null(False)
    last_in_session = (pl.col("session_id") != pl.col("session_id").shift(-1)).fill_null(True)
    marked = ordered.with_columns(
        pl.int_range(pl.len()).over("session_id").alias("position"),
        same_session.alias("continues"),
        last_in_session.alias("last"),
        pl.col("endpoint").shift(1).alias("previous"),
    )
    problems = [
        marked.filter(pl.col("seq") != pl.col("position")).select(
            "session_id",
            "seq",
            _text(
                pl.lit("seq "),
                pl.col("seq").cast(pl.String),
                pl.lit(" where "),
                pl.col("position").cast(pl.String),
                pl.lit(" was expected"),
            ).alias("problem"),
        ),
        marked.filter(~pl.col("continues") & (~pl.col("endpoint").is_in(entry_ok) | pl.col("is_retry"))).select(
            "session_id",
            "seq",
            _text(
                pl.lit("starts at "),
                pl.col("endpoint").cast(pl.String),
                pl.lit(", which is not an entry point"),
            ).alias("problem"),
        ),
        marked.filter(pl.col("last") & ~pl.col("endpoint").is_in(exits)).select(
            "session_id",
            "seq",
            _text(pl.lit("ends at "), pl.col("endpoint").cast(pl.String), pl.lit(", which is not an exit point")).alias(
                "problem"
            ),
        ),
        marked.filter(pl.col("is_retry") & pl.col("continues") & (pl.col("endpoint") != pl.col("previous"))).select(
            "session_id",
            "seq",
            _text(
                pl.lit("retry of "),
                pl.col("endpoint").cast(pl.String),
                pl.lit(" follows "),
                pl.col("previous").cast(pl.String),
            ).alias("problem"),
        ),
    ]
    steps = (
        marked.filter(~pl.col("is_retry"))
        .with_columns(
            (pl.col("session_id") == pl.col("session_id").shift(1)).fill_null(False).alias("step_continues"),
            pl.col("endpoint").shift(1).alias("from"),
        )
        .filter("step_continues")
        .join(declared, left_on=["from", "endpoint"], right_on=["from", "to"], how="left")
        .filter(pl.col("declared").is_null())
    )
    problems.append(
        steps.select(
            "session_id",
            "seq",
            _text(
                pl.lit("takes undeclared edge "),
                pl.col("from").cast(pl.String),
                pl.lit(" -> "),
                pl.col("endpoint").cast(pl.String),
            ).alias("problem"),
        )
    )
    return pl.concat(problems).sort("session_id", "seq", "problem")
