"""CHECKs satisfied by construction: LIKE/ILIKE, regexes, modulo, date bounds, a self-referencing junction.

Each value is checked here in Python (``re``, arithmetic) on the written Parquet, independently of the
generator and of the report; the report must count every CHECK with 0 violations. PostgreSQL loads the
same schema in test_postgres_proof.py.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare
from synth_pipelines.domains.relational.regex_gen import (
    PatternError,
    draw_shape,
    enumerate_shape,
    fit_shape,
    parse_regex,
    shape_domain,
)
from synth_pipelines_tests.relational.conftest import TRICKY

CATALOG = TRICKY / "course_catalog.sql"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("catalog")
    prepared = prepare(CATALOG, RelationalConfig(rows=600), seed=7)
    report, _ = export_dataset(prepared, 7, out, formats=("parquet",))
    return report, out


def _all_match(values: pl.Series, pattern: str, flags: int = 0) -> None:
    rx = re.compile(pattern, flags)
    bad = [v for v in values.drop_nulls().to_list() if not rx.fullmatch(v)]
    assert not bad, f"{len(bad)} values do not match {pattern}: {bad[:5]}"


def test_every_check_is_counted_with_zero_violations(catalog):
    report, _ = catalog
    assert report["ok"] and report["violations"] == 0
    checks = [c for t in report["tables"].values() for c in t["constraints"] if c["type"] == "CHECK"]
    assert len(checks) == 14  # every CHECK of the DDL, one entry each
    assert all(c["violations"] == 0 for c in checks)


def test_like_and_regex_columns_match_their_patterns(catalog):
    _, out = catalog
    courses = pl.read_parquet(out / "courses.parquet")
    departments = pl.read_parquet(out / "departments.parquet")
    _all_match(departments["dept_code"], r"[A-Z]{2}[0-9]{2}")
    assert departments["dept_code"].n_unique() == departments.height  # UNIQUE, by enumeration
    _all_match(courses["code"], r"CS-.+")
    assert courses["code"].n_unique() == courses.height
    assert courses["code"].str.len_chars().max() <= 12
    _all_match(courses["catalog_ref"], r"[A-Z]{3}-[0-9]{4}")
    _all_match(courses["section"], r"S\d{1,3}[a-z]?")
    _all_match(courses["room"], r"R.-.*")
    assert courses["room"].str.len_chars().max() <= 8
    _all_match(courses["syllabus_url"], r"https://.*\.pdf")
    _all_match(courses["contact_email"], r"[a-z.0-9]+@uni\.example\.org", re.IGNORECASE)
    # The usual values survive around the literal parts: varied codes, names in the addresses.
    assert courses["catalog_ref"].n_unique() > courses.height // 2
    assert courses["contact_email"].drop_nulls().str.contains(r"^[a-z]+\.[a-z]+").mean() > 0.9
    assert courses["syllabus_url"].drop_nulls().str.starts_with("https://https").sum() == 0


def test_modulo_and_date_bounds_hold(catalog):
    _, out = catalog
    courses = pl.read_parquet(out / "courses.parquet")
    credits = courses["credits"].to_numpy()
    assert set(np.unique(credits)) <= {3, 6, 9, 12} and len(np.unique(credits)) > 1
    pct = courses["pass_pct"].to_numpy()
    assert (pct % 5 == 0).all() and pct.min() >= 40 and pct.max() <= 90 and len(np.unique(pct)) > 5
    seats = courses["odd_seats"].drop_nulls().to_numpy()
    assert (seats % 2 == 1).all() and (seats < 200).all()
    starts = courses["starts_on"]
    assert starts.min() > dt.date(2030, 1, 1)
    assert starts.n_unique() > 100  # spread over a window, not piled on the bound
    assert courses["retired_on"].drop_nulls().max() < dt.date(1999, 12, 31)
    due = courses["review_due"].drop_nulls()
    assert due.min() >= dt.datetime(2031, 6, 1) and due.max() < dt.datetime(2032, 1, 1)


def test_self_referencing_junction_has_no_diagonal_and_distinct_pairs(catalog):
    _, out = catalog
    pairs = pl.read_parquet(out / "course_prerequisites.parquet")
    assert pairs.height > 0
    assert (pairs["course_id"] != pairs["prereq_id"]).all()
    assert pairs.unique().height == pairs.height


def test_junction_fills_every_pair_but_the_diagonal(tmp_path: Path):
    """4 courses allow exactly 12 ordered pairs without (x, x): all 12 are drawn, none repeated."""
    ddl = tmp_path / "pre.sql"
    ddl.write_text(CATALOG.read_text())
    prepared = prepare(ddl, RelationalConfig(rows=4, table_rows={"departments": 4, "course_prerequisites": 12}), seed=3)
    _, files = export_dataset(prepared, 3, tmp_path / "out", formats=("parquet",))
    pairs = pl.read_parquet(files["parquet:course_prerequisites"])
    assert sorted(pairs.rows()) == [(a, b) for a in range(1, 5) for b in range(1, 5) if a != b]
    with pytest.raises(ConstraintViolation, match="allows only 12 distinct values"):
        prepare(ddl, RelationalConfig(rows=4, table_rows={"course_prerequisites": 13}), seed=3)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[A-Z]{3}-[0-9]{4}$",
        r"^\d{3}-\d{2,4}$",
        r"^[a-z]+@[a-z]+\.org$",
        r"^[^@ ]+@[^@ ]+\.[a-z]{2,3}$",
        r"^INV\.\d+x?$",
        r"^[A-F0-9_]{8}\w*$",
        r"^.{2}-[-a-c]*$",
        r"^(?:)$".replace("(?:)", ""),
        r"AB[0-9]",  # unanchored: a full match also matches anywhere
    ],
)
def test_regex_generator_draws_and_enumerates_matching_strings(pattern: str):
    shape = parse_regex(pattern)
    rx = re.compile(pattern.lstrip("^").rstrip("$"))
    drawn = draw_shape(shape, np.random.default_rng(1), 2000).to_list()
    assert all(rx.fullmatch(v) for v in drawn), [v for v in drawn if not rx.fullmatch(v)][:5]
    j = np.arange(min(shape_domain(shape), 500))
    listed = enumerate_shape(shape, j).to_list()
    assert all(rx.fullmatch(v) for v in listed)
    assert len(set(listed)) == len(listed)


def test_regex_fits_char_and_varchar_lengths():
    exact = fit_shape(parse_regex(r"^[A-Z]{2,5}-\d+$"), None, 8)
    assert {len(v) for v in draw_shape(exact, np.random.default_rng(0), 500).to_list()} == {8}
    short = fit_shape(parse_regex(r"^[a-z]+\d*$"), 3, None)
    assert max(len(v) for v in draw_shape(short, np.random.default_rng(0), 500).to_list()) <= 3
    with pytest.raises(PatternError, match="fixed length 2"):
        fit_shape(parse_regex(r"^[A-Z]{3}$"), None, 2)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"^(AB|CD)-\d$", "groups and alternation"),
        (r"^\bx$", r"escape \\b"),
        (r"^[[:alpha:]]$", "POSIX"),
        (r"^x{3,1}$", "quantifier"),
        (r"^é$", "non-ASCII"),
    ],
)
def test_unsupported_regex_is_refused_with_one_line(tmp_path: Path, pattern: str, reason: str):
    ddl = tmp_path / "bad.sql"
    ddl.write_text(f"CREATE TABLE parts (id INT PRIMARY KEY, ref VARCHAR(20) NOT NULL CHECK (ref ~ '{pattern}'));\n")
    out = str(tmp_path / "out")
    proc = subprocess.run(
        [sys.executable, "-m", "synth_pipelines.cli", "relational", "--ddl", str(ddl), "--rows", "10", "--out", out],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "table parts: column ref" in lines[0] and pattern in lines[0] and re.search(reason, lines[0])
    assert not (tmp_path / "out").exists()


def test_contradicting_date_bounds_and_modulo_are_refused(tmp_path: Path):
    ddl = tmp_path / "dates.sql"
    ddl.write_text("CREATE TABLE t (id INT PRIMARY KEY, d DATE CHECK (d > '2030-01-01' AND d < '2020-01-01'));\n")
    with pytest.raises(ConstraintViolation, match=r"t\.d DATE: its CHECKs leave no possible value"):
        prepare(ddl, RelationalConfig(rows=5), seed=1)
    ddl.write_text("CREATE TABLE t (id INT PRIMARY KEY, n INT CHECK (n % 10 = 3 AND n BETWEEN 4 AND 12));\n")
    with pytest.raises(ConstraintViolation, match=r"column n: CHECK .* no value in 4..12 leaves remainder 3 modulo 10"):
        prepare(ddl, RelationalConfig(rows=5), seed=1)


def test_mysql_regexp_and_like_escape(tmp_path: Path):
    ddl = tmp_path / "m.sql"
    ddl.write_text(
        "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY,\n"
        "  sku VARCHAR(16) NOT NULL UNIQUE CHECK (sku REGEXP '^SKU-[0-9]{6}$'),\n"
        "  tag VARCHAR(20) NOT NULL CHECK (tag LIKE 'x!_%' ESCAPE '!'),\n"
        "  qty INT NOT NULL CHECK (MOD(qty, 4) = 0 AND qty > 0));\n"
    )
    prepared = prepare(ddl, RelationalConfig(rows=300, dialect="mysql"), seed=2)
    report, files = export_dataset(prepared, 2, tmp_path / "out", formats=("parquet",))
    assert report["ok"]
    items = pl.read_parquet(files["parquet:items"])
    _all_match(items["sku"], r"SKU-[0-9]{6}")
    assert items["sku"].n_unique() == 300
    assert items["tag"].str.starts_with("x_").all()
    assert (items["qty"].to_numpy() % 4 == 0).all() and (items["qty"].to_numpy() > 0).all()
