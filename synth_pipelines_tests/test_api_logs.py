"""API call logs keep the README's promises: valid, plausible, round-trippable, labelled defects, deterministic."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest

from synth_pipelines.core.domain import ConstraintViolation, RunContext, run_domain
from synth_pipelines.core.rng import block_rng
from synth_pipelines.core.validate import ValidationOutcome
from synth_pipelines.domains.api_logs.catalog import ERROR_STATUSES, MIN_TIMEOUT_MS, ROUTE_METHODS, ROUTES
from synth_pipelines.domains.api_logs.domain import ApiLogsConfig, ApiLogsDomain
from synth_pipelines.domains.logs.lines import to_lines
from synth_pipelines.domains.logs.mirror import DEFECT_CLASSES, INCONSISTENT, make_invalid
from synth_pipelines.domains.logs.validator import validate_lines
from synth_pipelines.domains.registry import domain_by_name

DOMAIN = ApiLogsDomain()


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def large_seed() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Raw lines and clean records of a large seed (200,000 records: four random blocks)."""
    cfg = ApiLogsConfig(count=200_000)
    raw = DOMAIN.draw(cfg, 2026, RunContext())
    return raw, DOMAIN.normalize(raw, cfg)


def test_domain_is_registered_under_both_names() -> None:
    assert isinstance(domain_by_name("api-logs"), ApiLogsDomain)
    assert isinstance(domain_by_name("api_logs"), ApiLogsDomain)
    assert ApiLogsConfig().name == "api_logs"


def test_clean_set_passes_the_schema(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    outcome = DOMAIN.validate(clean)
    assert outcome.ok, outcome.summary()
    assert clean.height == 200_000
    assert clean["request_id"].n_unique() == clean.height
    assert clean["timestamp"].is_sorted()


def test_the_schema_rejects_broken_rules(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    sample = clean.head(1_000)
    broken = sample.with_columns(error_class=pl.lit("timeout"))  # an error class on successful calls
    outcome = DOMAIN.validate(broken)
    assert not outcome.ok
    assert "error_class_only_on_failure" in set(outcome.failure_cases["check"].to_list())


def test_values_are_plausible_together(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
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
    assert timeouts.min() >= MIN_TIMEOUT_MS
    assert failed.filter(pl.col("error_class") == "rate_limited")["latency_ms"].median() < 10
    # a client keeps its app; no IPs or personal data anywhere: client ids are synthetic
    assert clean.group_by("client_id").agg(pl.col("client_app").n_unique())["client_app"].max() == 1
    assert not clean["path"].str.contains(r"\d+\.\d+\.\d+\.\d+").any()


def test_every_record_round_trips_through_raw_and_canonical_lines(
    large_seed: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    raw, clean = large_seed
    # the raw draw really is messy: case, padding and local-time offsets vary
    assert raw["line"].str.contains('"Get"|" GET "|"Post"').any()
    assert raw["line"].str.contains(r'\+0[0-9]:[0-9]{2}"').any()
    canonical = to_lines(clean, DOMAIN.inventory).to_frame("line")
    assert DOMAIN.normalize(canonical, ApiLogsConfig()).equals(clean)
    assert DOMAIN.normalize(raw, ApiLogsConfig()).equals(clean)


def test_every_invalid_line_is_rejected_for_its_manifest_reason(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    sample = clean.head(30_000)
    lines, manifest = make_invalid(sample, DOMAIN.inventory, block_rng(2026, "api_logs", "mirror", 0))
    assert set(manifest["defect"].unique()) == set(DEFECT_CLASSES)
    # every cross-field rule is broken somewhere, on its own field
    rule_fields = set(manifest.filter(pl.col("defect") == INCONSISTENT)["field"].unique())
    assert rule_fields == {rule.field for rule in DOMAIN.inventory.rules}
    report = validate_lines(lines.to_list(), DOMAIN.inventory)
    for defects, expected in zip(report, manifest.iter_rows(named=True), strict=True):
        assert (expected["field"], expected["defect"]) in {(d.field, d.defect) for d in defects}, expected
    # and the clean lines pass the same validator
    assert not any(validate_lines(to_lines(sample, DOMAIN.inventory).to_list(), DOMAIN.inventory))


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    cfg = ApiLogsConfig(count=3_000)
    DOMAIN.stream(cfg, 5, tmp_path / "a")
    DOMAIN.stream(cfg, 5, tmp_path / "b")
    DOMAIN.stream(cfg, 6, tmp_path / "c")
    a, b, c = (files_under(tmp_path / d) for d in "abc")
    assert set(a) == {
        "api_logs_valid.jsonl",
        "api_logs_valid.parquet",
        "raw/api_logs_invalid.jsonl",
        "raw/api_logs_invalid_manifest.jsonl",
    }
    assert a == b
    assert set(a) == set(c) and all(a[k] != c[k] for k in a)


def test_the_mirror_starts_from_the_callers_clean_lines_without_changing_them(
    large_seed: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    sample = large_seed[1].head(5_000)
    clean_lines = to_lines(sample, DOMAIN.inventory)
    before = clean_lines.clone()
    given = make_invalid(sample, DOMAIN.inventory, block_rng(8, "api_logs", "mirror", 0), clean_lines=clean_lines)
    own = make_invalid(sample, DOMAIN.inventory, block_rng(8, "api_logs", "mirror", 0))
    assert clean_lines.equals(before)
    assert given[0].equals(own[0]) and given[1].equals(own[1])


class SmallBlocks(ApiLogsDomain):
    block_records: ClassVar[int] = 1_000


@pytest.mark.parametrize(("domain", "count"), [(DOMAIN, 2_000), (SmallBlocks(), 2_500)], ids=["one-block", "three"])
def test_streaming_writes_the_same_bytes_as_the_dagster_path(domain: ApiLogsDomain, count: int, tmp_path: Path) -> None:
    # the CLI streams block by block; Dagster (run_domain) draws, validates and exports the whole frame
    cfg = ApiLogsConfig(count=count)
    domain.stream(cfg, 11, tmp_path / "stream")
    run = run_domain(domain, cfg, 11, tmp_path / "whole")
    assert run.clean.height == count
    assert files_under(tmp_path / "stream") == files_under(tmp_path / "whole")


class SmallBatches(SmallBlocks):
    validate_rows: ClassVar[int] = 2_000  # two blocks per pandera call: batches cross block boundaries


def test_stream_options_never_change_the_bytes(tmp_path: Path) -> None:
    # The default stream draws clean records directly; --check-round-trip goes through raw lines and
    # parses them back; --no-mirror leaves the mirror out. Batching validation reads only. Same bytes.
    cfg = ApiLogsConfig(count=5_500)
    reference = SmallBlocks().stream(cfg, 3, tmp_path / "default")
    SmallBatches().stream(cfg, 3, tmp_path / "batched")
    SmallBatches().stream(cfg, 3, tmp_path / "round-trip", round_trip=True)
    clean_only = SmallBatches().stream(cfg, 3, tmp_path / "clean", mirror=False)
    expected = files_under(tmp_path / "default")
    assert len(expected) == 4
    assert files_under(tmp_path / "batched") == expected
    assert files_under(tmp_path / "round-trip") == expected
    assert set(clean_only) == {"valid_jsonl", "valid_parquet"}
    assert {k: expected[k] for k in files_under(tmp_path / "clean")} == files_under(tmp_path / "clean")
    assert all(reference[role].name == path.name for role, path in clean_only.items())


def test_an_invalid_batch_stops_the_stream_and_nothing_lands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = ApiLogsDomain.validate
    seen: list[int] = []

    def fail_on_second_batch(self: ApiLogsDomain, clean: pl.DataFrame) -> ValidationOutcome:
        seen.append(clean.height)
        outcome = original(self, clean)
        return outcome if len(seen) < 2 else ValidationOutcome(outcome.rows, 1, outcome.failure_cases)

    monkeypatch.setattr(ApiLogsDomain, "validate", fail_on_second_batch)
    with pytest.raises(ConstraintViolation, match="blocks 2-3"):
        SmallBatches().stream(ApiLogsConfig(count=5_500), 3, tmp_path / "out")
    assert seen[:2] == [2_000, 2_000]
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_docs_carry_the_current_field_inventory() -> None:
    docs = Path(__file__).parents[1] / "docs" / "api_logs.md"
    assert DOMAIN.inventory.markdown() in docs.read_text()
