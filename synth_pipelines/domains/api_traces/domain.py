"""The ``api_traces`` domain: calls drawn from a workflow's Markov chain, exports and ground truth.

Besides the schema, two checks prove what the data claims: every session is a legal walk of the
workflow (blocking), and the entry and transition probabilities estimated from the calls (retries
excluded) match the ground truth within sampling error (reported with per-state errors; not
blocking, since a statistical bound can miss on a small run without any row being wrong).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandera.polars as pa
import polars as pl

from synth_pipelines.core.atomic import atomic_path
from synth_pipelines.core.domain import (
    SCHEMA_CHECK,
    CheckOutcome,
    CheckSpec,
    ConstraintViolation,
    Domain,
    Markdown,
    RunContext,
    Tables,
    UnitsWritten,
)
from synth_pipelines.core.export import write_frame
from synth_pipelines.core.preview import markdown_table
from synth_pipelines.domains.api_traces.config import ApiTracesConfig, require_memory_for
from synth_pipelines.domains.api_traces.shards import counts_frame, edge_counts, simulate_sessions
from synth_pipelines.domains.api_traces.simulate import (
    CALLS_SCHEMA,
    FAILURE_KINDS,
    USER_TYPES,
    draw_users,
    simulate_calls,
)
from synth_pipelines.domains.api_traces.truth import (
    BOUND_MAX_ABS_ERROR,
    BOUND_SESSIONS,
    ENTRY,
    TransitionComparison,
    TransitionEstimate,
    compare_transitions,
    estimate_from_counts,
    estimate_transitions,
    ground_truth_json,
    recovery_verdict,
    session_path_violations,
)
from synth_pipelines.domains.api_traces.workflow import METHODS, Workflow, load_workflow

EXPORT_FILES = {
    "calls": "calls.parquet",
    "calls_jsonl": "calls.jsonl",
    "sessions": "sessions.parquet",
    "ground_truth": "ground_truth.json",
}


def conform_calls(df: pl.DataFrame) -> pl.DataFrame:
    """Exact dtypes, column order and row order, whatever storage the frame came through."""
    exprs = []
    for name, dtype in CALLS_SCHEMA.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            current = df.schema[name]
            if isinstance(current, pl.Datetime):
                col = col.dt.convert_time_zone("UTC") if current.time_zone else col.dt.replace_time_zone("UTC")
                col = col.dt.cast_time_unit("ms")
        exprs.append(col.cast(dtype))
    return df.select(exprs).sort("session_id", "seq").rechunk()


def sessions_from_calls(calls: pl.DataFrame) -> pl.DataFrame:
    """One row per session, in session order."""
    return (
        calls.group_by("session_id", maintain_order=True)
        .agg(
            pl.col("user_id").first(),
            pl.col("user_type").first(),
            pl.col("timestamp").first().alias("started_at"),
            (pl.col("timestamp") + pl.duration(milliseconds=pl.col("response_time_ms").round(0).cast(pl.Int64)))
            .max()
            .alias("ended_at"),
            pl.len().cast(pl.Int32).alias("n_calls"),
            pl.col("is_retry").sum().cast(pl.Int32).alias("n_retries"),
            (pl.col("status_code") >= 400).sum().cast(pl.Int32).alias("n_errors"),
            pl.col("is_anomalous").sum().cast(pl.Int32).alias("n_anomalous"),
            pl.col("endpoint").first().alias("entry_endpoint"),
            pl.col("endpoint").last().alias("exit_endpoint"),
            pl.col("failure_start_seq").first(),
            pl.col("failure_started_at").first(),
        )
        .with_columns(pl.col("failure_start_seq").is_not_null().alias("has_cascade_failure"))
    )


def calls_schema() -> pa.DataFrameSchema:
    is_retry_iff_attempt = pa.Check(
        lambda d: d.lazyframe.select(pl.col("is_retry") == (pl.col("attempt") > 0)),
        name="is_retry_iff_attempt_positive",
    )
    labels_consistent = pa.Check(
        lambda d: d.lazyframe.select(pl.col("is_anomalous") == pl.col("failure_kind").is_not_null()),
        name="is_anomalous_iff_failure_kind",
    )
    anomalies_after_start = pa.Check(
        lambda d: d.lazyframe.select(
            ~pl.col("is_anomalous") | (pl.col("seq") >= pl.col("failure_start_seq")).fill_null(False)
        ),
        name="anomalies_only_after_session_failure_start",
    )
    return pa.DataFrameSchema(
        {
            "session_id": pa.Column(pl.Int64, pa.Check.ge(1)),
            "seq": pa.Column(pl.Int32, pa.Check.ge(0)),
            "timestamp": pa.Column(pl.Datetime("ms", "UTC")),
            "user_id": pa.Column(pl.Int64, pa.Check.ge(1)),
            "user_type": pa.Column(pl.String, pa.Check.isin(USER_TYPES)),
            "endpoint": pa.Column(pl.String, pa.Check.str_startswith("/")),
            "method": pa.Column(pl.String, pa.Check.isin(METHODS)),
            "path": pa.Column(pl.String, pa.Check.str_startswith("/")),
            "status_code": pa.Column(pl.Int16, pa.Check.in_range(100, 599)),
            "response_time_ms": pa.Column(pl.Float64, pa.Check.gt(0)),
            "is_retry": pa.Column(pl.Boolean),
            "attempt": pa.Column(pl.Int8, pa.Check.ge(0)),
            "is_anomalous": pa.Column(pl.Boolean),
            "failure_kind": pa.Column(pl.String, pa.Check.isin(FAILURE_KINDS), nullable=True),
            "failure_start_seq": pa.Column(pl.Int32, pa.Check.ge(0), nullable=True),
            "failure_started_at": pa.Column(pl.Datetime("ms", "UTC"), nullable=True),
        },
        checks=[is_retry_iff_attempt, labels_consistent, anomalies_after_start],
        unique=["session_id", "seq"],
        strict=True,
        ordered=True,
    )


def check_walks(calls: pl.DataFrame, workflow: Workflow) -> None:
    """Refuse calls whose sessions break the workflow (entry, exit, declared edges, retries)."""
    problems = session_path_violations(calls, workflow)
    if problems.height:
        sample = "; ".join(f"session {s} seq {q}: {p}" for s, q, p in problems.head(5).iter_rows())
        raise ConstraintViolation(
            f"workflow {workflow.name}: {problems['session_id'].n_unique()} session(s) break the workflow "
            f"({sample}); nothing was written"
        )


TRANSITIONS_CHECK = CheckSpec(
    "transition_probabilities_recovered",
    "Probabilities estimated from the calls (retries excluded) match ground_truth.json: "
    f"with >= {BOUND_SESSIONS:,} sessions the max absolute error is below {BOUND_MAX_ABS_ERROR} (and "
    "every edge is within sampling error); with fewer sessions every edge is within 5 standard "
    "errors. Metadata: max and mean absolute error overall and per state.",
    blocking=False,
)
WALKS_CHECK = CheckSpec(
    "sessions_follow_workflow",
    "Every session starts at an entry point, ends at an exit point and only takes declared edges; "
    "retries repeat the call before them.",
)


def comparison_metadata(comparison: TransitionComparison) -> dict[str, Any]:
    """Numbers the UI plots over time: overall and per-state max / mean absolute error."""
    meta: dict[str, Any] = {
        "max_abs_error": comparison.max_abs_error,
        "mean_abs_error": comparison.mean_abs_error,
        "edges_compared": comparison.edges.height,
        "edges_outside_tolerance": int((comparison.edges["abs_error"] > comparison.edges["tolerance"]).sum()),
        "states_never_left": comparison.missing_states,
        "per_state": Markdown(markdown_table(comparison.states, limit=100, width=60)),
        "worst_edges": Markdown(markdown_table(comparison.worst_edges(10), width=60)),
        "edges": Markdown(markdown_table(comparison.edges, limit=200, width=60)),
    }
    for state, _, _, max_err, mean_err in comparison.states.iter_rows():
        meta[f"max_abs_error {state}"] = float(max_err)
        meta[f"mean_abs_error {state}"] = float(mean_err)
    return meta


def transitions_outcome(calls: pl.DataFrame, workflow: Workflow) -> CheckOutcome:
    return transitions_outcome_of(estimate_transitions(calls), workflow)


def transitions_outcome_of(estimate: TransitionEstimate, workflow: Workflow) -> CheckOutcome:
    comparison = compare_transitions(estimate, workflow)
    sessions = estimate.observations.get(ENTRY, 0)
    verdict = recovery_verdict(comparison, sessions)
    return CheckOutcome(
        TRANSITIONS_CHECK.name,
        verdict.passed,
        f"max abs error {comparison.max_abs_error:.4f} over {sessions} sessions: {verdict.criterion}",
        {
            "sessions": sessions,
            "criterion": verdict.criterion,
            "bound_max_abs_error": BOUND_MAX_ABS_ERROR,
            "within_bound": "n/a" if verdict.within_bound is None else verdict.within_bound,
            "within_sampling_error": verdict.within_sampling_error,
        }
        | comparison_metadata(comparison),
    )


def walks_outcome(calls: pl.DataFrame, workflow: Workflow) -> CheckOutcome:
    violations = session_path_violations(calls, workflow)
    broken = violations["session_id"].n_unique() if violations.height else 0
    return CheckOutcome(
        WALKS_CHECK.name,
        violations.height == 0,
        f"{broken} of {calls['session_id'].n_unique()} sessions break workflow {workflow.name}",
        {
            "sessions": calls["session_id"].n_unique(),
            "violations": violations.height,
            "sessions_with_violations": broken,
            "violation_sample": Markdown(
                markdown_table(violations, limit=20) if violations.height else "No violations."
            ),
        },
    )


class ApiTracesDomain(Domain):
    name = "api_traces"
    cli_name = "api-traces"
    version = "3"
    description = "API call traces walking a declared Markov-chain workflow, with labelled cascade failures."
    config_model = ApiTracesConfig
    has_raw_form = True
    check_specs = (SCHEMA_CHECK, WALKS_CHECK, TRANSITIONS_CHECK)

    def describe(self, cfg: ApiTracesConfig, seed: int) -> dict[str, Any]:
        require_memory_for(cfg)
        return {}

    def draw(self, cfg: ApiTracesConfig, seed: int, ctx: RunContext) -> Tables:
        require_memory_for(cfg)  # before the first array: the CLI calls draw without describe
        workflow = load_workflow(cfg.workflow)
        started = time.perf_counter()
        calls = simulate_calls(workflow, cfg, seed, progress=ctx.progress)
        seconds = time.perf_counter() - started
        ctx.metadata.update(
            {
                "workflow": workflow.name,
                "sessions": int(calls["session_id"].n_unique()) if calls.height else 0,
                "simulated_calls_per_second": round(calls.height / seconds, 1) if seconds > 0 else 0.0,
            }
        )
        return {"calls": calls}

    def normalize(self, raw: Tables, cfg: ApiTracesConfig) -> Tables:
        calls = conform_calls(raw["calls"])
        check_walks(calls, load_workflow(cfg.workflow))
        return {"calls": calls}

    def schemas(self, cfg: ApiTracesConfig) -> dict[str, pa.DataFrameSchema]:
        return {"calls": calls_schema()}

    def checks(self, tables: Tables, cfg: ApiTracesConfig, seed: int) -> list[CheckOutcome]:
        workflow = load_workflow(cfg.workflow)
        calls = tables["calls"]
        return [self.schema_outcome(tables, cfg), walks_outcome(calls, workflow), transitions_outcome(calls, workflow)]

    def export(
        self, tables: Tables, cfg: ApiTracesConfig, seed: int, out_dir: Path, ctx: RunContext
    ) -> dict[str, Path]:
        out_dir = Path(out_dir)
        workflow = load_workflow(cfg.workflow)
        clean = tables["calls"]
        files = {
            "calls": write_frame(clean, out_dir / EXPORT_FILES["calls"]),
            "calls_jsonl": write_frame(clean, out_dir / EXPORT_FILES["calls_jsonl"]),
            "sessions": write_frame(sessions_from_calls(clean), out_dir / EXPORT_FILES["sessions"]),
        }
        target = out_dir / EXPORT_FILES["ground_truth"]
        with atomic_path(target) as tmp:
            tmp.write_text(ground_truth_json(workflow))
        files["ground_truth"] = target
        return files

    # ---- shards (core/shards.py): units are users, so a shard holds their sessions, contiguous -------

    def shard_units(self, cfg: ApiTracesConfig) -> int:
        return cfg.users

    def write_units(
        self, cfg: ApiTracesConfig, seed: int, start: int, stop: int, out_dir: Path, ctx: RunContext
    ) -> UnitsWritten:
        """Users ``start .. stop``: their sessions' calls, checked as the unsharded run checks them, exported."""
        workflow = load_workflow(cfg.workflow)
        sessions = np.concatenate([[0], np.cumsum(draw_users(cfg, seed).sessions)])
        calls = conform_calls(simulate_sessions(cfg, seed, int(sessions[start]), int(sessions[stop])))
        check_walks(calls, workflow)
        schema, walks = self.schema_outcome({"calls": calls}, cfg), walks_outcome(calls, workflow)
        for outcome in (schema, walks):
            if not outcome.passed:
                raise ConstraintViolation(f"{self.name} seed={seed} users {start}..{stop}: {outcome.summary}")
        files = self.export({"calls": calls}, cfg, seed, out_dir, ctx)
        return UnitsWritten(
            files,
            {
                SCHEMA_CHECK.name: {"passed": True, "rows": calls.height},
                WALKS_CHECK.name: {"passed": True, "sessions": int(walks.metadata["sessions"]), "violations": 0},
                # Decided over all shards (summarize_shard_checks): a shard's counts alone prove nothing.
                TRANSITIONS_CHECK.name: {"passed": True, "edge_counts": edge_counts(calls)},
            },
        )

    def compact_parts(self, cfg: ApiTracesConfig, role: str, parts: list[Path], target: Path) -> None:
        if role == "ground_truth":  # the same file in every shard: written once
            first = parts[0].read_bytes()
            different = [p for p in parts[1:] if p.read_bytes() != first]
            if different:
                raise ConstraintViolation(f"{different[0]}: differs from {parts[0]} (ground truth of another run)")
            target.write_bytes(first)
        else:
            super().compact_parts(cfg, role, parts, target)

    def summarize_shard_checks(self, cfg: ApiTracesConfig, checks: dict[str, Any]) -> dict[str, Any]:
        """The transition check of the whole set, from the edge counts of every shard (summed)."""
        summed = checks[TRANSITIONS_CHECK.name]["edge_counts"]
        outcome = transitions_outcome_of(estimate_from_counts(counts_frame(summed)), load_workflow(cfg.workflow))
        numbers = {k: v for k, v in outcome.metadata.items() if isinstance(v, int | float | bool | str)}
        return checks | {
            TRANSITIONS_CHECK.name: {
                "passed": outcome.passed,
                "summary": outcome.summary,
                **numbers,
                "edge_counts": summed,
            }
        }


def domains() -> list[Domain]:
    return [ApiTracesDomain()]
