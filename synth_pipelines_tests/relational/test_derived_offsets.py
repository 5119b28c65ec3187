"""A column drawn ``after``/``before`` an anchor: both ends of its offset are reached and the column's date range
holds, for DATE and TIMESTAMP columns, counted over every drawn row (values worked out by hand from the spec)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.domains.relational.spec import SpecError
from synth_pipelines_tests.relational.test_generate_values_by_hand import frame

STAYS = """\
CREATE TABLE stays (
  stay_id INT PRIMARY KEY,
  check_in DATE NOT NULL,
  check_out DATE NOT NULL,
  booked DATE NOT NULL,
  arrived_at TIMESTAMP NOT NULL,
  left_at TIMESTAMP NOT NULL,
  billed DATE NOT NULL
);
"""
ROWS = 2000
JAN = {"generator": "date_range", "start": "2020-01-01", "end": "2020-01-10"}


def stays(tmp_path: Path, columns: dict[str, dict]) -> pl.DataFrame:
    return frame(tmp_path, STAYS, "stays", ROWS, {"tables": {"stays": {"columns": columns}}}, seed=5)


def test_a_date_after_a_date_takes_every_day_of_its_offset_both_ends_included(tmp_path: Path):
    frame = stays(tmp_path, {"check_out": {"generator": "after", "of": ["check_in"], "offset": "14d..28d"}})
    days = (frame["check_out"] - frame["check_in"]).dt.total_days()
    assert sorted(days.unique().to_list()) == list(range(14, 29))  # 15 values, 2,000 rows: each drawn


def test_a_date_after_a_date_up_to_the_end_never_passes_the_last_day(tmp_path: Path):
    frame = stays(
        tmp_path,
        {
            "check_in": JAN,
            "check_out": {**JAN, "generator": "after", "of": ["check_in"], "offset": "1d..end"},
        },
    )
    last = dt.date(2020, 1, 10)
    stayed = frame.filter(pl.col("check_in") < last)  # a stay can start on the last day only past the range
    assert stayed["check_out"].max() == last
    assert (stayed["check_out"] > stayed["check_in"]).all()
    assert stayed.filter(pl.col("check_out") > last).height == 0


def test_a_date_before_a_date_takes_both_ends_of_its_offset(tmp_path: Path):
    frame = stays(tmp_path, {"booked": {"generator": "before", "of": ["check_in"], "offset": "3d..5d"}})
    days = (frame["check_in"] - frame["booked"]).dt.total_days()
    assert sorted(days.unique().to_list()) == [3, 4, 5]


def test_a_timestamp_after_a_timestamp_up_to_the_end_stays_within_the_last_second(tmp_path: Path):
    frame = stays(
        tmp_path,
        {
            "arrived_at": JAN,
            "left_at": {**JAN, "generator": "after", "of": ["arrived_at"], "offset": "1s..end"},
        },
    )
    end = dt.datetime(2020, 1, 10, 23, 59, 59)
    assert frame["left_at"].max() <= end
    assert (frame["left_at"] > frame["arrived_at"]).all()
    # whole seconds after a whole-second anchor
    assert (frame["left_at"].dt.microsecond() == 0).all()


def test_a_date_after_a_timestamp_is_a_midnight_within_the_offset(tmp_path: Path):
    frame = stays(tmp_path, {"billed": {"generator": "after", "of": ["arrived_at"], "offset": "2d..3d"}})
    midnight = frame["billed"].cast(pl.Datetime("us"))
    assert (midnight >= frame["arrived_at"] + dt.timedelta(days=2)).all()
    assert (midnight <= frame["arrived_at"] + dt.timedelta(days=3)).all()


@pytest.mark.parametrize("generator", ["inferred", "vocabulary"])
def test_a_date_range_given_to_a_generator_that_ignores_it_is_refused(tmp_path: Path, generator: str):
    column = {"generator": generator, "start": "2030-01-01"}
    if generator == "vocabulary":
        column["values"] = ["2030-01-02"]
    with pytest.raises(SpecError, match=r"column stays\.booked: 'start'/'end' need generator 'date_range'"):
        stays(tmp_path, {"booked": column})


def test_a_date_whose_window_holds_no_midnight_stays_after_its_anchor(tmp_path: Path):
    # billed: a DATE after arrived_at and until left_at, one to two hours later: when both fall on one day the
    # window holds no midnight, and the date stays after its anchor (the next midnight) rather than before it.
    frame = stays(
        tmp_path,
        {
            "left_at": {"generator": "after", "of": ["arrived_at"], "offset": "1h..2h"},
            "billed": {"generator": "after", "of": ["arrived_at"], "offset": "0s..end", "until": ["left_at"]},
        },
    )
    midnight = frame["billed"].cast(pl.Datetime("us"))
    same_day = frame["arrived_at"].dt.date() == frame["left_at"].dt.date()
    assert same_day.sum() > ROWS // 2
    assert (midnight > frame["arrived_at"]).all()
    assert (
        frame.filter(same_day)["billed"] == frame.filter(same_day)["arrived_at"].dt.date() + dt.timedelta(days=1)
    ).all()
