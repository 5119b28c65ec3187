"""Each log domain materializes in Dagster, is checked, exported, cataloged, and matches the CLI byte for byte."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from synth_pipelines.cli import main as synth_main
from synth_pipelines.core.domain import RunContext, Tables, draw_tables
from synth_pipelines.definitions import defs
from synth_pipelines.domains.logs.domain import LogDomain, export_names
from synth_pipelines.domains.registry import all_domains
from synth_pipelines_tests.dagster_helpers import files_under, materialize_group

LOG_DOMAINS = [d for d in all_domains() if isinstance(d, LogDomain)]


def test_definitions_load_with_every_domain_group() -> None:
    dg.Definitions.validate_loadable(defs)
    groups = {spec.group_name for spec in defs.resolve_all_asset_specs()}
    assert {d.name for d in all_domains()} <= groups
    assert defs.resolve_job_def("all_domains") is not None
    assert defs.resolve_schedule_def("nightly_regeneration").cron_schedule == "0 3 * * *"


@pytest.mark.parametrize("domain", LOG_DOMAINS, ids=lambda d: d.name)
def test_log_domain_materializes_checks_exports_and_matches_the_cli(domain: LogDomain, tmp_path: Path) -> None:
    seed, count = 42, 300
    run_config = {"ops": {f"{domain.name}__config": {"config": {"count": count}}}}
    with dg.instance_for_test() as instance:
        result = materialize_group(domain.name, seed, tmp_path / "data", instance, run_config)
        raw = result.asset_value(dg.AssetKey([domain.name, "raw"]))
        normalized = result.asset_value(dg.AssetKey([domain.name, "normalized"]))
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "no_invalid_rows" and evaluation.passed
    assert evaluation.asset_key == dg.AssetKey([domain.name, "normalized"])
    assert evaluation.metadata["invalid_rows"].value == 0

    meta = result.asset_materializations_for_node(f"{domain.name}__normalized")[0].metadata
    assert meta["seed"].value == seed and meta["generator_version"].value == domain.version
    assert "preview" in meta and "dagster/column_schema" in meta
    assert meta["check no_invalid_rows"].value.endswith("valid")
    raw_meta = result.asset_materializations_for_node(f"{domain.name}__raw")[0].metadata
    assert raw_meta["rows_per_second"].value > 0

    # the Parquet intermediates hold exactly what the plain pipeline draws: raw lines, then the clean table
    cfg = domain.parse_config({"count": count})
    expected: Tables = draw_tables(domain, cfg, seed, RunContext(data_dir=tmp_path / "data"))
    assert list(raw) == ["lines"] and raw["lines"].equals(domain.draw(cfg, seed, RunContext())["lines"])
    assert list(normalized) == [domain.name]
    assert normalized[domain.name].schema == expected[domain.name].schema
    assert normalized[domain.name].equals(expected[domain.name])
    stored = tmp_path / "data" / "storage" / domain.name / "normalized" / f"seed={seed}"
    assert sorted(p.name for p in stored.iterdir()) == [f"{domain.name}.parquet", "tables.json"]

    # the warehouse is a real DuckDB catalog: a view per clean table with the partition's rows
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        query = f"select count(*), min(seed), max(seed) from {domain.name}.{domain.name}"
        stored_rows = con.execute(query).fetchone()
    assert stored_rows == (normalized[domain.name].height, seed, seed)

    exported = tmp_path / "data" / "exports" / domain.name / f"seed={seed}"
    dagster_files = files_under(exported)
    assert set(dagster_files) == set(export_names(domain.config_model().name).values())
    assert pl.read_parquet(exported / f"{domain.config_model().name}_valid.parquet").height >= count

    cli_out = tmp_path / "cli"
    code = synth_main([domain.cli_name, "--count", str(count), "--seed", str(seed), "--out", str(cli_out)])
    assert code == 0
    assert files_under(cli_out) == dagster_files


def test_a_partition_with_an_invalid_row_is_not_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    domain = LOG_DOMAINS[0]
    original = type(domain).normalize

    def corrupt(self: LogDomain, raw: Tables, cfg: object) -> Tables:
        clean = original(self, raw, cfg)  # type: ignore[arg-type]
        frame = clean[self.name].with_columns(
            pl.when(pl.int_range(pl.len()) == 3).then(-1).otherwise(pl.col("image_count")).alias("image_count")
        )
        return {self.name: frame}

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
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing exported, nothing cataloged
