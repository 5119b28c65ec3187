"""``synth relational`` and the Dagster asset group: same bytes, clear errors, non-zero exits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import duckdb
import pytest

import synth_pipelines.cli as cli
from synth_pipelines.domains.relational.assets import build_all_relational_assets, build_relational_assets
from synth_pipelines.domains.relational.cli import register
from synth_pipelines.orchestration.resources import default_resources
from synth_pipelines_tests.relational.conftest import SAMPLES


@pytest.fixture(autouse=True)
def only_relational_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other domains' subcommands are merged separately; the real main() and its error handling run.
    monkeypatch.setattr(cli, "_domain_registrars", lambda: [register])


def digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.suffix != ".duckdb"
    }


def test_cli_writes_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    ddl = next(p for p in SAMPLES if p.stem == "restaurants")
    code = cli.main(
        [
            "relational",
            "--ddl",
            str(ddl),
            "--rows",
            "100",
            "--table-rows",
            "orders=333",
            "--seed",
            "7",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "orders.parquet",
        "orders.csv",
        "dataset.zip",
        "dataset.duckdb",
        "validation_report.json",
    } <= names
    assert len((tmp_path / "orders.csv").read_text().splitlines()) == 334
    assert "0 constraint violations" in capsys.readouterr().out


def test_cli_format_subset(tmp_path: Path):
    ddl = next(p for p in SAMPLES if p.stem == "company")
    assert (
        cli.main(["relational", "--ddl", str(ddl), "--rows", "20", "--format", "parquet", "--out", str(tmp_path)]) == 0
    )
    assert {p.suffix for p in tmp_path.iterdir()} == {".parquet", ".json"}


def test_cli_bad_ddl_exits_non_zero_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    ddl = tmp_path / "bad.sql"
    ddl.write_text("CREATE TABLE a (id INT PRIMARY KEY);\nCREATE TABLE b (a_id INT REFERENCES zz (id));\n")
    out = tmp_path / "out"
    assert cli.main(["relational", "--ddl", str(ddl), "--rows", "5", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"synth: error: {ddl}:2: statement 2" in err and "unknown table 'zz'" in err
    assert not out.exists()


def test_cli_impossible_request_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    ddl = tmp_path / "tiny.sql"
    ddl.write_text("CREATE TABLE flags (on_off BOOLEAN PRIMARY KEY);\n")
    assert cli.main(["relational", "--ddl", str(ddl), "--rows", "3", "--out", str(tmp_path / "o")]) == 1
    assert "allows only 2 distinct values" in capsys.readouterr().err


def test_every_schema_file_is_an_asset_group_with_fk_lineage():
    assets = build_all_relational_assets()
    groups = {key.path[0] for a in assets for key in a.keys}
    assert {"library", "restaurants", "company"} <= groups
    defs = dg.Definitions(assets=assets, resources=default_resources("/tmp/unused-synth-data"))
    graph = defs.resolve_asset_graph()
    loans = dg.AssetKey(["library", "loans"])
    assert graph.get(loans).parent_keys >= {
        dg.AssetKey(["library", "books"]),
        dg.AssetKey(["library", "members"]),
    }
    # The cycle departments <-> employees is broken at the ALTER TABLE FK, so lineage stays a DAG.
    assert dg.AssetKey(["company", "employees"]) not in graph.get(dg.AssetKey(["company", "departments"])).parent_keys


def test_dagster_and_cli_write_identical_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ddl = next(p for p in SAMPLES if p.stem == "library")
    assets = build_relational_assets(ddl)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", ["42"])
        result = dg.materialize(
            assets,
            partition_key="42",
            instance=instance,
            resources=default_resources(str(data_dir)),
            run_config={"ops": {"library__dataset_config": {"config": {"rows": 300}}}},
        )
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert [c.passed for c in checks] == [True]
        meta = result.asset_materializations_for_node("library__validation_report")[0].metadata
        assert meta["violations"].value == 0
    dagster_out = data_dir / "exports" / "library" / "seed=42"
    cli_out = tmp_path / "cli"
    assert cli.main(["relational", "--ddl", str(ddl), "--rows", "300", "--seed", "42", "--out", str(cli_out)]) == 0
    assert digests(dagster_out) == digests(cli_out)
    assert len(digests(cli_out)) == 6 * 2 + 2  # parquet + csv per table, zip, report
    # dataset.duckdb is not byte-reproducible (DuckDB's storage layout varies run to run), but its
    # tables are: same rows, in the same order.
    assert duckdb_rows(dagster_out / "dataset.duckdb") == duckdb_rows(cli_out / "dataset.duckdb")


def duckdb_rows(path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()]
        return {n: con.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}
    finally:
        con.close()
