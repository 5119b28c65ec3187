"""Dagster wiring of ``api_traces``: the foundation's five-asset group plus ``workflow_fit``.

``workflow_fit`` re-estimates the Markov chain from the validated calls and carries two checks: the
estimate matches the ground truth within sampling error, and every session is a legal walk. They
live on their own asset (via ``check_specs``, so they run per seed partition) because the factory's
``validated`` asset has a single schema check.
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation by identity.
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from synth_pipelines.core.preview import markdown_table
from synth_pipelines.domains.api_traces.domain import ApiTracesDomain
from synth_pipelines.domains.api_traces.truth import (
    BOUND_MAX_ABS_ERROR,
    BOUND_SESSIONS,
    ENTRY,
    TransitionComparison,
    compare_transitions,
    estimate_transitions,
    recovery_verdict,
    session_path_violations,
)
from synth_pipelines.domains.api_traces.workflow import load_workflow
from synth_pipelines.orchestration.factory import (
    PARTITION_META,
    build_domain_assets,
    frame_metadata,
    with_seed,
)
from synth_pipelines.orchestration.partitions import parse_seed, seed_partitions

GROUP = ApiTracesDomain.name
TRANSITIONS_CHECK = "transition_probabilities_recovered"
WALKS_CHECK = "sessions_follow_workflow"


def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, name])


def comparison_metadata(comparison: TransitionComparison) -> dict[str, Any]:
    """Numbers the UI plots over time: overall and per-state max / mean absolute error."""
    meta: dict[str, Any] = {
        "max_abs_error": comparison.max_abs_error,
        "mean_abs_error": comparison.mean_abs_error,
        "edges_compared": comparison.edges.height,
        "edges_outside_tolerance": int((comparison.edges["abs_error"] > comparison.edges["tolerance"]).sum()),
        "states_never_left": dg.MetadataValue.json(comparison.missing_states),
        "per_state": dg.MetadataValue.md(markdown_table(comparison.states, limit=100, width=60)),
        "worst_edges": dg.MetadataValue.md(markdown_table(comparison.worst_edges(10), width=60)),
    }
    for state, _, _, max_err, mean_err in comparison.states.iter_rows():
        meta[f"max_abs_error {state}"] = float(max_err)
        meta[f"mean_abs_error {state}"] = float(mean_err)
    return meta


def build_workflow_fit_asset(domain: ApiTracesDomain) -> dg.AssetsDefinition:
    @dg.asset(
        key=_key("workflow_fit"),
        ins={"cfg": dg.AssetIn(_key("config")), "validated": dg.AssetIn(_key("validated"))},
        kinds={"polars", "duckdb"},
        description="Entry and transition probabilities estimated from the calls (retries excluded), "
        "side by side with the ground truth, one row per edge.",
        group_name=GROUP,
        partitions_def=seed_partitions,
        metadata=PARTITION_META,
        check_specs=[
            dg.AssetCheckSpec(
                TRANSITIONS_CHECK,
                asset=_key("workflow_fit"),
                description="Probabilities estimated from the calls (retries excluded) match ground_truth.json: "
                f"with >= {BOUND_SESSIONS:,} sessions the max absolute error is below {BOUND_MAX_ABS_ERROR} (and "
                "every edge is within sampling error); with fewer sessions every edge is within 5 standard "
                "errors. Metadata: max and mean absolute error overall and per state.",
            ),
            dg.AssetCheckSpec(
                WALKS_CHECK,
                asset=_key("workflow_fit"),
                description="Every session starts at an entry point, ends at an exit point and only takes "
                "declared edges; retries repeat the call before them.",
            ),
        ],
    )
    def workflow_fit(
        context: dg.AssetExecutionContext, cfg: pl.DataFrame, validated: pl.DataFrame
    ) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
        seed = parse_seed(context.partition_key)
        config = domain.parse_config(json.loads(cfg["config_json"][0]))
        workflow = load_workflow(config.workflow)
        calls = domain.conform(validated.drop("seed"))
        estimate = estimate_transitions(calls)
        comparison = compare_transitions(estimate, workflow)
        counts = estimate.edges.select("from", "to", pl.col("count").cast(pl.Int64).alias("transitions_observed"))
        edges = comparison.edges.join(counts, on=["from", "to"], how="left", maintain_order="left").with_columns(
            pl.col("transitions_observed").fill_null(0)
        )
        fit_meta = comparison_metadata(comparison)
        yield dg.Output(
            with_seed(edges, seed),
            metadata=frame_metadata(edges, seed, domain.version)
            | {"max_abs_error": fit_meta["max_abs_error"], "mean_abs_error": fit_meta["mean_abs_error"]},
        )
        sessions = estimate.observations.get(ENTRY, 0)
        verdict = recovery_verdict(comparison, sessions)
        if not verdict.passed:
            context.log.error(f"{GROUP} seed={seed}: estimated transitions fail: {verdict.criterion}")
        yield dg.AssetCheckResult(
            check_name=TRANSITIONS_CHECK,
            asset_key=_key("workflow_fit"),
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "seed": seed,
                "sessions": sessions,
                "criterion": verdict.criterion,
                "bound_max_abs_error": BOUND_MAX_ABS_ERROR,
                "within_bound": "n/a" if verdict.within_bound is None else verdict.within_bound,
                "within_sampling_error": verdict.within_sampling_error,
            }
            | fit_meta,
        )
        violations = session_path_violations(calls, workflow)
        yield dg.AssetCheckResult(
            check_name=WALKS_CHECK,
            asset_key=_key("workflow_fit"),
            passed=violations.height == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "seed": seed,
                "sessions": calls["session_id"].n_unique(),
                "violations": violations.height,
                "sessions_with_violations": violations["session_id"].n_unique(),
                "violation_sample": dg.MetadataValue.md(
                    markdown_table(violations, limit=20) if violations.height else "No violations."
                ),
            },
        )

    return workflow_fit


def api_traces_assets() -> list[dg.AssetsDefinition]:
    """Everything the ``api_traces`` group contributes to the project's ``Definitions``."""
    domain = ApiTracesDomain()
    return [*build_domain_assets(domain), build_workflow_fit_asset(domain)]
