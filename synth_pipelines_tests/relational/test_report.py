"""The validation report counts what is in the data: inject each kind of violation, read the exact count."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.domains.relational.pipeline import GENERATOR_VERSION, RelationalConfig, prepare
from synth_pipelines.domains.relational.report import build_report

DDL = """
CREATE TABLE parents (
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    label VARCHAR(5) UNIQUE,
    PRIMARY KEY (a, b)
);
CREATE TABLE children (
    id INTEGER PRIMARY KEY,
    pa INTEGER,
    pb INTEGER,
    score SMALLINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    starts DATE,
    ends DATE,
    code CHAR(3),
    UNIQUE (pa, code),
    FOREIGN KEY (pa, pb) REFERENCES parents (a, b),
    CHECK (ends IS NULL OR ends >= starts)
);
"""


def constraint(report: dict, table: str, kind: str, columns: list[str] | None = None) -> dict:
    return next(
        c
        for c in report["tables"][table]["constraints"]
        if c["type"] == kind and (columns is None or c.get("columns") == columns)
    )


def test_report_counts_injected_violations_exactly(write_ddl):
    ddl = write_ddl(DDL)
    prepared = prepare(ddl, RelationalConfig(rows=6), seed=1)
    parents = pl.DataFrame(
        {
            "a": [1, 1, 2, 2, 2],
            "b": [1, 2, 1, 1, None],  # (2, 1) twice: 1 PK duplicate; a NULL: 1 PK null
            "label": ["x", "y", "x", None, "toolong"],  # "x" twice: 1 UNIQUE duplicate; 1 too long
        },
        schema={"a": pl.Int32, "b": pl.Int32, "label": pl.String},
    )
    children = pl.DataFrame(
        {
            "id": [1, 2, 3, 3, 5, 6],  # 1 PK duplicate
            "pa": [1, 1, 9, None, 2, 1],  # (9, 1) is an orphan; a NULL column exempts the row
            "pb": [1, 2, 1, 7, 1, 1],
            "score": [1, 5, 0, 3, None, 6],  # 0 and 6 break the CHECK; NULL breaks NOT NULL
            "starts": ["2020-01-01"] * 6,
            "ends": ["2020-01-02", "2019-12-31", None, "2020-01-01", "2019-01-01", None],  # 2 before starts
            "code": ["AAA", "AAA", "BBB", "AAA", None, "CCC"],  # (1, AAA) twice: 1 UNIQUE duplicate
        },
        schema_overrides={"id": pl.Int32, "pa": pl.Int32, "pb": pl.Int32, "score": pl.Int16},
    ).with_columns(pl.col("starts", "ends").str.to_date())

    report = build_report(
        prepared.schema,
        prepared.plan,
        prepared.generator,
        {"parents": parents, "children": children},
        1,
        GENERATOR_VERSION,
    )

    pk = constraint(report, "parents", "PRIMARY KEY")
    assert (pk["duplicates"], pk["nulls"]) == (1, 1)
    assert constraint(report, "parents", "UNIQUE", ["label"])["duplicates"] == 1
    assert constraint(report, "parents", "TYPE", ["label"])["violations"] == 1
    assert constraint(report, "children", "PRIMARY KEY")["duplicates"] == 1
    fk = constraint(report, "children", "FOREIGN KEY")
    assert fk["orphans"] == 1
    assert fk["coverage_pct"] == 60.0  # (1,1), (1,2), (2,1) of 5 parent rows
    assert constraint(report, "children", "UNIQUE", ["pa", "code"])["duplicates"] == 1
    assert constraint(report, "children", "NOT NULL", ["score"])["violations"] == 1
    checks = [c["violations"] for c in report["tables"]["children"]["constraints"] if c["type"] == "CHECK"]
    assert checks == [2, 2]
    assert report["ok"] is False
    assert constraint(report, "parents", "NOT NULL", ["b"])["violations"] == 1  # the NULL in the PK
    parents_total = 1 + 1 + 1 + 1 + 1  # PK duplicate, PK null, NOT NULL b, UNIQUE label, label too long
    children_total = 1 + 1 + 1 + 1 + 2 + 2  # PK, FK orphan, UNIQUE, NOT NULL, two CHECKs
    assert report["tables"]["parents"]["violations"] == parents_total
    assert report["violations"] == parents_total + children_total

    columns = report["tables"]["children"]["columns"]
    assert columns["pa"]["distinct"] == 3 and columns["pa"]["null_pct"] == round(100 / 6, 2)
    assert (columns["score"]["min"], columns["score"]["max"]) == (0, 6)
    assert columns["code"]["samples"] == ["AAA", "BBB", "CCC"]
    assert report["rows"] == {"parents": 5, "children": 6}


def test_report_reads_parquet_files_like_frames(tmp_path: Path, write_ddl):
    prepared = prepare(write_ddl(DDL), RelationalConfig(rows=50), seed=2)
    frames = {name: prepared.generator.table_frame(name) for name in prepared.plan.insert_order}
    files = {}
    for name, frame in frames.items():
        files[name] = tmp_path / f"{name}.parquet"
        frame.write_parquet(files[name])
    from_frames = build_report(prepared.schema, prepared.plan, prepared.generator, dict(frames), 2, "v")
    from_files = build_report(prepared.schema, prepared.plan, prepared.generator, dict(files), 2, "v")
    assert from_frames == from_files
    assert from_files["ok"] and from_files["rows"]["children"] == prepared.plan.rows["children"]


TYPES_DDL = """
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE typed (
    id INTEGER PRIMARY KEY,
    small SMALLINT,
    plain INTEGER,
    amount NUMERIC(5, 2),
    feeling mood,
    token UUID,
    code CHAR(3),
    label VARCHAR(5)
);
"""
# One column at a time holds one value past its type's limit; the others sit exactly at their limits.
AT_LIMITS: dict[str, list] = {
    "small": [-32768, 32767, 0, 1],
    "plain": [-2147483648, 2147483647, 0, 1],
    "amount": [Decimal("999.99"), Decimal("-999.99"), Decimal("0.01"), None],
    "feeling": ["sad", "ok", "ok", None],
    "token": ["123e4567-e89b-12d3-a456-426614174000", "00000000-0000-0000-0000-000000000000", None, None],
    "code": ["ABC", "AB", "XYZ", None],  # "AB": PostgreSQL pads a shorter CHAR(3) value, it is in the type
    "label": ["abcde", "a", "", None],
}
PAST_LIMIT: list[tuple[str, object]] = [
    ("small", 32768),
    ("small", -32769),
    ("plain", 2147483648),
    ("plain", -2147483649),
    ("amount", Decimal("1000.00")),  # precision 5, scale 2: |x| < 10^3
    ("amount", Decimal("-1000.00")),
    ("amount", Decimal("1.005")),  # a third decimal digit breaks the scale
    ("feeling", "happy"),
    ("token", "not-a-uuid"),
    ("token", "123e4567-e89b-12d3-a456-42661417400g"),
    ("code", "ABCD"),
    ("label", "abcdef"),
]


def typed_frame(bad: tuple[str, object] | None) -> pl.DataFrame:
    columns = {name: list(values) for name, values in AT_LIMITS.items()}
    if bad is not None:
        columns[bad[0]][3] = bad[1]
    return pl.DataFrame(
        {"id": [1, 2, 3, 4], **columns},
        schema={
            "id": pl.Int32,
            "small": pl.Int64,
            "plain": pl.Int64,
            "amount": pl.Decimal(10, 3),
            "feeling": pl.String,
            "token": pl.String,
            "code": pl.String,
            "label": pl.String,
        },
    )


def type_violations(prepared, frame: pl.DataFrame) -> dict[str, int]:
    report = build_report(prepared.schema, prepared.plan, prepared.generator, {"typed": frame}, 1, GENERATOR_VERSION)
    return {c["columns"][0]: c["violations"] for c in report["tables"]["typed"]["constraints"] if c["type"] == "TYPE"}


@pytest.mark.parametrize("bad", [None, *PAST_LIMIT], ids=lambda b: "at-limits" if b is None else f"{b[0]}={b[1]}")
def test_type_checks_count_one_value_past_each_limit(write_ddl, bad: tuple[str, object] | None):
    prepared = prepare(write_ddl(TYPES_DDL), RelationalConfig(rows=4), seed=1)
    counts = type_violations(prepared, typed_frame(bad))
    expected = {"id": 0} | {name: 0 for name in AT_LIMITS}  # every bounded column is checked
    if bad is not None:
        expected[bad[0]] = 1
    assert counts == expected
