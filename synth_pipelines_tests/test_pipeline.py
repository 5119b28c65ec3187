"""Each log domain materializes in Dagster, is checked, exported, and matches the CLI byte for byte."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from synth_pipelines.cli import main as synth_main
from synth_pipelines.definitions import defs
from synth_pipelines.domains.logs.domain import LogDomain
from synth_pipelines.domains.registry import pipeline_domains
from synth_pipelines_tests.dagster_helpers import files_under, materialize_group

LOG_DOMAINS = [d for d in pipeline_domains() if isinstance(d, LogDomain)]


def test_definitions_load_with_every_domain_group() -> None:
    dg.Definitions.validate_loadable(defs)
    groups = {spec.group_name for spec in defs.resolve_all_asset_specs()}
    assert {d.name for d in pipeline_domains()} <= groups
    assert defs.resolve_job_def("all_domains") is not None
    assert defs.resolve_schedule_def("nightly_regeneration").cron_schedule == "0 3 * * *"


@pytest.mark.parametrize("domain", LOG_DOMAINS, ids=lambda d: d.name)
def test_log_domain_materializes_checks_exports_and_matches_the_cli(domain: LogDomain, tmp_path: Path) -> None:
    seed, count = 42, 300
    run_config = {"ops": {f"{domain.name}__config": {"config": {"count": count}}}}
    with dg.instance_for_test() as instance:
        result = materialize_group(domain.name, seed, tmp_path / "data", instance, run_config)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert [e.passed for e in evaluations] == [True]

    validated = result.asset_materializations_for_node(f"{domain.name}__validated")[0].metadata
    assert validated["invalid_rows"].value == 0
    assert validated["seed"].value == seed
    assert "preview" in validated and "dagster/column_schema" in validated
    raw_meta = result.asset_materializations_for_node(f"{domain.name}__raw")[0].metadata
    assert raw_meta["rows_per_second"].value > 0

    # the warehouse is a real DuckDB file holding the partition's rows
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        stored = con.execute(f"select count(*), min(seed), max(seed) from {domain.name}.validated").fetchone()
    assert stored is not None and stored[1] == stored[2] == seed and stored[0] >= count

    exported = tmp_path / "data" / "exports" / domain.name / f"seed={seed}"
    dagster_files = files_under(exported)
    assert set(dagster_files) == {
        f"{domain.config_model().name}_valid.jsonl",
        f"{domain.config_model().name}_valid.parquet",
        f"raw/{domain.config_model().name}_invalid.jsonl",
        f"raw/{domain.config_model().name}_invalid_manifest.jsonl",
    }
    assert pl.read_parquet(exported / f"{domain.config_model().name}_valid.parquet").height >= count

    cli_out = tmp_path / "cli"
    code = synth_main([domain.cli_name, "--count", str(count), "--seed", str(seed), "--out", str(cli_out)])
    assert code == 0
    assert files_under(cli_out) == dagster_files


def test_a_partition_with_an_invalid_row_is_not_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    domain = LOG_DOMAINS[0]
    original = type(domain).normalize

    def corrupt(self: LogDomain, raw: pl.DataFrame, cfg: object) -> pl.DataFrame:
        clean = original(self, raw, cfg)  # type: ignore[arg-type]
        return clean.with_columns(
            pl.when(pl.int_range(pl.len()) == 3).then(-1).otherwise(pl.col("image_count")).alias("image_count")
        )

    monkeypatch.setattr(type(domain), "normalize", corrupt)
    with dg.instance_for_test() as instance:
        result = materialize_group(
            domain.name,
            7,
            tmp_path,
            instance,
            {"ops": {f"{domain.name}__config": {"config": {"count": 50}}}},
            raise_on_error=False,
        )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["invalid_rows"].value == 1
    assert "image_count" in evaluation.metadata["failure_cases"].value
    assert not result.asset_materializations_for_node(f"{domain.name}__exported")
    assert not (tmp_path / "exports" / domain.name).exists()
