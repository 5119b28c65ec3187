"""relational/generate.py's rows, on tiny schemas: what ``draw_rest`` and its helpers promise for the non-key
columns, against values worked out by hand or counted with DuckDB.

Lines sum exactly to their order's total, copied columns equal the parent row's, a person's email and username
are built from the row's own names, a child's time is after its parent's, a value an ordering CHECK keeps above
another is drawn above it, NULLs appear only in nullable columns, and a table drawn first in a fresh generator
(or one block of it alone) equals the same rows drawn in insert order. Nothing is recomputed with the generator's
own helpers. Per-test fixtures only (mutation testing links a test to the functions it calls).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.domains.relational.constraints import CheckEvaluator, OrderRule
from synth_pipelines.domains.relational.generate import _above, _scatter
from synth_pipelines.domains.relational.pipeline import Prepared, RelationalConfig, prepare
from synth_pipelines.domains.relational.vocab import vocab

SHOP = """\
CREATE TABLE customers (
  customer_id SERIAL PRIMARY KEY,
  first_name VARCHAR(40) NOT NULL,
  last_name VARCHAR(40) NOT NULL,
  full_name VARCHAR(90),
  email VARCHAR(120) NOT NULL,
  username VARCHAR(60),
  joined_at TIMESTAMP,
  city VARCHAR(60) NOT NULL,
  country VARCHAR(60) NOT NULL
);
CREATE TABLE products (
  product_id SERIAL PRIMARY KEY,
  name VARCHAR(60) NOT NULL,
  price NUMERIC(8,2) NOT NULL
);
CREATE TABLE orders (
  order_id SERIAL PRIMARY KEY,
  customer_id INT REFERENCES customers(customer_id),
  placed_at TIMESTAMP NOT NULL,
  shipped_at TIMESTAMP,
  billing_city VARCHAR(60),
  billing_country VARCHAR(60),
  total NUMERIC(12,2) NOT NULL,
  CHECK (shipped_at > placed_at)
);
CREATE TABLE order_lines (
  line_id SERIAL PRIMARY KEY,
  order_id INT NOT NULL REFERENCES orders(order_id),
  product_id INT REFERENCES products(product_id),
  unit_price NUMERIC(10,2),
  quantity INT NOT NULL CHECK (quantity BETWEEN 1 AND 5)
);
"""
ROWS = {"customers": 30, "products": 12, "orders": 40, "order_lines": 70}


def shop(tmp_path: Path, seed: int = 7, ddl: str = SHOP, **rows: int) -> Prepared:
    path = tmp_path / "shop.sql"
    path.write_text(ddl)
    return prepare(path, RelationalConfig(rows=10, table_rows={**ROWS, **rows}), seed)


def draw_all(prepared: Prepared) -> dict[str, pl.DataFrame]:
    return {t: prepared.generator.table_frame(t) for t in prepared.plan.insert_order}


def count(frames: dict[str, pl.DataFrame], sql: str) -> int:
    """One number counted by DuckDB over the frames, registered under their table names."""
    con = duckdb.connect()
    for name, frame in frames.items():
        con.register(name, frame.to_arrow())
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def fold(name: str) -> str:
    """A name as an address's local part: accents dropped, lower case, letters a-z only (by hand)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", name).lower() if "a" <= ch <= "z")


# line sums ---------------------------------------------------------------------------------------


def test_every_total_is_the_exact_sum_of_its_lines_and_zero_without_lines(tmp_path: Path):
    frames = draw_all(shop(tmp_path, order_lines=25))
    wrong = count(
        frames,
        "SELECT count(*) FROM orders o LEFT JOIN (SELECT order_id, sum(unit_price * quantity) AS s "
        "FROM order_lines GROUP BY order_id) l USING (order_id) WHERE o.total <> coalesce(l.s, 0)",
    )
    assert wrong == 0
    # 25 lines over 40 orders: the first 25 orders each have one line (the cover), the other 15 none.
    assert count(frames, "SELECT count(DISTINCT order_id) FROM order_lines") == 25
    # Lines with a NULL product (and so a NULL copied price) add nothing; some exist, so that side is checked.
    assert count(frames, "SELECT count(*) FROM order_lines WHERE unit_price IS NULL") > 0
    priced = count(frames, "SELECT count(DISTINCT order_id) FROM order_lines WHERE unit_price IS NOT NULL")
    assert count(frames, "SELECT count(*) FROM orders WHERE total = 0") == 40 - priced
    assert 15 < 40 - priced < 25


def test_totals_sum_lines_drawn_over_many_lines_per_order(tmp_path: Path):
    frames = draw_all(shop(tmp_path, orders=6, order_lines=90))
    totals = dict(frames["orders"].select("order_id", "total").iter_rows())
    by_hand: dict[int, float] = dict.fromkeys(range(1, 7), 0.0)
    for order_id, price, quantity in frames["order_lines"].select("order_id", "unit_price", "quantity").iter_rows():
        by_hand[order_id] += float(price or 0) * quantity
    assert {k: float(v) for k, v in totals.items()} == pytest.approx(by_hand, abs=1e-6)
    assert all(v > 0 for v in by_hand.values())


PAYMENTS = """\
CREATE TABLE bills (bill_id SERIAL PRIMARY KEY, total NUMERIC(14,3) NOT NULL, amount INT NOT NULL);
CREATE TABLE bill_items (
  item_id SERIAL PRIMARY KEY,
  bill_id INT REFERENCES bills(bill_id),
  price INT NOT NULL CHECK (price BETWEEN 1 AND 90)
);
"""


def test_two_totals_of_one_table_sum_the_same_priced_lines_without_a_quantity(tmp_path: Path):
    path = tmp_path / "bills.sql"
    path.write_text(PAYMENTS)
    prepared = prepare(path, RelationalConfig(rows=10, table_rows={"bills": 8, "bill_items": 60}), 3)
    frames = draw_all(prepared)
    items = frames["bill_items"]
    # A nullable reference: some items belong to no bill, and count for none.
    assert 0 < items["bill_id"].null_count() < 60
    by_hand: dict[int, int] = dict.fromkeys(range(1, 9), 0)
    for bill_id, price in items.select("bill_id", "price").iter_rows():
        if bill_id is not None:
            by_hand[bill_id] += price
    bills = frames["bills"]
    assert dict(bills.select("bill_id", "amount").iter_rows()) == by_hand
    assert {k: float(v) for k, v in bills.select("bill_id", "total").iter_rows()} == {
        k: float(v) for k, v in by_hand.items()
    }
    assert str(bills["total"].dtype) == "Decimal(precision=14, scale=3)"


def test_no_lines_at_all_leave_every_total_zero(tmp_path: Path):
    frames = draw_all(shop(tmp_path, order_lines=0))
    assert frames["order_lines"].height == 0
    assert [float(v) for v in frames["orders"]["total"]] == [0.0] * 40


CYCLE = SHOP.replace(
    "  total NUMERIC(12,2) NOT NULL,\n",
    "  city VARCHAR(60),\n  country VARCHAR(60),\n  total NUMERIC(12,2) NOT NULL,\n",
).replace(
    "  quantity INT NOT NULL",
    "  billing_city VARCHAR(60),\n  billing_country VARCHAR(60),\n  quantity INT NOT NULL",
)


def test_lines_that_copy_from_the_order_they_sum_into_are_refused_with_one_line(tmp_path: Path):
    prepared = shop(tmp_path, ddl=CYCLE)
    model = prepared.generator.models
    assert list(model["orders"].sums) == ["total"]
    assert {c: v.parent_column for c, v in model["order_lines"].copies.items()} == {
        "unit_price": "price",
        "billing_city": "city",
        "billing_country": "country",
    }
    with pytest.raises(ConstraintViolation) as info:
        prepared.generator.table_frame("orders")
    assert str(info.value) == f"{tmp_path / 'shop.sql'}: orders.total sums order_lines, whose rows need orders first"


# copies ------------------------------------------------------------------------------------------


def test_copied_values_equal_the_parent_rows(tmp_path: Path):
    frames = draw_all(shop(tmp_path))
    lines, orders = frames["order_lines"], frames["orders"]
    assert (
        count(
            frames,
            "SELECT count(*) FROM order_lines l JOIN products p USING (product_id) "
            "WHERE l.unit_price IS DISTINCT FROM p.price",
        )
        == 0
    )
    # NULL exactly where the reference is NULL.
    assert lines["unit_price"].is_null().to_list() == lines["product_id"].is_null().to_list()
    assert 0 < lines["product_id"].null_count() < 70
    # The whole address is the customer's; an order without a customer has none.
    assert (
        count(
            frames,
            "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) "
            "WHERE o.billing_city IS DISTINCT FROM c.city OR o.billing_country IS DISTINCT FROM c.country",
        )
        == 0
    )
    no_customer = orders.filter(pl.col("customer_id").is_null())
    assert no_customer.height > 0
    assert no_customer["billing_city"].null_count() == no_customer.height
    assert no_customer["billing_country"].null_count() == no_customer.height
    assert orders["billing_city"].dtype == pl.String and lines["unit_price"].dtype == pl.Decimal(10, 2)
    assert orders["billing_city"].n_unique() > 3


def test_copies_from_an_empty_parent_are_null(tmp_path: Path):
    frames = draw_all(shop(tmp_path, products=0))
    lines = frames["order_lines"]
    assert lines["product_id"].null_count() == 70
    assert lines["unit_price"].null_count() == 70 and lines["unit_price"].dtype == pl.Decimal(10, 2)
    assert [float(v) for v in frames["orders"]["total"]] == [0.0] * 40


# people ------------------------------------------------------------------------------------------


def test_emails_usernames_and_full_names_are_built_from_the_rows_own_names(tmp_path: Path):
    people = shop(tmp_path, customers=300).generator.table_frame("customers")
    domains = set()
    for first, last, full, email, username in people.select(
        "first_name", "last_name", "full_name", "email", "username"
    ).iter_rows():
        local, domain = email.split("@")
        assert local == f"{fold(first)}.{fold(last)}"
        domains.add(domain)
        if full is not None:
            assert full == f"{first} {last}"
        if username is not None:
            assert username == f"{fold(first)}_{fold(last)}"
    assert domains == {"example.com", "example.org", "example.net"}
    # Distinct rows, distinct (first, last) pairs: every email is unique by construction.
    assert people.select("first_name", "last_name").is_unique().all()
    assert people["first_name"].n_unique() > 100 and people["last_name"].n_unique() > 100
    # NULLs only in the nullable person columns, about their share (a tenth).
    assert people.select("first_name", "last_name", "email").null_count().row(0) == (0, 0, 0)
    assert 10 < people["full_name"].null_count() < 60 and 10 < people["username"].null_count() < 60
    assert not people["full_name"].is_null().equals(people["username"].is_null())


def test_a_person_column_is_cut_to_its_length(tmp_path: Path):
    ddl = SHOP.replace("username VARCHAR(60)", "username VARCHAR(7)")
    people = shop(tmp_path, ddl=ddl, customers=200).generator.table_frame("customers")
    for first, last, username in people.select("first_name", "last_name", "username").drop_nulls().iter_rows():
        assert username == f"{fold(first)}_{fold(last)}"[:7].rstrip()
    assert people["username"].str.len_chars().max() == 7


def test_people_beyond_every_name_pair_take_a_number(tmp_path: Path):
    generator = shop(tmp_path).generator
    model = generator.models["customers"]
    pairs = vocab("person_first").len() * vocab("person_last").len()
    rows = np.array([5, pairs + 5, 2 * pairs + 5, pairs - 1], dtype=np.int64)
    got = generator.person_values(model, rows)
    assert set(got) == {"first_name", "last_name", "full_name", "email", "username"}
    first, last = got["first_name"].to_list(), got["last_name"].to_list()
    # Row 5 + k * pairs is row 5's pair again, with the number k + 1 (none for k = 0).
    assert first[:3] == [first[0]] * 3 and last[:3] == [last[0]] * 3
    local = f"{fold(first[0])}.{fold(last[0])}"
    assert [e.split("@")[0] for e in got["email"].to_list()[:3]] == [local, f"{local}2", f"{local}3"]
    assert got["username"].to_list()[:3] == [f"{fold(first[0])}_{fold(last[0])}{s}" for s in ("", "2", "3")]
    assert got["full_name"].to_list()[:3] == [f"{first[0]} {last[0]}{s}" for s in ("", " 2", " 3")]
    assert (first[3], last[3]) != (first[0], last[0])
    assert got["email"].name == "email" and got["full_name"].name == "full_name"
    # A pure function of the row number: the same rows alone give the same people.
    again = generator.person_values(model, rows[::-1].copy())
    assert again["email"].to_list() == got["email"].to_list()[::-1]


def test_other_seeds_and_other_tables_draw_other_people(tmp_path: Path):
    ddl = SHOP + "CREATE TABLE staff (staff_id SERIAL PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40));\n"
    one = shop(tmp_path, ddl=ddl, staff=30)
    two = shop(tmp_path, ddl=ddl, seed=8)
    customers = one.generator.table_frame("customers").select("first_name", "last_name")
    staff = one.generator.table_frame("staff").select("first_name", "last_name").drop_nulls()
    assert customers.join(staff, on=["first_name", "last_name"]).height < 3
    other = two.generator.table_frame("customers").select("first_name", "last_name")
    assert (customers["first_name"] == other["first_name"]).sum() < 3


# times across a foreign key and within a row ----------------------------------------------------


def test_an_order_is_placed_after_its_customer_joined_and_shipped_after_it_was_placed(tmp_path: Path):
    frames = draw_all(shop(tmp_path, customers=60, orders=300))
    orders = frames["orders"]
    early = count(
        frames,
        "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) WHERE o.placed_at <= c.joined_at",
    )
    anchored = count(
        frames, "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) WHERE c.joined_at IS NOT NULL"
    )
    assert early == 0 and anchored > 200
    # Orders with no customer, or whose customer has no join time, draw from the date range (2015-2025).
    free = count(
        frames,
        "SELECT count(*) FROM orders o LEFT JOIN customers c USING (customer_id) WHERE c.joined_at IS NULL "
        "AND o.placed_at NOT BETWEEN TIMESTAMP '2015-01-01' AND TIMESTAMP '2025-12-31 23:59:59'",
    )
    assert free == 0
    assert (
        count(
            frames, "SELECT count(*) FROM orders o LEFT JOIN customers c USING (customer_id) WHERE c.joined_at IS NULL"
        )
        > 20
    )
    # shipped_at: 1 hour to 5 days after placed_at (the inferred offset), NULL a tenth of the time.
    gap = (orders["shipped_at"] - orders["placed_at"]).dt.total_seconds().drop_nulls()
    assert gap.min() >= 3600 and gap.max() <= 5 * 86_400
    assert 10 < orders["shipped_at"].null_count() < 60


def test_a_parent_of_one_row_anchors_its_linked_children_only(tmp_path: Path):
    frames = draw_all(shop(tmp_path, customers=1, orders=60, products=1))
    joined = frames["customers"]["joined_at"][0]
    orders = frames["orders"]
    assert joined is not None  # this seed's one customer has a join time
    linked = orders.filter(pl.col("customer_id").is_not_null())
    assert linked.height > 30 and (linked["placed_at"] > joined).all()
    # Orders without a customer draw from the range: the lone parent row is read only through a link.
    unlinked = orders.filter(pl.col("customer_id").is_null())
    assert unlinked.height > 0 and unlinked["placed_at"].min() >= dt.datetime(2015, 1, 1)
    assert (unlinked["placed_at"] < joined).any()  # it joined in 2022: free draws fall before it too
    # The one product is copied to every line that has it, and lines without one copy nothing.
    lines, price = frames["order_lines"], frames["products"]["price"][0]
    assert 0 < lines["product_id"].null_count() < 70
    assert set(lines.drop_nulls("product_id")["unit_price"]) == {price}
    assert lines["unit_price"].is_null().equals(lines["product_id"].is_null())


def test_children_of_an_empty_parent_draw_their_times_from_the_range(tmp_path: Path):
    frames = draw_all(shop(tmp_path, customers=0))
    placed = frames["orders"]["placed_at"]
    assert frames["orders"]["customer_id"].null_count() == 40
    assert placed.min() >= dt.datetime(2015, 1, 1) and placed.max() < dt.datetime(2026, 1, 1)
    assert placed.n_unique() == 40


# ordering CHECKs: a value drawn above another ---------------------------------------------------

READINGS = """\
CREATE TABLE readings (
  low_mark INT NOT NULL CHECK (low_mark BETWEEN 9000 AND 9990),
  reading_id INT PRIMARY KEY,
  high_mark INT NOT NULL,
  low_level NUMERIC(6,2) CHECK (low_level >= 9000),
  high_level NUMERIC(6,2),
  ceiling INT,
  label VARCHAR(10),
  tag VARCHAR(10),
  CHECK (high_mark > low_mark),
  CHECK (high_level >= low_level),
  CHECK (ceiling > reading_id),
  CHECK (tag >= label)
);
"""


def readings(tmp_path: Path, rows: int = 400) -> Prepared:
    path = tmp_path / "readings.sql"
    path.write_text(READINGS)
    return prepare(path, RelationalConfig(rows=rows), 3)


def test_a_column_an_ordering_check_keeps_above_another_is_drawn_above_it(tmp_path: Path):
    generator = readings(tmp_path).generator
    raw = generator.block("readings", 0, 0, 400)  # no CHECK evaluation: the draw itself
    # The upper columns alone are drawn mostly below 9000 (numbers of 1..10,000, log-normal); every row is
    # above its lower column only because it is moved there.
    assert (raw["high_mark"] > raw["low_mark"]).all()
    both = raw.drop_nulls(["low_level", "high_level"])
    assert both.height > 250 and (both["high_level"] >= both["low_level"]).all()
    assert float(both["high_level"].max()) == 9999.99  # cut at NUMERIC(6,2)'s largest value
    # A NULL lower side leaves the upper value as drawn: some fall below 9000.
    alone = raw.filter(pl.col("low_level").is_null()).drop_nulls("high_level")
    assert alone.height > 10 and (alone["high_level"].cast(pl.Float64) < 9000).any()
    # A key column is the lower side too: the value it is kept above comes from the row's key.
    ceiling = raw.drop_nulls("ceiling")
    assert ceiling.height > 300 and (ceiling["ceiling"] > ceiling["reading_id"]).all()
    # Text has no gap to add: drawn as is, and the CHECK's redraws decide.
    texts = raw.drop_nulls(["tag", "label"])
    assert texts.height > 250 and (texts["tag"] < texts["label"]).any()
    checked = generator.table_frame("readings")
    assert checked.drop_nulls(["label", "tag"]).filter(pl.col("tag") < pl.col("label")).height == 0
    assert (checked["high_mark"] > checked["low_mark"]).all()


MEDIA = """\
CREATE TABLE tracks (track_id SERIAL PRIMARY KEY, milliseconds INT, bytes INT);
CREATE TABLE episodes (episode_id SERIAL PRIMARY KEY, duration_seconds INT NOT NULL, bytes BIGINT NOT NULL);
CREATE TABLE members (member_id SERIAL PRIMARY KEY, birth_year INT, age INT);
CREATE TABLE patients (patient_id SERIAL PRIMARY KEY, birth_date DATE NOT NULL, age SMALLINT NOT NULL);
CREATE TABLE shelves (
  shelf_id SERIAL PRIMARY KEY,
  label VARCHAR(20),
  tone VARCHAR(20) NOT NULL,
  note VARCHAR(30) NOT NULL
);
"""
MEDIA_SPEC = """\
tables:
  shelves:
    columns:
      label: {generator: vocabulary, by_row: true, values: [Red, Green, Blue], null_share: 0.3}
      tone: {generator: vocabulary, by_row: true, values: [Dark, Light]}
"""


def media(tmp_path: Path, rows: int = 300) -> dict[str, pl.DataFrame]:
    (tmp_path / "media.sql").write_text(MEDIA)
    (tmp_path / "media.yaml").write_text(MEDIA_SPEC)
    config = RelationalConfig(rows=rows, spec=str(tmp_path / "media.yaml"))
    return draw_all(prepare(tmp_path / "media.sql", config, 4))


def test_a_size_in_bytes_is_its_rows_duration_at_16_to_40_bytes_a_millisecond(tmp_path: Path):
    frames = media(tmp_path)
    tracks, episodes = frames["tracks"], frames["episodes"]
    both = tracks.drop_nulls(["milliseconds", "bytes"])
    rate = both["bytes"] / both["milliseconds"]
    assert both.height > 200 and rate.min() >= 16 - 1e-3 and rate.max() <= 40 + 1e-3
    assert rate.max() - rate.min() > 20  # a rate drawn per row, not one constant
    # A row's own NULL size stays NULL; a row without a duration keeps its drawn size.
    assert 10 < tracks["bytes"].null_count() < 60
    no_duration = tracks.filter(pl.col("milliseconds").is_null())
    assert no_duration.height > 10 and no_duration["bytes"].null_count() < no_duration.height
    per_ms = episodes["bytes"] / (episodes["duration_seconds"] * 1000)  # seconds: 1,000 milliseconds each
    assert per_ms.min() >= 16 - 1e-3 and per_ms.max() <= 40 + 1e-3


def test_an_age_is_2025_minus_the_rows_birth_year(tmp_path: Path):
    frames = media(tmp_path)
    members, patients = frames["members"], frames["patients"]
    both = members.drop_nulls(["birth_year", "age"])
    assert both.height > 200 and (both["age"] == 2025 - both["birth_year"]).all()
    assert 10 < members["age"].null_count() < 60  # the age's own NULL share stays
    assert members.filter(pl.col("birth_year").is_null())["age"].drop_nulls().len() > 0
    assert (patients["age"] == 2025 - patients["birth_date"].dt.year()).all()
    assert patients["age"].dtype == pl.Int16


def test_a_lookup_label_takes_its_vocabulary_one_value_per_row(tmp_path: Path):
    shelves = media(tmp_path, rows=20)["shelves"]
    # Row i takes values[i % 2], numbered from the second round on.
    tones = ["Dark", "Light"] + [f"{c} {k}" for k in range(2, 11) for c in ("Dark", "Light")]
    assert shelves["tone"].to_list() == tones
    labels = ["Red", "Green", "Blue"] + [f"{c} {k}" for k in range(2, 8) for c in ("Red", "Green", "Blue")]
    got = shelves["label"].to_list()
    assert all(v is None or v == labels[i] for i, v in enumerate(got))
    assert 2 < shelves["label"].null_count() < 12  # its NULL share, 0.3 of 20 rows
    assert shelves["note"].null_count() == 0 and shelves["note"].n_unique() > 10


def int_spec(tmp_path: Path, column: str = "high_mark"):
    spec = readings(tmp_path, 10).generator.models["readings"].specs[column]
    spec.extra["range"] = (10.0, 50.0, "uniform")  # typical range 10..50: a gap of at most a quarter, 10
    return spec


@pytest.mark.parametrize(("strict", "low", "high"), [(True, 1, 11), (False, 0, 10)])
def test_above_an_integer_by_a_quarter_of_its_range_at_most(tmp_path: Path, strict: bool, low: int, high: int):
    spec = int_spec(tmp_path)
    lower = pl.Series([100] * 2000 + [None, 5], dtype=pl.Int32)
    values = pl.Series("high_mark", [0] * 2001 + [None], dtype=pl.Int32)
    got = _above(values, lower, spec, OrderRule("low_mark", "high_mark", strict), np.random.default_rng(1))
    assert got.name == "high_mark" and got.dtype == pl.Int32
    assert got[2000] == 0 and got[2001] is None  # a NULL on either side leaves the value as drawn
    gaps = (got.head(2000) - 100).to_list()
    assert min(gaps) == low and max(gaps) == high
    assert len(set(gaps)) == 11


@pytest.mark.parametrize(("strict", "low", "high"), [(True, 0.01, 10.01), (False, 0.0, 10.0)])
def test_above_a_decimal_in_steps_of_its_scale(tmp_path: Path, strict: bool, low: float, high: float):
    spec = int_spec(tmp_path, "high_level")
    lower = pl.Series([1.25] * 3000, dtype=pl.Decimal(6, 2))
    values = pl.Series("high_level", [0] * 3000, dtype=pl.Decimal(6, 2))
    got = _above(values, lower, spec, OrderRule("low_level", "high_level", strict), np.random.default_rng(2))
    assert got.dtype == pl.Decimal(6, 2)
    cents = [round((float(v) - 1.25) * 100) for v in got]
    # 1,001 possible gaps, 3,000 draws: the ends are reached or nearly.
    assert round(low * 100) <= min(cents) < round(low * 100) + 10
    assert round(high * 100) - 10 < max(cents) <= round(high * 100)
    assert all(abs((float(v) - 1.25) * 100 - c) < 1e-6 for v, c in zip(got, cents, strict=True))
    assert len(set(cents)) > 500


def test_above_a_float_in_hundredths(tmp_path: Path):
    path = tmp_path / "f.sql"
    path.write_text("CREATE TABLE f (id INT PRIMARY KEY, a DOUBLE PRECISION, b DOUBLE PRECISION, CHECK (b > a));\n")
    spec = prepare(path, RelationalConfig(rows=5), 1).generator.models["f"].specs["b"]
    spec.extra["range"] = (2.0, 6.0, "uniform")  # a gap of at most a quarter of 2..6: 1
    lower = pl.Series([2.0] * 2000)
    got = _above(pl.Series("b", [0.0] * 2000), lower, spec, OrderRule("a", "b", True), np.random.default_rng(3))
    gaps = [round(v - 2.0, 9) for v in got]
    assert min(gaps) == 0.01 and max(gaps) == 1.01
    assert all(abs(g * 100 - round(g * 100)) < 1e-6 for g in gaps)


TIMES = """\
CREATE TABLE visits (
  id INT PRIMARY KEY,
  day DATE,
  came TIMESTAMP,
  left_at TIMESTAMP,
  came_tz TIMESTAMPTZ,
  left_tz TIMESTAMPTZ
);
"""


def time_specs(tmp_path: Path):
    path = tmp_path / "times.sql"
    path.write_text(TIMES)
    return prepare(path, RelationalConfig(rows=5), 1).generator.models["visits"].specs


@pytest.mark.parametrize("strict", [True, False])
def test_above_a_timestamp_by_an_hour_to_thirty_days(tmp_path: Path, strict: bool):
    spec = time_specs(tmp_path)["left_at"]
    start = dt.datetime(2020, 5, 1, 12, 30, 15)
    n = 1_000_000  # enough draws to reach within a few seconds of both ends of the 2,588,400 possible gaps
    lower = pl.Series([start] * n + [None])
    values = pl.Series("left_at", [dt.datetime(2019, 1, 1)] * (n + 1))
    got = _above(values, lower, spec, OrderRule("came", "left_at", strict), np.random.default_rng(4))
    assert got.dtype == pl.Datetime("us") and got[n] == dt.datetime(2019, 1, 1)
    micros = (got.head(n) - start).dt.total_microseconds()
    assert (micros % 1_000_000 == 0).all()  # whole seconds
    assert 3600 * 10**6 <= micros.min() < 3620 * 10**6  # at least an hour, whatever the CHECK's strictness
    assert 30 * 86_400 * 10**6 - 20 * 10**6 < micros.max() < 30 * 86_400 * 10**6  # below 30 days


def test_above_a_timestamptz_keeps_its_zone_and_a_date_lower_side_is_its_midnight(tmp_path: Path):
    specs = time_specs(tmp_path)
    start = dt.datetime(2021, 3, 2, 23, 0, tzinfo=dt.UTC)
    lower = pl.Series([start] * 2000, dtype=pl.Datetime("us", "UTC"))
    values = pl.Series("left_tz", [start] * 2000, dtype=pl.Datetime("us", "UTC"))
    got = _above(values, lower, specs["left_tz"], OrderRule("came_tz", "left_tz", True), np.random.default_rng(5))
    assert got.dtype == pl.Datetime("us", "UTC")
    seconds = (got - start).dt.total_seconds()
    assert seconds.min() >= 3600 and seconds.max() < 30 * 86_400
    day = pl.Series([dt.date(2021, 3, 2)] * 2000)
    came = _above(
        pl.Series("came", [dt.datetime(2000, 1, 1)] * 2000),
        day,
        specs["came"],
        OrderRule("day", "came", False),
        np.random.default_rng(6),
    )
    after_midnight = (came - dt.datetime(2021, 3, 2)).dt.total_seconds()
    assert after_midnight.min() >= 3600 and after_midnight.max() < 30 * 86_400


def test_above_a_date_by_whole_days_below_four_hundred(tmp_path: Path):
    spec = time_specs(tmp_path)["day"]
    lower = pl.Series([dt.date(2020, 1, 31)] * 3000)
    for strict, first in ((True, 1), (False, 0)):
        got = _above(
            pl.Series("day", [None] * 2 + [dt.date(2000, 1, 1)] * 2998, dtype=pl.Date),
            lower,
            spec,
            OrderRule("x", "day", strict),
            np.random.default_rng(7),
        )
        assert got.dtype == pl.Date and got.head(2).to_list() == [None, None]
        days = (got.tail(2998) - dt.date(2020, 1, 31)).dt.total_days()
        assert days.min() == first and days.max() == 399


def test_above_cuts_at_the_types_largest_value(tmp_path: Path):
    specs = readings(tmp_path, 10).generator.models["readings"].specs
    # NUMERIC(6,2) tops out at 9999.99 and INT at 2147483647: a gap past them is cut there, not a failed cast
    # (DECIMAL) or a NULL (INT). The CHECK then decides whether the row is redrawn.
    level = _above(
        pl.Series("high_level", [1.0] * 50, dtype=pl.Decimal(6, 2)),
        pl.Series([9999.0] * 50, dtype=pl.Decimal(6, 2)),
        specs["high_level"],
        OrderRule("low_level", "high_level", True),
        np.random.default_rng(8),
    )
    assert level.dtype == pl.Decimal(6, 2) and float(level.max()) == 9999.99 and level.null_count() == 0
    assert float(level.min()) > 9999.0
    mark = _above(
        pl.Series("high_mark", [1] * 50, dtype=pl.Int32),
        pl.Series([2_147_483_600] * 50, dtype=pl.Int32),
        specs["high_mark"],
        OrderRule("low_mark", "high_mark", True),
        np.random.default_rng(9),
    )
    assert mark.null_count() == 0 and mark.max() == 2_147_483_647 and mark.min() > 2_147_483_600


def test_above_leaves_text_as_drawn(tmp_path: Path):
    spec = readings(tmp_path, 10).generator.models["readings"].specs["tag"]
    values = pl.Series("tag", ["a", "b"])
    assert _above(
        values, pl.Series(["z", "z"]), spec, OrderRule("label", "tag", True), np.random.default_rng(0)
    ).to_list() == ["a", "b"]


# one block alone, one table first ---------------------------------------------------------------


def test_each_table_drawn_first_in_a_fresh_generator_equals_it_drawn_in_insert_order(tmp_path: Path):
    whole = draw_all(shop(tmp_path))
    for table in ("order_lines", "orders"):
        fresh = shop(tmp_path).generator
        assert fresh.table_frame(table).equals(whole[table]), table


def test_a_block_drawn_alone_equals_those_rows_of_the_whole_table(tmp_path: Path):
    whole = pl.concat(list(shop(tmp_path, orders=48).generator.iter_blocks("orders", block_rows=16)))
    fresh = shop(tmp_path, orders=48)
    evaluator = CheckEvaluator(fresh.schema, fresh.schema.tables["orders"], fresh.generator.check_connection())
    alone = fresh.generator.block("orders", 1, 16, 16, evaluator)
    assert alone.equals(whole.slice(16, 16))
    assert not alone.equals(whole.slice(0, 16))


def test_places_in_one_row_agree(tmp_path: Path):
    people = shop(tmp_path, customers=300).generator.table_frame("customers")
    # One real place per row: a city always lies in one country.
    per_city = people.group_by("city").agg(pl.col("country").n_unique().alias("countries"))
    assert per_city["countries"].max() == 1 and per_city.height > 10
    assert people["country"].n_unique() > 3


# a cheap bijection -------------------------------------------------------------------------------

GOLDEN_PRIME = 0x9E3779B1  # 2654435761, a prime: the multiplier unless it shares a factor with n


def test_scatter_multiplies_by_the_first_odd_unit_from_the_golden_prime():
    # n = 10^9: the prime itself, 654435761 mod n; exact in 64-bit integers where a float would round.
    n = 10**9
    rows = np.array([0, 1, n - 1], dtype=np.int64)
    assert _scatter(rows, n).tolist() == [0, GOLDEN_PRIME % n, (n - 1) * (GOLDEN_PRIME % n) % n]
    # n = 2 x the prime: the prime is no unit, the next odd number is (prime + 2 shares nothing with 2 x prime).
    n = 2 * GOLDEN_PRIME
    assert _scatter(np.array([1, 2, 3], dtype=np.int64), n).tolist() == [GOLDEN_PRIME + 2, 4, GOLDEN_PRIME + 6]
    # n = 3 x the prime: prime + 2 is a multiple of 3 (2654435763 = 3 x 884811921), so prime + 4.
    n = 3 * GOLDEN_PRIME
    assert _scatter(np.array([1], dtype=np.int64), n).tolist() == [GOLDEN_PRIME + 4]


KEYED = """\
CREATE TABLE shifts (shift_day DATE PRIMARY KEY, ends_on DATE NOT NULL, CHECK (ends_on > shift_day));
CREATE TABLE clips (milliseconds INT PRIMARY KEY, bytes INT NOT NULL);
"""


def test_columns_that_follow_a_key_of_their_own_row(tmp_path: Path):
    (tmp_path / "keyed.sql").write_text(KEYED)
    generator = prepare(tmp_path / "keyed.sql", RelationalConfig(rows=200), 2).generator
    shifts = generator.block("shifts", 0, 0, 200)  # no CHECK evaluation: the derivation itself
    # ends_on is derived after the row's key, which is drawn before the rest of the row.
    assert shifts["shift_day"].n_unique() == 200
    assert (shifts["ends_on"] > shifts["shift_day"]).all()
    assert shifts["ends_on"].max() <= dt.date(2025, 12, 31)
    # A duration that is the key is not among the drawn columns: the size is drawn on its own, never NULL.
    clips = generator.block("clips", 0, 0, 200)
    assert clips["bytes"].null_count() == 0 and clips["milliseconds"].to_list() == list(range(1, 201))


SIZES = """\
CREATE TABLE tracks (
  track_id SERIAL PRIMARY KEY,
  milliseconds INT NOT NULL,
  bytes INT NOT NULL,
  size_bytes INT NOT NULL
);
CREATE TABLE songs (song_id SERIAL PRIMARY KEY, milliseconds INT NOT NULL, bytes INT NOT NULL);
CREATE TABLE cohorts (birth_year INT PRIMARY KEY, age INT NOT NULL);
CREATE TABLE ages (years INT PRIMARY KEY);
CREATE TABLE blobs (blob_bytes INT PRIMARY KEY);
CREATE TABLE members (
  member_id SERIAL PRIMARY KEY,
  birth_year INT NOT NULL,
  age INT NOT NULL REFERENCES ages(years),
  milliseconds INT NOT NULL,
  bytes INT NOT NULL REFERENCES blobs(blob_bytes)
);
"""


def sizes(tmp_path: Path) -> dict[str, pl.DataFrame]:
    (tmp_path / "sizes.sql").write_text(SIZES)
    config = RelationalConfig(rows=200, table_rows={"ages": 10, "blobs": 10})
    return draw_all(prepare(tmp_path / "sizes.sql", config, 5))


def test_each_size_column_draws_its_own_bit_rate(tmp_path: Path):
    frames = sizes(tmp_path)
    tracks, songs = frames["tracks"], frames["songs"]
    rate = tracks["bytes"] / tracks["milliseconds"]
    other = tracks["size_bytes"] / tracks["milliseconds"]
    song_rate = songs["bytes"] / songs["milliseconds"]
    for r in (rate, other, song_rate):
        assert r.min() >= 16 - 1e-3 and r.max() <= 40 + 1e-3
    # Two size columns of one row, and the same column in two tables, draw independent rates (16..40): they
    # agree to 0.1 byte a millisecond in about 1 row in 120.
    assert ((rate - other).abs() < 0.1).sum() < 10
    assert ((rate - song_rate).abs() < 0.1).sum() < 10


def test_an_age_follows_a_birth_year_that_is_the_key_and_never_a_foreign_key(tmp_path: Path):
    frames = sizes(tmp_path)
    cohorts = frames["cohorts"]
    assert cohorts["birth_year"].to_list() == list(range(1, 201))  # a sequential key: 1, 2, 3...
    assert (cohorts["age"] == 2025 - cohorts["birth_year"]).all()
    # An age or a size that references another table keeps its parent's key: 2025 - birth_year (19..85) or
    # a duration's bytes would point at none of the 10 ages or sizes 1..10.
    members = frames["members"]
    assert set(members["age"]) <= set(range(1, 11)) and set(members["bytes"]) <= set(range(1, 11))
    assert members["age"].n_unique() > 5


def test_two_tables_with_totals_each_sum_their_own_lines_one_through_a_decimal_reference(tmp_path: Path):
    # bills' lines reference bills(bill_id), an INTEGER, through a NUMERIC(12, 0): the keys are joined as one
    # type (polars joins integers of two widths, not a DECIMAL with an integer).
    ddl = SHOP + PAYMENTS.replace("bill_id INT REFERENCES", "bill_id NUMERIC(12,0) REFERENCES")
    frames = draw_all(shop(tmp_path, ddl=ddl, bills=8, bill_items=60))
    assert frames["bill_items"]["bill_id"].dtype == pl.Decimal(12, 0)
    for parent, lines, key, line in (
        ("orders", "order_lines", "order_id", "unit_price * quantity"),
        ("bills", "bill_items", "bill_id", "price"),
    ):
        wrong = count(
            frames,
            f"SELECT count(*) FROM {parent} p LEFT JOIN (SELECT {key}, sum({line}) AS s FROM {lines} "
            f"GROUP BY {key}) l USING ({key}) WHERE p.total <> coalesce(l.s, 0)",
        )
        assert wrong == 0, parent
        assert count(frames, f"SELECT count(*) FROM {parent} WHERE total > 0") > 5, parent


def test_a_person_column_of_unbounded_text_and_an_email_a_spec_names_without_domains(tmp_path: Path):
    (tmp_path / "authors.sql").write_text(
        "CREATE TABLE authors (author_id SERIAL PRIMARY KEY, full_name TEXT NOT NULL, contact VARCHAR(100));\n"
    )
    (tmp_path / "authors.yaml").write_text(
        "tables:\n  authors:\n    columns:\n      contact: {generator: person, part: email}\n"
    )
    config = RelationalConfig(rows=100, spec=str(tmp_path / "authors.yaml"))
    authors = prepare(tmp_path / "authors.sql", config, 2).generator.table_frame("authors")
    for full, contact in authors.select("full_name", "contact").drop_nulls().iter_rows():
        # No length to cut to: the name is exactly "First Last", nothing trailing.
        assert full == full.strip() and full.count(" ") >= 1
        local, domain = contact.split("@")
        assert domain == "example.com"  # the default when the spec names no domains
        assert local.replace(".", "") == fold(full)
    assert authors["contact"].null_count() < 100
