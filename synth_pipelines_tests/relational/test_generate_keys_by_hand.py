"""How relational/generate.py plans keys, on tiny schemas: keys overlapping keys, keys linked per parent,
composite keys, shrunk key spaces, keys at the edge of their space, keys reached through other keys.

Every expectation is written in the test (a set of values, a count, a message) and worked out by hand from the
schema; nothing is recomputed with the generator's helpers. Each test prepares its own schema (no shared
fixtures: mutation testing links a test to the functions it runs), so the file runs in seconds.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.domains.relational.pipeline import Prepared, RelationalConfig, prepare


def schema(tmp_path: Path, ddl: str, seed: int = 1, **rows: int) -> Prepared:
    path = tmp_path / "s.sql"
    path.write_text(ddl)
    return prepare(path, RelationalConfig(rows=10, table_rows=rows), seed)


def frames(prepared: Prepared) -> dict[str, pl.DataFrame]:
    return {t: prepared.generator.table_frame(t) for t in prepared.plan.insert_order}


def unique(frame: pl.DataFrame, *columns: str) -> bool:
    return frame.select(columns).is_unique().all()


# keys without a primary key, keys beyond their space ------------------------------------------------


TAGS = """\
CREATE TABLE tags (
  code INT NOT NULL UNIQUE CHECK (code BETWEEN 1 AND 20),
  note VARCHAR(20)
);
"""


def test_a_unique_key_of_a_table_without_primary_key_takes_each_value_once(tmp_path: Path):
    tags = frames(schema(tmp_path, TAGS, tags=20))["tags"]
    # 20 rows over the 20 values 1..20: a key takes every one once; drawn as a plain column it would repeat.
    assert sorted(tags["code"]) == list(range(1, 21))


def test_a_unique_key_beyond_its_values_is_refused_naming_it_unique(tmp_path: Path):
    with pytest.raises(ConstraintViolation) as info:
        schema(tmp_path, TAGS, tags=21)
    assert str(info.value) == (
        f"{tmp_path / 's.sql'}:1: table tags: 21 rows requested but UNIQUE (code) allows only 20 distinct values "
        "(code: 20 values); lower the row count for tags"
    )


# keys whose columns are all in earlier keys -------------------------------------------------------------


COVERED = """\
CREATE TABLE grid (
  a INT NOT NULL CHECK (a BETWEEN 1 AND 6),
  b INT NOT NULL CHECK (b BETWEEN 1 AND 6),
  code INT NOT NULL CHECK (code BETWEEN 1 AND 30),
  PRIMARY KEY (a, b),
  UNIQUE (a),
  UNIQUE (b),
  UNIQUE (code)
);
CREATE TABLE pairs (
  a INT NOT NULL PRIMARY KEY CHECK (a BETWEEN 1 AND 30),
  b INT NOT NULL UNIQUE CHECK (b BETWEEN 1 AND 30),
  UNIQUE (b, a)
);
"""


def test_keys_inside_earlier_keys_are_listed_unless_an_earlier_key_lies_inside_them(tmp_path: Path):
    prepared = schema(tmp_path, COVERED, grid=30, pairs=30)
    models = prepared.generator.models
    # UNIQUE (a) and UNIQUE (b) are parts of (a, b): nothing makes them hold, so they are listed. UNIQUE (b, a) of
    # pairs holds through UNIQUE (b), a key inside it: by construction.
    assert models["grid"].not_by_construction == ["UNIQUE (a)", "UNIQUE (b)"]
    assert models["pairs"].not_by_construction == []
    grid = frames(prepared)["grid"]
    # The key after them is still planned: 30 rows take the 30 codes once each.
    assert sorted(grid["code"]) == list(range(1, 31))
    assert unique(grid, "a", "b") and set(grid["a"]) <= set(range(1, 7))


# a composite reference inside a key ---------------------------------------------------------------------


def test_a_key_of_a_composite_reference_and_a_column_holds_more_rows_than_the_parent(tmp_path: Path):
    prepared = schema(
        tmp_path,
        "CREATE TABLE p (x INT NOT NULL, y INT NOT NULL, PRIMARY KEY (x, y));\n"
        "CREATE TABLE c (\n  x INT NOT NULL,\n  y INT NOT NULL,\n  n INT NOT NULL,\n  PRIMARY KEY (x, y, n),\n"
        "  FOREIGN KEY (x, y) REFERENCES p(x, y)\n);\n",
        p=5,
        c=20,
    )
    drawn = frames(prepared)
    child, parents = drawn["c"], set(drawn["p"].iter_rows())
    # 20 rows over 5 parents: the key is (parent, n), the reference one factor of it and n the other.
    assert child.height == 20 and unique(child, "x", "y", "n")
    assert set(child.select("x", "y").iter_rows()) <= parents
    # n is per-parent numbering: max(10, ceil(20 / 5) * 3) = 12 values, 1..12.
    assert set(child["n"]) <= set(range(1, 13))


# foreign keys beside keys and beside each other -------------------------------------------------------


REFERENCES = """\
CREATE TABLE p (a INT NOT NULL, b INT NOT NULL, PRIMARY KEY (a, b));
CREATE TABLE q (a INT NOT NULL PRIMARY KEY);
CREATE TABLE r (r_id SERIAL PRIMARY KEY);
CREATE TABLE keyed (
  a INT NOT NULL PRIMARY KEY REFERENCES q(a),
  b INT NOT NULL CHECK (b BETWEEN 1 AND 40),
  r_id INT NOT NULL REFERENCES r(r_id),
  FOREIGN KEY (a, b) REFERENCES p(a, b),
  UNIQUE (b)
);
CREATE TABLE drawn (
  id SERIAL PRIMARY KEY,
  a INT NOT NULL REFERENCES q(a),
  b INT NOT NULL,
  r_id INT NOT NULL,
  FOREIGN KEY (a, b) REFERENCES p(a, b),
  FOREIGN KEY (r_id) REFERENCES r(r_id)
);
"""


def test_references_that_share_a_column_with_a_key_or_another_reference_are_listed(tmp_path: Path):
    prepared = schema(tmp_path, REFERENCES, p=50, q=50, r=3, keyed=40, drawn=40)
    models = prepared.generator.models
    # keyed: a is the key through q; b belongs to (a, b) -> p too, whose a is taken, so UNIQUE (b) is planned as
    # a plain column and listed (keyed's (a, b) -> p is then neither drawn nor listed: a gap, issue #18). drawn:
    # (a, b) -> p shares a with a -> q, drawn first: listed, not drawn.
    assert models["keyed"].not_by_construction == ["UNIQUE (b)"]
    assert models["drawn"].not_by_construction == ["FOREIGN KEY (a, b)"]
    tables = frames(prepared)
    assert sorted(tables["keyed"]["b"]) == list(range(1, 41))
    # The references after them are still drawn: 3 parents, every row takes one of r_id 1..3.
    for name in ("keyed", "drawn"):
        assert set(tables[name]["r_id"]) <= {1, 2, 3}, name
        assert set(tables[name]["a"]) <= set(tables["q"]["a"]), name


def test_a_reference_declared_after_one_inside_the_key_is_drawn(tmp_path: Path):
    tables = frames(
        schema(
            tmp_path,
            "CREATE TABLE orders (order_id SERIAL PRIMARY KEY);\n"
            "CREATE TABLE products (product_id SERIAL PRIMARY KEY);\n"
            "CREATE TABLE lines (\n  order_id INT NOT NULL REFERENCES orders(order_id),\n  line_no INT NOT NULL,\n"
            "  product_id INT NOT NULL REFERENCES products(product_id),\n  PRIMARY KEY (order_id, line_no)\n);\n",
            orders=10,
            products=4,
            lines=40,
        )
    )
    assert set(tables["lines"]["product_id"]) == {1, 2, 3, 4}


# a key linked to an earlier key per parent -------------------------------------------------------------


LINKED = """\
CREATE TABLE orders (order_id SERIAL PRIMARY KEY);
CREATE TABLE items (
  item_id SERIAL PRIMARY KEY,
  order_id INT NOT NULL REFERENCES orders(order_id),
  line_no INT NOT NULL,
  sku INT NOT NULL CHECK (sku BETWEEN 1 AND 5),
  code INT NOT NULL CHECK (code BETWEEN 1 AND 50),
  UNIQUE (order_id, line_no),
  UNIQUE (order_id, sku),
  UNIQUE (code)
);
CREATE TABLE returns (
  return_id SERIAL PRIMARY KEY,
  order_id INT NOT NULL,
  sku INT NOT NULL,
  FOREIGN KEY (order_id, sku) REFERENCES items(order_id, sku)
);
"""


def test_a_key_linked_per_parent_fills_a_space_shrunk_to_its_smaller_column(tmp_path: Path):
    prepared = schema(tmp_path, LINKED, orders=10, items=50, returns=30)
    tables = frames(prepared)
    items = tables["items"]
    # UNIQUE (order_id, sku) shares order_id with UNIQUE (order_id, line_no), after a surrogate key: the line
    # slot (12 values for 50 lines over 10 orders) shrinks to the 5 skus, so the space is 10 x 5 = 50, and 50
    # rows fill it: every order holds lines 1..5 and skus 1..5 once each.
    per_order = items.group_by("order_id").agg(pl.col("line_no").sort(), pl.col("sku").sort()).sort("order_id")
    assert per_order["order_id"].to_list() == list(range(1, 11))
    assert per_order["line_no"].to_list() == [[1, 2, 3, 4, 5]] * 10
    assert per_order["sku"].to_list() == [[1, 2, 3, 4, 5]] * 10
    # The key after it is planned: 50 rows take the 50 codes once each.
    assert prepared.generator.models["items"].not_by_construction == []
    assert sorted(items["code"]) == list(range(1, 51))
    # A reference to the linked key takes an existing (order_id, sku) pair.
    pairs = set(items.select("order_id", "sku").iter_rows())
    assert set(tables["returns"].select("order_id", "sku").iter_rows()) <= pairs


def test_one_row_beyond_a_linked_keys_space_is_refused_with_that_space(tmp_path: Path):
    with pytest.raises(ConstraintViolation) as info:
        schema(tmp_path, LINKED, orders=10, items=51, returns=30)
    # 10 orders x 5 skus = 50 (order_id, sku) pairs: the 51st row cannot have one of its own.
    assert str(info.value) == (
        f"{tmp_path / 's.sql'}:2: table items: 51 rows requested but UNIQUE (order_id, sku) allows only 50 distinct "
        "values (order_id -> orders: 10 rows x sku: 5 values); lower the row count for items"
    )


def test_a_linked_key_whose_column_has_more_values_than_the_slot_keeps_the_slot(tmp_path: Path):
    ddl = LINKED.replace("CHECK (sku BETWEEN 1 AND 5)", "CHECK (sku BETWEEN 1 AND 12)")
    items = frames(schema(tmp_path, ddl, orders=10, items=50, returns=5))["items"]
    # 50 lines over 10 orders: the slot has max(10, ceil(50 / 10) * 3) = 15 values, more than the 12 skus, so it
    # shrinks to 12; each order's skus are its lines shifted by one offset (mod 12).
    assert set(items["line_no"]) <= set(range(1, 13))
    shift = items.group_by("order_id").agg(((pl.col("sku") - pl.col("line_no")) % 12).n_unique().alias("n"))
    assert shift["n"].to_list() == [1] * shift.height
    assert unique(items, "order_id", "sku") and unique(items, "order_id", "line_no")


def test_a_reference_to_the_new_column_alone_still_reads_the_key_it_is_linked_to(tmp_path: Path):
    # The linked key (order_id, sku) is the line slot of PRIMARY KEY (order_id, line_no) shifted per order; a
    # reference to sku alone (a UNIQUE the generator cannot build from the slot, so listed) needs that key too.
    prepared = schema(
        tmp_path,
        "CREATE TABLE orders (order_id SERIAL PRIMARY KEY);\nCREATE TABLE items (\n"
        "  order_id INT NOT NULL REFERENCES orders(order_id),\n  line_no INT NOT NULL,\n  sku INT NOT NULL,\n"
        "  PRIMARY KEY (order_id, line_no),\n  UNIQUE (order_id, sku),\n  UNIQUE (sku)\n);\n"
        "CREATE TABLE notes (note_id SERIAL PRIMARY KEY, sku INT NOT NULL REFERENCES items(sku));\n",
        orders=10,
        items=40,
        notes=30,
    )
    assert prepared.generator.models["items"].not_by_construction == ["UNIQUE (sku)"]
    tables = frames(prepared)
    assert set(tables["notes"]["sku"]) <= set(tables["items"]["sku"])
    assert tables["notes"]["sku"].n_unique() > 10


def test_a_key_sharing_a_column_with_a_key_of_two_free_columns_is_drawn_on_its_own(tmp_path: Path):
    prepared = schema(
        tmp_path,
        "CREATE TABLE orders (order_id SERIAL PRIMARY KEY);\nCREATE TABLE items (\n"
        "  order_id INT NOT NULL REFERENCES orders(order_id),\n  line_no INT NOT NULL,\n  batch INT NOT NULL,\n"
        "  sku INT NOT NULL CHECK (sku BETWEEN 1 AND 40),\n  PRIMARY KEY (order_id, line_no, batch),\n"
        "  UNIQUE (order_id, sku)\n);\n",
        orders=2,
        items=40,
    )
    # Beside (order_id, line_no, batch) no single slot can carry sku per order: the key is listed and sku drawn
    # as a key of its own, so 40 rows take the 40 skus once each and (order_id, sku) holds.
    assert prepared.generator.models["items"].not_by_construction == ["UNIQUE (order_id, sku)"]
    items = frames(prepared)["items"]
    assert sorted(items["sku"]) == list(range(1, 41))
    assert unique(items, "order_id", "sku") and unique(items, "order_id", "line_no", "batch")


def test_a_key_overlapping_two_earlier_keys_is_drawn_on_its_own(tmp_path: Path):
    prepared = schema(
        tmp_path,
        "CREATE TABLE orders (order_id SERIAL PRIMARY KEY);\nCREATE TABLE items (\n"
        "  order_id INT NOT NULL REFERENCES orders(order_id),\n  line_no INT NOT NULL,\n"
        "  code CHAR(6) NOT NULL UNIQUE,\n  sku INT NOT NULL CHECK (sku BETWEEN 1 AND 40),\n"
        "  PRIMARY KEY (order_id, line_no),\n  UNIQUE (order_id, code, sku)\n);\n",
        orders=10,
        items=40,
    )
    # (order_id, code, sku) overlaps the primary key in order_id and UNIQUE (code) in code: not one slot of one
    # key, so it is listed and sku drawn as a key of its own (each of the 40 skus once).
    assert prepared.generator.models["items"].not_by_construction == ["UNIQUE (order_id, code, sku)"]
    items = frames(prepared)["items"]
    assert sorted(items["sku"]) == list(range(1, 41))
    assert unique(items, "order_id", "code", "sku") and unique(items, "code")


# shrunk key spaces --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["TIMESTAMP", "TIMESTAMPTZ", "DATE"])
def test_a_time_beside_a_reference_in_a_key_takes_few_evenly_spaced_values(tmp_path: Path, kind: str):
    prepared = schema(
        tmp_path,
        "CREATE TABLE sensors (sensor_id SERIAL PRIMARY KEY);\nCREATE TABLE readings (\n"
        f"  sensor_id INT NOT NULL REFERENCES sensors(sensor_id),\n  taken {kind} NOT NULL,\n"
        "  PRIMARY KEY (sensor_id, taken)\n);\n",
        sensors=10,
        readings=40,
    )
    readings = frames(prepared)["readings"]
    # 40 readings over 10 sensors: the time takes max(10, ceil(40 / 10) * 3) = 12 values, a fixed step apart
    # (per-sensor numbering), not 40 scattered instants.
    assert unique(readings, "sensor_id", "taken")
    times = sorted(set(readings["taken"]))
    assert 4 <= len(times) <= 12
    steps = {b - a for a, b in itertools.pairwise(times)}
    step = min(steps)
    assert step >= dt.timedelta(days=1) and all(s % step == dt.timedelta(0) for s in steps)
    assert times[-1] - times[0] <= 11 * step


def test_a_number_beside_a_one_row_parent_has_three_values_per_row(tmp_path: Path):
    lines = frames(
        schema(
            tmp_path,
            "CREATE TABLE docs (doc_id SERIAL PRIMARY KEY);\nCREATE TABLE lines (\n"
            "  doc_id INT NOT NULL REFERENCES docs(doc_id),\n  line_no INT NOT NULL,\n"
            "  PRIMARY KEY (doc_id, line_no)\n);\n",
            docs=1,
            lines=20,
        )
    )["lines"]
    # One parent, 20 lines: line_no takes 20 of max(10, ceil(20 / 1) * 3) = 60 values, 1..60, spread over them.
    assert lines["doc_id"].to_list() == [1] * 20
    assert lines["line_no"].n_unique() == 20 and set(lines["line_no"]) <= set(range(1, 61))
    assert max(lines["line_no"]) > 30


# keys reached through other keys -------------------------------------------------------------------------


def chain(tables: int) -> str:
    """t1 keyed by a serial; each next table keyed by a reference to the one before (a key read through
    ``tables`` tables)."""
    ddl = ["CREATE TABLE t1 (id SERIAL PRIMARY KEY);"]
    ddl += [f"CREATE TABLE t{i} (id INT NOT NULL PRIMARY KEY REFERENCES t{i - 1}(id));" for i in range(2, tables + 1)]
    return "\n".join(ddl) + "\n"


def test_a_key_read_through_32_tables_is_drawn_and_through_33_is_refused(tmp_path: Path):
    prepared = schema(tmp_path, chain(33), **{f"t{i}": 5 for i in range(1, 34)})
    generator = prepared.generator
    # Each key is its parent's key at the parent row it draws: ids 1..5, each once, all the way down.
    for _ in range(2):  # twice: the nesting count is back at zero after each table
        assert sorted(generator.table_frame("t32")["id"]) == [1, 2, 3, 4, 5]
    with pytest.raises(ConstraintViolation) as info:
        generator.table_frame("t33")
    assert str(info.value) == (
        f"{tmp_path / 's.sql'}: keys of t1 reference each other in a loop or through more than 32 tables"
    )


def test_keys_that_reference_each_other_in_a_loop_are_refused(tmp_path: Path):
    loop = (
        "CREATE TABLE a (b_id INT PRIMARY KEY);\n"
        "CREATE TABLE b (a_id INT PRIMARY KEY REFERENCES a(b_id) DEFERRABLE INITIALLY DEFERRED);\n"
        "ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b(a_id) DEFERRABLE INITIALLY DEFERRED;\n"
    )
    with pytest.raises(ConstraintViolation) as info:
        frames(schema(tmp_path, loop, a=5, b=5))
    assert re.fullmatch(
        re.escape(f"{tmp_path / 's.sql'}: keys of ") + "[ab]" + re.escape(" reference each other in a loop") + ".*",
        str(info.value),
    )
    # A key referencing its own table's key is the shortest loop.
    with pytest.raises(ConstraintViolation, match=r"s.sql: keys of n reference each other in a loop"):
        frames(schema(tmp_path, "CREATE TABLE n (code INT PRIMARY KEY REFERENCES n(code));\n", n=5))


def test_a_reference_reads_only_the_key_it_names_so_keys_referencing_back_are_no_loop(tmp_path: Path):
    prepared = schema(
        tmp_path,
        "CREATE TABLE a (id SERIAL PRIMARY KEY, b_id INT UNIQUE);\n"
        "CREATE TABLE b (a_id INT PRIMARY KEY REFERENCES a(id));\n"
        "ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b(a_id);\n",
        a=20,
        b=20,
    )
    # b's key is a reference to a.id; a's UNIQUE (b_id) references b's key. Reading a.id for b does not need
    # a.b_id, so there is no loop: both draw, each key takes its parent's 20 ids once.
    tables = frames(prepared)
    assert sorted(tables["a"]["id"]) == list(range(1, 21))
    assert sorted(tables["b"]["a_id"]) == list(range(1, 21))
    assert sorted(tables["a"]["b_id"]) == list(range(1, 21))


def test_a_reference_narrower_than_its_key_is_refused_when_the_values_do_not_fit(tmp_path: Path):
    ddl = (
        "CREATE TABLE p (id BIGINT PRIMARY KEY CHECK (id >= {low}));\n"
        "CREATE TABLE c (id SERIAL PRIMARY KEY, p_id SMALLINT NOT NULL REFERENCES p(id));\n"
    )
    # p.id counts up from its CHECK's lower bound: 40000.. does not fit a SMALLINT (at most 32767).
    with pytest.raises(ConstraintViolation) as info:
        frames(schema(tmp_path, ddl.format(low=40000), p=5, c=5))
    assert str(info.value) == (
        f"{tmp_path / 's.sql'}:2: c.p_id (SMALLINT) cannot hold the values of p.id; widen the column or lower "
        "the row count"
    )
    # 32763..32767 fit, the largest SMALLINT included.
    tables = frames(schema(tmp_path, ddl.format(low=32763), p=5, c=40))
    assert tables["c"]["p_id"].dtype == pl.Int16 and set(tables["c"]["p_id"]) == set(range(32763, 32768))


# a junction whose two references a CHECK keeps apart ----------------------------------------------------


def test_two_references_kept_apart_with_a_column_between_them_never_pair_a_row_with_itself(tmp_path: Path):
    prepared = schema(
        tmp_path,
        "CREATE TABLE courses (course_id SERIAL PRIMARY KEY);\nCREATE TABLE prerequisites (\n"
        "  course_id INT NOT NULL REFERENCES courses(course_id),\n  kind INT NOT NULL CHECK (kind BETWEEN 1 AND 2),\n"
        "  prereq_id INT NOT NULL REFERENCES courses(course_id),\n  PRIMARY KEY (course_id, kind, prereq_id),\n"
        "  CHECK (course_id <> prereq_id)\n);\n",
        courses=3,
        prerequisites=12,
    )
    # 3 courses x 2 kinds x the 2 other courses = 12 keys, and 12 rows: every one of them, none (x, k, x).
    rows = set(frames(prepared)["prerequisites"].iter_rows())
    assert rows == {(c, k, p) for c in (1, 2, 3) for k in (1, 2) for p in (1, 2, 3) if c != p}
