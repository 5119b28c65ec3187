"""relational/generate.py's guarantees on tiny schemas, against values worked out by hand or counted with DuckDB.

Every expectation here is written in the test (a list of ids, a set of pairs, a row-number bound) or counted
independently in DuckDB over the drawn frames; nothing is recomputed with the generator's own helpers. The file
runs in seconds, so mutation testing (README "Mutation testing") can run it once per mutant.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import re
from itertools import permutations
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from synth_pipelines.cli import main
from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.domains.relational.constraints import CheckEvaluator, OrderRule
from synth_pipelines.domains.relational.generate import (
    _above,
    _as_temporal,
    _gt_temporal,
    _order_plain,
    _scatter,
    _with_nulls,
)
from synth_pipelines.domains.relational.pipeline import Prepared, RelationalConfig, prepare

SHOP = """\
CREATE TABLE customers (
  customer_id SERIAL PRIMARY KEY,
  email VARCHAR(120) NOT NULL UNIQUE,
  nickname VARCHAR(30),
  signup_at TIMESTAMP NOT NULL,
  referrer_id INT REFERENCES customers(customer_id)
);
CREATE TABLE invoices (
  invoice_id SERIAL PRIMARY KEY,
  customer_id INT NOT NULL REFERENCES customers(customer_id),
  issued_at TIMESTAMP NOT NULL,
  total NUMERIC(10,2) NOT NULL
);
CREATE TABLE invoice_lines (
  invoice_id INT NOT NULL REFERENCES invoices(invoice_id),
  line_no INT NOT NULL,
  unit_price NUMERIC(8,2) NOT NULL CHECK (unit_price > 0),
  quantity INT NOT NULL CHECK (quantity BETWEEN 1 AND 9),
  PRIMARY KEY (invoice_id, line_no)
);
CREATE TABLE courses (course_id INT PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE);
CREATE TABLE prerequisites (
  course_id INT NOT NULL REFERENCES courses(course_id),
  prereq_id INT NOT NULL REFERENCES courses(course_id),
  PRIMARY KEY (course_id, prereq_id),
  CHECK (course_id <> prereq_id)
);
CREATE TABLE orders (order_id INT PRIMARY KEY, placed DATE NOT NULL);
CREATE TABLE order_items (
  order_id INT NOT NULL REFERENCES orders(order_id),
  line_no INT NOT NULL,
  sku INT NOT NULL,
  PRIMARY KEY (order_id, line_no),
  UNIQUE (order_id, sku)
);
CREATE TABLE node (code VARCHAR(12) PRIMARY KEY, parent_code VARCHAR(12) NOT NULL REFERENCES node(code));
"""
SHOP_ROWS = {
    "customers": 20,
    "invoices": 30,
    "invoice_lines": 60,
    "courses": 8,
    "prerequisites": 56,  # every ordered pair of 8 courses without (x, x): 8 * 7
    "orders": 10,
    "order_items": 40,
    "node": 25,
}


def shop(tmp_path: Path, seed: int = 4, **rows: int) -> Prepared:
    ddl = tmp_path / "shop.sql"
    ddl.write_text(SHOP)
    return prepare(ddl, RelationalConfig(rows=10, table_rows={**SHOP_ROWS, **rows}), seed)


def draw_all(prepared: Prepared) -> dict[str, pl.DataFrame]:
    return {t: prepared.generator.table_frame(t) for t in prepared.plan.insert_order}


@pytest.fixture
def drawn(tmp_path: Path) -> dict[str, pl.DataFrame]:
    # Drawn per test, not per module: mutation testing links a test to the functions it calls, and a shared
    # fixture would link only the first test that builds it.
    return draw_all(shop(tmp_path))


_CONNECTIONS: dict[int, tuple[dict[str, pl.DataFrame], duckdb.DuckDBPyConnection]] = {}


def count(frames: dict[str, pl.DataFrame], sql: str) -> int:
    """One number counted by DuckDB over the drawn frames (registered under their table names; one connection
    per set of frames, which it keeps alive so its id is not reused)."""
    if id(frames) not in _CONNECTIONS:
        con = duckdb.connect()
        for name, frame in frames.items():
            con.register(name, frame.to_arrow())
        _CONNECTIONS[id(frames)] = (frames, con)
    return int(_CONNECTIONS[id(frames)][1].execute(sql).fetchone()[0])


def test_row_counts_and_serial_keys_are_one_to_n(drawn):
    assert {t: f.height for t, f in drawn.items()} == SHOP_ROWS
    assert drawn["customers"]["customer_id"].to_list() == list(range(1, 21))
    assert drawn["invoices"]["invoice_id"].to_list() == list(range(1, 31))
    assert drawn["orders"]["order_id"].to_list() == list(range(1, 11))


KEYS = [
    ("customers", "customer_id"),
    ("customers", "email"),
    ("courses", "code"),
    ("node", "code"),
    ("invoice_lines", "invoice_id, line_no"),
    ("prerequisites", "course_id, prereq_id"),
    ("order_items", "order_id, line_no"),
    ("order_items", "order_id, sku"),
]
REFERENCES = [
    ("invoices", "customer_id", "customers", "customer_id"),
    ("invoice_lines", "invoice_id", "invoices", "invoice_id"),
    ("prerequisites", "course_id", "courses", "course_id"),
    ("prerequisites", "prereq_id", "courses", "course_id"),
    ("order_items", "order_id", "orders", "order_id"),
    ("customers", "referrer_id", "customers", "customer_id"),
    ("node", "parent_code", "node", "code"),
]


def test_keys_are_distinct(drawn):
    for table, key in KEYS:
        duplicates = count(
            drawn, f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1)"
        )
        nulls = count(drawn, f"SELECT count(*) FROM {table} WHERE ({key}) IS NULL")
        assert (duplicates, nulls) == (0, 0), (table, key)
        assert count(drawn, f"SELECT count(DISTINCT ({key})) FROM {table}") == SHOP_ROWS[table], (table, key)


def test_foreign_keys_exist_in_the_parent(drawn):
    for child, column, parent, key in REFERENCES:
        orphans = count(
            drawn,
            f"SELECT count(*) FROM {child} c WHERE c.{column} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{key} = c.{column})",
        )
        assert orphans == 0, (child, column)
        # Many parents are used: a key drawn as one constant value would pass the orphan count alone.
        assert count(drawn, f"SELECT count(DISTINCT {column}) FROM {child}") >= 3, (child, column)


def test_junction_holds_every_ordered_pair_once_and_no_pair_with_itself(drawn):
    pairs = set(drawn["prerequisites"].select("course_id", "prereq_id").iter_rows())
    # 56 rows over a space of exactly 56 pairs: all of them, worked out here, none twice (the height is 56).
    assert pairs == set(permutations(range(1, 9), 2))


def test_a_junction_beyond_its_pair_space_is_refused_with_the_space(tmp_path: Path):
    with pytest.raises(ConstraintViolation) as info:
        shop(tmp_path, prerequisites=57)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'shop.sql'}:22: table prerequisites: 57 rows requested")
    assert "PRIMARY KEY (course_id, prereq_id) allows only 56 distinct values" in message
    assert "(course_id -> courses: 8 rows x prereq_id -> courses: 7 rows)" in message


def test_a_plain_key_beyond_its_domain_is_refused(tmp_path: Path):
    ddl = tmp_path / "flags.sql"
    ddl.write_text("CREATE TABLE flags (\n  flag BOOLEAN PRIMARY KEY\n);\n")
    with pytest.raises(
        ConstraintViolation, match=r"flags.sql:1: table flags: 3 rows requested but PRIMARY KEY \(flag\)"
    ):
        prepare(ddl, RelationalConfig(rows=3), 1)
    assert sorted(prepare(ddl, RelationalConfig(rows=2), 1).generator.table_frame("flags")["flag"]) == [False, True]


def test_second_key_sharing_a_column_holds_per_parent(drawn):
    items = drawn["order_items"]
    # 40 lines over 10 orders: the line slot has max(10, ceil(40 / 10) * 3) = 12 values, 1..12, and the
    # UNIQUE (order_id, sku) is the slot plus one offset per order, so sku - line_no is constant per order.
    assert set(items["line_no"]) <= set(range(1, 13)) and items["line_no"].n_unique() > 6
    per_order = items.group_by("order_id").agg((pl.col("sku") - pl.col("line_no")).n_unique().alias("offsets"))
    assert per_order["offsets"].to_list() == [1] * 10
    assert per_order.height == 10


def test_self_reference_points_at_an_earlier_row_within_the_span(drawn):
    for table, key, ref in (("customers", "customer_id", "referrer_id"), ("node", "code", "parent_code")):
        frame = drawn[table]
        row_of = {value: row for row, value in enumerate(frame[key].to_list())}
        parents = [None if v is None else row_of[v] for v in frame[ref].to_list()]
        # Row 0 is the root; row i >= 1 reports to row (i - 1) // span with a span of 2..7 (one root).
        for row, parent in enumerate(parents[1:], start=1):
            assert (row - 1) // 7 <= parent <= (row - 1) // 2, (table, row, parent)
        assert len({p for p in parents[1:]}) > 1
    assert drawn["customers"]["referrer_id"][0] is None  # nullable: the root has no parent
    assert drawn["node"]["parent_code"][0] == drawn["node"]["code"][0]  # NOT NULL: the root is its own parent


def test_a_large_nullable_hierarchy_has_one_root_per_500_rows(tmp_path: Path):
    frame = shop(tmp_path, customers=1250).generator.table_frame("customers")
    referrer = frame["referrer_id"].to_list()
    node = shop(tmp_path, node=1500).generator.table_frame("node")
    row_of = {code: row for row, code in enumerate(node["code"].to_list())}
    parent = [row_of[code] for code in node["parent_code"].to_list()]
    # NOT NULL: one root, its own parent, whatever the row count; row i >= 1 reports to (i - 1) // span.
    assert parent[0] == 0
    assert all((row - 1) // 7 <= parent[row] <= (row - 1) // 2 for row in range(1, 1500))
    assert referrer[:2] == [None, None]  # 1250 // 500 roots (whole roots: not 2.5)
    assert all(v is not None for v in referrer[2:])
    # Row i >= 2 reports to row (i - 2) // span, span 2..7: ids are row + 1.
    for row in range(2, 1250):
        assert (row - 2) // 7 + 1 <= referrer[row] <= (row - 2) // 2 + 1


def test_line_sums_equal_the_parents_totals(drawn):
    wrong = count(
        drawn,
        "SELECT count(*) FROM invoices i LEFT JOIN (SELECT invoice_id, sum(unit_price * quantity) AS s "
        "FROM invoice_lines GROUP BY invoice_id) l USING (invoice_id) WHERE i.total <> coalesce(l.s, 0)",
    )
    assert wrong == 0
    with_lines = count(drawn, "SELECT count(DISTINCT invoice_id) FROM invoice_lines")
    assert 1 < with_lines < 30  # some invoices have lines, some none (total 0): both sides are checked
    assert count(drawn, "SELECT count(*) FROM invoices WHERE total > 0") == with_lines


def test_a_child_time_is_after_its_parents_anchor(drawn):
    late = count(
        drawn,
        "SELECT count(*) FROM invoices i JOIN customers c USING (customer_id) "
        "WHERE i.issued_at < c.signup_at + INTERVAL 1 SECOND",
    )
    assert late == 0
    # Within the inferred date range's end, and not all at one instant.
    assert count(drawn, "SELECT count(*) FROM invoices WHERE issued_at > TIMESTAMP '2025-12-31 23:59:59'") == 0
    assert drawn["invoices"]["issued_at"].n_unique() == 30


def test_not_null_columns_never_hold_null_and_nullable_ones_do(tmp_path: Path):
    frames = draw_all(shop(tmp_path, customers=300))
    for name, frame in frames.items():
        table = shop_table(tmp_path, name)
        for column, nulls in zip(frame.columns, frame.null_count().row(0), strict=True):
            if not table.columns[column].nullable:
                assert nulls == 0, (name, column)
    customers = frames["customers"]
    assert 0 < customers["nickname"].null_count() < 300


def shop_table(tmp_path: Path, name: str):
    from synth_pipelines.domains.relational.ddl import load_ddl

    return load_ddl(tmp_path / "shop.sql").tables[name]


def test_same_seed_same_frames_other_seed_other_frames(tmp_path: Path, drawn):
    again = draw_all(shop(tmp_path, seed=4))
    other = draw_all(shop(tmp_path, seed=5))
    for name in SHOP_ROWS:
        assert again[name].equals(drawn[name]), name
    assert not other["customers"].equals(drawn["customers"])
    assert not other["invoice_lines"].equals(drawn["invoice_lines"])
    assert not other["prerequisites"].equals(drawn["prerequisites"])


def test_a_block_drawn_alone_equals_those_rows_of_the_whole_table(tmp_path: Path):
    whole = pl.concat(list(shop(tmp_path).generator.iter_blocks("invoice_lines", block_rows=16)))
    fresh = shop(tmp_path)
    evaluator = CheckEvaluator(fresh.schema, fresh.schema.tables["invoice_lines"], fresh.generator.check_connection())
    alone = fresh.generator.block("invoice_lines", 2, 32, 16, evaluator)
    assert alone.equals(whole.slice(32, 16))
    assert not alone.equals(whole.slice(16, 16))


REDRAW = """\
CREATE TABLE pairs (
  pair_id SERIAL PRIMARY KEY,
  a INT NOT NULL CHECK (a BETWEEN 0 AND 99),
  b INT NOT NULL CHECK (b BETWEEN 0 AND 99),
  started DATE NOT NULL,
  ended DATE NOT NULL,
  CHECK (a + b < 15),
  CHECK (ended > started)
);
"""


def test_a_check_that_forces_redraws_holds_on_every_row(tmp_path: Path):
    ddl = tmp_path / "pairs.sql"
    ddl.write_text(REDRAW)
    prepared = prepare(ddl, RelationalConfig(rows=400), 2)
    frame = prepared.generator.table_frame("pairs")
    assert frame.height == 400
    assert (frame["a"] + frame["b"] < 15).all()
    assert (frame["ended"] > frame["started"]).all()
    # The same rows drawn without CHECK evaluation break it: the loop redrew them.
    raw = prepared.generator.block("pairs", 0, 0, 400)
    assert (raw["a"] + raw["b"] >= 15).sum() > 100
    kept = ~((raw["a"] + raw["b"] >= 15) | (raw["ended"] <= raw["started"]))
    assert raw.filter(kept).equals(frame.filter(kept))  # rows that passed are kept as drawn


def test_an_unsatisfiable_check_stops_with_file_line_table_and_check(tmp_path: Path):
    ddl = tmp_path / "never.sql"
    ddl.write_text(
        "CREATE TABLE t (\n  id SERIAL PRIMARY KEY,\n  a INT NOT NULL CHECK (a BETWEEN 0 AND 9),\n"
        "  b INT NOT NULL CHECK (b BETWEEN 0 AND 9),\n  CHECK (a + b < 15),\n  CHECK (a * b > 500)\n);\n"
    )
    generator = prepare(ddl, RelationalConfig(rows=30), 1).generator
    with pytest.raises(ConstraintViolation) as info:
        generator.table_frame("t")
    assert str(info.value).startswith(
        f"{ddl}:6: table t: CHECK (a * b > 500) still fails for 30 of 30 rows after 40 redraws;"
    )
    assert "Nothing was written." in str(info.value)


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("  n INT CHECK (n > 10 AND n < 5)", r"s.sql:3: column t.n INT: its CHECKs and type leave no possible value"),
        ("  n SMALLINT CHECK (n > 40000)", r"s.sql:3: column t.n SMALLINT: .*needs >= 40001 and <= 32767"),
        ("  d DATE CHECK (d > '2020-01-02' AND d < '2020-01-01')", r"s.sql:3: column t.d DATE: its CHECKs leave no"),
        ("  s VARCHAR(2) CHECK (s IN ('abc', 'defg'))", r"s.sql:3: column t.s: no value of its IN list fits"),
    ],
)
def test_a_column_its_checks_leave_empty_is_refused(tmp_path: Path, column: str, message: str):
    ddl = tmp_path / "s.sql"
    ddl.write_text(f"CREATE TABLE t (\n  id SERIAL PRIMARY KEY,\n{column}\n);\n")
    with pytest.raises(ConstraintViolation, match=message):
        prepare(ddl, RelationalConfig(rows=5), 1)


def test_check_bounds_and_in_lists_shape_the_draws(tmp_path: Path):
    ddl = tmp_path / "s.sql"
    ddl.write_text(
        "CREATE TABLE t (\n  id SERIAL PRIMARY KEY,\n  n INT NOT NULL CHECK (n > 3 AND n < 7),\n"
        "  x NUMERIC(4,1) NOT NULL CHECK (x > 0.5 AND x <= 0.8),\n"
        "  c VARCHAR(3) NOT NULL CHECK (c IN ('ab', 'cd', 'toolong') AND c <> 'cd'),\n"
        "  d DATE NOT NULL CHECK (d > '2020-01-01' AND d < '2020-01-04')\n);\n"
    )
    prepared = prepare(ddl, RelationalConfig(rows=200), 3)
    frame = prepared.generator.block("t", 0, 0, 200)  # without CHECK evaluation: the bounds alone
    assert set(frame["n"]) == {4, 5, 6}
    assert {str(v) for v in frame["x"]} == {"0.6", "0.7", "0.8"}
    assert set(frame["c"]) == {"ab"}
    assert set(frame["d"]) == {dt.date(2020, 1, 2), dt.date(2020, 1, 3)}


def test_a_not_null_reference_to_an_empty_table_is_refused(tmp_path: Path):
    ddl = tmp_path / "s.sql"
    ddl.write_text(
        "CREATE TABLE p (id SERIAL PRIMARY KEY);\n"
        "CREATE TABLE c (id SERIAL PRIMARY KEY,\n  p_id INT NOT NULL REFERENCES p(id),\n"
        "  q_id INT REFERENCES p(id));\n"
    )
    with pytest.raises(ConstraintViolation, match=re.escape(f"{ddl}:3: c(p_id) is NOT NULL and references p, which")):
        prepare(ddl, RelationalConfig(rows=5, table_rows={"p": 0}), 1).generator.table_frame("c")
    ddl.write_text(
        "CREATE TABLE p (id SERIAL PRIMARY KEY);\nCREATE TABLE c (id SERIAL PRIMARY KEY, q_id INT REFERENCES p(id));\n"
    )
    frame = prepare(ddl, RelationalConfig(rows=5, table_rows={"p": 0}), 1).generator.table_frame("c")
    assert frame["q_id"].to_list() == [None] * 5
    ddl.write_text(
        "CREATE TABLE p (a INT, b INT, PRIMARY KEY (a, b));\n"
        "CREATE TABLE c (id SERIAL PRIMARY KEY, a INT NOT NULL, b INT NOT NULL,\n"
        "  FOREIGN KEY (a, b) REFERENCES p(a, b));\n"
    )
    with pytest.raises(ConstraintViolation, match=re.escape(f"{ddl}:3: c(a, b) is NOT NULL and references p, which")):
        prepare(ddl, RelationalConfig(rows=5, table_rows={"p": 0}), 1).generator.table_frame("c")


# helpers, by hand -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 10, 64, 1000])
def test_scatter_is_a_bijection_of_zero_to_n(n: int):
    out = _scatter(np.arange(n, dtype=np.int64), n)
    assert sorted(out.tolist()) == list(range(n))
    if n in (7, 64, 1000):  # 0x9E3779B1 % 10 == 1: for 10 rows the multiplier is 1
        assert out.tolist() != list(range(n))  # it does scatter


def test_order_plain_puts_each_lower_column_first():
    orders = [OrderRule("b", "c", strict=True), OrderRule("a", "b", strict=False)]
    assert _order_plain(["c", "b", "x", "a"], orders) == ["x", "a", "b", "c"]
    # a < b < a: no order satisfies both, DDL order is kept
    assert _order_plain(["b", "a"], [OrderRule("a", "b", True), OrderRule("b", "a", True)]) == ["b", "a"]


def test_temporal_bounds_by_hand():
    assert _as_temporal("2020-03-01", "date", True, +1) == dt.date(2020, 3, 2)
    assert _as_temporal("2020-03-01T10:00:00", "date", False, -1) == dt.date(2020, 3, 1)
    assert _as_temporal("2020-03-01 10:00:00", "timestamp", True, -1) == dt.datetime(2020, 3, 1, 9, 59, 59)
    assert _as_temporal(dt.date(2020, 3, 1), "timestamp", False, 1) == dt.datetime(2020, 3, 1)
    assert _as_temporal(dt.date(2020, 3, 1), "timestamp", True, 1) == dt.datetime(2020, 3, 1, 0, 0, 1)
    assert _as_temporal("not a date", "date", False, 1) is None
    assert _as_temporal(None, "date", True, 1) is None
    assert _gt_temporal(dt.datetime(2020, 3, 1, 0, 0, 1), dt.date(2020, 3, 1))
    assert not _gt_temporal(dt.date(2020, 3, 1), dt.datetime(2020, 3, 1))
    utc_plus_2 = dt.timezone(dt.timedelta(hours=2))
    assert not _gt_temporal(dt.datetime(2020, 3, 1, 1, 0, tzinfo=utc_plus_2), dt.datetime(2020, 2, 29, 23, 30))
    assert _gt_temporal(dt.datetime(2020, 3, 1, 2, 0, tzinfo=utc_plus_2), dt.datetime(2020, 2, 29, 23, 30))


def test_with_nulls_only_where_the_share_says():
    values = pl.Series("v", list(range(1000)))
    rng = np.random.default_rng(1)
    assert _with_nulls(values, 0.0, rng).null_count() == 0
    some = _with_nulls(values, 0.3, rng)
    assert 200 < some.null_count() < 400 and some.name == "v"
    assert some.drop_nulls().to_list() == [v for v, s in zip(range(1000), some.to_list(), strict=True) if s is not None]


def test_above_moves_values_at_or_past_the_lower_column(tmp_path: Path):
    prepared = prepare_redraw(tmp_path)
    spec = prepared.generator.models["pairs"].specs["ended"]
    lower = pl.Series([dt.date(2020, 1, 1)] * 3000 + [None])
    values = pl.Series("ended", [dt.date(2019, 1, 1)] * 3001)
    strict = _above(values, lower, spec, OrderRule("started", "ended", strict=True), np.random.default_rng(0))
    loose = _above(values, lower, spec, OrderRule("started", "ended", strict=False), np.random.default_rng(0))
    assert strict.name == "ended" and strict[3000] == dt.date(2019, 1, 1)  # a NULL lower bound leaves the value
    days = (strict.head(3000) - lower.head(3000)).dt.total_days()
    assert days.min() >= 1 and days.max() < 400
    loose_days = (loose.head(3000) - lower.head(3000)).dt.total_days()
    assert loose_days.min() == 0 and loose_days.max() < 400


def prepare_redraw(tmp_path: Path) -> Prepared:
    ddl = tmp_path / "pairs.sql"
    ddl.write_text(REDRAW)
    return prepare(ddl, RelationalConfig(rows=50), 2)


BILLING = """\
CREATE TABLE teams (team_id SERIAL PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE matches (
  match_id SERIAL PRIMARY KEY,
  home_id INT NOT NULL REFERENCES teams(team_id),
  away_id INT NOT NULL REFERENCES teams(team_id),
  CHECK (home_id <> away_id)
);
CREATE TABLE invoices (invoice_id SERIAL PRIMARY KEY, total NUMERIC(10,2) NOT NULL);
CREATE TABLE invoice_lines (
  line_id SERIAL PRIMARY KEY,
  invoice_id INT NOT NULL REFERENCES invoices(invoice_id),
  unit_price NUMERIC(8,2) NOT NULL CHECK (unit_price > 0),
  quantity INT NOT NULL CHECK (quantity BETWEEN 1 AND 9)
);
CREATE TABLE visits (visit_id SERIAL PRIMARY KEY, team_id INT REFERENCES teams(team_id));
CREATE TABLE fans (fan_id SERIAL PRIMARY KEY, team_id INT NOT NULL REFERENCES teams(team_id));
CREATE TABLE games (
  game_id SERIAL PRIMARY KEY,
  host_id INT NOT NULL REFERENCES teams(team_id),
  guest_id INT NOT NULL REFERENCES teams(team_id)
);
"""


def billing(tmp_path: Path, **rows: int) -> Prepared:
    ddl = tmp_path / "billing.sql"
    ddl.write_text(BILLING)
    table_rows = {
        "teams": 100,
        "matches": 40,
        "invoices": 30,
        "invoice_lines": 45,
        "visits": 20_000,
        "fans": 50,
        "games": 50,
        **rows,
    }
    return prepare(ddl, RelationalConfig(rows=10, table_rows=table_rows), 6)


def test_two_references_a_check_keeps_apart_never_meet_even_before_the_check_runs(tmp_path: Path):
    generator = billing(tmp_path, teams=2).generator
    raw = generator.block("matches", 0, 0, 40)  # no CHECK evaluation: the draw itself avoids the other team
    assert set(raw.select("home_id", "away_id").iter_rows()) == {(1, 2), (2, 1)}
    many = billing(tmp_path).generator.block("matches", 0, 0, 40)
    assert (many["home_id"] != many["away_id"]).all() and many["away_id"].n_unique() > 10


def test_the_first_lines_cover_every_invoice_and_totals_are_their_sums(tmp_path: Path):
    frames = draw_all(billing(tmp_path))
    # 45 lines, 30 invoices: the first 30 lines take the 30 invoices once each, so every invoice has a line.
    assert sorted(frames["invoice_lines"]["invoice_id"].head(30)) == list(range(1, 31))
    wrong = count(
        frames,
        "SELECT count(*) FROM invoices i JOIN (SELECT invoice_id, sum(unit_price * quantity) AS s "
        "FROM invoice_lines GROUP BY invoice_id) l USING (invoice_id) WHERE i.total <> l.s",
    )
    assert wrong == 0 and count(frames, "SELECT count(*) FROM invoices WHERE total > 0") == 30


def test_a_nullable_reference_is_null_a_tenth_of_the_time_with_a_mild_popularity_skew(tmp_path: Path):
    visits = billing(tmp_path).generator.table_frame("visits")
    assert 1700 < visits["team_id"].null_count() < 2300  # 10% of 20,000
    counts = visits.drop_nulls("team_id").group_by("team_id").len()
    linked = visits.height - visits["team_id"].null_count()
    by_count = sorted(counts["len"].to_list(), reverse=True)
    # Parent floor(100 * u ** 1.4): the most popular takes P(u < 0.01 ** (1 / 1.4)) = 3.7% of the children,
    # the least popular 1 - 0.99 ** (1 / 1.4) = 0.72%; every one of the 100 teams is used.
    assert counts.height == 100
    assert 0.030 < by_count[0] / linked < 0.045
    assert 0.004 < by_count[-1] / linked < 0.010
    # The popular parents are spread over the table, not the first rows (row order and popularity unrelated).
    order = counts.sort("team_id")["len"].to_numpy().astype(float)
    assert abs(np.corrcoef(np.arange(100), order)[0, 1]) < 0.5


def test_every_span_from_two_to_seven_is_used_and_no_other(tmp_path: Path):
    referrer = shop(tmp_path, customers=1500).generator.table_frame("customers")["referrer_id"].to_list()
    # Row i >= 3 reports to row (i - 3) // span (ids are rows + 1); spans that alone explain a parent:
    only = set()
    for row in range(3, 1500):
        spans = [s for s in range(1, 12) if (row - 3) // s + 1 == referrer[row]]
        assert spans and set(spans) & set(range(2, 8)), (row, referrer[row])
        if len(spans) == 1:
            only.add(spans[0])
    assert {2, 7} <= only and only <= set(range(2, 8))


def test_each_reference_draws_from_its_own_stream(tmp_path: Path):
    frames = draw_all(billing(tmp_path))
    games, fans, visits = frames["games"], frames["fans"], frames["visits"].head(50)
    # Two references in one table, and one column name in two tables, are drawn independently: 100 teams,
    # so two independent draws agree on about 1 row in 100.
    assert (games["host_id"] == games["guest_id"]).sum() < 5
    both = visits["team_id"].is_not_null()
    assert (fans["team_id"].filter(both) == visits["team_id"].filter(both)).sum() < 5


GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "hashes.json").read_text())["cli"]["42"]


@pytest.mark.parametrize("schema", ["company", "restaurants"])
def test_sample_schemas_write_the_recorded_golden_bytes(tmp_path: Path, schema: str):
    """The golden record (golden/test_golden.py) for two sample schemas, fast enough to run per mutant:
    a change to how any stream is named or drawn changes these bytes."""
    ddl = Path(__file__).parents[2] / "data" / "schemas" / f"{schema}.sql"
    out = tmp_path / schema
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["relational", "--ddl", str(ddl), "--rows", "150", "--seed", "42", "--out", str(out)])
    assert code == 0
    written = {f"{schema}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}
    recorded = {k: v for k, v in GOLDEN.items() if k.startswith(f"{schema}/")}
    assert len(recorded) >= 5
    assert {k: written.get(k) for k in recorded} == recorded


def test_a_key_beyond_2_to_the_62_combinations_stays_distinct(tmp_path: Path):
    ddl = tmp_path / "wide.sql"
    ddl.write_text(
        "CREATE TABLE wide (\n  a VARCHAR(40) NOT NULL,\n  b VARCHAR(40) NOT NULL,\n  PRIMARY KEY (a, b)\n);\n"
    )
    frame = prepare(ddl, RelationalConfig(rows=300), 3).generator.table_frame("wide")
    # 2^62 x 2^62 combinations: the first of the largest components is a permutation of the row number
    # (distinct by itself), the other is mixed from the row number.
    assert frame["a"].n_unique() == 300 and frame["b"].n_unique() > 290
    assert frame.select("a", "b").is_unique().all()
    ddl.write_text(
        "CREATE TABLE flagged (\n  a VARCHAR(40) NOT NULL,\n  f BOOLEAN NOT NULL,\n  PRIMARY KEY (a, f)\n);\n"
    )
    flagged = prepare(ddl, RelationalConfig(rows=300), 3).generator.table_frame("flagged")
    # 2^62 x 2: the string is the permuted component, the flag is mixed from the row number (about half each).
    assert flagged["a"].n_unique() == 300 and 100 < flagged["f"].sum() < 200


def test_a_composite_reference_is_null_only_when_all_its_columns_may_be(tmp_path: Path):
    ddl = tmp_path / "s.sql"
    ddl.write_text(
        "CREATE TABLE p (a INT, b INT, PRIMARY KEY (a, b));\n"
        "CREATE TABLE half (id SERIAL PRIMARY KEY, a INT NOT NULL, b INT, FOREIGN KEY (a, b) REFERENCES p(a, b));\n"
        "CREATE TABLE open (id SERIAL PRIMARY KEY, a INT, b INT, FOREIGN KEY (a, b) REFERENCES p(a, b));\n"
    )
    generator = prepare(ddl, RelationalConfig(rows=300, table_rows={"p": 20}), 1).generator
    half, both = generator.table_frame("half"), generator.table_frame("open")
    assert half.null_count().row(0) == (0, 0, 0)
    # Both columns nullable: the pair is NULL together, a tenth of the rows.
    assert 15 < both["a"].null_count() < 45
    assert both["a"].is_null().equals(both["b"].is_null())
    parents = set(generator.table_frame("p").iter_rows())
    assert set(half.select("a", "b").iter_rows()) <= parents
    assert set(both.drop_nulls().select("a", "b").iter_rows()) <= parents


def test_only_the_first_lines_are_pinned_to_cover_the_parents(tmp_path: Path):
    ddl = tmp_path / "billing.sql"
    ddl.write_text(BILLING)
    after_cover = set()
    for seed in range(6):
        config = RelationalConfig(rows=10, table_rows={"invoices": 30, "invoice_lines": 45})
        lines = prepare(ddl, config, seed).generator.table_frame("invoice_lines")
        assert sorted(lines["invoice_id"].head(30)) == list(range(1, 31))
        after_cover.add(lines["invoice_id"][30])
    # Line 31 onward draws its invoice like any reference: over six seeds, not one fixed invoice.
    assert len(after_cover) > 1


def test_two_references_kept_apart_with_one_parent_or_a_null_one(tmp_path: Path):
    ddl = tmp_path / "s.sql"
    ddl.write_text(
        "CREATE TABLE teams (team_id SERIAL PRIMARY KEY);\n"
        "CREATE TABLE venues (venue_id SERIAL PRIMARY KEY);\n"
        "CREATE TABLE friendlies (\n  id SERIAL PRIMARY KEY,\n  venue_id INT NOT NULL REFERENCES venues(venue_id),\n"
        "  home_id INT REFERENCES teams(team_id),\n  away_id INT NOT NULL REFERENCES teams(team_id),\n"
        "  sponsor_id INT NOT NULL REFERENCES venues(venue_id),\n"
        "  CHECK (home_id <> away_id),\n  CHECK (home_id <> sponsor_id)\n);\n"
    )
    generator = prepare(ddl, RelationalConfig(rows=200, table_rows={"teams": 5, "venues": 2}), 2).generator
    raw = generator.block("friendlies", 0, 0, 200)  # the draw itself, before any CHECK evaluation
    assert set(raw["away_id"]) == {1, 2, 3, 4, 5}
    assert 5 < raw["home_id"].null_count() < 40
    assert (raw.drop_nulls()["home_id"] != raw.drop_nulls()["away_id"]).all()
    # A CHECK between references to two different tables keeps values apart, not row numbers: the sponsor is
    # drawn freely (rows that break the CHECK are redrawn later), so a home team of 1 meets both venues.
    assert set(raw.filter(pl.col("home_id") == 1)["sponsor_id"]) == {1, 2}
    assert set(raw.filter(pl.col("home_id") == 3)["sponsor_id"]) == {1, 2}
    # Two references to one table without a CHECK may meet.
    games = billing(tmp_path, teams=2).generator.block("games", 0, 0, 50)
    assert (games["host_id"] == games["guest_id"]).any()
    # One team: the two never differ only where home is NULL (the CHECK is then unknown, which passes);
    # no team outside the parent table is invented to keep them apart.
    alone = prepare(ddl, RelationalConfig(rows=20, table_rows={"teams": 1, "venues": 2}), 2).generator.table_frame(
        "friendlies"
    )
    assert alone["home_id"].null_count() == 20 and alone["away_id"].to_list() == [1] * 20


def test_a_time_anchored_through_a_reference_inside_the_key(tmp_path: Path):
    ddl = tmp_path / "s.sql"
    ddl.write_text(
        "CREATE TABLE students (student_id SERIAL PRIMARY KEY, joined_at TIMESTAMP NOT NULL);\n"
        "CREATE TABLE courses (course_id SERIAL PRIMARY KEY, title VARCHAR(40) NOT NULL);\n"
        "CREATE TABLE enrollments (\n  student_id INT NOT NULL REFERENCES students(student_id),\n"
        "  course_id INT NOT NULL REFERENCES courses(course_id),\n  enrolled_at TIMESTAMP NOT NULL,\n"
        "  PRIMARY KEY (student_id, course_id)\n);\n"
    )
    prepared = prepare(ddl, RelationalConfig(rows=40, table_rows={"enrollments": 120}), 5)
    frames = draw_all(prepared)
    # The parent row behind a key's reference reaches the derived column: each enrolment after its student joined.
    early = count(
        frames,
        "SELECT count(*) FROM enrollments e JOIN students s USING (student_id) WHERE e.enrolled_at <= s.joined_at",
    )
    assert early == 0 and frames["enrollments"].height == 120


def test_only_a_check_takes_the_diagonal_out_of_a_junction(tmp_path: Path):
    # Two courses: the pairs without (x, x) are (1, 2) and (2, 1), both drawn.
    two = shop(tmp_path, courses=2, prerequisites=2).generator.table_frame("prerequisites")
    assert set(two.iter_rows()) == {(1, 2), (2, 1)}
    # One course: its only pair is (1, 1), which the CHECK refuses and a key column cannot redraw.
    with pytest.raises(ConstraintViolation, match=r"table prerequisites: CHECK \(course_id <> prereq_id\) still fails"):
        shop(tmp_path, courses=1, prerequisites=1).generator.table_frame("prerequisites")
    # Without the CHECK, a junction of one table with itself holds every pair, (x, x) too.
    ddl = tmp_path / "pairs.sql"
    ddl.write_text(
        "CREATE TABLE teams (team_id SERIAL PRIMARY KEY);\nCREATE TABLE rivals (\n"
        "  a_id INT NOT NULL REFERENCES teams(team_id),\n  b_id INT NOT NULL REFERENCES teams(team_id),\n"
        "  PRIMARY KEY (a_id, b_id)\n);\n"
    )
    rivals = prepare(ddl, RelationalConfig(rows=3, table_rows={"rivals": 9}), 1).generator.table_frame("rivals")
    assert set(rivals.iter_rows()) == {(a, b) for a in (1, 2, 3) for b in (1, 2, 3)}
