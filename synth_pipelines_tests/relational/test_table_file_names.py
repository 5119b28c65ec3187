"""Issue #15 item 6: table names that would share a file, or are not safe as one, get unique safe files,
and validation_report.json maps every table to its file. Names that DuckDB cannot tell apart (case
only) are refused up front."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from synth_pipelines import cli
from synth_pipelines.domains.relational.ddl import DdlError, parse_ddl
from synth_pipelines.domains.relational.export import table_file_stems

CLASHING = """
CREATE TABLE "a/b" (id INT PRIMARY KEY, label TEXT NOT NULL);
CREATE TABLE b (id INT PRIMARY KEY, a_b_id INT REFERENCES "a/b" (id));
CREATE TABLE "tab\tbed" (id INT PRIMARY KEY);
CREATE TABLE ".hidden" (id INT PRIMARY KEY);
"""


def test_file_stems_are_unique_safe_and_leave_plain_names_alone() -> None:
    stems = table_file_stems(["a/b", "b", "tab\tbed", ".hidden", "orders", "Order_Items"])
    assert stems["b"] == "b" and stems["orders"] == "orders" and stems["Order_Items"] == "Order_Items"
    odd = [stems["a/b"], stems["tab\tbed"], stems[".hidden"]]
    for stem in odd:
        assert stem.isascii() and all(c.isalnum() or c in "_-" for c in stem) and not stem.startswith(".")
    assert len({s.casefold() for s in stems.values()}) == len(stems)
    assert stems == table_file_stems(["a/b", "b", "tab\tbed", ".hidden", "orders", "Order_Items"])  # stable


def test_tables_sharing_a_last_path_component_get_their_own_files(tmp_path: Path) -> None:
    ddl = tmp_path / "clash.sql"
    ddl.write_text(CLASHING)
    out = tmp_path / "out"
    assert cli.main(["relational", "--ddl", str(ddl), "--rows", "4", "--seed", "3", "--out", str(out)]) == 0
    report = json.loads((out / "validation_report.json").read_text())
    files = report["table_files"]
    assert set(files) == {"a/b", "b", "tab\tbed", ".hidden"}
    assert files["b"] == "b"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    for table, stem in files.items():
        assert f"{stem}.parquet" in written and f"{stem}.csv" in written
        assert pl.read_parquet(out / f"{stem}.parquet").height == report["rows"][table] > 0, table
    assert not [p for p in written if "/" in p]  # nothing in a subfolder
    with zipfile.ZipFile(out / "dataset.zip") as zf:
        names = zf.namelist()
    assert sorted(names) == sorted(f"{stem}.csv" for stem in files.values())
    with duckdb.connect(str(out / "dataset.duckdb"), read_only=True) as con:
        assert con.execute('SELECT count(*) FROM "a/b"').fetchone() == (4,)


def test_sample_schemas_keep_plain_file_names_and_no_mapping_key(tmp_path: Path) -> None:
    ddl = Path(__file__).resolve().parents[2] / "data" / "schemas" / "library.sql"
    out = tmp_path / "out"
    assert cli.main(["relational", "--ddl", str(ddl), "--rows", "5", "--format", "parquet", "--out", str(out)]) == 0
    report = json.loads((out / "validation_report.json").read_text())
    assert "table_files" not in report  # the golden bytes of every plain schema stay as they were
    assert {p.stem for p in out.glob("*.parquet")} == set(report["tables"])


@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        ('CREATE TABLE "Data" (id INT PRIMARY KEY);\nCREATE TABLE "DATA" (id INT PRIMARY KEY);', "table 'DATA'"),
        ('CREATE TABLE t (id INT PRIMARY KEY, "Name" TEXT, "NAME" TEXT);', "column t.NAME"),
    ],
    ids=["tables", "columns"],
)
def test_names_that_differ_only_in_case_are_refused(ddl: str, message: str) -> None:
    with pytest.raises(DdlError, match=r"differs from .* only in case") as info:
        parse_ddl(ddl, "case.sql")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_case_only_duplicates_give_one_line_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ddl = tmp_path / "case.sql"
    ddl.write_text('CREATE TABLE "Data" (id INT PRIMARY KEY);\nCREATE TABLE "DATA" (id INT PRIMARY KEY);\n')
    assert cli.main(["relational", "--ddl", str(ddl), "--rows", "3", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"synth: error: {ddl}:2: ")
    assert "table 'DATA' differs from table 'Data' only in case" in err
    assert len(err.splitlines()) == 1
