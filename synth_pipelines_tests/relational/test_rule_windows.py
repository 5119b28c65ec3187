"""Rules with a lower and an upper anchor (a charge within its stay), and rules through one of several
foreign keys to the same parent (a referral after both guests registered): by construction, counted by the
report, written in a spec by hand, and refused with one line when ambiguous."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare
from synth_pipelines.domains.relational.spec import SpecError
from synth_pipelines_tests.relational.conftest import TRICKY

HOTEL = TRICKY / "hotel.sql"


def _stays_with(out: Path, child: str, column: str) -> pl.DataFrame:
    stays = pl.read_parquet(out / "stays.parquet").select("stay_id", "check_in", "check_out")
    return pl.read_parquet(out / f"{child}.parquet").join(stays, on="stay_id", how="left")


def test_children_fall_inside_their_parents_window(tmp_path: Path):
    prepared = prepare(HOTEL, RelationalConfig(rows=500), seed=11)
    report, _ = export_dataset(prepared, 11, tmp_path, formats=("parquet",))
    assert report["ok"] and report["rule_violations"] == 0
    charges = _stays_with(tmp_path, "charges", "charged_at")
    closed = charges.filter(pl.col("check_out").is_not_null())
    assert closed.height > 300
    assert (closed["charged_at"] >= closed["check_in"]).all()
    assert (closed["charged_at"] <= closed["check_out"]).all()
    # Spread over the stay, not piled on either end.
    position = (closed["charged_at"] - closed["check_in"]).dt.total_seconds() / (
        closed["check_out"] - closed["check_in"]
    ).dt.total_seconds()
    assert 0.3 < position.mean() < 0.7
    assert (closed["charged_at"] == closed["check_out"]).mean() < 0.05
    audits = _stays_with(tmp_path, "night_audits", "audit_date").filter(pl.col("check_out").is_not_null())
    day = pl.col("audit_date").cast(pl.Datetime("us"))
    # A DATE inside a timestamp window: on or after the check-in instant, on or before the check-out instant.
    assert audits.filter((day < pl.col("check_in")) | (day > pl.col("check_out"))).height == 0
    referrals = pl.read_parquet(tmp_path / "referrals.parquet")
    guests = pl.read_parquet(tmp_path / "guests.parquet").select("guest_id", "registered_at")
    for fk in ("referrer_id", "referred_id"):
        joined = referrals.join(guests.rename({"guest_id": fk}), on=fk)
        assert joined.height == referrals.height
        assert (joined["created_at"] >= joined["registered_at"]).all()
    assert (referrals["referrer_id"] != referrals["referred_id"]).all()  # CHECK, by construction


def test_a_hand_written_window_and_path_hold_and_are_counted(tmp_path: Path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "tables:\n"
        "  charges:\n"
        "    rules:\n"
        "    - {check: 'stays.check_out >= charged_at + 2h'}\n"
        "  referrals:\n"
        "    rules:\n"
        "    - {check: 'created_at >= guests[referred_id].registered_at + 30d'}\n"
    )
    prepared = prepare(HOTEL, RelationalConfig(rows=300, spec=str(spec)), seed=4)
    report, _ = export_dataset(prepared, 4, tmp_path / "out", formats=("parquet",))
    by_rule = {(r["table"], r["rule"]): r for r in report["rules"]}
    window = by_rule[("charges", "stays.check_out >= charged_at + 2h")]
    path = by_rule[("referrals", "created_at >= guests[referred_id].registered_at + 30d")]
    assert window["origin"] == path["origin"] == "spec"
    assert window["rows_checked"] > 0 and path["rows_checked"] > 0
    assert window["violations"] == path["violations"] == 0
    charges = _stays_with(tmp_path / "out", "charges", "charged_at").filter(pl.col("check_out").is_not_null())
    gap = charges["check_out"] - charges["charged_at"]
    assert gap.min() >= dt.timedelta(hours=2)  # independent of the report


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            "- {check: 'created_at >= guests.registered_at'}",
            r"referrals has 2 foreign keys to guests; a rule needs exactly one \(name one: "
            r"guests\[referrer_id\]\.registered_at\)",
        ),
        ("- {check: 'created_at >= guests[nobody].registered_at'}", r"has no foreign key \(nobody\) to guests"),
    ],
)
def test_an_ambiguous_or_unknown_path_is_refused(tmp_path: Path, rules: str, message: str):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"tables:\n  referrals:\n    rules:\n    {rules}\n")
    with pytest.raises(SpecError, match=message):
        prepare(HOTEL, RelationalConfig(rows=50, spec=str(spec)), seed=1)


def test_until_needs_an_after_generator(tmp_path: Path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "tables:\n  rooms:\n    columns:\n      opened_on: {generator: date_range, until: [opened_on], until_gap: 1d}\n"
    )
    with pytest.raises(SpecError, match=r"rooms\.opened_on: 'until' needs generator 'after'"):
        prepare(HOTEL, RelationalConfig(rows=50, spec=str(spec)), seed=1)
