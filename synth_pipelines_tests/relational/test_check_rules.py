"""``constraints``: what ``analyze_checks`` reads from CHECKs, and ``CheckEvaluator``'s exact verdicts.

Every expected rule below is worked out by hand from the CHECK text (SQL semantics: the tighter bound
wins, a strict bound beats an inclusive one at the same value, ``IN`` lists intersect, NULL passes).
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from synth_pipelines.domains.relational.constraints import (
    CheckEvaluator,
    ColumnRule,
    OrderRule,
    analyze_checks,
    check_label,
    lock_down,
)
from synth_pipelines.domains.relational.ddl import DdlError, load_ddl, parse_ddl

RULES_DDL = """
CREATE TABLE t (
  a INT, b INT, c INT, d DECIMAL(8, 2), f INT, g INT, e INT, x INT, y INT, w VARCHAR(5), m INT,
  s VARCHAR(20), t2 VARCHAR(20), u VARCHAR(10), z VARCHAR(10), lo_d DATE, hi_d DATE,
  CHECK (a > 0), CHECK (a >= 0), CHECK (a < 100), CHECK (a <= 50),
  CHECK (10 < b), CHECK (b BETWEEN 5 AND 20), CHECK (b <= 20),
  CHECK (c IN (1, 2, 3)), CHECK (c IN (2, 3, 4)),
  CHECK (d >= 0 AND d < 1000.5),
  CHECK (f <= 20), CHECK (f < 20), CHECK (f >= 1), CHECK (f > 1),
  CHECK (g = 3), CHECK (e <> 7), CHECK (e != 9),
  CHECK (x IS NULL OR x > 5), CHECK (((y > 2))),
  CHECK (w >= 'b'), CHECK (w >= 'a'),
  CHECK (m > 1), CHECK (m > 'x'), CHECK (m < 5), CHECK (m < 'x'),
  CHECK (LENGTH(s) BETWEEN 2 AND 10), CHECK (LENGTH(s) < 8),
  CHECK (CHAR_LENGTH(t2) > 3), CHECK (5 >= LENGTH(t2)),
  CHECK (LENGTH(u) = 4), CHECK (LEN(z) <= 3), CHECK (LENGTH(z) >= 1),
  CHECK (lo_d <= hi_d), CHECK (hi_d > lo_d), CHECK (a < b), CHECK (b >= a),
  CHECK (a > ABS(b)), CHECK (b BETWEEN a AND 30), CHECK (c IN (1, a)),
  k INT, k2 INT, v2 VARCHAR(9), v3 VARCHAR(9),
  CHECK (k BETWEEN 1 AND 9), CHECK (k2 >= 1), CHECK (k2 >= 3),
  CHECK (LENGTH(v2) BETWEEN 3 AND 6), CHECK (LENGTH(v3) <= 4), CHECK (LENGTH(v3) <= 9)
);
"""


def test_analyze_checks_reads_bounds_choices_lengths_and_orders() -> None:
    rules, orders = analyze_checks(parse_ddl(RULES_DDL).tables["t"])
    assert rules == {
        "a": ColumnRule(lo=0, lo_strict=True, hi=50),  # > 0 beats >= 0; <= 50 is tighter than < 100
        "b": ColumnRule(lo=10, lo_strict=True, hi=20),  # 10 < b beats BETWEEN 5; b <= 20 adds nothing
        "c": ColumnRule(choices=[2, 3]),
        "d": ColumnRule(lo=0, hi=1000.5, hi_strict=True),
        "f": ColumnRule(lo=1, lo_strict=True, hi=20, hi_strict=True),  # strict wins at the same value
        "g": ColumnRule(choices=[3]),
        "e": ColumnRule(excluded=[7, 9]),
        "x": ColumnRule(lo=5, lo_strict=True),  # the NULL guard is seen through
        "y": ColumnRule(lo=2, lo_strict=True),
        "w": ColumnRule(lo="b"),
        "m": ColumnRule(lo=1, lo_strict=True, hi=5, hi_strict=True),  # a string bound on a number is ignored
        "s": ColumnRule(min_len=2, max_len=7),
        "t2": ColumnRule(min_len=4, max_len=5),
        "u": ColumnRule(min_len=4, max_len=4),
        "z": ColumnRule(min_len=1, max_len=3),
        "k": ColumnRule(lo=1, hi=9),  # BETWEEN is inclusive on both ends
        "k2": ColumnRule(lo=3),  # a later, tighter bound replaces the first
        "v2": ColumnRule(min_len=3, max_len=6),
        "v3": ColumnRule(max_len=4),  # a later, looser length does not widen it
    }
    assert orders == [
        OrderRule("lo_d", "hi_d", strict=False),
        OrderRule("lo_d", "hi_d", strict=True),
        OrderRule("a", "b", strict=True),
        OrderRule("a", "b", strict=False),
    ]


EVAL_DDL = """
CREATE TABLE orders (
  id INT PRIMARY KEY,
  qty INT,
  price DECIMAL(8, 2),
  note VARCHAR(20),
  shipped DATE,
  placed DATE,
  CONSTRAINT qty_positive CHECK (qty > 0),
  CHECK (price <= 100 OR price IS NULL),
  CHECK (placed <= shipped)
);
"""


def test_check_evaluator_marks_exactly_the_false_checks() -> None:
    schema = parse_ddl(EVAL_DDL)
    table = schema.tables["orders"]
    evaluator = CheckEvaluator(schema, table)
    assert evaluator.columns == ["qty", "price", "shipped", "placed"]  # only what the CHECKs name
    assert [c.label for c in evaluator.checks] == [
        "CHECK qty_positive (qty > 0)",
        "CHECK (price <= 100 OR price IS NULL)",
        "CHECK (placed <= shipped)",
    ]
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "qty": [1, 0, None, -5],
            "price": [100.0, 100.01, None, 5.0],
            "note": ["x", None, "y", "z"],
            "shipped": pl.Series(["2024-01-02", "2024-01-01", None, "2024-01-01"]).str.to_date(),
            "placed": pl.Series(["2024-01-02", "2024-01-02", "2024-01-09", "2024-01-02"]).str.to_date(),
        }
    )
    try:
        failures = evaluator.failures(frame)
        # NULL passes (row 3); the boundaries hold (row 1); one past them fails (rows 2, 4).
        assert failures.tolist() == [
            [False, False, False],
            [True, True, True],
            [False, False, False],
            [True, False, True],
        ]
        assert failures.dtype == np.bool_
        assert evaluator.failures(frame.head(0)).shape == (0, 3)
        assert evaluator.failures(frame.head(0)).dtype == np.bool_
        assert evaluator.con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = '__check_rows'"
        ).fetchone() == (0,)
        owned = evaluator.con
    finally:
        evaluator.close()
    assert evaluator._con is None
    with pytest.raises(duckdb.ConnectionException):  # the evaluator closed the connection it opened
        owned.execute("SELECT 1")


def test_a_table_without_checks_fails_nothing() -> None:
    schema = parse_ddl("CREATE TABLE plain (id INT PRIMARY KEY, v INT);")
    evaluator = CheckEvaluator(schema, schema.tables["plain"])
    failures = evaluator.failures(pl.DataFrame({"id": [1, 2], "v": [3, 4]}))
    assert failures.shape == (2, 0)
    assert evaluator._con is None  # no connection opened for nothing


def test_a_shared_connection_is_used_and_left_open() -> None:
    schema = parse_ddl(EVAL_DDL)
    con = lock_down(duckdb.connect(":memory:"))
    evaluator = CheckEvaluator(schema, schema.tables["orders"], con=con)
    assert evaluator.con is con
    evaluator.close()
    assert con.execute("SELECT 1").fetchone() == (1,)  # the caller's connection is still open
    con.close()


def test_a_check_duckdb_cannot_evaluate_is_named_with_its_line(write_ddl) -> None:
    path = write_ddl(
        "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  v VARCHAR(5),\n  CHECK (id > 0 /* ids start at 1 */),\n"
        "  CHECK (v > 0)\n);\n"
    )
    schema = load_ddl(path)
    evaluator = CheckEvaluator(schema, schema.tables["t"])
    try:
        with pytest.raises(DdlError) as raised:
            evaluator.failures(pl.DataFrame({"id": [1], "v": ["abc"]}))
    finally:
        evaluator.close()
    assert evaluator.checks[0].duckdb_sql == "id > 0"  # comments are dropped when transpiling
    # The second CHECK is the one DuckDB refuses: it is named, with the first line of DuckDB's reason.
    assert str(raised.value) == (
        f"{path}:5: table t: CHECK (v > 0) cannot be evaluated (as DuckDB SQL: v > 0): "
        "Binder Error: Cannot compare values of type VARCHAR and type INTEGER_LITERAL - an explicit cast is required"
    )


def test_lock_down_allows_only_the_listed_paths(tmp_path) -> None:
    readable = tmp_path / "it's.csv"
    readable.write_text("a\n1\n")
    other = tmp_path / "other.csv"
    other.write_text("a\n2\n")
    second = tmp_path / "second.csv"
    second.write_text("a\n3\n")
    con = lock_down(duckdb.connect(":memory:"), [str(readable), str(second)])
    assert con.execute(f"SELECT a FROM read_csv('{second}')").fetchall() == [(3,)]
    assert con.execute(f"SELECT a FROM read_csv('{str(readable).replace(chr(39), chr(39) * 2)}')").fetchall() == [(1,)]
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT a FROM read_csv('{other}')").fetchall()
    with pytest.raises(duckdb.Error, match="locked"):
        con.execute("SET enable_external_access = true")
    con.close()


def test_check_label_with_and_without_a_name() -> None:
    checks = parse_ddl(EVAL_DDL).tables["orders"].checks
    assert [check_label(c) for c in checks[:2]] == [
        "CHECK qty_positive (qty > 0)",
        "CHECK (price <= 100 OR price IS NULL)",
    ]
