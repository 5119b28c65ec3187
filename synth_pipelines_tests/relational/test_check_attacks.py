"""CHECK expressions are code we run: every way to reach files, settings or other statements is refused
when the DDL is parsed, and the DuckDB connections that evaluate CHECKs cannot touch the file system.

Each attack points at a file holding a secret marker: the marker must never appear in any output,
message or report, and nothing may be written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from synth_pipelines.cli import main
from synth_pipelines.domains.relational.constraints import CheckEvaluator
from synth_pipelines.domains.relational.ddl import DdlError, load_ddl, parse_ddl
from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare
from synth_pipelines.domains.relational.report import connect_sources

MARKER = "S3CRET-MARKER-7f3a9c"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret" / "shadow.csv"
    path.parent.mkdir()
    path.write_text(f"name\n{MARKER}\n")
    return path


# (id, CHECK expression with {path}, what the refusal must name)
ATTACKS: list[tuple[str, str, str]] = [
    ("subquery-read_csv", "a > 0 AND (SELECT count(*) FROM read_csv('{path}')) > 0", "subquery"),
    ("in-subquery", "a IN (SELECT 1 FROM read_csv('{path}'))", "subquery"),
    ("exists", "EXISTS (SELECT * FROM read_csv('{path}'))", "subquery"),
    ("any-subquery", "a = ANY (SELECT 1 FROM read_text('{path}'))", "subquery"),
    ("cte", "a > (WITH x AS (SELECT 1 AS v FROM read_csv('{path}')) SELECT v FROM x)", "subquery"),
    ("values", "a > (VALUES (1))", "subquery"),
    ("read_csv-scalar", "a > 0 AND read_csv('{path}') IS NOT NULL", "read_csv"),
    ("read_csv_auto", "read_csv_auto('{path}') IS NULL", "read_csv_auto"),
    ("read_parquet", "read_parquet('{path}') IS NULL", "read_parquet"),
    ("read_text", "length(read_text('{path}')) > 0", "read_text"),
    ("read_blob", "read_blob('{path}') IS NULL", "read_blob"),
    ("read_json", "read_json('{path}') IS NULL", "read_json"),
    ("read_json_auto", "read_json_auto('{path}') IS NULL", "read_json_auto"),
    ("glob-subquery", "(SELECT count(*) FROM glob('{path}')) > 0", "glob"),
    ("glob-scalar", "a > 0 AND glob('{path}') IS NOT NULL", "glob"),
    ("quoted-name", "a > 0 AND \"read_csv\"('{path}') IS NULL", "read_csv"),
    ("qualified-call", "a > 0 AND system.main.read_text('{path}') IS NULL", "read_text"),
    ("getenv", "getenv('HOME') <> ''", "getenv"),
    ("current_setting", "current_setting('home_directory') <> ''", "current_setting"),
    ("query", "a > 0 AND query('SELECT * FROM read_csv(''{path}'')') IS NULL", "query"),
    ("query-attach", "a > 0 AND query('ATTACH ''{path}.db'' AS x') IS NULL", "query"),
    ("query_table", "query_table('{path}') IS NULL", "query_table"),
    ("cast-file-content", "CAST((SELECT content FROM read_text('{path}')) AS INT) > 0", "subquery"),
    ("cast-file-scalar", "CAST(read_text('{path}') AS INT) > 0", "read_text"),
    ("pg_read_file", "pg_read_file('{path}') <> ''", "pg_read_file"),
    ("load_extension", "load_extension('{path}') IS NULL", "load_extension"),
    ("other-table-column", "a > 0 AND other.secret > 0", "other.secret"),
]


def attack_ddl(expr: str, path: Path) -> str:
    check = expr.format(path=str(path).replace("'", "''"))
    return f"-- attack\nCREATE TABLE victims (\n  id INT PRIMARY KEY,\n  a INT NOT NULL,\n  CHECK ({check})\n);\n"


def no_marker_anywhere(root: Path, secret: Path, *texts: str) -> None:
    for text in texts:
        assert MARKER not in text
    for p in root.rglob("*"):
        if p.is_file() and p != secret:
            assert MARKER.encode() not in p.read_bytes(), p


@pytest.mark.parametrize(("expr", "needle"), [(e, n) for _, e, n in ATTACKS], ids=[i for i, _, _ in ATTACKS])
def test_attack_is_refused_at_parse_time(tmp_path: Path, secret: Path, capsys, expr: str, needle: str) -> None:
    ddl = tmp_path / "attack.sql"
    ddl.write_text(attack_ddl(expr, secret))
    with pytest.raises(DdlError) as err:
        load_ddl(ddl)
    msg = str(err.value)
    assert msg.startswith(f"{ddl}:5: "), msg
    assert "table victims" in msg and needle in msg.lower() and "\n" not in msg, msg
    assert MARKER not in msg

    out = tmp_path / "out"
    code = main(["relational", "--ddl", str(ddl), "--rows", "5", "--out", str(out)])
    stdout, stderr = capsys.readouterr()
    lines = stderr.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("synth: error: "), stderr
    assert f"{ddl}:5:" in lines[0] and needle in lines[0].lower()
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))
    no_marker_anywhere(tmp_path, secret, stdout, stderr)


def test_every_attack_is_also_refused_as_a_column_check(secret: Path) -> None:
    for _, expr, needle in ATTACKS:
        check = expr.format(path=str(secret))
        text = f"CREATE TABLE victims (\n  id INT PRIMARY KEY,\n  a INT NOT NULL CHECK ({check})\n);\n"
        with pytest.raises(DdlError, match=r"^s\.sql:3: .*table victims") as err:
            parse_ddl(text, "s.sql", "postgres")
        assert needle in str(err.value).lower()


def test_attacks_through_alter_table_and_other_dialects(secret: Path) -> None:
    path = str(secret)
    cases = [
        (
            "postgres",
            "CREATE TABLE t (id INT PRIMARY KEY);\n"
            f"ALTER TABLE t ADD CONSTRAINT c CHECK (read_text('{path}') IS NULL);\n",
            2,
        ),
        (
            "mysql",
            "CREATE TABLE t (\n  id INT PRIMARY KEY,\n"
            f"  CONSTRAINT c CHECK ((SELECT 1 FROM read_csv('{path}')) = 1)\n) ENGINE=InnoDB;\n",
            3,
        ),
        ("sqlite", "CREATE TABLE t (\n  id INTEGER PRIMARY KEY AUTOINCREMENT CHECK (getenv('X') = '')\n);\n", 2),
    ]
    for dialect, text, line in cases:
        with pytest.raises(DdlError, match=rf"^s\.sql:{line}: .*table t"):
            parse_ddl(text, "s.sql", dialect)


@pytest.mark.parametrize(
    "statement", ["COPY victims TO '{out}'", "ATTACH '{out}' AS x", "INSTALL httpfs", "LOAD '{out}'"]
)
def test_statements_that_touch_files_are_refused(tmp_path: Path, statement: str) -> None:
    target = tmp_path / "leak.db"
    ddl = tmp_path / "s.sql"
    ddl.write_text("CREATE TABLE victims (id INT PRIMARY KEY);\n" + statement.format(out=target) + ";\n")
    with pytest.raises(DdlError, match=rf"^{ddl}:2: statement 2 .*not schema DDL"):
        load_ddl(ddl)
    assert not target.exists()


@pytest.mark.parametrize(
    "expr",
    [
        "a > 0 -- */ ; ATTACH '{out}' AS x; COPY (SELECT 1) TO '{out}'; /*\n",
        "a > 0 /* ); ATTACH '{out}' AS x; -- */",
        "a <> length($$'); ATTACH '{out}' AS x; --$$)",
        "a <> length('''); COPY (SELECT 1) TO ''{out}''; --')",
    ],
    ids=["line-comment", "block-comment", "dollar-quote", "quote-escape"],
)
def test_statements_smuggled_in_comments_or_strings_stay_inert(tmp_path: Path, expr: str) -> None:
    """Comments are dropped and strings stay strings: the CHECK is plain ``a > 0`` / ``a <> n``."""
    target = tmp_path / "smuggled.db"
    ddl = tmp_path / "s.sql"
    ddl.write_text(attack_ddl(expr.replace("{out}", str(target)), Path("unused")))
    prepared = prepare(ddl, RelationalConfig(rows=20), seed=1)
    report, _ = export_dataset(prepared, 1, tmp_path / "out", formats=("parquet", "csv", "duckdb"))
    assert report["ok"] and not target.exists()


# --------------------------------------------------------------------------------------------------
# Allowed CHECKs: the scalar functions real schemas use


ALLOWED = [
    "length(name) BETWEEN 1 AND 20",
    "char_length(trim(name)) > 0",
    "lower(name) = name OR upper(name) = name OR name IS NOT NULL",
    "substring(name from 1 for 1) <> ' '",
    "name ~ '^[a-z]+$' OR name LIKE 'x%' OR name ILIKE 'Y%' OR name SIMILAR TO 'z%'",
    "coalesce(qty, 0) >= 0 AND abs(qty) < 1000 AND mod(qty, 1) = 0 AND qty % 1 = 0",
    "round(price, 2) = price AND price BETWEEN 0 AND 500",
    "extract(year from made_on) >= 2000 AND date_part('month', made_on) BETWEEN 1 AND 12",
    "made_on >= DATE '2000-01-01' AND made_on <= '2030-12-31'::date AND made_on <= CURRENT_DATE + 3650",
    "CAST(qty AS BIGINT) >= 0 AND qty::numeric >= 0",
    "status IN ('new', 'done') AND NOT (status = 'x')",
    "CASE WHEN status = 'done' THEN qty > 0 ELSE true END",
    "greatest(qty, 0) = qty AND least(qty, 1000) = qty AND nullif(name, '') IS NOT NULL",
    "position('@' in name) = 0 AND strlen(name) < 100 AND char_length(name) < 100",
]


def test_allowed_checks_parse_and_evaluate(write_ddl, tmp_path: Path) -> None:
    checks = "".join(f",\n  CHECK ({c})" for c in ALLOWED)
    path = write_ddl(
        "CREATE TABLE items (\n  id INT PRIMARY KEY,\n  name VARCHAR(20) NOT NULL,\n  qty INT,\n"
        "  price DECIMAL(8, 2),\n  made_on DATE,\n  status VARCHAR(8) NOT NULL" + checks + "\n);\n"
    )
    schema = load_ddl(path)
    assert len(schema.tables["items"].checks) == len(ALLOWED)
    evaluator = CheckEvaluator(schema, schema.tables["items"])
    try:
        frame = pl.DataFrame(
            {
                "id": [1],
                "name": ["abc"],
                "qty": [5],
                "price": [1.5],
                "made_on": [dt.date(2020, 1, 1)],
                "status": ["new"],
            }
        )
        assert not evaluator.failures(frame).any()  # every CHECK binds and holds in DuckDB
    finally:
        evaluator.close()


# --------------------------------------------------------------------------------------------------
# The evaluating connections themselves are locked


def _assert_locked(con: duckdb.DuckDBPyConnection, secret: Path) -> None:
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM read_csv('{secret}')").fetchall()
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT content FROM read_text('{secret}')").fetchall()
    with pytest.raises(duckdb.Error, match="locked"):
        con.execute("SET enable_external_access = true")


def test_check_evaluator_connection_has_no_file_access(write_ddl, secret: Path) -> None:
    schema = load_ddl(write_ddl("CREATE TABLE t (id INT PRIMARY KEY, a INT CHECK (a > 0));\n"))
    evaluator = CheckEvaluator(schema, schema.tables["t"])
    try:
        frame = pl.DataFrame({"id": [1, 2], "a": [5, -1]})
        assert evaluator.failures(frame)[:, 0].tolist() == [False, True]
        _assert_locked(evaluator.con, secret)
    finally:
        evaluator.close()


def test_generator_check_connection_has_no_file_access(write_ddl, secret: Path) -> None:
    prepared = prepare(
        write_ddl("CREATE TABLE t (id INT PRIMARY KEY, a INT CHECK (a > 0));\n"), RelationalConfig(rows=5), 1
    )
    try:
        _assert_locked(prepared.generator.check_connection(), secret)
    finally:
        prepared.generator.close()


def test_report_connection_reads_only_its_own_parquet_files(tmp_path: Path, secret: Path) -> None:
    parquet = tmp_path / "it's.parquet"
    pl.DataFrame({"a": [1, 2, 3]}).write_parquet(parquet)
    con = connect_sources({"t": parquet, "f": pl.DataFrame({"b": [1]})})
    try:
        assert con.execute('SELECT sum(a) FROM "t"').fetchone() == (6,)
        assert con.execute('SELECT b FROM "f"').fetchone() == (1,)
        _assert_locked(con, secret)
    finally:
        con.close()
