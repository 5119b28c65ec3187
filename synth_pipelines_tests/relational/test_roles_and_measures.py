"""Issue #19: row counts by table role and numbers by what they measure, on the music store schema
(modelled on the public Chinook sample) and the company schema. Every claim is recounted here with
polars/numpy from the written Parquet files, independently of validation_report.json, then compared."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare
from synth_pipelines.domains.relational.roles import LOOKUP_VOCABULARIES
from synth_pipelines.domains.relational.spec import SpecError
from synth_pipelines_tests.relational.conftest import SAMPLES, TRICKY

MUSIC = TRICKY / "music_store.sql"
COMPANY = next(p for p in SAMPLES if p.stem == "company")
ROWS = 300


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("music")
    report, _ = export_dataset(prepare(MUSIC, RelationalConfig(rows=ROWS), seed=19), 19, out, formats=("parquet",))
    return out, report


def read(out: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(out / f"{table}.parquet")


def test_roles_are_inferred_and_listed_in_the_report(music: tuple[Path, dict]):
    _, report = music
    assert report["roles"] == {
        "genres": "lookup",
        "media_types": "lookup",
        "artists": "entity",
        "albums": "entity",
        "tracks": "entity",
        "employees": "entity",
        "customers": "entity",
        "invoices": "event",
        "invoice_lines": "event",
        "playlists": "entity",
        "playlist_tracks": "junction",
    }


def test_counts_follow_roles_not_the_global_rows(music: tuple[Path, dict]):
    out, report = music
    rows = report["rows"]
    # lookups: tens, whatever --rows says
    assert 10 <= rows["genres"] < 100 and 10 <= rows["media_types"] < 100
    assert rows["customers"] == rows["tracks"] == ROWS
    # events: a multiple of their parents (2 invoices per customer, 4 lines per invoice)
    assert rows["invoices"] == 2 * rows["customers"] and rows["invoice_lines"] == 4 * rows["invoices"]
    # a junction: a share of the possible pairs, never more than the pairs
    assert rows["playlist_tracks"] <= rows["playlists"] * rows["tracks"]
    for table, n in rows.items():
        assert read(out, table).height == n


def test_lookup_values_come_from_a_vocabulary_that_fits_the_table(music: tuple[Path, dict]):
    out, _ = music
    genres = read(out, "genres")["name"].to_list()
    music_genres = next(v for p, v in LOOKUP_VOCABULARIES if p.pattern == "genre")
    assert genres == music_genres[: len(genres)] and {"Rock", "Jazz", "Blues"} <= set(genres)
    media = read(out, "media_types")["name"]
    assert media.str.contains("audio|video|audiobook").all() and media.n_unique() == media.len()


def test_a_role_can_be_overridden_in_the_spec(tmp_path: Path):
    spec = tmp_path / "roles.yaml"
    spec.write_text("tables:\n  playlists: {role: lookup}\n  invoices: {role: entity}\n")
    prepared = prepare(MUSIC, RelationalConfig(rows=200, spec=str(spec)), seed=1)
    assert prepared.plan.roles["playlists"] == "lookup" and prepared.plan.rows["playlists"] == 12
    assert prepared.plan.roles["invoices"] == "entity" and prepared.plan.rows["invoices"] == 200
    # --table-rows still wins over the role
    prepared = prepare(MUSIC, RelationalConfig(rows=200, table_rows={"genres": 7}), seed=1)
    assert prepared.plan.rows["genres"] == 7 and prepared.plan.rows["invoice_lines"] == 1600


def test_a_bad_role_is_refused_with_one_line(tmp_path: Path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("tables:\n  genres: {role: catalogue}\n")
    with pytest.raises(SpecError, match=r"bad.yaml: tables.genres.role"):
        prepare(MUSIC, RelationalConfig(rows=50, spec=str(spec)), seed=1)


def ancestors_depth(keys: np.ndarray, parents: np.ndarray) -> tuple[int, int, int]:
    """(roots, depth, rows on or under a cycle) by following parent pointers with numpy."""
    position = {int(k): i for i, k in enumerate(keys)}
    is_root = np.isnan(parents) | (parents == keys)
    up = np.array([-1 if r else position[int(p)] for p, r in zip(parents, is_root, strict=True)])
    cur, depth = np.arange(keys.size), 1
    for _ in range(keys.size + 1):
        moving = up[cur] >= 0
        if not moving.any():
            return int(is_root.sum()), depth, 0
        cur = np.where(moving, up[cur], cur)
        depth += 1
    return int(is_root.sum()), depth, int((up[cur] >= 0).sum())


@pytest.mark.parametrize("ddl,table,key,parent", [(MUSIC, "employees", "employee_id", "reports_to"),
                                                   (COMPANY, "employees", "employee_id", "manager_id")])  # fmt: skip
def test_self_references_look_like_an_organisation(tmp_path: Path, ddl: Path, table: str, key: str, parent: str):
    report, _ = export_dataset(prepare(ddl, RelationalConfig(rows=1000), seed=3), 3, tmp_path, formats=("parquet",))
    frame = read(tmp_path, table)
    keys = frame[key].cast(pl.Float64).to_numpy()
    parents = frame[parent].cast(pl.Float64).to_numpy()
    roots, depth, in_cycle = ancestors_depth(keys, parents)
    assert in_cycle == 0 and 1 <= roots <= 3 and 3 <= depth <= 12
    span = frame[parent].drop_nulls().value_counts()["count"]
    assert span.max() <= 40 and 2 <= span.mean() <= 8  # a handful of reports per manager
    entry = next(r for r in report["rules"] if r["table"] == table and r.get("kind") == "hierarchy")
    assert (entry["violations"], entry["roots"], entry["depth"]) == (0, roots, depth)
    assert entry["rows_checked"] == frame.height - roots


def test_invoice_totals_equal_their_lines(music: tuple[Path, dict]):
    out, report = music
    lines = read(out, "invoice_lines")
    sums = lines.group_by("invoice_id").agg((pl.col("unit_price") * pl.col("quantity")).sum().alias("lines"))
    invoices = read(out, "invoices").join(sums, on="invoice_id", how="left")
    broken = [r for r in invoices.iter_rows(named=True) if r["total"] != (r["lines"] or Decimal(0))]
    assert not broken
    assert invoices["lines"].null_count() == 0  # every invoice has lines
    entry = next(r for r in report["rules"] if r.get("kind") == "sum")
    assert entry["rule"] == "total = sum(invoice_lines.unit_price * invoice_lines.quantity)"
    assert (entry["rows_checked"], entry["violations"]) == (invoices.height, 0)
    assert report["ok"] and report["rule_violations"] == 0


def test_a_broken_total_fails_the_report(music: tuple[Path, dict], tmp_path: Path):
    from synth_pipelines.domains.relational.report import build_report

    out, _ = music
    prepared = prepare(MUSIC, RelationalConfig(rows=ROWS), seed=19)
    sources = {t: out / f"{t}.parquet" for t in prepared.schema.tables}
    bad = read(out, "invoices").with_columns(pl.col("total") + pl.lit(Decimal("0.01")))
    bad.write_parquet(tmp_path / "invoices.parquet")
    sources["invoices"] = tmp_path / "invoices.parquet"
    report = build_report(prepared.schema, prepared.plan, prepared.generator, sources, 19, "test")
    entry = next(r for r in report["rules"] if r.get("kind") == "sum")
    assert entry["violations"] == bad.height and not report["ok"]


def test_numbers_look_like_what_they_measure(music: tuple[Path, dict]):
    out, _ = music
    tracks = read(out, "tracks")
    minutes = tracks["milliseconds"] / 60_000
    assert minutes.min() >= 1.5 and minutes.max() <= 10 and 3 <= minutes.median() <= 5
    # bytes follow the duration: 128-320 kbit/s
    with_size = tracks.filter(pl.col("bytes").is_not_null())
    rate = with_size["bytes"] / with_size["milliseconds"]
    assert with_size.height > 0 and rate.min() >= 15.9 and rate.max() <= 40.1
    prices = tracks["unit_price"].cast(pl.Float64)
    assert prices.min() >= 0.69 and prices.max() <= 2.49
    cents = (tracks["unit_price"] * 100).cast(pl.Int64) % 100
    assert (cents == 99).mean() > 0.9  # charm prices
    lines = read(out, "invoice_lines")
    assert lines["quantity"].min() >= 1 and (lines["quantity"] <= 2).mean() > 0.6
    employees = read(out, "employees")
    assert not employees["title"].str.contains("^The |^A |In Search of").any()  # job titles, not book titles
    adult = employees.filter(pl.col("birth_date").is_not_null() & pl.col("hire_date").is_not_null())
    age_at_hire = (adult["hire_date"] - adult["birth_date"]).dt.total_days() / 365
    assert adult.height > 0 and age_at_hire.min() >= 18
