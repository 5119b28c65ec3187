"""Agent traces keep the README's promises: runs that make sense step by step, round-trippable, labelled
defects, deterministic, ``count`` counted in runs."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest

from synth_pipelines.core.domain import RunContext, run_domain
from synth_pipelines.core.rng import block_rng
from synth_pipelines.domains.agent_traces.catalog import ERRORS_OF_KIND, MODELS, STEP_KINDS
from synth_pipelines.domains.agent_traces.domain import AgentTracesConfig, AgentTracesDomain
from synth_pipelines.domains.agent_traces.draw import MAX_ROUNDS
from synth_pipelines.domains.logs.domain import LogDomain
from synth_pipelines.domains.logs.lines import to_lines
from synth_pipelines.domains.logs.mirror import DEFECT_CLASSES, INCONSISTENT, make_invalid
from synth_pipelines.domains.logs.validator import validate_lines
from synth_pipelines.domains.registry import domain_by_name, pipeline_domains

DOMAIN = AgentTracesDomain()
RUNS = 20_000


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def whole_runs(clean: pl.DataFrame, runs: int) -> pl.DataFrame:
    return clean.filter(pl.col("run_id").is_in(clean["run_id"].unique(maintain_order=True).head(runs).implode()))


@pytest.fixture(scope="module")
def large_seed() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Raw lines and clean steps of a large seed (20,000 runs: three random blocks of runs)."""
    cfg = AgentTracesConfig(count=RUNS)
    raw = DOMAIN.draw(cfg, 2026, RunContext())
    return raw, DOMAIN.normalize(raw, cfg)


def test_domain_is_registered_under_its_cli_name_and_group() -> None:
    assert isinstance(domain_by_name("agent-logs"), AgentTracesDomain)
    assert isinstance(domain_by_name("agent_traces"), AgentTracesDomain)
    log_domains = [d.name for d in pipeline_domains() if isinstance(d, LogDomain)]
    assert log_domains == ["cv_logs", "api_logs", "agent_traces"]
    assert AgentTracesConfig().name == "agent_traces"


def test_count_is_runs_and_blocks_stay_bounded(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    assert clean["run_id"].n_unique() == RUNS
    assert clean.height > 5 * RUNS  # one line per step
    assert DOMAIN.block_records * (2 + 3 * MAX_ROUNDS) <= 400_000  # worst-case rows per block
    ids = DOMAIN.block_ids(clean)
    assert ids[0] == 0 and ids[-1] == (RUNS - 1) // DOMAIN.block_records
    # a run never straddles two blocks
    per_run = clean.with_columns(block=pl.Series(ids)).group_by("run_id").agg(pl.col("block").n_unique())
    assert per_run["block"].max() == 1


def test_clean_set_passes_the_schema(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    outcome = DOMAIN.validate(clean)
    assert outcome.ok, outcome.summary()
    assert clean.select("run_id", "step_index").is_unique().all()


def test_runs_are_plausible_sequences(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    runs = clean.group_by("run_id", maintain_order=True).agg(
        pl.col("step_kind").first().alias("first"),
        pl.col("step_kind").last().alias("last"),
        pl.col("status").last().alias("last_status"),
        pl.col("step_index").max().alias("max_step"),
        pl.len().alias("steps"),
        pl.col("timestamp").is_sorted().alias("ordered"),
    )
    assert (runs["first"] == "plan").all()
    assert ((runs["last"] == "final") | (runs["last_status"] == "error")).all()
    assert (runs["max_step"] == runs["steps"] - 1).all()
    assert runs["ordered"].all()
    failed_share = (runs["last"] != "final").mean()
    assert 0.04 < failed_share < 0.15  # type: ignore[operator]
    # tool fields only on tool calls, models and tokens only on model steps
    tools = clean.filter(pl.col("step_kind") == "tool_call")
    assert tools["tool_name"].null_count() == 0 and tools["model"].null_count() == tools.height
    others = clean.filter(pl.col("step_kind") != "tool_call")
    assert others["tool_name"].null_count() == others.height
    model_steps = clean.filter(pl.col("step_kind").is_in(["plan", "llm_call", "final"]))
    model_nulls = model_steps.select(pl.sum_horizontal(pl.col("model", "tokens_input", "tokens_output").null_count()))
    assert model_nulls.item() == 0
    # errors only on failed steps, of a class the step kind can raise
    failed = clean.filter(pl.col("status") == "error")
    assert failed["error_type"].null_count() == 0
    assert clean.filter(pl.col("status") == "ok")["error_type"].null_count() == clean.height - failed.height
    for kind, error in failed.select("step_kind", "error_type").unique().iter_rows():
        assert error in ERRORS_OF_KIND[kind]
    # later rounds read longer prompts; final answers are longer than intermediate calls
    llm = clean.filter((pl.col("step_kind") == "llm_call") & (pl.col("status") == "ok"))
    by_round = llm.group_by(pl.col("step_index") // 3).agg(pl.col("tokens_input").median()).sort("step_index")
    assert by_round["tokens_input"].head(5).is_sorted()
    finals = clean.filter(pl.col("step_kind") == "final")["tokens_output"].median()
    assert finals > llm["tokens_output"].median()  # type: ignore[operator]
    assert set(clean["step_kind"].unique()) == set(STEP_KINDS)


def test_cost_follows_tokens_and_the_price_table(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    prices = pl.DataFrame(
        {"model": [m[0] for m in MODELS], "p_in": [m[1] for m in MODELS], "p_out": [m[2] for m in MODELS]}
    )
    priced = clean.filter(pl.col("model").is_not_null()).join(prices, on="model", how="left")
    expected = (pl.col("tokens_input") * pl.col("p_in") + pl.col("tokens_output") * pl.col("p_out")) / 1e6
    assert priced.select((pl.col("cost_usd") - expected).abs().max()).item() <= 1e-6
    assert (clean.filter(pl.col("model").is_null())["cost_usd"] == 0).all()
    # a bigger model costs more per step than a small one
    per_model = priced.group_by("model").agg(pl.col("cost_usd").mean())
    cost = dict(per_model.iter_rows())
    assert cost["atlas-large"] > 10 * cost["atlas-mini"]


def test_the_schema_and_validator_catch_steps_out_of_order(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    first_run = clean.filter(pl.col("run_id") == clean["run_id"][0])
    assert first_run.height >= 3
    swapped = pl.concat([first_run.slice(0, 1), first_run.slice(2, 1), first_run.slice(1, 1), first_run.slice(3)])
    outcome = DOMAIN.validate(swapped)
    assert not outcome.ok
    assert {"steps_numbered_in_order", "steps_follow_in_time"} <= set(outcome.failure_cases["check"].to_list())
    report = validate_lines(to_lines(swapped, DOMAIN.inventory).to_list(), DOMAIN.inventory)
    assert ("step_index", INCONSISTENT) in {(d.field, d.defect) for d in report[1]}
    assert not report[0]
    # a run cut short without failing, and a duplicated step, are caught too
    truncated = first_run.head(first_run.height - 1)
    assert "run_ends_with_final_unless_failed" in set(DOMAIN.validate(truncated).failure_cases["check"].to_list())
    doubled = pl.concat([first_run.head(2), first_run.slice(1)])
    assert not DOMAIN.validate(doubled).ok
    # the clean lines of a whole run pass
    assert not any(validate_lines(to_lines(first_run, DOMAIN.inventory).to_list(), DOMAIN.inventory))


def test_every_record_round_trips_through_raw_and_canonical_lines(
    large_seed: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    raw, clean = large_seed
    assert raw["line"].str.contains('"TOOL_CALL"|" plan "|"Final"').any()
    assert raw["line"].str.contains(r'\+0[0-9]:[0-9]{2}"').any()
    canonical = to_lines(clean, DOMAIN.inventory).to_frame("line")
    assert DOMAIN.normalize(canonical, AgentTracesConfig()).equals(clean)
    assert DOMAIN.normalize(raw, AgentTracesConfig()).equals(clean)


def test_every_invalid_line_is_rejected_for_its_manifest_reason(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    sample = whole_runs(clean, 3_000)  # whole runs: a run cut short is itself a defect
    lines, manifest = make_invalid(sample, DOMAIN.inventory, block_rng(2026, "agent_traces", "mirror", 0))
    assert set(manifest["defect"].unique()) == set(DEFECT_CLASSES)
    rule_fields = set(manifest.filter(pl.col("defect") == INCONSISTENT)["field"].unique())
    assert rule_fields == {rule.field for rule in DOMAIN.inventory.rules}
    report = validate_lines(lines.to_list(), DOMAIN.inventory)
    for defects, expected in zip(report, manifest.iter_rows(named=True), strict=True):
        assert (expected["field"], expected["defect"]) in {(d.field, d.defect) for d in defects}, expected
    assert not any(validate_lines(to_lines(sample, DOMAIN.inventory).to_list(), DOMAIN.inventory))


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    cfg = AgentTracesConfig(count=300)
    DOMAIN.stream(cfg, 5, tmp_path / "a")
    DOMAIN.stream(cfg, 5, tmp_path / "b")
    DOMAIN.stream(cfg, 6, tmp_path / "c")
    a, b, c = (files_under(tmp_path / d) for d in "abc")
    assert set(a) == {
        "agent_traces_valid.jsonl",
        "agent_traces_valid.parquet",
        "raw/agent_traces_invalid.jsonl",
        "raw/agent_traces_invalid_manifest.jsonl",
    }
    assert a == b
    assert set(a) == set(c) and all(a[k] != c[k] for k in a)
    valid = pl.read_parquet(tmp_path / "a" / "agent_traces_valid.parquet")
    assert valid["run_id"].n_unique() == 300


class SmallBlocks(AgentTracesDomain):
    block_records: ClassVar[int] = 100


@pytest.mark.parametrize(("domain", "count"), [(DOMAIN, 300), (SmallBlocks(), 250)], ids=["one-block", "three"])
def test_streaming_writes_the_same_bytes_as_the_dagster_path(
    domain: AgentTracesDomain, count: int, tmp_path: Path
) -> None:
    # the CLI streams block by block; Dagster (run_domain) draws, validates and exports the whole frame
    cfg = AgentTracesConfig(count=count)
    domain.stream(cfg, 11, tmp_path / "stream")
    run = run_domain(domain, cfg, 11, tmp_path / "whole")
    assert run.clean["run_id"].n_unique() == count
    assert files_under(tmp_path / "stream") == files_under(tmp_path / "whole")


def test_docs_carry_the_current_field_inventory() -> None:
    docs = Path(__file__).parents[1] / "docs" / "agent_traces.md"
    assert DOMAIN.inventory.markdown() in docs.read_text()
