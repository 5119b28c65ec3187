"""Generation: every constraint holds on every schema, deterministic bytes, honest CSV and report."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from synth_pipelines.core.rng import BLOCK_ROWS
from synth_pipelines.domains.relational.constraints import CheckEvaluator
from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare
from synth_pipelines_tests.relational.conftest import SAMPLES, TRICKY

ALL_SCHEMAS = [*SAMPLES, *sorted(TRICKY.glob("*.sql"))]


def digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file() and p.suffix != ".duckdb"
    }


@pytest.mark.parametrize("ddl", ALL_SCHEMAS, ids=lambda p: p.stem)
def test_every_constraint_holds(ddl: Path, tmp_path: Path):
    prepared = prepare(ddl, RelationalConfig(rows=300), seed=3)
    report, files = export_dataset(prepared, 3, tmp_path)
    assert report["ok"] and report["violations"] == 0
    for name, table in report["tables"].items():
        assert table["rows"] == prepared.plan.rows[name] > 0
        kinds = {c["type"] for c in table["constraints"]}
        schema_table = prepared.schema.tables[name]
        if schema_table.primary_key:
            assert "PRIMARY KEY" in kinds
        assert sum(c["type"] == "FOREIGN KEY" for c in table["constraints"]) == len(schema_table.foreign_keys)
        assert sum(c["type"] == "CHECK" for c in table["constraints"]) == len(schema_table.checks)
        for col in schema_table.columns.values():
            stats = table["columns"][col.name]
            if not col.nullable:
                assert stats["null_pct"] == 0
    # The DuckDB database was created with the constraints and holds every row.
    con = duckdb.connect(str(files["duckdb"]), read_only=True)
    for name, rows in report["rows"].items():
        assert con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] == rows
    con.close()


def test_report_counts_fk_coverage_nulls_and_order(tmp_path: Path):
    prepared = prepare(SAMPLES[[p.stem for p in SAMPLES].index("library")], RelationalConfig(rows=400), seed=1)
    report, files = export_dataset(prepared, 1, tmp_path)
    on_disk = json.loads(files["report"].read_text())
    assert on_disk == report
    assert on_disk["insert_order"].index("authors") < on_disk["insert_order"].index("books")
    assert on_disk["seed"] == 1 and on_disk["generator_version"]
    loans = on_disk["tables"]["loans"]
    fk = next(c for c in loans["constraints"] if c["type"] == "FOREIGN KEY" and c["columns"] == ["book_id"])
    assert fk["orphans"] == 0 and 0 < fk["coverage_pct"] <= 100
    returned = loans["columns"]["returned_at"]
    assert 0 < returned["null_pct"] < 100  # nullable columns get a realistic share of NULLs
    assert loans["columns"]["loan_id"]["distinct"] == loans["rows"]
    assert loans["columns"]["fine_amount"]["samples"]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path):
    ddl = TRICKY / "tricky_postgres.sql"
    for seed, name in ((5, "a"), (5, "b"), (6, "c")):
        export_dataset(prepare(ddl, RelationalConfig(rows=200), seed), seed, tmp_path / name)
    a, b, c = (digests(tmp_path / n) for n in "abc")
    assert a == b
    assert a["shipments.csv"] != c["shipments.csv"]


def test_blocks_are_independent_of_how_work_is_split():
    prepared = prepare(TRICKY / "tricky_postgres.sql", RelationalConfig(rows=300), seed=9)
    gen = prepared.generator
    whole = gen.table_frame("shipments")
    small = pl.concat(list(gen.iter_blocks("shipments", block_rows=128)))
    # Keys are pure functions of the row number, whatever the block size (other columns are drawn
    # per fixed block of BLOCK_ROWS, so any block can be drawn alone).
    assert whole["shipment_id"].equals(small["shipment_id"])
    idx = np.array([7, 250, 3])
    keys = gen.key_frame("bins", idx)
    full = gen.table_frame("bins")
    for col, series in keys.items():
        assert series.to_list() == full[col].gather(idx).to_list()


def test_any_block_drawn_alone_equals_that_slice_of_the_whole_table(write_ddl):
    """Block 1 drawn first, by a generator that never drew block 0, is rows BLOCK_ROWS.. of the full table."""
    ddl = write_ddl(
        "CREATE TABLE teams (team_id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);\n"
        "CREATE TABLE players (player_id SERIAL PRIMARY KEY, team_id INT NOT NULL REFERENCES teams(team_id),\n"
        "  rating NUMERIC(4,1) CHECK (rating BETWEEN 0 AND 100), joined DATE, left_on DATE,\n"
        "  CHECK (left_on IS NULL OR left_on >= joined));\n"
    )
    config = RelationalConfig(rows=50, table_rows={"players": BLOCK_ROWS + 700})
    whole = prepare(ddl, config, seed=9).generator.table_frame("players")
    assert whole.height == BLOCK_ROWS + 700
    fresh = prepare(ddl, config, seed=9)
    evaluator = CheckEvaluator(fresh.schema, fresh.schema.tables["players"], fresh.generator.check_connection())
    alone = fresh.generator.block("players", 1, BLOCK_ROWS, 700, evaluator)
    assert alone.equals(whole.slice(BLOCK_ROWS, 700))
    assert not alone.equals(whole.slice(0, 700))  # blocks differ: the comparison above can fail


def test_csv_conventions(tmp_path: Path, write_ddl):
    ddl = write_ddl(
        "CREATE TABLE t (\n  id SERIAL PRIMARY KEY,\n  note VARCHAR(20) CHECK (note IN ('', 'x')),\n"
        "  flag BOOLEAN NOT NULL,\n  day DATE NOT NULL,\n  at TIMESTAMPTZ NOT NULL,\n  tm TIME NOT NULL\n);\n"
    )
    _, files = export_dataset(prepare(ddl, RelationalConfig(rows=200), 2), 2, tmp_path / "out")
    lines = files["csv:t"].read_text().splitlines()
    assert lines[0] == "id,note,flag,day,at,tm"
    notes = {line.split(",")[1] for line in lines[1:]}
    assert notes == {"", '""', "x"}  # NULL is empty unquoted, the empty string is ""
    row = lines[1].split(",")
    assert row[2] in ("true", "false")
    assert len(row[3]) == 10 and row[3][4] == "-"
    assert row[4].endswith("Z") and "T" in row[4]
    assert len(row[5]) == 8 and row[5][2] == ":"


def test_zip_holds_the_csvs_in_insert_order(tmp_path: Path):
    prepared = prepare(TRICKY / "tricky_sqlite.sql", RelationalConfig(rows=50), 4)
    _, files = export_dataset(prepared, 4, tmp_path)
    with zipfile.ZipFile(files["zip"]) as zf:
        assert zf.namelist() == [f"{t}.csv" for t in prepared.plan.insert_order]
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
        assert zf.read("notes.csv") == files["csv:notes"].read_bytes()


def test_values_respect_types_and_meaning(tmp_path: Path):
    prepared = prepare(SAMPLES[[p.stem for p in SAMPLES].index("library")], RelationalConfig(rows=500), 8)
    gen = prepared.generator
    members = gen.table_frame("members")
    assert members["email"].str.contains(r"^[a-z]+\.[a-z]+\d*@[a-z.]+$").all()
    assert members["email"].n_unique() == members.height
    books = gen.table_frame("books")
    isbn = books["isbn"].to_list()
    assert all(len(s) == 13 and s.startswith("978") for s in isbn)
    digits = np.array([[int(ch) for ch in s] for s in isbn])
    assert ((digits * np.array([1, 3] * 6 + [1])).sum(axis=1) % 10 == 0).all()  # valid check digits
    assert books["price"].dtype == pl.Decimal(8, 2)
    assert (books["title"].str.len_chars() <= 200).all()
    loans = gen.table_frame("loans")
    both = loans.drop_nulls("returned_at")
    assert (both["returned_at"] >= both["loaned_at"]).all()


def test_composite_overlapping_keys_hold(tmp_path: Path):
    prepared = prepare(TRICKY / "tricky_mysql.sql", RelationalConfig(rows=500, table_rows={"order_items": 3000}), 2)
    items = prepared.generator.table_frame("order_items")
    assert items.select("order_id", "line_no").is_unique().all()
    assert items.select("order_id", "sku").is_unique().all()
    assert prepared.generator.models["order_items"].not_by_construction == []


def test_table_rows_override_and_fanout():
    prepared = prepare(
        SAMPLES[[p.stem for p in SAMPLES].index("library")],
        RelationalConfig(rows=100, table_rows={"loans": 777}),
        1,
    )
    assert prepared.plan.rows["loans"] == 777
    assert prepared.plan.rows["authors"] == 100 and prepared.plan.rows["reviews"] == 200


SELF_REFERENCES = (
    "CREATE TABLE staff (staff_id SERIAL PRIMARY KEY, name TEXT NOT NULL,\n"
    "  mentor_id INT REFERENCES staff(staff_id));\n"
    "CREATE TABLE node (code VARCHAR(12) PRIMARY KEY,\n"
    "  parent_code VARCHAR(12) NOT NULL REFERENCES node(code));\n"
)


@pytest.mark.parametrize("block_rows", [400, 65_536])
def test_self_references_point_at_earlier_rows(write_ddl, block_rows: int):
    prepared = prepare(write_ddl(SELF_REFERENCES), RelationalConfig(rows=1500), seed=5)
    for table, key, ref in (("staff", "staff_id", "mentor_id"), ("node", "code", "parent_code")):
        frame = pl.concat(list(prepared.generator.iter_blocks(table, block_rows=block_rows)))
        assert frame.height == 1500
        position = {value: row for row, value in enumerate(frame[key].to_list())}
        pairs = [(row, position[value]) for row, value in enumerate(frame[ref].to_list()) if value is not None]
        later_or_own = [(row, parent) for row, parent in pairs if parent >= row and row > 0]
        assert later_or_own == [], f"{table}: rows referencing themselves or a later row: {later_or_own[:5]}"
        assert len(pairs) > 1000  # most rows have a parent: the check above is not vacuous
        if table == "staff":  # nullable: the first row is a root with no parent
            assert frame[ref][0] is None
        else:  # NOT NULL: the first row has only itself to reference (the root of the tree)
            assert frame[ref][0] == frame[key][0] and len(pairs) == 1500
