"""relational/generate.py's column values on tiny schemas: derived columns, column specs from types, CHECKs
and the generation spec, NULL shares, temporal helpers. Expectations are worked out by hand or counted with
plain Python / DuckDB over the drawn frames, never recomputed with the generator's own helpers. Runs in
seconds, so mutation testing can run it once per mutant (README "Mutation testing")."""

from __future__ import annotations

import datetime as dt
import json
import time
import unicodedata
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.domains.relational.generate import _from_us, _gt_temporal, _to_us, _with_nulls
from synth_pipelines.domains.relational.pipeline import Prepared, RelationalConfig, prepare


def prepared(tmp_path: Path, ddl: str, rows: dict[str, int], spec: dict | None = None, seed: int = 7) -> Prepared:
    path = tmp_path / "schema.sql"
    path.write_text(ddl)
    spec_path = None
    if spec is not None:
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(json.dumps(spec))
    cfg = RelationalConfig(rows=10, table_rows=rows, spec=str(spec_path) if spec_path else None)
    return prepare(path, cfg, seed)


def frame(tmp_path: Path, ddl: str, table: str, rows: int, spec: dict | None = None, seed: int = 7) -> pl.DataFrame:
    return prepared(tmp_path, ddl, {table: rows}, spec, seed).generator.table_frame(table)


def ascii_lower(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def test_an_email_and_a_username_are_built_from_that_rows_first_and_last_name(tmp_path: Path):
    ddl = """CREATE TABLE customers (
      customer_id INT PRIMARY KEY, first_name VARCHAR(40) NOT NULL, last_name VARCHAR(40) NOT NULL,
      email VARCHAR(120) NOT NULL, username VARCHAR(80) NOT NULL);"""
    rows = frame(tmp_path, ddl, "customers", 12).to_dicts()
    assert len(rows) == 12
    for r in rows:
        first, last = ascii_lower(r["first_name"]), ascii_lower(r["last_name"])
        assert r["email"].startswith(f"{first}.{last}@"), r
        assert r["username"] == f"{first}_{last}", r


# Derived columns (`after` / `before`): the anchor plus or minus the offset, rounded away from the anchor -------

EVENTS = """CREATE TABLE ev (
  ev_id INT PRIMARY KEY,
  a TIMESTAMP NOT NULL,
  b TIMESTAMP,
  later TIMESTAMP NOT NULL,
  next_day DATE NOT NULL,
  earlier TIMESTAMP NOT NULL,
  day_before DATE NOT NULL,
  free TIMESTAMP NOT NULL,
  maybe TIMESTAMP,
  never_null TIMESTAMP
);"""
EVENTS_SPEC = {
    "tables": {
        "ev": {
            "columns": {
                "a": {"generator": "date_range", "start": "2020-01-01", "end": "2020-01-31"},
                "b": {"generator": "date_range", "start": "2020-01-01", "end": "2020-01-31", "null_share": 0.5},
                "later": {"generator": "after", "of": ["a", "b"], "offset": "2h..2h"},
                "next_day": {"generator": "after", "of": ["a"], "offset": "1h..1h"},
                "earlier": {"generator": "before", "of": ["a", "b"], "offset": "1d..1d"},
                "day_before": {"generator": "before", "of": ["a"], "offset": "1h..1h"},
                "free": {
                    "generator": "after",
                    "of": ["b"],
                    "offset": "3h..3h",
                    "start": "2030-06-01",
                    "end": "2030-06-30",
                },
                "maybe": {"generator": "after", "of": ["a"], "offset": "1s..1s", "null_share": 0.5},
                "never_null": {"generator": "after", "of": ["a"], "offset": "1s..1s", "null_share": 0.0},
            }
        }
    }
}
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


def events(tmp_path: Path, rows: int = 60) -> list[dict]:
    return frame(tmp_path, EVENTS, "ev", rows, EVENTS_SPEC).to_dicts()


def next_midnight(t: dt.datetime) -> dt.date:
    """The first midnight at or after ``t``, as a date."""
    return t.date() if t.time() == dt.time(0) else t.date() + DAY


def test_after_two_anchors_is_the_latest_set_one_plus_the_offset(tmp_path: Path):
    rows = events(tmp_path)
    assert any(r["b"] is None for r in rows) and any(r["b"] is not None and r["b"] > r["a"] for r in rows)
    for r in rows:
        latest = max(t for t in (r["a"], r["b"]) if t is not None)
        assert r["later"] == latest + 2 * HOUR, r


def test_before_two_anchors_is_the_earliest_set_one_minus_the_offset(tmp_path: Path):
    rows = events(tmp_path)
    assert any(r["b"] is not None and r["b"] < r["a"] for r in rows)
    for r in rows:
        earliest = min(t for t in (r["a"], r["b"]) if t is not None)
        assert r["earlier"] == earliest - DAY, r


def test_a_date_after_a_timestamp_is_the_next_midnight_and_before_it_the_same_day(tmp_path: Path):
    rows = events(tmp_path, 120)
    # Anchors in the last hour of a day move the date after to the day after next; in the first hour, the date
    # before to the day before: both occur in 120 rows.
    assert any((r["a"] + HOUR).date() != r["a"].date() for r in rows)
    assert any((r["a"] - HOUR).date() != r["a"].date() for r in rows)
    for r in rows:
        assert r["next_day"] == next_midnight(r["a"] + HOUR), r
        assert r["day_before"] == (r["a"] - HOUR).date(), r


def test_rows_without_a_set_anchor_draw_from_the_columns_own_date_range(tmp_path: Path):
    rows = events(tmp_path)
    unanchored = [r["free"] for r in rows if r["b"] is None]
    assert unanchored, "some rows have no anchor"
    assert all(dt.datetime(2030, 6, 1) <= t <= dt.datetime(2030, 6, 30, 23, 59, 59) for t in unanchored)
    assert len(set(unanchored)) > 1
    for r in rows:
        if r["b"] is not None:
            assert r["free"] == r["b"] + 3 * HOUR, r


def test_a_derived_column_holds_nulls_only_at_its_share(tmp_path: Path):
    rows = events(tmp_path)
    assert all(r["never_null"] == r["a"] + dt.timedelta(seconds=1) for r in rows)
    nulls = sum(r["maybe"] is None for r in rows)
    assert 10 <= nulls <= 50  # about half of 60
    assert all(r["maybe"] == r["a"] + dt.timedelta(seconds=1) for r in rows if r["maybe"] is not None)


# Every stay checks in on 2020-01-01 and out on 2020-01-03; the derived columns' offsets are chosen so each
# value is one instant worked out by hand (or a range with a bound at the date range's edge).
STAYS = """CREATE TABLE stay (
  stay_id INT PRIMARY KEY,
  check_in DATE NOT NULL,
  check_out DATE NOT NULL,
  last_second TIMESTAMP NOT NULL,
  first_second TIMESTAMP NOT NULL,
  back TIMESTAMP NOT NULL,
  charged TIMESTAMP NOT NULL,
  clamped TIMESTAMP NOT NULL,
  anytime TIMESTAMP NOT NULL,
  charged_on DATE NOT NULL,
  leaves DATE,
  open_at TIMESTAMP NOT NULL,
  opened DATE,
  visit TIMESTAMP NOT NULL
);"""
JANUARY = {"start": "2020-01-01", "end": "2020-01-31"}
STAYS_SPEC = {
    "tables": {
        "stay": {
            "columns": {
                "check_in": {"generator": "date_range", "start": "2020-01-01", "end": "2020-01-01"},
                "check_out": {"generator": "after", "of": ["check_in"], "offset": "2d..2d"},
                # up to the end of its one-day range: 86,399 s is all the room there is
                "last_second": {
                    "generator": "after",
                    "of": ["check_in"],
                    "offset": "86399s..end",
                    "start": "2020-01-01",
                    "end": "2020-01-01",
                },
                "first_second": {
                    "generator": "before",
                    "of": ["check_in"],
                    "offset": "1d..end",
                    "start": "2019-12-31",
                    "end": "2019-12-31",
                },
                "back": {
                    "generator": "before",
                    "of": ["check_in"],
                    "offset": "0s..end",
                    "start": "2019-12-31",
                    "end": "2019-12-31",
                },
                # a window: after check-in, at or before check-out minus an hour (2020-01-02 23:00)
                "charged": {
                    "generator": "after",
                    "of": ["check_in"],
                    "until": ["check_out"],
                    "until_gap": "1h",
                    "offset": "47h..end",
                    **JANUARY,
                },
                "clamped": {
                    "generator": "after",
                    "of": ["check_in"],
                    "until": ["check_out"],
                    "until_gap": "1h",
                    "offset": "48h..end",
                    **JANUARY,
                },
                "anytime": {
                    "generator": "after",
                    "of": ["check_in"],
                    "until": ["check_out"],
                    "until_gap": "1h",
                    "offset": "1s..end",
                    **JANUARY,
                },
                "charged_on": {
                    "generator": "after",
                    "of": ["check_in"],
                    "until": ["check_out"],
                    "until_gap": "1h",
                    "offset": "1d..end",
                    **JANUARY,
                },
                "leaves": {"generator": "after", "of": ["check_in"], "offset": "2d..2d", "null_share": 0.5},
                "open_at": {
                    "generator": "after",
                    "of": ["check_in"],
                    "until": ["leaves"],
                    "offset": "1s..end",
                    **JANUARY,
                },
                "opened": {"generator": "date_range", "start": "2020-01-01", "end": "2020-01-01", "null_share": 0.5},
                "visit": {
                    "generator": "after",
                    "of": ["opened"],
                    "until": ["check_out"],
                    "offset": "1s..end",
                    **JANUARY,
                },
            }
        }
    }
}


def stays(tmp_path: Path, rows: int = 40) -> list[dict]:
    return frame(tmp_path, STAYS, "stay", rows, STAYS_SPEC).to_dicts()


def test_offsets_to_the_end_stop_at_the_date_ranges_last_second_or_first_midnight(tmp_path: Path):
    rows = stays(tmp_path)
    assert {(r["check_in"], r["check_out"]) for r in rows} == {(dt.date(2020, 1, 1), dt.date(2020, 1, 3))}
    assert {r["last_second"] for r in rows} == {dt.datetime(2020, 1, 1, 23, 59, 59)}
    assert {r["first_second"] for r in rows} == {dt.datetime(2019, 12, 31)}
    back = [r["back"] for r in rows]
    assert all(dt.datetime(2019, 12, 31) <= t <= dt.datetime(2020, 1, 1) for t in back)
    assert min(back) < dt.datetime(2019, 12, 31, 6) and max(back) > dt.datetime(2019, 12, 31, 18)
    # offsets are drawn in microseconds, values rounded to whole seconds away from the anchor
    assert all(r[c].microsecond == 0 for r in rows for c in ("back", "anytime", "open_at", "visit"))


def test_a_window_stays_between_its_anchor_and_the_upper_anchor_minus_the_gap(tmp_path: Path):
    rows = stays(tmp_path)
    top = dt.datetime(2020, 1, 2, 23)
    assert {r["charged"] for r in rows} == {top}  # 47 h after check-in is exactly the top
    assert {r["clamped"] for r in rows} == {top}  # 48 h would pass it: held at the top
    anytime = [r["anytime"] for r in rows]
    assert all(dt.datetime(2020, 1, 1, 0, 0, 1) <= t <= top for t in anytime)
    assert min(anytime) < dt.datetime(2020, 1, 1, 12) and max(anytime) > dt.datetime(2020, 1, 2, 12)
    # a DATE stays on or before the day of 2020-01-02 23:00
    assert {r["charged_on"] for r in rows} == {dt.date(2020, 1, 2)}


def test_a_window_whose_upper_anchor_is_null_is_open_to_the_range_end(tmp_path: Path):
    rows = stays(tmp_path)
    closed = [r["open_at"] for r in rows if r["leaves"] is not None]
    opened = [r["open_at"] for r in rows if r["leaves"] is None]
    assert closed and opened
    assert all(dt.datetime(2020, 1, 1, 0, 0, 1) <= t <= dt.datetime(2020, 1, 3) for t in closed)
    assert all(dt.datetime(2020, 1, 1, 0, 0, 1) <= t <= dt.datetime(2020, 1, 31, 23, 59, 59) for t in opened)
    assert max(opened) > dt.datetime(2020, 1, 10)


def test_a_row_without_its_anchor_still_stays_at_or_before_the_upper_anchor(tmp_path: Path):
    rows = stays(tmp_path)
    free = [r["visit"] for r in rows if r["opened"] is None]
    anchored = [r["visit"] for r in rows if r["opened"] is not None]
    assert free and anchored
    # drawn over January, then held at check-out's midnight: most land exactly on it
    assert all(dt.datetime(2020, 1, 1) <= t <= dt.datetime(2020, 1, 3) for t in free)
    assert sum(t == dt.datetime(2020, 1, 3) for t in free) > len(free) / 2
    assert all(dt.datetime(2020, 1, 1, 0, 0, 1) <= t <= dt.datetime(2020, 1, 3) for t in anchored)


# The column spec from the type, the CHECKs and the generation spec, seen in the values drawn before any CHECK is
# evaluated (``block`` draws rows without the redraw loop, so only the spec keeps them in bounds) -----------------

COLUMNS = """CREATE TYPE mood AS ENUM ('happy', 'sad', 'ok');
CREATE TABLE t (
  id INT PRIMARY KEY,
  n_default INT NOT NULL DEFAULT '5',
  d_default NUMERIC(6,2) NOT NULL DEFAULT '9.99',
  f_default REAL NOT NULL DEFAULT '0.5',
  flag BOOLEAN NOT NULL DEFAULT 1,
  off BOOLEAN NOT NULL DEFAULT 0,
  code CHAR(4) NOT NULL,
  tag VARCHAR(10) NOT NULL CHECK (length(tag) <= 3),
  word VARCHAR(10) NOT NULL CHECK (length(word) >= 6),
  note TEXT NOT NULL CHECK (length(note) <= 5),
  short VARCHAR(3) NOT NULL CHECK (length(short) <= 10),
  n_incl INT NOT NULL CHECK (n_incl >= 3 AND n_incl <= 5),
  d_top NUMERIC(2,1) NOT NULL CHECK (d_top >= 9.8),
  r REAL NOT NULL CHECK (r > 0 AND r < 1),
  n_ranged INT NOT NULL CHECK (n_ranged <= 22),
  day DATE NOT NULL CHECK (day >= '2020-01-01' AND day <= '2020-01-02'),
  ts TIMESTAMP NOT NULL CHECK (ts > '2020-01-01 00:00:00' AND ts < '2020-01-01 00:00:03'),
  status VARCHAR(10) NOT NULL CHECK (status IN ('a', 'b', 'c')),
  m1 mood NOT NULL CHECK (m1 IN ('happy', 'sad', 'nope')),
  m2 mood NOT NULL CHECK (m2 <> 'sad'),
  kind TEXT NOT NULL CHECK (kind IN ('a', 'bb')),
  code2 VARCHAR(2) NOT NULL CHECK (code2 IN ('ab', 'c', 'toolong')),
  not_x VARCHAR(8) NOT NULL CHECK (not_x <> 'x'),
  share_col VARCHAR(10),
  plain_null VARCHAR(10)
);"""
COLUMNS_SPEC = {
    "tables": {
        "t": {
            "columns": {
                "n_ranged": {"generator": "number", "min": 20, "max": 25},
                "status": {"generator": "vocabulary", "values": ["a", "b"]},
                "share_col": {"null_share": 0.3},
                "plain_null": {"null_share": 0.0},
            }
        }
    }
}


def columns_block(tmp_path: Path, rows: int = 200) -> pl.DataFrame:
    return prepared(tmp_path, COLUMNS, {"t": rows}, COLUMNS_SPEC).generator.block("t", 0, 0, rows)


def test_a_literal_default_is_the_most_common_value_whatever_its_quoting(tmp_path: Path):
    f = columns_block(tmp_path)
    # '5' is a string literal on a number column: still the number 5, drawn for about 70% of rows
    assert f["n_default"].value_counts(sort=True).row(0) == (5, f["n_default"].eq(5).sum())
    assert f["n_default"].eq(5).sum() > 110
    assert f["d_default"].cast(pl.String).eq("9.99").sum() > 110
    assert f["f_default"].eq(0.5).sum() > 110
    # BOOLEAN DEFAULT 1 / 0: true for about 80% / 20% of rows
    assert f["flag"].sum() > 140
    assert f["off"].sum() < 60


def test_lengths_follow_char_varchar_and_length_checks(tmp_path: Path):
    f = columns_block(tmp_path)
    assert set(f["code"].str.len_chars()) == {4}
    tag, word, note = (f[c].str.len_chars() for c in ("tag", "word", "note"))
    assert tag.max() == 3 and tag.min() >= 1
    assert word.min() == 6 and word.max() <= 10
    assert note.max() <= 5
    assert f["short"].str.len_chars().max() <= 3  # the type is the tighter bound here


def test_number_bounds_from_the_type_the_check_and_the_spec(tmp_path: Path):
    f = columns_block(tmp_path)
    assert set(f["n_incl"]) == {3, 4, 5}
    assert {str(v) for v in f["d_top"]} == {"9.8", "9.9"}  # NUMERIC(2,1) tops out at 9.9
    assert f["r"].min() > 0 and f["r"].max() < 1
    assert set(f["n_ranged"]) == {20, 21, 22}  # the spec's 20..25 cut by the CHECK's <= 22


def test_temporal_bounds_from_the_check(tmp_path: Path):
    f = columns_block(tmp_path)
    assert set(f["day"]) == {dt.date(2020, 1, 1), dt.date(2020, 1, 2)}
    assert set(f["ts"]) == {dt.datetime(2020, 1, 1, 0, 0, 1), dt.datetime(2020, 1, 1, 0, 0, 2)}


def test_choices_from_the_spec_the_in_list_and_the_enum(tmp_path: Path):
    f = columns_block(tmp_path)
    assert set(f["status"]) == {"a", "b"}  # the spec's vocabulary, inside the IN list
    assert set(f["m1"]) == {"happy", "sad"}  # the IN list's labels the ENUM has
    assert set(f["m2"]) == {"happy", "ok"}  # the ENUM without the excluded label
    assert set(f["kind"]) == {"a", "bb"}  # TEXT: no length to cut the list by
    assert set(f["code2"]) == {"ab", "c"}  # a label exactly the column's length fits
    assert f["not_x"].n_unique() > 20 and "x" not in set(f["not_x"])  # an exclusion alone: ordinary values


def test_a_null_share_only_where_the_spec_sets_one(tmp_path: Path):
    f = columns_block(tmp_path)
    assert 30 <= f["share_col"].null_count() <= 90  # 0.3 of 200
    assert f["plain_null"].null_count() == 0
    assert all(f[c].null_count() == 0 for c in f.columns if c not in ("share_col", "plain_null"))


def test_a_strict_bound_between_two_values_of_the_type_keeps_the_values_next_to_it(tmp_path: Path):
    # n > 2.5 allows 3 and n < 5.5 allows 5 (an integer steps past a bound only when the bound is a whole
    # number); x > 0.05 AND x < 0.15 at one decimal is 0.1. Both were refused as leaving no value.
    ddl = """CREATE TABLE t (
      id INT PRIMARY KEY,
      n INT NOT NULL CHECK (n > 2.5 AND n < 5.5),
      one INT NOT NULL CHECK (one > 2.5 AND one < 3.5),
      whole INT NOT NULL CHECK (whole > 2 AND whole < 6),
      x NUMERIC(3,1) NOT NULL CHECK (x > 0.05 AND x < 0.15),
      y NUMERIC(3,1) NOT NULL CHECK (y > 0.5 AND y < 0.8),
      big NUMERIC(12,2) NOT NULL CHECK (big > 1234567.89 AND big < 1234567.92),
      tiny INT NOT NULL CHECK (tiny > 0.0000000015 AND tiny < 3)
    );"""
    f = prepared(tmp_path, ddl, {"t": 100}).generator.block("t", 0, 0, 100)
    assert set(f["n"]) == {3, 4, 5}
    assert set(f["one"]) == {3}
    assert set(f["whole"]) == {3, 4, 5}
    assert {str(v) for v in f["x"]} == {"0.1"}
    assert {str(v) for v in f["y"]} == {"0.6", "0.7"}
    # 1234567.89 / 0.01 is 123456788.99999999 in floating point: still on the grid, so still a step
    assert min(str(v) for v in f["big"]) == "1234567.90"
    assert set(f["tiny"]) == {1, 2}  # a bound just above 0 is off the grid: 1 is above it


# Microseconds since the epoch, both ways, and NULLs at a share -------------------------------------------------

US = 1_000_000
DAY_US = 86_400 * US


def test_to_us_reads_dates_and_timestamps_as_utc_microseconds_with_a_set_mask():
    dates = pl.Series([dt.date(1970, 1, 2), None, dt.date(1969, 12, 31)], dtype=pl.Date)
    values, is_set = _to_us(dates)
    assert values.tolist() == [DAY_US, 0, -DAY_US] and values.dtype == np.int64
    assert is_set.tolist() == [True, False, True]
    millis = pl.Series([dt.datetime(1970, 1, 1, 0, 0, 1, 500_000), None], dtype=pl.Datetime("ms"))
    values, is_set = _to_us(millis)
    assert values.tolist() == [1_500_000, 0] and is_set.tolist() == [True, False]
    # 2020-01-01 00:00 in Paris is 2019-12-31 23:00 UTC: 1,577,833,200 s since the epoch
    paris = pl.Series([dt.datetime(2020, 1, 1)]).dt.replace_time_zone("Europe/Paris")
    assert _to_us(paris)[0].tolist() == [1_577_833_200 * US]
    assert _to_us(paris.dt.cast_time_unit("ns"))[0].tolist() == [1_577_833_200 * US]


def spec_of(tmp_path: Path, sql_type: str):
    ddl = f"CREATE TABLE t (id INT PRIMARY KEY, v {sql_type});"
    return prepared(tmp_path, ddl, {"t": 1}).generator.models["t"].specs["v"]


def test_from_us_writes_each_temporal_type_and_nulls_where_masked(tmp_path: Path):
    values = np.array([DAY_US + 5 * US, -1, 0], dtype=np.int64)
    keep = np.zeros(3, dtype=bool)
    masked = np.array([False, True, False])
    # a DATE is the day the instant falls in: -1 us is the last microsecond of 1969-12-31
    date = _from_us(values, keep, spec_of(tmp_path, "DATE"))
    assert date.dtype == pl.Date
    assert date.to_list() == [dt.date(1970, 1, 2), dt.date(1969, 12, 31), dt.date(1970, 1, 1)]
    stamp = _from_us(values, masked, spec_of(tmp_path, "TIMESTAMP"))
    assert stamp.dtype == pl.Datetime("us")
    assert stamp.to_list() == [dt.datetime(1970, 1, 2, 0, 0, 5), None, dt.datetime(1970, 1, 1)]
    zoned = _from_us(values, keep, spec_of(tmp_path, "TIMESTAMPTZ"))
    assert zoned.dtype == pl.Datetime("us", "UTC")
    assert zoned[0] == dt.datetime(1970, 1, 2, 0, 0, 5, tzinfo=dt.UTC)


def test_with_nulls_keeps_name_and_type_and_draws_nothing_without_a_share():
    values = pl.Series("v", [1, 2, 3, 4], dtype=pl.Int16)
    rng = np.random.default_rng(5)
    assert _with_nulls(values, 0.0, rng) is values
    assert _with_nulls(values.clear(), 0.5, rng).len() == 0
    # neither call used the generator: its next draw is a fresh one's first
    assert rng.random() == np.random.default_rng(5).random()
    every = _with_nulls(values, 1.0, np.random.default_rng(5))
    assert every.name == "v" and every.dtype == pl.Int16 and every.null_count() == 4
    assert _with_nulls(values.head(1), 1.0, np.random.default_rng(5)).to_list() == [None]  # one row too
    # a share no draw falls under leaves the very same series
    assert _with_nulls(values, 1e-12, np.random.default_rng(5)) is values


# The generation spec's generators, as ``_apply_gen`` hands them to the drawing --------------------------------

GENERATORS = """CREATE TABLE g (
  g_id INT PRIMARY KEY,
  label VARCHAR(20) NOT NULL,
  pick VARCHAR(10) NOT NULL,
  heavy VARCHAR(10) NOT NULL,
  weekday VARCHAR(20) NOT NULL,
  ref VARCHAR(10) NOT NULL,
  amount INT NOT NULL,
  spread INT NOT NULL,
  flat INT NOT NULL,
  from_mid DATE NOT NULL,
  to_mid DATE NOT NULL,
  upto TIMESTAMP NOT NULL,
  seen TIMESTAMP NOT NULL,
  back_to TIMESTAMP NOT NULL
);"""
GENERATORS_SPEC = {
    "tables": {
        "g": {
            "columns": {
                "label": {"generator": "vocabulary", "by_row": True, "values": ["Rock", "Jazz", "Pop"]},
                "pick": {"generator": "vocabulary", "values": ["x", "y", "z"]},
                "heavy": {"generator": "vocabulary", "values": ["x", "y"], "weights": [0, 1]},
                "weekday": {"generator": "faker", "provider": "day_of_week"},
                "ref": {"generator": "pattern", "pattern": "AB-##?"},
                "amount": {"generator": "number", "min": 100, "max": 104},
                # 1 .. 10,000: log-normal has its median near the geometric mean (100), uniform near 5,000
                "spread": {"generator": "number", "min": 1, "max": 10000, "distribution": "lognormal"},
                "flat": {"generator": "number", "min": 1, "max": 10000},
                # a date range with one end set: the other is the usual 2015-01-01 .. 2025-12-31's
                "from_mid": {"generator": "date_range", "start": "2025-12-01"},
                "to_mid": {"generator": "date_range", "end": "2015-01-31"},
                "upto": {"generator": "after", "of": ["from_mid"], "offset": "1d..end", "end": "2026-06-30"},
                "seen": {"generator": "before", "of": ["to_mid"], "offset": "1d..end", "start": "2014-12-01"},
                # only an end: the start is the usual 2015-01-01, the floor below anchors in January 2015
                "back_to": {"generator": "before", "of": ["to_mid"], "offset": "1s..end", "end": "2015-12-31"},
            }
        }
    }
}


def test_each_spec_generator_draws_what_it_names(tmp_path: Path):
    f = prepared(tmp_path, GENERATORS, {"g": 60}, GENERATORS_SPEC).generator.block("g", 0, 0, 60)
    # by_row: row i takes value i, past the end numbered: Rock, Jazz, Pop, Rock 2, ...
    assert f["label"].head(7).to_list() == ["Rock", "Jazz", "Pop", "Rock 2", "Jazz 2", "Pop 2", "Rock 3"]
    assert set(f["pick"]) == {"x", "y", "z"}
    assert set(f["heavy"]) == {"y"}  # weight 0 for x
    assert set(f["weekday"]) == {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
    assert f["ref"].str.contains(r"^AB-[0-9]{2}[A-Z]$").all()
    assert set(f["amount"]) == {100, 101, 102, 103, 104}
    assert f["spread"].median() < 1000 and f["flat"].median() > 2500
    assert f["spread"].min() >= 1 and f["flat"].max() <= 10000
    assert f["from_mid"].min() >= dt.date(2025, 12, 1) and f["from_mid"].max() <= dt.date(2025, 12, 31)
    assert f["to_mid"].min() >= dt.date(2015, 1, 1) and f["to_mid"].max() <= dt.date(2015, 1, 31)
    # derived columns with a range: after up to its end (past the usual 2025-12-31), before down to its start
    # (a TIMESTAMP: a DATE after its anchor can land a day past the range end, reported as a bug)
    assert (f["upto"].dt.date() > f["from_mid"]).all() and f["upto"].max() <= dt.datetime(2026, 6, 30, 23, 59, 59)
    assert f["upto"].max() > dt.datetime(2026, 3, 1)
    assert (f["seen"].dt.date() < f["to_mid"]).all() and f["seen"].min() >= dt.datetime(2014, 12, 1)
    assert f["seen"].min() < dt.datetime(2014, 12, 15)
    # at the start at most the minimum offset early: a row anchored on 2015-01-01 gets 2014-12-31 23:59:59
    assert f["back_to"].min() >= dt.datetime(2014, 12, 31, 23, 59, 59)
    assert (f["back_to"].dt.date() < f["to_mid"]).all()


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (
            "n INT CHECK (n > 10 AND n < 5)",
            "column t.n INT: its CHECKs and type leave no possible value (needs >= 11 and <= 4)",
        ),
        (
            "d DATE CHECK (d > '2020-01-02' AND d < '2020-01-01')",
            "column t.d DATE: its CHECKs leave no possible value (needs >= 2020-01-03 and <= 2019-12-31)",
        ),
        (
            "t TIMESTAMP CHECK (t >= '2020-01-02 00:00:00' AND t < '2020-01-01 00:00:00')",
            "column t.t TIMESTAMP: its CHECKs leave no possible value "
            "(needs >= 2020-01-02 00:00:00 and <= 2019-12-31 23:59:59)",
        ),
        (
            "s VARCHAR(2) CHECK (s IN ('abc', 'defg'))",
            "column t.s: no value of its IN list fits its type VARCHAR(2) and CHECKs",
        ),
    ],
)
def test_a_column_no_value_fits_is_refused_with_file_line_and_bounds(tmp_path: Path, column: str, message: str):
    ddl = f"CREATE TABLE t (\n  id INT PRIMARY KEY,\n  {column}\n);"
    with pytest.raises(ConstraintViolation) as info:
        prepared(tmp_path, ddl, {"t": 3})
    assert str(info.value) == f"{tmp_path / 'schema.sql'}:3: {message}"


def test_timestamptz_bounds_from_the_check(tmp_path: Path):
    ddl = """CREATE TABLE t (
      id INT PRIMARY KEY,
      at TIMESTAMPTZ NOT NULL CHECK (at > '2020-01-01 00:00:00+00' AND at <= '2020-01-01 00:00:02+00')
    );"""
    f = prepared(tmp_path, ddl, {"t": 60}).generator.block("t", 0, 0, 60)
    assert set(f["at"]) == {dt.datetime(2020, 1, 1, 0, 0, s, tzinfo=dt.UTC) for s in (1, 2)}


def test_a_derived_column_can_anchor_on_a_key_column(tmp_path: Path):
    ddl = "CREATE TABLE days (day DATE PRIMARY KEY, review_at TIMESTAMP NOT NULL);"
    spec = {"tables": {"days": {"columns": {"review_at": {"generator": "after", "of": ["day"], "offset": "2h..2h"}}}}}
    rows = frame(tmp_path, ddl, "days", 20, spec).to_dicts()
    assert len({r["day"] for r in rows}) == 20
    assert all(r["review_at"] == dt.datetime.combine(r["day"], dt.time(2)) for r in rows)


def test_gt_temporal_compares_in_utc_whatever_the_hosts_time_zone(monkeypatch: pytest.MonkeyPatch):
    # Naive values are UTC already; only aware ones convert. On a host in New York (UTC-5) a naive 22:00 read
    # as local time would be 03:00 UTC the next day.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert _gt_temporal(dt.date(2020, 3, 1), dt.datetime(2020, 2, 29, 22, 0))
        assert not _gt_temporal(dt.datetime(2020, 2, 29, 22, 0), dt.date(2020, 3, 1))
        utc_plus_2 = dt.timezone(dt.timedelta(hours=2))
        assert _gt_temporal(dt.datetime(2020, 3, 1, 2, 0, tzinfo=utc_plus_2), dt.datetime(2020, 2, 29, 23, 30))
        assert not _gt_temporal(dt.datetime(2020, 3, 1, 1, 0, tzinfo=utc_plus_2), dt.datetime(2020, 2, 29, 23, 30))
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_composite_reference_in_a_key_too_small_is_named_with_its_columns(tmp_path: Path):
    ddl = """CREATE TABLE p (a INT, b INT, PRIMARY KEY (a, b));
CREATE TABLE j (
  a INT NOT NULL, b INT NOT NULL, flag BOOLEAN NOT NULL,
  PRIMARY KEY (a, b, flag), FOREIGN KEY (a, b) REFERENCES p (a, b)
);"""
    with pytest.raises(ConstraintViolation) as info:
        prepared(tmp_path, ddl, {"p": 1000, "j": 2001})
    message = str(info.value)
    assert (
        "PRIMARY KEY (a, b, flag) allows only 2,000 distinct values (a, b -> p: 1,000 rows x flag: 2 values)" in message
    )


WINDOWS = """CREATE TABLE hotel (hotel_id INT PRIMARY KEY, opens DATE NOT NULL, shuts DATE NOT NULL);
CREATE TABLE visit (
  visit_id INT PRIMARY KEY,
  hotel_id INT NOT NULL REFERENCES hotel (hotel_id),
  seen_at TIMESTAMP NOT NULL
);
CREATE TABLE shift (day DATE PRIMARY KEY, opened DATE NOT NULL, note_at TIMESTAMP NOT NULL);
CREATE TABLE old (
  old_id INT PRIMARY KEY,
  check_in DATE NOT NULL,
  leaves DATE,
  open_at TIMESTAMP NOT NULL,
  far DATE NOT NULL,
  far_at TIMESTAMP NOT NULL
);
CREATE TABLE win (win_id INT PRIMARY KEY, check_in DATE NOT NULL, check_out DATE NOT NULL, on_day DATE NOT NULL);
"""


def fixed_day(day: str) -> dict:
    return {"generator": "date_range", "start": day, "end": day}


WINDOWS_SPEC = {
    "tables": {
        "hotel": {
            "columns": {
                "opens": fixed_day("2020-01-01"),
                "shuts": {"generator": "after", "of": ["opens"], "offset": "4d..4d"},
            }
        },
        # between the parent's opening and closing: both anchors read through the foreign key
        "visit": {
            "columns": {
                "seen_at": {
                    "generator": "after",
                    "of": ["hotel.opens"],
                    "until": ["hotel.shuts"],
                    "offset": "1s..end",
                    **JANUARY,
                }
            }
        },
        # at or before the row's key (a DATE primary key, drawn before every other column)
        "shift": {
            "columns": {
                "opened": fixed_day("2010-01-01"),
                "note_at": {
                    "generator": "after",
                    "of": ["opened"],
                    "until": ["day"],
                    "offset": "1s..end",
                    "start": "2010-01-01",
                    "end": "2030-12-31",
                },
            }
        },
        # before 1970 (negative microseconds), and in the year 9000 (beyond 2^53 microseconds)
        "old": {
            "columns": {
                "check_in": fixed_day("1960-01-01"),
                "leaves": {"generator": "after", "of": ["check_in"], "offset": "2d..2d", "null_share": 0.5},
                "open_at": {
                    "generator": "after",
                    "of": ["check_in"],
                    "until": ["leaves"],
                    "offset": "1s..end",
                    "start": "1960-01-01",
                    "end": "1960-01-31",
                },
                "far": {"generator": "date_range", "start": "9000-01-01", "end": "9000-12-31"},
                "far_at": {
                    "generator": "after",
                    "of": ["far"],
                    "offset": "1s..1s",
                    "start": "9000-01-01",
                    "end": "9001-12-31",
                },
            }
        },
        # a DATE window of 2020-01-02 .. 2020-01-10 (check-out 2020-01-11 minus an hour, rounded down to its day)
        "win": {
            "columns": {
                "check_in": fixed_day("2020-01-01"),
                "check_out": {"generator": "after", "of": ["check_in"], "offset": "10d..10d"},
                "on_day": {
                    "generator": "after",
                    "of": ["check_in"],
                    "until": ["check_out"],
                    "until_gap": "1h",
                    "offset": "1d..end",
                    **JANUARY,
                },
            }
        },
    }
}


def windows(tmp_path: Path, table: str, rows: int) -> pl.DataFrame:
    counts = {"hotel": 3, "visit": 40, "shift": 40, "old": 40, "win": 400}
    return prepared(tmp_path, WINDOWS, counts, WINDOWS_SPEC).generator.table_frame(table)


def test_a_window_between_two_columns_of_the_parent_row(tmp_path: Path):
    seen = windows(tmp_path, "visit", 40)["seen_at"]
    assert seen.min() >= dt.datetime(2020, 1, 1, 0, 0, 1) and seen.max() <= dt.datetime(2020, 1, 5)
    assert seen.max() - seen.min() > dt.timedelta(days=2)


def test_a_window_up_to_the_rows_key(tmp_path: Path):
    rows = windows(tmp_path, "shift", 40).to_dicts()
    assert all(
        dt.datetime(2010, 1, 1, 0, 0, 1) <= r["note_at"] <= dt.datetime.combine(r["day"], dt.time()) for r in rows
    )
    assert min(r["note_at"] for r in rows) < dt.datetime(2012, 1, 1)


def test_derived_times_before_1970_and_in_the_year_9000(tmp_path: Path):
    rows = windows(tmp_path, "old", 40).to_dicts()
    open_ended = [r["open_at"] for r in rows if r["leaves"] is None]
    assert open_ended and all(
        dt.datetime(1960, 1, 1, 0, 0, 1) <= t <= dt.datetime(1960, 1, 31, 23, 59, 59) for t in open_ended
    )
    assert max(open_ended) > dt.datetime(1960, 1, 10)  # an open window spreads over the range
    closed = [r["open_at"] for r in rows if r["leaves"] is not None]
    assert closed and all(t <= dt.datetime(1960, 1, 3) for t in closed)
    assert all(r["far_at"] == dt.datetime.combine(r["far"], dt.time(0, 0, 1)) for r in rows)


def test_a_date_window_does_not_pile_rows_on_its_last_day(tmp_path: Path):
    days = windows(tmp_path, "win", 400)["on_day"]
    assert days.min() >= dt.date(2020, 1, 2) and days.max() == dt.date(2020, 1, 10)
    # 8 or 9 days share 400 rows: about 50 each; none near twice that
    assert days.value_counts()["count"].max() <= 70


def test_an_empty_window_stays_after_its_anchor_and_a_closed_one_at_it(tmp_path: Path):
    # The upper anchor two days before the anchor (a window no value fits): the value stays after the anchor,
    # where the rule it carries holds, and the report counts the other side. The upper anchor equal to the
    # anchor: the value is held at that instant, which both sides allow.
    ddl = """CREATE TABLE e (
      e_id INT PRIMARY KEY, starts DATE NOT NULL, z_upper DATE NOT NULL, same_day DATE NOT NULL,
      late TIMESTAMP NOT NULL, edge TIMESTAMP NOT NULL
    );"""
    window = {"generator": "after", "of": ["starts"], "offset": "1h..1h", **JANUARY}
    spec = {
        "tables": {
            "e": {
                "columns": {
                    "starts": fixed_day("2020-01-05"),
                    "z_upper": fixed_day("2020-01-03"),
                    "same_day": fixed_day("2020-01-05"),
                    "late": {**window, "until": ["z_upper"]},
                    "edge": {**window, "until": ["same_day"]},
                }
            }
        }
    }
    f = prepared(tmp_path, ddl, {"e": 5}, spec).generator.block("e", 0, 0, 5)
    assert set(f["late"]) == {dt.datetime(2020, 1, 5, 1)}
    assert set(f["edge"]) == {dt.datetime(2020, 1, 5)}


def test_a_number_generators_range_is_cut_by_the_check_before_multiples_are_chosen(tmp_path: Path):
    ddl = "CREATE TABLE t (id INT PRIMARY KEY, m INT NOT NULL CHECK (m % 5 = 0));"
    spec = {"tables": {"t": {"columns": {"m": {"generator": "number", "min": 20, "max": 40}}}}}
    f = prepared(tmp_path, ddl, {"t": 100}, spec).generator.block("t", 0, 0, 100)
    assert set(f["m"]) == {20, 25, 30, 35, 40}


def test_a_number_generators_range_outside_the_check_is_refused(tmp_path: Path):
    ddl = "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  o INT NOT NULL CHECK (o <= 22)\n);"
    spec = {"tables": {"t": {"columns": {"o": {"generator": "number", "min": 50, "max": 60}}}}}
    with pytest.raises(ConstraintViolation) as info:
        prepared(tmp_path, ddl, {"t": 5}, spec)
    assert str(info.value).endswith(
        ":3: column t.o INT: its CHECKs and type leave no possible value (needs >= 50.0 and <= 22)"
    )


def test_a_quoted_number_in_a_check_bounds_the_draws(tmp_path: Path):
    # PostgreSQL and MySQL read '5' as the number 5 here; generation used to stop after 40 redraws.
    ddl = """CREATE TABLE t (
      id INT PRIMARY KEY,
      n INT NOT NULL CHECK (n > '5' AND n < '8'),
      x NUMERIC(3,1) NOT NULL CHECK (x >= '0.5' AND x <= '0.6'),
      word VARCHAR(5) NOT NULL CHECK (word > 'abc')
    );"""
    generator = prepared(tmp_path, ddl, {"t": 40}).generator
    assert set(generator.block("t", 0, 0, 40)["n"]) == {6, 7}
    frame = generator.table_frame("t")
    assert set(frame["n"]) == {6, 7}
    assert "0.5" in {str(v) for v in frame["x"]} <= {"0.5", "0.6"}
    assert (frame["word"] > "abc").all()
