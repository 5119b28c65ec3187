"""Realism: every rule the column names imply holds on the written data, counted here with polars
independently of the report; one person per row; text from vocabularies; the spec round-trips and a
bad spec is refused with one line."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from synth_pipelines import cli
from synth_pipelines.domains.relational.pipeline import GENERATOR_VERSION, RelationalConfig, export_dataset, prepare
from synth_pipelines.domains.relational.report import build_report
from synth_pipelines.domains.relational.vocab import vocab
from synth_pipelines_tests.relational.conftest import SAMPLES, TRICKY

SCHEMAS = {
    p.stem: p
    for p in [*SAMPLES, TRICKY / "airline.sql", TRICKY / "clinic.sql", TRICKY / "music_store.sql", TRICKY / "hotel.sql"]
}
DAY_US = 86_400_000_000
YEAR_US = 365 * DAY_US

# Every rule the names imply, written out by hand: (table, later, earlier, gap in microseconds, fk).
# ``fk`` = (child column, parent key column) when one side is a parent's column ("parent.column").
EXPECTED: dict[str, list[tuple[str, str, str, int, tuple[str, str] | None]]] = {
    "library": [
        ("loans", "due_date", "loaned_at", 0, None),
        ("loans", "returned_at", "loaned_at", 0, None),
        ("loans", "loaned_at", "members.joined_at", 0, ("member_id", "member_id")),
        ("loans", "loaned_at", "books.published_date", 0, ("book_id", "book_id")),
        ("reviews", "created_at", "members.joined_at", 0, ("member_id", "member_id")),
        ("reviews", "created_at", "books.published_date", 0, ("book_id", "book_id")),
    ],
    "company": [
        ("employees", "left_on", "hired_on", 0, None),
        ("projects", "ends_on", "starts_on", 0, None),
    ],
    "restaurants": [
        ("reservations", "reserved_for", "customers.created_at", 0, ("customer_id", "customer_id")),
        ("orders", "ordered_at", "reservations.reserved_for", 0, ("reservation_id", "reservation_id")),
    ],
    "airline": [
        ("flights", "arrival_at", "departure_at", 0, None),
        ("passengers", "registered_at", "date_of_birth", 18 * YEAR_US, None),
        ("bookings", "cancelled_at", "booked_at", 0, None),
        ("bookings", "flights.departure_at", "booked_at", 3600 * 1_000_000, ("flight_id", "flight_id")),
        # two foreign keys to airports: one rule through each, naming it
        ("flights", "departure_at", "airports[origin_id].opened_on", 0, ("origin_id", "airport_id")),
        ("flights", "departure_at", "airports[destination_id].opened_on", 0, ("destination_id", "airport_id")),
    ],
    "hotel": [
        ("stays", "check_out", "check_in", 0, None),
        ("stays", "check_in", "guests.registered_at", 0, ("guest_id", "guest_id")),
        ("stays", "check_in", "rooms.opened_on", 0, ("room_id", "room_id")),
        # a window: after the stay's check-in and before its check-out
        ("charges", "charged_at", "stays.check_in", 0, ("stay_id", "stay_id")),
        ("charges", "stays.check_out", "charged_at", 0, ("stay_id", "stay_id")),
        ("night_audits", "audit_date", "stays.check_in", 0, ("stay_id", "stay_id")),
        ("night_audits", "stays.check_out", "audit_date", 0, ("stay_id", "stay_id")),
        ("referrals", "created_at", "guests[referrer_id].registered_at", 0, ("referrer_id", "guest_id")),
        ("referrals", "created_at", "guests[referred_id].registered_at", 0, ("referred_id", "guest_id")),
    ],
    "music_store": [
        ("employees", "hire_date", "birth_date", 18 * YEAR_US, None),
    ],
    "clinic": [
        ("doctors", "hired_on", "birth_date", 18 * YEAR_US, None),
        ("patients", "registered_at", "birth_date", 18 * YEAR_US, None),
        ("appointments", "updated_at", "created_at", 0, None),
        ("appointments", "completed_at", "scheduled_at", 0, None),
        ("appointments", "scheduled_at", "patients.registered_at", 0, ("patient_id", "patient_id")),
        ("appointments", "scheduled_at", "doctors.hired_on", 0, ("doctor_id", "doctor_id")),
        ("prescriptions", "expires_on", "issued_at", 0, None),
        ("prescriptions", "issued_at", "appointments.scheduled_at", 0, ("appointment_id", "appointment_id")),
    ],
}


def as_us(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A date or timestamp column as int64 microseconds since the epoch (UTC), computed in polars."""
    dtype = frame.schema[column]
    if dtype == pl.Date:
        return pl.col(column).cast(pl.Int64) * DAY_US
    return pl.col(column).cast(pl.Datetime("us", dtype.time_zone)).cast(pl.Int64)  # type: ignore[union-attr]


def count_rule(
    out: Path, table: str, later: str, earlier: str, gap: int, fk: tuple[str, str] | None
) -> tuple[int, int]:
    """(rows with both sides set, rows among them where later < earlier + gap), from the Parquet files."""
    frame = pl.read_parquet(out / f"{table}.parquet")
    sides = {}
    for side in (later, earlier):
        if "." in side:
            parent, column = side.split(".")
            parent = parent.split("[")[0]  # guests[referrer_id]: the parent table, read through fk[0]
            assert fk is not None
            parent_frame = pl.read_parquet(out / f"{parent}.parquet")
            parent_frame = parent_frame.select(
                pl.col(fk[1]).alias(fk[0]), as_us(parent_frame, column).alias(f"__{side}")
            )
            frame = frame.join(parent_frame, on=fk[0], how="left")
            sides[side] = pl.col(f"__{side}")
        else:
            sides[side] = as_us(frame, side)
    both = sides[later].is_not_null() & sides[earlier].is_not_null()
    checked = frame.filter(both).height
    broken = frame.filter(both & (sides[later] < sides[earlier] + gap)).height
    return checked, broken


@pytest.fixture(scope="module", params=sorted(SCHEMAS))
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict]:
    name = request.param
    out = tmp_path_factory.mktemp(name)
    prepared = prepare(SCHEMAS[name], RelationalConfig(rows=400), seed=5)
    report, _ = export_dataset(prepared, 5, out, formats=("parquet",))
    return name, out, report


def test_every_rule_the_names_imply_holds_and_the_report_agrees(generated: tuple[str, Path, dict]):
    name, out, report = generated
    assert report["ok"] and report["rule_violations"] == 0
    by_text = {(r["table"], r["rule"]): r for r in report["rules"]}
    expected_texts = set()
    for table, later, earlier, gap, fk in EXPECTED[name]:
        checked, broken = count_rule(out, table, later, earlier, gap, fk)
        assert broken == 0, (table, later, earlier)
        assert checked > 0, (table, later, earlier)
        text = f"{later} >= {earlier}" + (
            f" + {gap // YEAR_US}y" if gap and gap % YEAR_US == 0 else f" + {gap // 3_600_000_000}h" if gap else ""
        )
        entry = by_text[(table, text)]
        assert entry["origin"] == "inferred"
        assert (entry["rows_checked"], entry["violations"]) == (checked, broken)
        expected_texts.add((table, text))
    # nothing inferred beyond what the names imply (the list above is the whole contract for date rules; the
    # other kinds, hierarchies, sums and ranges, are counted in test_roles_and_measures.py)
    assert {k for k, r in by_text.items() if "kind" not in r} == expected_texts


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text).lower() if "a" <= c <= "z")


PERSONS = {
    "library": ("members", "first_name", "last_name"),
    "company": ("employees", "first_name", "last_name"),
    "restaurants": ("customers", "full_name", None),
    "airline": ("passengers", "first_name", "last_name"),
    "clinic": ("patients", "first_name", "last_name"),
    "music_store": ("customers", "first_name", "last_name"),
    "hotel": ("guests", "full_name", None),
}


def test_emails_belong_to_the_row_and_use_reserved_domains(generated: tuple[str, Path, dict]):
    name, out, _ = generated
    table, first_col, last_col = PERSONS[name]
    rows = pl.read_parquet(out / f"{table}.parquet").filter(pl.col("email").is_not_null()).to_dicts()
    assert rows
    for row in rows:
        first, last = (row[first_col], row[last_col]) if last_col else row[first_col].split(" ")[:2]
        local, domain = row["email"].split("@")
        assert re.fullmatch(rf"{fold(first)}\.{fold(last)}\d*", local), row
        assert domain in ("example.com", "example.org", "example.net"), row
        if "username" in row:
            assert row["username"].startswith(f"{fold(first)}_{fold(last)}"), row


def test_titles_and_texts_come_from_vocabularies_not_word_salad(tmp_path: Path):
    prepared = prepare(SCHEMAS["library"], RelationalConfig(rows=300), seed=2)
    export_dataset(prepared, 2, tmp_path, formats=("parquet",))
    titles = pl.read_parquet(tmp_path / "books.parquet")["title"]
    assert titles.is_in(vocab("work_title").implode()).all()
    review_titles = pl.read_parquet(tmp_path / "reviews.parquet")["title"].drop_nulls()
    assert review_titles.is_in(vocab("review_title").implode()).all()
    bodies = pl.read_parquet(tmp_path / "reviews.parquet")["body"].drop_nulls()
    assert bodies.str.ends_with(".").all() and bodies.str.contains(r"^[A-Z]").all()


def synth(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def test_print_spec_round_trips_through_spec_to_the_same_bytes(tmp_path: Path):
    ddl = str(SCHEMAS["library"])
    code, printed, _ = synth(["relational", "--ddl", ddl, "--rows", "120", "--print-spec"])
    assert code == 0 and "loaned_at >= members.joined_at" in printed
    spec_file = tmp_path / "library.yaml"
    spec_file.write_text(printed)
    code, again, _ = synth(["relational", "--ddl", ddl, "--spec", str(spec_file), "--print-spec"])
    assert code == 0 and again == printed
    # the same run with the printed spec writes the same bytes as without it
    a, b = tmp_path / "a", tmp_path / "b"
    assert synth(["relational", "--ddl", ddl, "--rows", "120", "--format", "parquet", "--out", str(a)])[0] == 0
    assert synth(["relational", "--ddl", ddl, "--spec", str(spec_file), "--format", "parquet", "--out", str(b)])[0] == 0
    for f in sorted(a.iterdir()):
        assert f.read_bytes() == (b / f.name).read_bytes(), f.name


def test_a_partial_spec_merges_over_the_inferred_one(tmp_path: Path):
    spec_file = tmp_path / "partial.json"
    spec_file.write_text(
        json.dumps(
            {
                "tables": {
                    "loans": {"rows": 333, "columns": {"due_date": {"offset": "21d..21d"}}},
                    "members": {"columns": {"tier": {"generator": "vocabulary", "values": ["staff"]}}},
                }
            }
        )
    )
    ddl = str(SCHEMAS["library"])
    out = tmp_path / "out"
    code, _, err = synth(["relational", "--ddl", ddl, "--rows", "100", "--spec", str(spec_file), "--out", str(out)])
    assert code == 0, err
    loans = pl.read_parquet(out / "loans.parquet")
    assert loans.height == 333
    days = (loans["due_date"] - loans["loaned_at"].dt.date()).dt.total_days()
    assert days.is_in([21, 22]).all()  # 21 days after, rounded up to the next midnight
    assert (pl.read_parquet(out / "members.parquet")["tier"] == "staff").all()
    report = json.loads((out / "validation_report.json").read_text())
    assert report["ok"] and any(r["rule"] == "due_date >= loaned_at" for r in report["rules"])


def test_a_spec_rule_is_enforced_and_counted_with_origin_spec(tmp_path: Path):
    spec_file = tmp_path / "rule.yaml"
    spec_file.write_text("tables:\n  reviews:\n    rules:\n      - check: created_at >= members.joined_at + 30d\n")
    out = tmp_path / "out"
    ddl = str(SCHEMAS["library"])
    assert synth(["relational", "--ddl", ddl, "--rows", "150", "--spec", str(spec_file), "--out", str(out)])[0] == 0
    checked, broken = count_rule(
        out, "reviews", "created_at", "members.joined_at", 30 * DAY_US, ("member_id", "member_id")
    )
    assert checked > 0 and broken == 0
    report = json.loads((out / "validation_report.json").read_text())
    entry = next(r for r in report["rules"] if r["rule"] == "created_at >= members.joined_at + 30d")
    assert entry["origin"] == "spec" and entry["rows_checked"] == checked and entry["violations"] == 0


@pytest.mark.parametrize(
    ("schema", "spec", "message"),
    [
        (
            "library",
            "tables:\n  loans:\n    columns:\n      due_dat: {offset: 1d..2d}\n",
            "unknown column loans.due_dat",
        ),
        ("library", "tables:\n  loanz: {rows: 3}\n", "unknown table 'loanz'"),
        (
            "company",
            "tables:\n  employees:\n    rules:\n      - check: hired_on >= left_on\n",
            "contradicts a declared CHECK",
        ),
        ("library", "tables:\n  loans:\n    rules:\n      - check: loaned_at >= due_date\n", "cycle"),
        (
            "library",
            "tables:\n  loans:\n    rules:\n      - check: loaned_at >= fine_amount\n",
            "fine_amount is not a date",
        ),
        (
            "library",
            "tables:\n  members:\n    columns:\n      joined_at: {null_share: 0.5}\n",
            "contradicts its NOT NULL",
        ),
        (
            "restaurants",
            "tables:\n  restaurants:\n    columns:\n      cuisine: {generator: vocabulary, values: [sushi]}\n",
            "contradicts its CHECK",
        ),
    ],
)
def test_a_bad_spec_is_refused_with_one_line(tmp_path: Path, schema: str, spec: str, message: str):
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text(spec)
    out = tmp_path / "out"
    code, _, err = synth(["relational", "--ddl", str(SCHEMAS[schema]), "--spec", str(spec_file), "--out", str(out)])
    assert code == 1 and not out.exists()
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_a_broken_rule_fails_the_report(tmp_path: Path):
    prepared = prepare(SCHEMAS["library"], RelationalConfig(rows=200), seed=4)
    tables = {t: prepared.generator.table_frame(t) for t in prepared.plan.insert_order}
    loans = tables["loans"]
    # three loans due the day before they were lent
    early = loans["loaned_at"].dt.date() - dt.timedelta(days=1)
    tables["loans"] = loans.with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(early).otherwise(pl.col("due_date")).alias("due_date")
    )
    report = build_report(prepared.schema, prepared.plan, prepared.generator, tables, 4, GENERATOR_VERSION)
    entry = next(r for r in report["rules"] if r["rule"] == "due_date >= loaned_at")
    assert entry["violations"] == 3 and report["rule_violations"] == 3
    assert not report["ok"] and report["violations"] == 0  # no declared constraint is broken, a rule is
