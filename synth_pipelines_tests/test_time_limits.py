"""Configured time ranges must end by 9999-12-31T23:59:59 UTC: refused up front, never written as ``+10000-...``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from synth_pipelines.cli import main
from synth_pipelines.core.limits import (
    LATEST,
    latest_timestamp_ok,
    log_range_problem,
    require_latest_timestamp,
)
from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.logs.domain import LogConfig
from synth_pipelines.domains.relational.ddl import DdlError, load_ddl
from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare

UTC = dt.UTC


def test_latest_timestamp_ok_at_the_edge() -> None:
    assert dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) == LATEST
    start = dt.datetime(9999, 12, 31, 23, 59, 0, tzinfo=UTC)
    assert latest_timestamp_ok(start, dt.timedelta(seconds=59))
    assert not latest_timestamp_ok(start, dt.timedelta(seconds=60))
    assert latest_timestamp_ok(dt.datetime(2026, 1, 1, tzinfo=UTC), dt.timedelta(days=365 * 7000))
    assert not latest_timestamp_ok(dt.datetime(2026, 1, 1, tzinfo=UTC), dt.timedelta(days=365 * 8000))
    # Naive times are UTC; spans too large for datetime are simply "not ok", never OverflowError.
    assert latest_timestamp_ok(dt.datetime(9999, 12, 31), dt.timedelta(hours=23))
    assert not latest_timestamp_ok(dt.datetime(2026, 1, 1), dt.timedelta(days=999_999_999))
    # An offset counts: 23:00 at -01:00 is already 10000-01-01 in UTC.
    minus_one = dt.timezone(dt.timedelta(hours=-1))
    assert not latest_timestamp_ok(dt.datetime(9999, 12, 31, 23, 0, tzinfo=minus_one), dt.timedelta(0))


def test_require_latest_timestamp_names_the_field() -> None:
    require_latest_timestamp("start", dt.datetime(2026, 1, 1, tzinfo=UTC), dt.timedelta(days=1))
    with pytest.raises(ValueError, match=r"^start: .*9999-12-31T23:59:59"):
        require_latest_timestamp("start", dt.datetime(9999, 12, 31, tzinfo=UTC), dt.timedelta(days=2))


# --------------------------------------------------------------------------------------------------
# api_traces: start_date + days (+ room for the last sessions)


def test_api_traces_config_refuses_a_range_past_9999() -> None:
    ApiTracesConfig(start_date="9990-01-01", days=7)  # ends well before the limit
    for start, days in [("9999-12-25", 7), ("9999-12-31", 1), ("9999-06-01", 300), ("2026-01-01", 10**12)]:
        with pytest.raises(ValidationError) as err:
            ApiTracesConfig(start_date=start, days=days)
        [problem] = err.value.errors()
        assert "start_date + days: " in problem["msg"] and "9999-12-31" in problem["msg"], problem


def test_api_traces_room_grows_with_think_time() -> None:
    ApiTracesConfig(start_date="9990-01-01", days=7, think_time_mean_s=4.0)
    with pytest.raises(ValidationError, match="9999-12-31"):
        ApiTracesConfig(start_date="9990-01-01", days=7, think_time_mean_s=10_000_000.0)


def test_api_traces_cli_refuses_in_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["api-traces", "--users", "5", "--start-date", "9999-12-30", "--days", "3", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("synth: error: "), err
    assert "days" in err[0] and "9999-12-31" in err[0]
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


# --------------------------------------------------------------------------------------------------
# Log domains: start + count records


def test_log_range_problem() -> None:
    assert log_range_problem("2026-01-01T00:00:00Z", 100_000_000) is None
    assert log_range_problem("9999-12-31T23:00:00Z", 1) is not None
    problem = log_range_problem("9999-12-01T00:00:00Z", 1_000_000)
    assert problem is not None and "9999-12-31T23:59:59" in problem
    assert "1,000,000" in problem
    assert log_range_problem("not a time", 5) is None  # the ISO check reports that one


def test_log_config_refuses_a_range_past_9999() -> None:
    with pytest.raises(ValidationError, match="9999-12-31"):
        LogConfig(count=1_000_000, start="9999-12-01T00:00:00Z")


# --------------------------------------------------------------------------------------------------
# Relational: CHECK bounds on dates and timestamps


@pytest.mark.parametrize(
    ("column", "needle"),
    [
        ("d DATE NOT NULL CHECK (d > '9999-12-25')", "t.d"),
        ("d DATE NOT NULL CHECK (d >= '9995-01-01')", "t.d"),
        ("d DATE CHECK (d > '9999-12-31')", "t.d"),
        ("ts TIMESTAMP NOT NULL CHECK (ts >= '9999-12-31 23:00:00')", "t.ts"),
        ("ts TIMESTAMP CHECK (ts > '9999-12-31 23:59:59')", "t.ts"),
    ],
)
def test_relational_temporal_bounds_past_9999_are_refused(write_ddl, tmp_path: Path, capsys, column, needle) -> None:
    ddl = write_ddl(f"CREATE TABLE t (\n  id INT PRIMARY KEY,\n  {column}\n);\n")
    with pytest.raises(DdlError) as err:
        load_ddl(ddl)
    msg = str(err.value)
    assert msg.startswith(f"{ddl}:3: ") and needle in msg and "9999-12-31" in msg and "\n" not in msg
    out = tmp_path / "out"
    assert main(["relational", "--ddl", str(ddl), "--rows", "10", "--out", str(out)]) == 1
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("synth: error: ")
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


def test_relational_bounds_well_inside_the_calendar_still_work(write_ddl, tmp_path: Path) -> None:
    ddl = write_ddl(
        "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  d DATE CHECK (d BETWEEN '1990-01-01' AND '9989-01-01'),\n"
        "  e DATE CHECK (e >= '9980-01-01' AND e <= '9985-12-31'),\n"
        "  ts TIMESTAMP CHECK (ts <= '9999-12-31 23:59:59')\n);\n"
    )
    assert set(load_ddl(ddl).tables["t"].columns) == {"id", "d", "e", "ts"}
    prepared = prepare(ddl, RelationalConfig(rows=200), seed=2)
    report, _ = export_dataset(prepared, 2, tmp_path / "out", formats=("csv",))
    assert report["ok"]
