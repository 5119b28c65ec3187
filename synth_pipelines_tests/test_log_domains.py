"""The three log domains keep the README's promises: valid, round-trippable, labelled defects, deterministic,
streamed to the same bytes as the Dagster path.

What every log domain promises is tested once, parametrized over the domains (as ``test_pipeline.py``
does for the Dagster groups); the rules only one domain has (its plausibility, agent runs as sequences)
are in that domain's own section at the end. The Dagster side of the log domains is ``test_pipeline.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from synth_pipelines.core.domain import ConstraintViolation, RunContext, run_domain
from synth_pipelines.core.rng import block_rng
from synth_pipelines.core.validate import ValidationOutcome
from synth_pipelines.domains.agent_traces.catalog import ERRORS_OF_KIND, MODELS, STEP_KINDS
from synth_pipelines.domains.agent_traces.domain import AgentTracesDomain
from synth_pipelines.domains.agent_traces.draw import MAX_ROUNDS
from synth_pipelines.domains.api_logs.catalog import ERROR_STATUSES, MIN_TIMEOUT_MS, ROUTE_METHODS, ROUTES
from synth_pipelines.domains.api_logs.domain import ApiLogsConfig, ApiLogsDomain
from synth_pipelines.domains.cv_logs.catalog import METRICS_OF_TASK
from synth_pipelines.domains.cv_logs.domain import CvLogsDomain
from synth_pipelines.domains.logs.domain import LogConfig, LogDomain, export_names
from synth_pipelines.domains.logs.lines import to_lines
from synth_pipelines.domains.logs.mirror import DEFECT_CLASSES, INCONSISTENT, make_invalid
from synth_pipelines.domains.logs.validator import validate_lines
from synth_pipelines.domains.registry import all_domains, domain_by_name
from synth_pipelines_tests.dagster_helpers import files_under

ROOT = Path(__file__).resolve().parents[1]
LOG_DOMAINS = [d for d in all_domains() if isinstance(d, LogDomain)]
DOMAINS = {d.name: d for d in LOG_DOMAINS}
NAMES = list(DOMAINS)
SEED = 2026


@dataclass(frozen=True)
class Profile:
    """What differs between the log domains where their promises are the same."""

    large: int  # ``count`` of the large seed: crosses several random blocks
    small: int  # ``count`` of the determinism test
    record_key: str  # one value per record ``count`` counts (a run of agent traces spans several rows)
    row_key: tuple[str, ...]  # unique per row
    raw_variants: str  # a raw draw really is messy: case and padding vary (a regex over raw lines)
    stream_counts: tuple[int, int]  # count in one default block; count over three blocks of ``small_block``
    small_block: int


PROFILES = {
    "cv_logs": Profile(150_000, 3_000, "run_id", ("run_id",), '"INFERENCE"|"TRAIN"|"VALIDATION"', (2_000, 2_500), 1_000),
    "api_logs": Profile(200_000, 3_000, "request_id", ("request_id",), '"Get"|" GET "|"Post"', (2_000, 2_500), 1_000),
    "agent_traces": Profile(20_000, 300, "run_id", ("run_id", "step_index"), '"TOOL_CALL"|" plan "|"Final"', (300, 250), 100),
}  # fmt: skip


@dataclass(frozen=True)
class LargeSeed:
    domain: LogDomain
    cfg: LogConfig
    raw: pl.DataFrame  # column ``line``: records as a source emits them
    clean: pl.DataFrame


@pytest.fixture(scope="module", params=NAMES)
def large_seed(request: pytest.FixtureRequest) -> LargeSeed:
    """Raw lines and clean records of a large seed of one domain (several random blocks)."""
    domain = DOMAINS[request.param]
    cfg = domain.config_model(count=PROFILES[domain.name].large)
    raw = domain.draw(cfg, SEED, RunContext())
    return LargeSeed(domain, cfg, raw[domain.raw_table], domain.normalize(raw, cfg)[domain.name])


def whole_runs(clean: pl.DataFrame, runs: int) -> pl.DataFrame:
    return clean.filter(pl.col("run_id").is_in(clean["run_id"].unique(maintain_order=True).head(runs).implode()))


def sample_of(seed: LargeSeed, rows: int) -> pl.DataFrame:
    """About ``rows`` rows from the start; whole runs for agent traces (a run cut short is itself a defect)."""
    if seed.domain.name == "agent_traces":
        return whole_runs(seed.clean, rows // 10)
    return seed.clean.head(rows)


def with_blocks(domain: LogDomain, block_records: int, **extra: Any) -> LogDomain:
    """The same domain with smaller random blocks (and optionally other class settings)."""
    cls = type(domain)
    return type(f"Small{cls.__name__}", (cls,), {"block_records": block_records, **extra})()


# ---------------------------------------------------------------------------------------------
# What every log domain promises


def test_the_log_domains_are_registered_in_order() -> None:
    assert NAMES == ["cv_logs", "api_logs", "agent_traces"]


@pytest.mark.parametrize("name", NAMES)
def test_domain_is_registered_under_its_cli_name_and_group(name: str) -> None:
    domain = DOMAINS[name]
    assert domain.cli_name == {"cv_logs": "cv-logs", "api_logs": "api-logs", "agent_traces": "agent-logs"}[name]
    assert type(domain_by_name(domain.cli_name)) is type(domain)
    assert type(domain_by_name(name)) is type(domain)
    assert domain.config_model().name == name  # export file prefix defaults to the group name


def test_clean_set_passes_the_schema(large_seed: LargeSeed) -> None:
    profile = PROFILES[large_seed.domain.name]
    clean = large_seed.clean
    outcome = large_seed.domain.validate(clean)
    assert outcome.ok, outcome.summary()
    assert clean[profile.record_key].n_unique() == profile.large  # ``count`` records, each with its own id
    assert clean.select(profile.row_key).is_unique().all()
    # the contract's schema check says the same
    assert large_seed.domain.checks({large_seed.domain.name: clean}, large_seed.cfg, SEED)[0].passed


def test_every_record_round_trips_through_raw_and_canonical_lines(large_seed: LargeSeed) -> None:
    domain, raw, clean, cfg = large_seed.domain, large_seed.raw, large_seed.clean, large_seed.cfg
    # the raw draw really is messy: case, padding and local-time offsets vary
    assert raw["line"].str.contains(PROFILES[domain.name].raw_variants).any()
    assert raw["line"].str.contains(r'\+0[0-9]:[0-9]{2}"').any()
    canonical = to_lines(clean, domain.inventory).to_frame("line")
    # numbers are written as drawn (rounded), without binary floating-point noise like 2.1229999999999998
    assert not canonical["line"].str.contains(r"\d\.\d{7,}").any()
    assert domain.normalize({"lines": canonical}, cfg)[domain.name].equals(clean)
    assert domain.normalize({"lines": raw}, cfg)[domain.name].equals(clean)


def test_every_invalid_line_is_rejected_for_its_manifest_reason(large_seed: LargeSeed) -> None:
    domain = large_seed.domain
    sample = sample_of(large_seed, 30_000)
    lines, manifest = make_invalid(sample, domain.inventory, block_rng(SEED, domain.name, "mirror", 0))
    assert set(manifest["defect"].unique()) == set(DEFECT_CLASSES)
    # every cross-field rule is broken somewhere, on its own field
    rule_fields = set(manifest.filter(pl.col("defect") == INCONSISTENT)["field"].unique())
    assert rule_fields == {rule.field for rule in domain.inventory.rules}
    report = validate_lines(lines.to_list(), domain.inventory)
    for defects, expected in zip(report, manifest.iter_rows(named=True), strict=True):
        assert (expected["field"], expected["defect"]) in {(d.field, d.defect) for d in defects}, expected
    # and the clean lines pass the same validator
    assert not any(validate_lines(to_lines(sample, domain.inventory).to_list(), domain.inventory))


def test_the_mirror_starts_from_the_callers_clean_lines_without_changing_them(large_seed: LargeSeed) -> None:
    domain = large_seed.domain
    sample = sample_of(large_seed, 5_000)
    clean_lines = to_lines(sample, domain.inventory)
    before = clean_lines.clone()
    given = make_invalid(sample, domain.inventory, block_rng(8, domain.name, "mirror", 0), clean_lines=clean_lines)
    own = make_invalid(sample, domain.inventory, block_rng(8, domain.name, "mirror", 0))
    assert clean_lines.equals(before)
    assert given[0].equals(own[0]) and given[1].equals(own[1])


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes_different_seed_different(name: str, tmp_path: Path) -> None:
    domain, profile = DOMAINS[name], PROFILES[name]
    cfg = domain.config_model(count=profile.small)
    for folder, seed in (("a", 5), ("b", 5), ("c", 6)):
        domain.stream(cfg, seed, tmp_path / folder)
    a, b, c = (files_under(tmp_path / d) for d in "abc")
    assert (
        set(a)
        == set(export_names(name).values())
        == {
            f"{name}_valid.jsonl",
            f"{name}_valid.parquet",
            f"raw/{name}_invalid.jsonl",
            f"raw/{name}_invalid_manifest.jsonl",
        }
    )
    assert a == b
    assert set(a) == set(c) and all(a[k] != c[k] for k in a)
    valid = pl.read_parquet(tmp_path / "a" / f"{name}_valid.parquet")
    assert valid[profile.record_key].n_unique() == profile.small


STREAM_CASES = [
    *((name, "one-block") for name in NAMES),
    *((name, "three-blocks") for name in NAMES),
    ("cv_logs", "full-size-blocks"),  # 70,000 records cross the real 65,536-record block boundary
]


@pytest.mark.parametrize(("name", "blocks"), STREAM_CASES, ids=[f"{n}-{b}" for n, b in STREAM_CASES])
def test_streaming_writes_the_same_bytes_as_the_dagster_path(name: str, blocks: str, tmp_path: Path) -> None:
    # the CLI streams block by block; Dagster (run_domain) draws, checks and exports the whole frame
    domain, profile = DOMAINS[name], PROFILES[name]
    count = {"one-block": profile.stream_counts[0], "three-blocks": profile.stream_counts[1]}.get(blocks, 70_000)
    if blocks == "three-blocks":
        domain = with_blocks(domain, profile.small_block)
    cfg = domain.config_model(count=count)
    domain.stream(cfg, 11, tmp_path / "stream")
    run = run_domain(domain, cfg, 11, tmp_path / "whole")
    assert run.tables[name][profile.record_key].n_unique() == count
    assert [c.name for c in run.checks] == ["no_invalid_rows"] and run.checks[0].passed
    assert files_under(tmp_path / "stream") == files_under(tmp_path / "whole")


@pytest.mark.parametrize("name", NAMES)
def test_stream_options_never_change_the_bytes(name: str, tmp_path: Path) -> None:
    # The default stream draws clean records directly; --check-round-trip goes through raw lines and
    # parses them back; --no-mirror leaves the mirror out. Batching validation reads only. Same bytes.
    profile = PROFILES[name]
    small = with_blocks(DOMAINS[name], profile.small_block)
    batched = with_blocks(DOMAINS[name], profile.small_block, validate_rows=2 * profile.small_block)
    cfg = small.config_model(count=profile.small_block * 11 // 2)  # five and a half blocks
    reference = small.stream(cfg, 3, tmp_path / "default")
    batched.stream(cfg, 3, tmp_path / "batched")
    batched.stream(cfg, 3, tmp_path / "round-trip", round_trip=True)
    clean_only = batched.stream(cfg, 3, tmp_path / "clean", mirror=False)
    expected = files_under(tmp_path / "default")
    assert len(expected) == 4
    assert files_under(tmp_path / "batched") == expected
    assert files_under(tmp_path / "round-trip") == expected
    assert set(clean_only) == {"valid_jsonl", "valid_parquet"}
    assert {k: expected[k] for k in files_under(tmp_path / "clean")} == files_under(tmp_path / "clean")
    assert all(reference[role].name == path.name for role, path in clean_only.items())


def test_an_invalid_batch_stops_the_stream_and_nothing_lands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # LogDomain machinery, shown on api_logs (one row per record, so batch sizes are exact)
    original = ApiLogsDomain.validate
    seen: list[int] = []

    def fail_on_second_batch(self: ApiLogsDomain, clean: pl.DataFrame) -> ValidationOutcome:
        seen.append(clean.height)
        outcome = original(self, clean)
        return outcome if len(seen) < 2 else ValidationOutcome(outcome.rows, 1, outcome.failure_cases)

    monkeypatch.setattr(ApiLogsDomain, "validate", fail_on_second_batch)
    domain = with_blocks(ApiLogsDomain(), 1_000, validate_rows=2_000)
    with pytest.raises(ConstraintViolation, match="blocks 2-3"):
        domain.stream(ApiLogsConfig(count=5_500), 3, tmp_path / "out")
    assert seen[:2] == [2_000, 2_000]
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("name", NAMES)
def test_the_documented_field_inventory_is_the_one_in_code(name: str) -> None:
    docs = ROOT / "docs" / f"{name}.md"
    assert DOMAINS[name].inventory.markdown() in docs.read_text()


# ---------------------------------------------------------------------------------------------
# cv_logs: its own rules


@pytest.mark.parametrize("large_seed", ["cv_logs"], indirect=True)
def test_cv_values_are_plausible_together(large_seed: LargeSeed) -> None:
    clean = large_seed.clean
    failed = clean.filter(pl.col("result") == "failure")
    ok = clean.filter(pl.col("result") == "success")
    assert failed["error_message"].null_count() == 0 and ok["error_message"].null_count() == ok.height
    assert 0.03 < failed.height / clean.height < 0.15
    # successful evaluated runs report their task's complete metric set; inference reports none
    for task, names in METRICS_OF_TASK.items():
        evaluated = ok.filter((pl.col("task") == task) & (pl.col("phase") != "inference"))
        assert all(evaluated[f"metrics_{m}"].null_count() == 0 for m in names)
    assert failed.select(pl.col("^metrics_.*$").is_not_null().sum()).sum_horizontal().item() > 0  # partial
    # bigger inputs cost more latency, on the same model and accelerator
    a100 = ok.filter((pl.col("hardware_accelerator") == "nvidia-a100") & (pl.col("model_name") == "road-segmenter"))
    by_size = a100.group_by("image_size").agg(pl.col("latency_p50_ms").median()).sort("image_size")
    assert by_size["latency_p50_ms"].is_sorted()
    cpu = ok.filter(pl.col("hardware_accelerator") == "cpu")["latency_p50_ms"].median()
    h100 = ok.filter(pl.col("hardware_accelerator") == "nvidia-h100")["latency_p50_ms"].median()
    assert cpu > 10 * h100  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# api_logs: its own rules


@pytest.mark.parametrize("large_seed", ["api_logs"], indirect=True)
def test_api_calls_are_in_time_order(large_seed: LargeSeed) -> None:
    assert large_seed.clean["timestamp"].is_sorted()


@pytest.mark.parametrize("large_seed", ["api_logs"], indirect=True)
def test_api_schema_rejects_broken_rules(large_seed: LargeSeed) -> None:
    sample = large_seed.clean.head(1_000)
    broken = sample.with_columns(error_class=pl.lit("timeout"))  # an error class on successful calls
    outcome = large_seed.domain.validate(broken)
    assert not outcome.ok
    assert "error_class_only_on_failure" in set(outcome.failure_cases["check"].to_list())


@pytest.mark.parametrize("large_seed", ["api_logs"], indirect=True)
def test_api_values_are_plausible_together(large_seed: LargeSeed) -> None:
    clean = large_seed.clean
    failed = clean.filter(pl.col("status") >= 400)
    ok = clean.filter(pl.col("status") < 400)
    assert 0.02 < failed.height / clean.height < 0.10
    assert failed["error_class"].null_count() == 0 and ok["error_class"].null_count() == ok.height
    # error classes match their status family
    for cls, statuses in ERROR_STATUSES.items():
        assert set(failed.filter(pl.col("error_class") == cls)["status"].unique()) <= set(statuses)
    # only mutating methods carry request bodies; every route serves only its methods
    reads = clean.filter(pl.col("method").is_in(["GET", "DELETE"]))
    assert (reads["bytes_request"] == 0).all()
    assert (clean.filter(pl.col("method").is_in(["POST", "PUT", "PATCH"]))["bytes_request"] > 0).all()
    served = clean.group_by("route").agg(pl.col("method").unique())
    for route, methods in served.iter_rows():
        assert set(methods) <= set(ROUTE_METHODS[route])
    # creating on a collection answers 201, deleting answers 204
    kinds = {r[1]: r[2] for r in ROUTES}
    with_kind = ok.with_columns(kind=pl.col("route").replace_strict(kinds))
    assert (with_kind.filter((pl.col("method") == "POST") & (pl.col("kind") == "list"))["status"] == 201).all()
    assert (with_kind.filter(pl.col("method") == "DELETE")["status"] == 204).all()
    # collections and searches are slower and bigger than single items
    medians = (
        with_kind.filter(pl.col("method") == "GET")
        .group_by("kind")
        .agg(pl.col("latency_ms").median(), pl.col("bytes_response").median())
    )
    by_kind = {row["kind"]: row for row in medians.iter_rows(named=True)}
    for big in ("list", "search"):
        assert by_kind[big]["latency_ms"] > 3 * by_kind["item"]["latency_ms"]
        assert by_kind[big]["bytes_response"] > 5 * by_kind["item"]["bytes_response"]
    # timeouts wait for the gateway limit; other server errors do not
    timeouts = failed.filter(pl.col("error_class") == "timeout")["latency_ms"]
    assert timeouts.min() >= MIN_TIMEOUT_MS  # type: ignore[operator]
    assert failed.filter(pl.col("error_class") == "rate_limited")["latency_ms"].median() < 10  # type: ignore[operator]
    # a client keeps its app; no IPs or personal data anywhere: client ids are synthetic
    assert clean.group_by("client_id").agg(pl.col("client_app").n_unique())["client_app"].max() == 1
    assert not clean["path"].str.contains(r"\d+\.\d+\.\d+\.\d+").any()


# ---------------------------------------------------------------------------------------------
# agent_traces: its own rules (``count`` is runs; a run is a sequence of steps)


@pytest.mark.parametrize("large_seed", ["agent_traces"], indirect=True)
def test_agent_count_is_runs_and_blocks_stay_bounded(large_seed: LargeSeed) -> None:
    domain, clean, runs = large_seed.domain, large_seed.clean, PROFILES["agent_traces"].large
    assert clean["run_id"].n_unique() == runs
    assert clean.height > 5 * runs  # one line per step
    assert domain.block_records * (2 + 3 * MAX_ROUNDS) <= 400_000  # worst-case rows per block
    ids = domain.block_ids(clean)
    assert ids[0] == 0 and ids[-1] == (runs - 1) // domain.block_records
    # a run never straddles two blocks
    per_run = clean.with_columns(block=pl.Series(ids)).group_by("run_id").agg(pl.col("block").n_unique())
    assert per_run["block"].max() == 1


@pytest.mark.parametrize("large_seed", ["agent_traces"], indirect=True)
def test_agent_runs_are_plausible_sequences(large_seed: LargeSeed) -> None:
    clean = large_seed.clean
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


@pytest.mark.parametrize("large_seed", ["agent_traces"], indirect=True)
def test_agent_cost_follows_tokens_and_the_price_table(large_seed: LargeSeed) -> None:
    clean = large_seed.clean
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


@pytest.mark.parametrize("large_seed", ["agent_traces"], indirect=True)
def test_agent_schema_and_validator_catch_steps_out_of_order(large_seed: LargeSeed) -> None:
    domain, clean = large_seed.domain, large_seed.clean
    first_run = clean.filter(pl.col("run_id") == clean["run_id"][0])
    assert first_run.height >= 3
    swapped = pl.concat([first_run.slice(0, 1), first_run.slice(2, 1), first_run.slice(1, 1), first_run.slice(3)])
    outcome = domain.validate(swapped)
    assert not outcome.ok
    assert {"steps_numbered_in_order", "steps_follow_in_time"} <= set(outcome.failure_cases["check"].to_list())
    report = validate_lines(to_lines(swapped, domain.inventory).to_list(), domain.inventory)
    assert ("step_index", INCONSISTENT) in {(d.field, d.defect) for d in report[1]}
    assert not report[0]
    # a run cut short without failing, and a duplicated step, are caught too
    truncated = first_run.head(first_run.height - 1)
    assert "run_ends_with_final_unless_failed" in set(domain.validate(truncated).failure_cases["check"].to_list())
    doubled = pl.concat([first_run.head(2), first_run.slice(1)])
    assert not domain.validate(doubled).ok
    # the clean lines of a whole run pass
    assert not any(validate_lines(to_lines(first_run, domain.inventory).to_list(), domain.inventory))


def test_the_specific_sections_cover_every_log_domain() -> None:
    # a new log domain gets a profile here (and its own section if it has rules of its own)
    assert set(PROFILES) == set(NAMES)
    assert {type(d) for d in LOG_DOMAINS} == {CvLogsDomain, ApiLogsDomain, AgentTracesDomain}
