"""CV model-run logs keep the README's promises: valid, round-trippable, labelled defects, deterministic."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.core.domain import RunContext
from synth_pipelines.core.rng import block_rng
from synth_pipelines.domains.cv_logs.catalog import METRICS_OF_TASK
from synth_pipelines.domains.cv_logs.domain import CvLogsConfig, CvLogsDomain
from synth_pipelines.domains.logs.lines import to_lines
from synth_pipelines.domains.logs.mirror import DEFECT_CLASSES, make_invalid
from synth_pipelines.domains.logs.validator import validate_lines
from synth_pipelines_tests.dagster_helpers import files_under

DOMAIN = CvLogsDomain()


@pytest.fixture(scope="module")
def large_seed() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Raw lines and clean records of a large seed (crosses several random blocks)."""
    cfg = CvLogsConfig(count=150_000)
    raw = DOMAIN.draw(cfg, 2026, RunContext())
    return raw, DOMAIN.normalize(raw, cfg)


def test_clean_set_passes_the_schema(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    outcome = DOMAIN.validate(clean)
    assert outcome.ok, outcome.summary()
    assert clean.height == 150_000
    assert clean["run_id"].n_unique() == clean.height


def test_every_record_round_trips_through_raw_and_canonical_lines(
    large_seed: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    raw, clean = large_seed
    # the raw draw really is messy: case, padding and local-time offsets vary
    assert raw["line"].str.contains('"INFERENCE"|"TRAIN"|"VALIDATION"').any()
    assert raw["line"].str.contains(r'\+0[0-9]:[0-9]{2}"').any()
    canonical = to_lines(clean, DOMAIN.inventory).to_frame("line")
    # numbers are written as drawn (rounded), without binary floating-point noise like 2.1229999999999998
    assert not canonical["line"].str.contains(r"\d\.\d{7,}").any()
    assert DOMAIN.normalize(canonical, CvLogsConfig()).equals(clean)
    assert DOMAIN.normalize(raw, CvLogsConfig()).equals(clean)


def test_values_are_plausible_together(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
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
    assert cpu > 10 * h100


def test_every_invalid_line_is_rejected_for_its_manifest_reason(large_seed: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, clean = large_seed
    sample = clean.head(30_000)
    lines, manifest = make_invalid(sample, DOMAIN.inventory, block_rng(2026, "cv_logs", "mirror", 0))
    assert set(manifest["defect"].unique()) == set(DEFECT_CLASSES)
    report = validate_lines(lines.to_list(), DOMAIN.inventory)
    for defects, expected in zip(report, manifest.iter_rows(named=True), strict=True):
        assert (expected["field"], expected["defect"]) in {(d.field, d.defect) for d in defects}, expected
    # and the clean lines pass the same validator
    assert not any(validate_lines(to_lines(sample, DOMAIN.inventory).to_list(), DOMAIN.inventory))


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    cfg = CvLogsConfig(count=3_000)
    a = files_under(Path(next(iter(DOMAIN.stream(cfg, 5, tmp_path / "a").values())).parent))
    b = files_under(Path(next(iter(DOMAIN.stream(cfg, 5, tmp_path / "b").values())).parent))
    c = files_under(Path(next(iter(DOMAIN.stream(cfg, 6, tmp_path / "c").values())).parent))
    assert a == b
    assert set(a) == set(c) and all(a[k] != c[k] for k in a)


def test_streaming_writes_the_same_bytes_as_exporting_the_whole_frame(tmp_path: Path) -> None:
    # 70,000 records cross a block boundary: streaming cuts blocks, the whole frame is one piece.
    cfg = CvLogsConfig(count=70_000)
    DOMAIN.stream(cfg, 11, tmp_path / "stream")
    clean = DOMAIN.normalize(DOMAIN.draw(cfg, 11, RunContext()), cfg)
    DOMAIN.export(clean, cfg, 11, tmp_path / "whole", RunContext())
    assert files_under(tmp_path / "stream") == files_under(tmp_path / "whole")


def test_the_documented_field_inventory_is_the_one_in_code() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "cv_logs.md").read_text()
    assert DOMAIN.inventory.markdown() in docs
