"""DDL the generator cannot honour is refused, never half-read: syntax errors sqlglot forgives, constraint
kinds we do not enforce, and EXCLUDE ... WITH = read as the UNIQUE it is (and proven in PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth_pipelines.cli import main
from synth_pipelines.domains.relational.ddl import DdlError, load_ddl
from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare
from synth_pipelines_tests.relational.postgres import PostgresServer, running_postgres
from synth_pipelines_tests.relational.test_postgres_proof import load_into_postgres


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, err: str, out_dir: Path) -> str:
    """Exit 1, one ``synth: error:`` line, and no data file anywhere under ``out_dir``."""
    lines = err.strip().splitlines()
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("synth: error: "), err
    assert "Traceback" not in err
    written = [p for p in out_dir.rglob("*") if p.is_file()] if out_dir.exists() else []
    assert written == []
    return lines[0]


# --------------------------------------------------------------------------------------------------
# Syntax errors sqlglot silently forgives


@pytest.mark.parametrize(
    ("ddl", "line"),
    [
        ("CREATE TABLE t (id INT PRIMARY KEY,, name TEXT);\n", 1),
        ("CREATE TABLE a (id INT PRIMARY KEY);\n\nCREATE TABLE t (\n  id INT PRIMARY KEY,\n  name TEXT,\n);\n", 5),
        ("CREATE TABLE t (\n  , id INT PRIMARY KEY\n);\n", 2),
        ("CREATE TABLE t (\n  id INT PRIMARY KEY,\n  price DECIMAL(10,,2)\n);\n", 3),
        ("CREATE TABLE t (\n  id INT PRIMARY KEY,\n  k INT CHECK (k IN (1,, 2))\n);\n", 3),
        ("CREATE TABLE t (\n  id INT,\n  v INT,\n  UNIQUE (id, v,)\n);\n", 4),
    ],
    ids=["double-comma", "trailing-comma", "leading-comma", "type-params", "in-list", "unique-list"],
)
def test_forgiven_syntax_errors_are_refused_with_file_and_line(write_ddl, ddl: str, line: int) -> None:
    path = write_ddl(ddl)
    with pytest.raises(DdlError) as err:
        load_ddl(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: ") and "syntax error" in msg and "\n" not in msg


def test_cli_refuses_a_syntax_error_and_writes_nothing(write_ddl, tmp_path: Path, capsys) -> None:
    bad = write_ddl("CREATE TABLE t (id INT PRIMARY KEY,, name TEXT);\n", "bad.sql")
    out = tmp_path / "out"
    code, _, err = run_cli(["relational", "--ddl", str(bad), "--rows", "5", "--out", str(out)], capsys)
    line = assert_refused(code, err, out)
    assert f"{bad}:1:" in line and "syntax error" in line


def test_a_syntax_error_is_one_message_without_sqlglot_warnings(write_ddl, caplog) -> None:
    path = write_ddl("CREATE TABLE t (\n  id INT PRIMARY KEY\n  name TEXT\n);\n")
    with caplog.at_level("DEBUG"), pytest.raises(DdlError, match=rf"^{path}:3: .*table t: syntax error"):
        load_ddl(path)
    assert [r for r in caplog.records if r.name.startswith("sqlglot")] == []


def test_commas_inside_strings_and_comments_are_not_syntax_errors(write_ddl) -> None:
    path = write_ddl(
        "-- a comment with ,, and ,)\n"
        "CREATE TABLE t (\n  id INT PRIMARY KEY, /* (, ,, */\n  code VARCHAR(5) CHECK (code <> ',,'),\n"
        "  note TEXT DEFAULT ',)'\n);\n"
    )
    assert set(load_ddl(path).tables["t"].columns) == {"id", "code", "note"}


# --------------------------------------------------------------------------------------------------
# EXCLUDE: the equality form is a UNIQUE; anything else is refused


EXCLUDE_EQ = """CREATE TABLE slots (
  id INT PRIMARY KEY,
  room SMALLINT NOT NULL CHECK (room BETWEEN 1 AND 30),
  slot SMALLINT NOT NULL CHECK (slot BETWEEN 1 AND 30),
  label TEXT,
  EXCLUDE USING btree (room WITH =, slot WITH =)
);
CREATE TABLE tags (
  id INT PRIMARY KEY,
  code SMALLINT CHECK (code BETWEEN 1 AND 900),
  CONSTRAINT tags_code_ex EXCLUDE (code WITH =)
);
"""


def test_exclude_with_equality_is_a_unique(write_ddl) -> None:
    schema = load_ddl(write_ddl(EXCLUDE_EQ))
    assert schema.tables["slots"].uniques == [("room", "slot")]
    assert schema.tables["tags"].uniques == [("code",)]


def test_exclude_with_equality_is_generated_unique_and_counted(write_ddl, tmp_path: Path) -> None:
    # 500 rows in 30 x 30 (room, slot) pairs: drawn independently, pairs would repeat.
    prepared = prepare(write_ddl(EXCLUDE_EQ), RelationalConfig(rows=500), seed=3)
    report, files = export_dataset(prepared, 3, tmp_path, formats=("csv",))
    assert report["ok"] and report["violations"] == 0
    entries = [c for c in report["tables"]["slots"]["constraints"] if c["type"] == "UNIQUE"]
    assert entries == [{"type": "UNIQUE", "columns": ["room", "slot"], "duplicates": 0, "violations": 0}]
    rows = files["csv:slots"].read_text().splitlines()[1:]
    pairs = [tuple(r.split(",")[1:3]) for r in rows]
    assert len(pairs) == 500 and len(set(pairs)) == 500


@pytest.mark.parametrize(
    ("constraint", "needle"),
    [
        ("EXCLUDE USING gist (during WITH &&)", "&&"),
        ("CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&)", "no_overlap"),
        ("EXCLUDE USING btree (room WITH =) WHERE (room > 3)", "WHERE"),
        ("EXCLUDE USING btree (lower(label) WITH =)", "lower"),
    ],
    ids=["overlap", "mixed", "partial", "expression"],
)
def test_other_exclude_constraints_are_refused(write_ddl, tmp_path: Path, capsys, constraint: str, needle: str) -> None:
    ddl = write_ddl(
        "CREATE TABLE bookings (\n  id INT PRIMARY KEY,\n  room INT NOT NULL,\n  label TEXT,\n"
        f"  during INT,\n  {constraint}\n);\n"
    )
    with pytest.raises(DdlError) as err:
        load_ddl(ddl)
    msg = str(err.value)
    assert msg.startswith(f"{ddl}:6: ") and "table bookings" in msg and "EXCLUDE" in msg, msg
    assert needle.lower() in msg.lower()
    out = tmp_path / "out"
    code, _, err_text = run_cli(["relational", "--ddl", str(ddl), "--out", str(out)], capsys)
    assert_refused(code, err_text, out)


@pytest.fixture(scope="module")
def postgres() -> PostgresServer:
    with running_postgres() as server:
        yield server


def test_postgres_loads_exclude_with_equality(postgres: PostgresServer, write_ddl, tmp_path: Path) -> None:
    ddl = write_ddl(EXCLUDE_EQ, "exclude_eq.sql")
    prepared = prepare(ddl, RelationalConfig(rows=500), seed=3)
    report, files = export_dataset(prepared, 3, tmp_path, formats=("csv",))
    counts = load_into_postgres(postgres, "proof_exclude_eq", prepared, files)
    assert counts == report["rows"] == prepared.plan.rows


# --------------------------------------------------------------------------------------------------
# Every other constraint kind we cannot enforce is refused; the harmless ones still parse


@pytest.mark.parametrize(
    ("ddl", "line", "needles"),
    [
        (
            "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  email TEXT UNIQUE NULLS NOT DISTINCT\n);\n",
            3,
            ("table t", "NULLS NOT DISTINCT", "email"),
        ),
        (
            "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  a INT,\n  b INT,\n  UNIQUE NULLS NOT DISTINCT (a, b)\n);\n",
            5,
            ("table t", "NULLS NOT DISTINCT", "a, b"),
        ),
        ("CREATE TABLE p (id INT PRIMARY KEY);\nCREATE TABLE t (\n  LIKE p\n);\n", 3, ("table t", "LIKE")),
        (
            "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  at DATE NOT NULL\n) PARTITION BY RANGE (at);\n",
            4,
            ("table t", "PARTITION BY"),
        ),
        (
            "CREATE TABLE p (id INT PRIMARY KEY);\nCREATE TABLE t (\n  id INT PRIMARY KEY\n) INHERITS (p);\n",
            4,
            ("table t", "INHERITS"),
        ),
        (
            "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  v INT\n);\nALTER TABLE t ALTER COLUMN v TYPE SMALLINT;\n",
            5,
            ("table t", "t.v", "type"),
        ),
        (
            "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  email TEXT\n);\n"
            "CREATE UNIQUE INDEX t_email ON t (lower(email));\n",
            5,
            ("table t", "UNIQUE INDEX", "lower"),
        ),
        (
            "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  email TEXT\n);\n"
            "CREATE UNIQUE INDEX t_email ON t (email) WHERE id > 10;\n",
            5,
            ("table t", "UNIQUE INDEX", "WHERE"),
        ),
        ("CREATE UNIQUE INDEX t_email ON nope (email);\nCREATE TABLE t (id INT PRIMARY KEY);\n", 1, ("nope",)),
        (
            "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  code VARCHAR(5) UPPERCASE\n);\n",
            3,
            ("table t", "t.code", "UPPERCASE", "cannot enforce"),
        ),
        (
            "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  v INT\n) ENGINE=InnoDB;\n"
            "ALTER TABLE t MODIFY COLUMN v TINYINT;\n",
            5,
            ("table t", "t.v", "type"),
        ),
    ],
    ids=[
        "nulls-not-distinct-column",
        "nulls-not-distinct-table",
        "like",
        "partition-by",
        "inherits",
        "alter-type",
        "unique-index-expression",
        "unique-index-partial",
        "unique-index-unknown-table",
        "unknown-column-constraint",
        "mysql-modify-column",
    ],
)
def test_unenforced_constraint_kinds_are_refused(write_ddl, ddl: str, line: int, needles: tuple[str, ...]) -> None:
    path = write_ddl(ddl)
    with pytest.raises(DdlError) as err:
        load_ddl(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: ") and "\n" not in msg, msg
    for needle in needles:
        assert needle.lower() in msg.lower(), (needle, msg)


def test_unique_index_and_not_null_nulls_not_distinct_are_uniques(write_ddl, tmp_path: Path) -> None:
    path = write_ddl(
        "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  code SMALLINT NOT NULL CHECK (code BETWEEN 1 AND 400),\n"
        "  email VARCHAR(40),\n  UNIQUE NULLS NOT DISTINCT (code)\n);\n"
        "CREATE UNIQUE INDEX t_email ON t (email);\nCREATE INDEX t_code ON t (code);\n"
    )
    schema = load_ddl(path)
    assert schema.tables["t"].uniques == [("code",), ("email",)]
    prepared = prepare(path, RelationalConfig(rows=300), seed=5)
    report, _ = export_dataset(prepared, 5, tmp_path, formats=("csv",))
    uniques = {tuple(c["columns"]) for c in report["tables"]["t"]["constraints"] if c["type"] == "UNIQUE"}
    assert uniques == {("code",), ("email",)} and report["violations"] == 0


def test_harmless_clauses_still_parse(write_ddl) -> None:
    mysql = write_ddl(
        "CREATE TABLE t (\n  id INT AUTO_INCREMENT PRIMARY KEY,\n  name VARCHAR(20) CHARACTER SET utf8mb4 "
        "COLLATE utf8mb4_bin COMMENT 'the name',\n  at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE "
        "CURRENT_TIMESTAMP,\n  KEY t_name (name),\n  FULLTEXT KEY t_ft (name)\n) ENGINE=InnoDB;\n",
        "m.sql",
    )
    assert set(load_ddl(mysql).tables["t"].columns) == {"id", "name", "at"}
    pg = write_ddl(
        "CREATE TABLE p (id INT PRIMARY KEY, a INT, b INT, UNIQUE (a, b));\n"
        'CREATE TABLE t (\n  id INT PRIMARY KEY INCLUDE (id),\n  a INT,\n  b INT,\n  name TEXT COLLATE "C",\n'
        "  FOREIGN KEY (a, b) REFERENCES p (a, b) MATCH FULL ON DELETE CASCADE ON UPDATE SET NULL,\n"
        "  CONSTRAINT t_u UNIQUE (name) DEFERRABLE INITIALLY DEFERRED\n);\n",
        "p.sql",
    )
    assert load_ddl(pg).tables["t"].uniques == [("name",)]


def test_validation_report_lists_every_constraint_it_checked(write_ddl, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ddl = write_ddl(EXCLUDE_EQ)
    assert main(["relational", "--ddl", str(ddl), "--rows", "50", "--format", "csv", "--out", str(out)]) == 0
    report = json.loads((out / "validation_report.json").read_text())
    kinds = [(c["type"], c.get("columns")) for c in report["tables"]["slots"]["constraints"]]
    assert ("UNIQUE", ["room", "slot"]) in kinds
