"""Dialect-faithful CSV values: booleans as the DDL's own database reads them.

MySQL (``TINYINT(1)``/``BOOLEAN``) and SQLite (no boolean type: NUMERIC affinity) get 0/1; PostgreSQL
gets true/false (its COPY is exercised in test_postgres_proof.py). The SQLite file is loaded into a real
SQLite database created from the schema's own DDL, with its foreign keys and CHECKs enforced.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import polars as pl

from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare
from synth_pipelines_tests.relational.conftest import SAMPLES, TRICKY


def _export(ddl: Path, out: Path, rows: int = 200) -> tuple[object, dict[str, Path]]:
    prepared = prepare(ddl, RelationalConfig(rows=rows), seed=5)
    report, files = export_dataset(prepared, 5, out, formats=("csv", "parquet"))
    assert report["ok"]
    return prepared, files


def _column_text(path: Path, column: str) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def test_mysql_booleans_are_0_and_1(tmp_path: Path):
    _, files = _export(TRICKY / "tricky_mysql.sql", tmp_path)
    vip = _column_text(files["csv:customers"], "is_vip")
    assert set(vip) == {"0", "1"}
    # The same rows as the Parquet file's booleans.
    parquet = pl.read_parquet(files["parquet:customers"])["is_vip"].to_list()
    assert vip == ["1" if v else "0" for v in parquet]
    # DATETIME as MySQL's own literal (UTC), the same instants as the Parquet file.
    signup = _column_text(files["csv:customers"], "signup_at")
    stamps = pl.read_parquet(files["parquet:customers"])["signup_at"]
    assert signup == stamps.dt.strftime("%Y-%m-%d %H:%M:%S%.3f").to_list()
    assert all(len(v) == 23 and v[10] == " " for v in signup)


def test_postgres_booleans_are_true_and_false(tmp_path: Path):
    library = next(p for p in SAMPLES if p.stem == "library")
    _, files = _export(library, tmp_path, rows=100)
    assert set(_column_text(files["csv:members"], "is_active")) == {"true", "false"}


def test_sqlite_loads_its_own_csv_with_integer_booleans(tmp_path: Path):
    ddl = TRICKY / "tricky_sqlite.sql"
    prepared, files = _export(ddl, tmp_path)
    db = sqlite3.connect(tmp_path / "proof.sqlite")
    try:
        db.executescript(ddl.read_text())  # PRAGMA foreign_keys = ON: FKs and CHECKs are enforced
        for table in prepared.plan.insert_order:
            with files[f"csv:{table}"].open(newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                header = next(reader)
                marks = ", ".join("?" for _ in header)
                rows = [[None if v == "" else v for v in row] for row in reader]
                db.executemany(f'INSERT INTO "{table}" ({", ".join(header)}) VALUES ({marks})', rows)
        db.commit()
        kinds = dict(db.execute("SELECT typeof(pinned), count(*) FROM notes GROUP BY 1").fetchall())
        assert set(kinds) == {"integer"}
        assert {v for (v,) in db.execute("SELECT DISTINCT pinned FROM notes")} == {0, 1}
        counts = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in prepared.plan.insert_order}
        assert counts == prepared.plan.rows
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()
