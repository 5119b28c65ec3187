"""``synth relational`` and the Dagster asset groups (one per DDL file): same bytes, clear errors, non-zero exits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import duckdb
import pytest

import synth_pipelines.cli as cli
from synth_pipelines.domains.relational.ddl import load_ddl
from synth_pipelines.domains.relational.domain import RelationalDomain, domains
from synth_pipelines.domains.relational.pipeline import RelationalConfig
from synth_pipelines.domains.relational.plan import insert_order
from synth_pipelines.orchestration.factory import build_domain_assets
from synth_pipelines.orchestration.resources import default_resources
from synth_pipelines_tests.dagster_helpers import materialize_group
from synth_pipelines_tests.relational.conftest import SAMPLES


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


def test_every_schema_file_is_an_asset_group_with_its_tables_in_foreign_key_order():
    by_name = {d.name: d for d in domains()}
    assert {"library", "restaurants", "company"} <= set(by_name)
    assets = [a for d in by_name.values() for a in build_domain_assets(d)]
    graph = dg.Definitions(assets=assets, resources=default_resources("/tmp/unused-synth-data")).resolve_asset_graph()
    for group in by_name:
        steps = {k.path[1] for k in graph.get_all_asset_keys() if k.path[0] == group}
        assert steps == {"config", "normalized", "exported"}
        config, normalized, exported = (dg.AssetKey([group, step]) for step in ("config", "normalized", "exported"))
        assert graph.get(normalized).parent_keys == {config}
        assert graph.get(exported).parent_keys == {config, normalized}
    # The lineage between tables is the insert order the config step reports: parents first.
    library = by_name["library"]
    assert isinstance(library, RelationalDomain)
    order = library.describe(RelationalConfig(rows=20), 1)["insert_order"].split(", ")
    assert sorted(order) == sorted(load_ddl(library.ddl).tables)
    assert order.index("loans") > max(order.index("books"), order.index("members"))
    assert order.index("books") > max(order.index("authors"), order.index("publishers"))
    # The cycle departments <-> employees is broken at the ALTER TABLE FK, so the order stays a DAG.
    company_order, deferred = insert_order(load_ddl(by_name["company"].ddl))  # type: ignore[attr-defined]
    assert [(fk.table, fk.ref_table) for fk in deferred] == [("departments", "employees")]
    assert company_order.index("departments") < company_order.index("employees")


def test_dagster_and_cli_write_identical_bytes(tmp_path: Path):
    ddl = next(p for p in SAMPLES if p.stem == "library")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with dg.instance_for_test() as instance:
        result = materialize_group(
            "library", 42, data_dir, instance, {"ops": {"library__config": {"config": {"rows": 300}}}}
        )
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert [(c.check_name, c.passed) for c in checks] == [("all_constraints_hold", True)]
        assert checks[0].metadata["violations"].value == 0
        assert checks[0].asset_key == dg.AssetKey(["library", "normalized"])
        tables = result.asset_value(dg.AssetKey(["library", "normalized"]))
        config_meta = result.asset_materializations_for_node("library__config")[0].metadata
    # every table of the DDL (in DDL order), with the rows the config step planned
    assert list(tables) == list(load_ddl(ddl).tables)
    assert sorted(tables) == sorted(config_meta["insert_order"].value.split(", "))
    assert {t: f.height for t, f in tables.items()} == config_meta["rows_planned"].value
    # the generation spec the run used is on the config asset, its rules first
    assert "loaned_at >= members.joined_at" in config_meta["generation_spec"].value
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
