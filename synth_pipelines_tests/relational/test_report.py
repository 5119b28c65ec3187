"""The validation report counts what is in the data: inject each kind of violation, read the exact count."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.domains.relational.pipeline import GENERATOR_VERSION, RelationalConfig, prepare
from synth_pipelines.domains.relational.report import build_report, connect_sources, report_json, violation_summary

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


def test_report_counts_and_names_injected_violations_exactly(write_ddl):
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
    # The first 8 of 11 parts, in table and constraint order; the CHECK on dates is also counted as a rule.
    assert violation_summary(report) == (
        "parents: PRIMARY KEY (a, b) x2; parents: UNIQUE (label) x1; parents: NOT NULL (b) x1; "
        "parents: TYPE (label) x1; children: PRIMARY KEY (id) x1; children: UNIQUE (pa, code) x1; "
        "children: FOREIGN KEY (pa, pb) x1; children: NOT NULL (score) x1 (+3 more)"
    )
    assert violation_summary(report, limit=11).endswith(
        "; children: CHECK (score BETWEEN 1 AND 5) x2; children: CHECK (ends IS NULL OR ends >= starts) x2; "
        "children: RULE (ends >= starts) x2"
    )

    columns = report["tables"]["children"]["columns"]
    assert columns["pa"]["distinct"] == 3 and columns["pa"]["null_pct"] == round(100 / 6, 2)
    assert (columns["score"]["min"], columns["score"]["max"]) == (0, 6)
    assert columns["code"]["samples"] == ["AAA", "BBB", "CCC"]
    assert report["rows"] == {"parents": 5, "children": 6}


def test_report_reads_parquet_files_in_a_quoted_folder_like_frames_and_writes_utf8_json(tmp_path: Path, write_ddl):
    prepared = prepare(write_ddl(DDL, "schéma.sql"), RelationalConfig(rows=50), seed=2)
    frames = {name: prepared.generator.table_frame(name) for name in prepared.plan.insert_order}
    files = {}
    folder = tmp_path / "it's"  # a quote in the path the view reads
    folder.mkdir()
    for name, frame in frames.items():
        files[name] = folder / f"{name}.parquet"
        frame.write_parquet(files[name])
    from_frames = build_report(prepared.schema, prepared.plan, prepared.generator, dict(frames), 2, "v")
    from_files = build_report(prepared.schema, prepared.plan, prepared.generator, dict(files), 2, "v")
    assert from_frames == from_files
    assert violation_summary(from_files) == "no violations"
    text = report_json(from_files)
    assert json.loads(text) == from_files and text.endswith("}\n")
    assert text.startswith('{\n  "schema": {\n    "file": "schéma.sql",\n    "sha256": ')  # keys in build order
    assert '"file": "schéma.sql"' in text  # written as UTF-8, not escaped
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


def type_violations(prepared, frame: pl.DataFrame, table: str = "typed") -> dict[str, int]:
    report = build_report(prepared.schema, prepared.plan, prepared.generator, {table: frame}, 1, GENERATOR_VERSION)
    return {c["columns"][0]: c["violations"] for c in report["tables"][table]["constraints"] if c["type"] == "TYPE"}


@pytest.mark.parametrize("bad", [None, *PAST_LIMIT], ids=lambda b: "at-limits" if b is None else f"{b[0]}={b[1]}")
def test_type_checks_count_one_value_past_each_limit(write_ddl, bad: tuple[str, object] | None):
    prepared = prepare(write_ddl(TYPES_DDL), RelationalConfig(rows=4), seed=1)
    counts = type_violations(prepared, typed_frame(bad))
    expected = {"id": 0} | {name: 0 for name in AT_LIMITS}  # every bounded column is checked
    if bad is not None:
        expected[bad[0]] = 1
    assert counts == expected


# Types whose limits come from a default or need quoting: a bare NUMERIC is read as NUMERIC(18, 2),
# DECIMAL(5) has scale 0, MONEY is NUMERIC(19, 2); an ENUM label and a column name holding a quote.
# TEXT, DOUBLE, DATE and BOOLEAN bound nothing a value could break, so they get no TYPE count at all.
DEFAULTS_DDL = """
CREATE TYPE remark AS ENUM ('it''s', 'ok');
CREATE TABLE odd (
    id INTEGER PRIMARY KEY,
    "we""ird" VARCHAR(2),
    said remark,
    loose NUMERIC,
    whole DECIMAL(5),
    wide NUMERIC(38, 10),
    cash MONEY,
    note TEXT,
    ratio DOUBLE PRECISION,
    born DATE,
    flag BOOLEAN
);
"""


def test_type_checks_of_default_precisions_quotes_and_unbounded_types(write_ddl):
    prepared = prepare(write_ddl(DEFAULTS_DDL), RelationalConfig(rows=4), seed=1)
    d = Decimal
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            'we"ird': ["ab", "abc", None, "", "x", "yz"],  # 1 longer than 2
            "said": ["it's", "ok", "its", None, "it''s", "ok"],  # "its" and a doubled quote are not labels
            # 16 integer digits and 2 decimals fit (18, 2); 17 digits, and a third decimal, do not.
            "loose": [d("9999999999999999.99"), d("10000000000000000"), d("0.005"), d("-0.01"), None, d("1")],
            "whole": [d("99999"), d("-99999"), d("100000"), d("1.5"), d("0"), None],  # (5, 0)
            "wide": [d(10**28 - 1), d(10**28), d(-(10**28) + 1), None, d(0), d(1)],  # (38, 10): |x| < 10^28
            "cash": [d("99999999999999999.99"), d("100000000000000000"), d("0.001"), None, d("0"), d("-1")],
            "note": ["x" * 500, None, "", "a", "b", "c"],
            "ratio": [1 / 3, 2 / 3, -1e300, None, 0.5, 0.25],
            "born": [dt.date(2020, 1, 1), dt.date(1900, 2, 28), None, dt.date(2099, 12, 31)] + [None] * 2,
            "flag": [True, None, False, True, True, False],
        },
        schema={
            "id": pl.Int32,
            'we"ird': pl.String,
            "said": pl.String,
            "loose": pl.Decimal(38, 3),
            "whole": pl.Decimal(38, 1),
            "wide": pl.Decimal(38, 0),
            "cash": pl.Decimal(38, 3),
            "note": pl.String,
            "ratio": pl.Float64,
            "born": pl.Date,
            "flag": pl.Boolean,
        },
    )
    report = build_report(prepared.schema, prepared.plan, prepared.generator, {"odd": frame}, 1, GENERATOR_VERSION)
    columns = report["tables"]["odd"]["columns"]
    # min and max as JSON values: floats rounded to 6 places, decimals and dates as text, booleans as is.
    assert (columns["ratio"]["min"], columns["ratio"]["max"]) == (-1e300, 0.666667)
    assert (columns["loose"]["min"], columns["loose"]["max"]) == ("-0.010", "10000000000000000.000")
    assert (columns["born"]["min"], columns["born"]["max"]) == ("1900-02-28", "2099-12-31")
    assert (columns["flag"]["min"], columns["flag"]["max"]) == (False, True)
    assert (columns["id"]["min"], columns["id"]["max"]) == (1, 6)
    assert columns["id"]["samples"] == [1, 2, 3, 4, 5]  # the first five distinct values
    assert columns["said"]["samples"] == ["it's", "ok", "its", "it''s"]
    assert columns["ratio"]["samples"] == [0.333333, 0.666667, -1e300, 0.5, 0.25]
    assert columns["born"]["samples"] == ["2020-01-01", "1900-02-28", "2099-12-31"]
    assert (columns["said"]["distinct"], columns["said"]["null_pct"]) == (4, 16.67)
    assert (columns["born"]["null_pct"], columns["loose"]["type"]) == (50.0, "DECIMAL")
    assert type_violations(prepared, frame, "odd") == {
        "id": 0,
        'we"ird': 1,
        "said": 2,
        "loose": 2,
        "whole": 2,
        "wide": 1,
        "cash": 2,
    }


MYSQL_DDL = """
CREATE TABLE m (
    id INT(11) NOT NULL PRIMARY KEY,
    tiny TINYINT(4),
    amount DECIMAL,
    kind ENUM('a''b', 'c'),
    note VARCHAR(3)
) ENGINE=InnoDB;
"""


def test_mysql_display_widths_are_not_lengths_and_a_bare_decimal_is_10_0(write_ddl):
    """MySQL: INT(11) and TINYINT(4) are display widths (the range is the type's), and DECIMAL without
    arguments is DECIMAL(10, 0) (MySQL's default: 10 digits, no fraction)."""
    prepared = prepare(write_ddl(MYSQL_DDL), RelationalConfig(rows=4, dialect="mysql"), seed=1)
    frame = pl.DataFrame(
        {
            "id": [2147483647, -2147483648, 2147483648, 12345678901, 5],  # 2 outside INT
            "tiny": [127, -128, 128, 1234, None],  # 2 outside TINYINT; 1234 has 4 digits
            "amount": [d := Decimal("9999999999"), -d, Decimal("10000000000"), Decimal("0.5"), None],
            "kind": ["a'b", "c", "ab", "a''b", None],
            "note": ["abc", "abcd", None, "", "x"],
        },
        schema={"id": pl.Int64, "tiny": pl.Int64, "amount": pl.Decimal(38, 1), "kind": pl.String, "note": pl.String},
    )
    report = build_report(prepared.schema, prepared.plan, prepared.generator, {"m": frame}, 1, GENERATOR_VERSION)
    types = {
        c["columns"][0]: (c["declared"], c["violations"])
        for c in report["tables"]["m"]["constraints"]
        if c["type"] == "TYPE"
    }
    assert types == {
        "id": ("INT(11)", 2),
        "tiny": ("TINYINT(4)", 2),
        "amount": ("DECIMAL", 2),
        "kind": ("ENUM('a''b', 'c')", 2),
        "note": ("VARCHAR(3)", 1),
    }
    # Samples come from the first 2,000 rows only: a value first seen in row 2,001 is not one.
    rows = 2001
    late = pl.DataFrame(
        {
            "id": range(rows),
            "tiny": [1] * (rows - 1) + [2],
            "amount": [None] * rows,
            "kind": ["c"] * rows,
            "note": ["abc"] * rows,
        },
        schema={"id": pl.Int64, "tiny": pl.Int64, "amount": pl.Decimal(10, 0), "kind": pl.String, "note": pl.String},
    )
    report = build_report(prepared.schema, prepared.plan, prepared.generator, {"m": late}, 1, GENERATOR_VERSION)
    columns = report["tables"]["m"]["columns"]
    assert columns["tiny"]["samples"] == [1] and columns["tiny"]["distinct"] == 2
    assert columns["amount"]["samples"] == [] and columns["amount"]["null_pct"] == 100.0
    # The generator draws inside the same type: whole numbers below 10^10.
    drawn = prepared.generator.table_frame("m")["amount"].drop_nulls()
    assert drawn.len() > 0 and (drawn.cast(pl.Float64).abs() < 1e10).all()
    assert (drawn.cast(pl.Float64) == drawn.cast(pl.Float64).round(0)).all()


RULES_DDL = """
CREATE TABLE staff (
    staff_id INTEGER PRIMARY KEY,
    mentor_id INTEGER REFERENCES staff (staff_id),
    hired DATE NOT NULL
);
CREATE TABLE invoices (
    invoice_id INTEGER PRIMARY KEY,
    staff_id INTEGER REFERENCES staff (staff_id),
    issued_at TIMESTAMP,
    paid_at TIMESTAMPTZ,
    total NUMERIC(10, 2)
);
CREATE TABLE invoice_lines (
    line_id INTEGER PRIMARY KEY,
    invoice_id INTEGER NOT NULL REFERENCES invoices (invoice_id),
    unit_price NUMERIC(8, 2) NOT NULL,
    quantity INTEGER NOT NULL
);
"""
RULES_SPEC = """
tables:
  invoices:
    rules:
    - {check: 'issued_at >= staff.hired + 1d'}
    - {check: 'paid_at > issued_at'}
"""


def test_rules_hierarchy_and_sums_are_counted_over_the_rows_by_hand(tmp_path: Path, write_ddl):
    spec = tmp_path / "spec.yaml"
    spec.write_text(RULES_SPEC)
    prepared = prepare(write_ddl(RULES_DDL), RelationalConfig(rows=4, spec=str(spec)), seed=1)
    jan = [dt.date(2020, 1, d) for d in (10, 10, 1, 1, 1, 1)]
    # Staff 1 is a root (no mentor), 6 mentors itself (a root too); 2 under 1, 3 under 2 (depth 3);
    # 4 and 5 mentor each other: a cycle no root reaches.
    staff = pl.DataFrame(
        {"staff_id": [1, 2, 3, 4, 5, 6], "mentor_id": [None, 1, 2, 5, 4, 6], "hired": jan},
        schema={"staff_id": pl.Int32, "mentor_id": pl.Int32, "hired": pl.Date},
    )
    at = dt.datetime
    utc = dt.UTC
    invoices = pl.DataFrame(
        {
            "invoice_id": [10, 11, 12, 13],
            "staff_id": [1, 2, None, 9],  # 9 is an orphan; rules through staff skip 12 and 13 (no parent)
            # 10: a day after staff 1 was hired, to the microsecond; 11: half a day after staff 2.
            "issued_at": [at(2020, 1, 11), at(2020, 1, 10, 12), at(2020, 1, 1), at(2020, 1, 1)],
            # 10: paid at the instant of issue (>= holds, > does not); 11: paid an hour before issue;
            # 13: a day later. A TIMESTAMPTZ is compared as its UTC instant.
            "paid_at": [at(2020, 1, 11, tzinfo=utc), at(2020, 1, 10, 11, tzinfo=utc), None, at(2020, 1, 2, tzinfo=utc)],
            # 10: 2.50 x 2 + 1.25 x 1; 11: 3.00 x 3 is 9.00, not 9.01; 12 has no lines (0); 13 unset.
            "total": [Decimal("6.25"), Decimal("9.01"), Decimal("0.00"), None],
        },
        schema={
            "invoice_id": pl.Int32,
            "staff_id": pl.Int32,
            "issued_at": pl.Datetime("us"),
            "paid_at": pl.Datetime("us", "UTC"),
            "total": pl.Decimal(10, 2),
        },
    )
    lines = pl.DataFrame(
        {
            "line_id": [1, 2, 3],
            "invoice_id": [10, 10, 11],
            "unit_price": [Decimal("2.50"), Decimal("1.25"), Decimal("3.00")],
            "quantity": [2, 1, 3],
        },
        schema={"line_id": pl.Int32, "invoice_id": pl.Int32, "unit_price": pl.Decimal(8, 2), "quantity": pl.Int32},
    )
    report = build_report(
        prepared.schema,
        prepared.plan,
        prepared.generator,
        {"staff": staff, "invoices": invoices, "invoice_lines": lines},
        7,
        "v9",
    )
    rules = {
        (r["table"], r["rule"]): {k: v for k, v in r.items() if k not in ("table", "rule")} for r in report["rules"]
    }
    assert rules[("invoices", "paid_at >= issued_at")] == {"origin": "inferred", "rows_checked": 3, "violations": 1}
    assert rules[("invoices", "paid_at > issued_at")] == {"origin": "spec", "rows_checked": 3, "violations": 2}
    assert rules[("invoices", "issued_at >= staff.hired")] == {"origin": "inferred", "rows_checked": 2, "violations": 0}
    assert rules[("invoices", "issued_at >= staff.hired + 1d")] == {
        "origin": "spec",
        "rows_checked": 2,
        "violations": 1,
    }
    assert rules[("staff", "mentor_id forms a hierarchy (no cycle)")] == {
        "kind": "hierarchy",
        "origin": "inferred",
        "rows_checked": 4,  # staff with a mentor other than themselves
        "violations": 2,  # 4 and 5
        "roots": 2,
        "depth": 3,
    }
    sums = [r for r in report["rules"] if r.get("kind") == "sum"]
    assert [(r["table"], r["origin"], r["rows_checked"], r["violations"]) for r in sums] == [
        ("invoices", "inferred", 3, 1)
    ]
    mentor, seller, invoice = (
        next(c for c in report["tables"][t]["constraints"] if c["type"] == "FOREIGN KEY")
        for t in ("staff", "invoices", "invoice_lines")
    )
    # A self-reference covers its own rows: mentors 1, 2, 4, 5, 6 of 6 staff.
    assert mentor == {
        "type": "FOREIGN KEY",
        "columns": ["mentor_id"],
        "references": "staff(staff_id)",
        "orphans": 0,
        "violations": 0,
        "coverage_pct": 83.33,
        "deferred_in_load": False,
    }
    assert (seller["orphans"], seller["coverage_pct"]) == (1, 33.33)  # staff 1 and 2 of 6; 9 is not a key
    assert (invoice["orphans"], invoice["coverage_pct"]) == (0, 50.0)  # invoices 10 and 11 of 4
    assert report["violations"] == 1  # the orphan; rules are counted apart
    assert report["rule_violations"] == 1 + 2 + 1 + 2 + 1
    assert report["ok"] is False
    assert (report["seed"], report["generator_version"], report["insert_order"]) == (
        7,
        "v9",
        ["staff", "invoices", "invoice_lines"],
    )
    assert report["schema"]["file"] == "schema.sql" and report["schema"]["dialect"] == "postgres"
    assert report["deferred_foreign_keys"] == []
    whole = (
        "invoices: FOREIGN KEY (staff_id) x1; invoices: RULE (paid_at >= issued_at) x1; "
        "invoices: RULE (issued_at >= staff.hired + 1d) x1; invoices: RULE (paid_at > issued_at) x2; "
        "staff: RULE (mentor_id forms a hierarchy (no cycle)) x2; "
        f"invoices: RULE ({sums[0]['rule']}) x1"
    )
    assert violation_summary(report) == whole
    assert violation_summary(report, limit=6) == whole
    assert violation_summary(report, limit=2) == "; ".join(whole.split("; ")[:2]) + " (+4 more)"


def test_the_report_connection_is_bounded_and_in_utc():
    con = connect_sources({"t": pl.DataFrame({"x": [1]})})
    settings = "current_setting('memory_limit'), current_setting('threads'), current_setting('TimeZone')"
    assert con.execute(f"SELECT {settings}").fetchone() == ("488.2 MiB", 2, "UTC")  # 512 MB
    assert connect_sources({}, memory_limit="300MB").execute(f"SELECT {settings}").fetchone()[0] == "286.1 MiB"


TZ_SCRIPT = """
import datetime as dt, json, sys
import polars as pl
from synth_pipelines.domains.relational.pipeline import RelationalConfig, prepare
from synth_pipelines.domains.relational.report import build_report
prepared = prepare(sys.argv[1], RelationalConfig(rows=2), seed=1)
utc = dt.timezone.utc
frame = pl.DataFrame(
    {"id": [1, 2], "made": [dt.datetime(2020, 1, 10, 23), dt.datetime(2020, 1, 11)],
     "paid": [dt.datetime(2020, 1, 11, tzinfo=utc), dt.datetime(2020, 1, 10, 23, 30, tzinfo=utc)]},
    schema={"id": pl.Int32, "made": pl.Datetime("us"), "paid": pl.Datetime("us", "UTC")},
)
report = build_report(prepared.schema, prepared.plan, prepared.generator, {"t": frame}, 1, "v")
print(json.dumps([report["tables"]["t"]["columns"]["paid"], report["rules"]]))
"""


def test_timestamptz_values_and_rules_do_not_depend_on_the_host_time_zone(tmp_path: Path, write_ddl):
    """DuckDB's session zone comes from TZ when the process starts: run the report under New York time."""
    ddl = write_ddl("CREATE TABLE t (id INTEGER PRIMARY KEY, made TIMESTAMP NOT NULL, paid TIMESTAMPTZ NOT NULL);")
    spec = tmp_path / "spec.yaml"
    spec.write_text("tables:\n  t:\n    rules:\n    - {check: 'paid >= made'}\n")
    env = {**os.environ, "TZ": "America/New_York", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", TZ_SCRIPT.replace("rows=2)", f"rows=2, spec={str(spec)!r})"), str(ddl)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    paid, rules = json.loads(out)
    assert (paid["min"], paid["max"]) == ("2020-01-10 23:30:00+00:00", "2020-01-11 00:00:00+00:00")
    # Row 1 is paid an hour after it was made, row 2 half an hour before (both instants in UTC).
    assert [(r["rule"], r["rows_checked"], r["violations"]) for r in rules if r["rule"] == "paid >= made"] == [
        ("paid >= made", 2, 1)
    ]


CYCLE_DDL = """
CREATE TABLE departments (
    dept_id INTEGER PRIMARY KEY,
    head_id INTEGER
);
CREATE TABLE employees (
    emp_id INTEGER PRIMARY KEY,
    dept_id INTEGER NOT NULL REFERENCES departments (dept_id)
);
ALTER TABLE departments ADD CONSTRAINT head FOREIGN KEY (head_id) REFERENCES employees (emp_id);
"""


def test_a_foreign_key_to_a_later_table_counts_its_parent_rows(write_ddl):
    prepared = prepare(write_ddl(CYCLE_DDL), RelationalConfig(rows=3), seed=1)
    assert prepared.plan.insert_order == ("departments", "employees")
    departments = pl.DataFrame(
        {"dept_id": [1, 2], "head_id": [10, None]}, schema={"dept_id": pl.Int32, "head_id": pl.Int32}
    )
    employees = pl.DataFrame(
        {"emp_id": [10, 11, 12, 13], "dept_id": [1, 1, 2, 2]}, schema={"emp_id": pl.Int32, "dept_id": pl.Int32}
    )
    report = build_report(
        prepared.schema,
        prepared.plan,
        prepared.generator,
        {"departments": departments, "employees": employees},
        1,
        GENERATOR_VERSION,
    )
    head = constraint(report, "departments", "FOREIGN KEY")
    # employees is read after departments, so its 4 rows are counted, not known: 1 head of 4 is 25%.
    assert (head["orphans"], head["coverage_pct"], head["deferred_in_load"]) == (0, 25.0, True)
    assert report["deferred_foreign_keys"] == [
        {"table": "departments", "columns": ["head_id"], "references": "employees(emp_id)"}
    ]
    assert constraint(report, "employees", "FOREIGN KEY")["coverage_pct"] == 100.0


FLAT_DDL = """
CREATE TABLE teams (team_id INTEGER PRIMARY KEY);
CREATE TABLE people (
    person_id INTEGER PRIMARY KEY,
    team_id INTEGER REFERENCES teams (team_id),
    boss_id INTEGER REFERENCES people (person_id)
);
CREATE TABLE orders (
    region INTEGER NOT NULL,
    order_no INTEGER NOT NULL,
    total NUMERIC(10, 2),
    PRIMARY KEY (region, order_no)
);
CREATE TABLE order_items (
    item_id INTEGER PRIMARY KEY,
    region INTEGER NOT NULL,
    order_no INTEGER NOT NULL,
    price NUMERIC(8, 2) NOT NULL,
    FOREIGN KEY (region, order_no) REFERENCES orders (region, order_no)
);
"""


def test_a_flat_hierarchy_after_another_key_and_a_sum_of_prices_through_a_composite_key(write_ddl):
    prepared = prepare(write_ddl(FLAT_DDL), RelationalConfig(rows=3), seed=1)
    d = Decimal
    frames = {
        "teams": pl.DataFrame({"team_id": [1]}, schema={"team_id": pl.Int32}),
        # Nobody has a boss: three roots, one level, nothing to check.
        "people": pl.DataFrame(
            {"person_id": [1, 2, 3], "team_id": [1, 1, None], "boss_id": [None, None, None]},
            schema={"person_id": pl.Int32, "team_id": pl.Int32, "boss_id": pl.Int32},
        ),
        # (1, 1): 1.00 + 2.00 is its 3.00; (1, 2): 4.00 is not its 5.00; (2, 1) has no lines: 0.00.
        "orders": pl.DataFrame(
            {"region": [1, 1, 2], "order_no": [1, 2, 1], "total": [d("3.00"), d("5.00"), d("0.00")]},
            schema={"region": pl.Int32, "order_no": pl.Int32, "total": pl.Decimal(10, 2)},
        ),
        "order_items": pl.DataFrame(
            {
                "item_id": [1, 2, 3],
                "region": [1, 1, 1],
                "order_no": [1, 1, 2],
                "price": [d("1.00"), d("2.00"), d("4.00")],
            },
            schema={"item_id": pl.Int32, "region": pl.Int32, "order_no": pl.Int32, "price": pl.Decimal(8, 2)},
        ),
    }
    report = build_report(prepared.schema, prepared.plan, prepared.generator, frames, 1, GENERATOR_VERSION)
    hierarchy = next(r for r in report["rules"] if r.get("kind") == "hierarchy")
    assert (hierarchy["table"], hierarchy["rows_checked"], hierarchy["violations"]) == ("people", 0, 0)
    assert (hierarchy["roots"], hierarchy["depth"]) == (3, 1)
    total = next(r for r in report["rules"] if r.get("kind") == "sum")
    assert (total["table"], total["rows_checked"], total["violations"]) == ("orders", 3, 1)


TWO_PARENTS_DDL = """
CREATE TABLE shops (
    region INTEGER NOT NULL,
    shop_no INTEGER NOT NULL,
    opened DATE NOT NULL,
    audited DATE,
    PRIMARY KEY (region, shop_no)
);
CREATE TABLE clerks (clerk_id INTEGER PRIMARY KEY, hired DATE NOT NULL);
CREATE TABLE sales (
    sale_id INTEGER PRIMARY KEY,
    region INTEGER,
    shop_no INTEGER,
    clerk_id INTEGER REFERENCES clerks (clerk_id),
    sold DATE,
    FOREIGN KEY (region, shop_no) REFERENCES shops (region, shop_no)
);
"""


def test_rules_through_two_parents_one_by_a_composite_key_with_two_columns(tmp_path: Path, write_ddl):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "tables:\n  sales:\n    rules:\n"
        "    - {check: 'sold >= shops.opened'}\n    - {check: 'sold >= shops.audited'}\n"
        "    - {check: 'sold >= clerks.hired'}\n"
    )
    prepared = prepare(write_ddl(TWO_PARENTS_DDL), RelationalConfig(rows=3, spec=str(spec)), seed=1)
    day = dt.date
    frames = {
        "shops": pl.DataFrame(
            {"region": [1], "shop_no": [1], "opened": [day(2020, 1, 1)], "audited": [day(2020, 6, 1)]},
            schema={"region": pl.Int32, "shop_no": pl.Int32, "opened": pl.Date, "audited": pl.Date},
        ),
        "clerks": pl.DataFrame({"clerk_id": [1], "hired": [day(2020, 3, 1)]}, schema_overrides={"clerk_id": pl.Int32}),
        # 1: after opening, before the audit and the hire; 2: after all; 3: no shop, before the hire.
        "sales": pl.DataFrame(
            {
                "sale_id": [1, 2, 3],
                "region": [1, 1, None],
                "shop_no": [1, 1, None],
                "clerk_id": [1, 1, 1],
                "sold": [day(2020, 2, 1), day(2020, 7, 1), day(2019, 1, 1)],
            },
            schema_overrides={"sale_id": pl.Int32, "region": pl.Int32, "shop_no": pl.Int32, "clerk_id": pl.Int32},
        ),
    }
    report = build_report(prepared.schema, prepared.plan, prepared.generator, frames, 1, GENERATOR_VERSION)
    counted = {r["rule"]: (r["rows_checked"], r["violations"]) for r in report["rules"] if r["rule"].startswith("sold")}
    assert counted == {
        "sold >= shops.opened": (2, 0),
        "sold >= shops.audited": (2, 1),
        "sold >= clerks.hired": (3, 2),
    }
