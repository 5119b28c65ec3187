"""Relational shards: every table by proportional row range; the parts in order are the unsharded rows,
the constraint report over all parts is the unsharded report, ``--compact`` is byte-identical, a part
depends only on (seed, config, K, i), and keys and foreign keys are proven over the whole set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from synth_pipelines.cli import main
from synth_pipelines.core.atomic import file_sha256
from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.core.paths import SCHEMAS_DIR
from synth_pipelines.core.shards import (
    INCOMING,
    commit_shards,
    manifest_path,
    publish_sharded,
    run_shard,
    run_shards,
    shard_range,
)
from synth_pipelines.domains.relational.domain import RelationalDomain
from synth_pipelines.domains.relational.pipeline import export_dataset, prepare
from synth_pipelines.domains.relational.shards import locked_connection, report_row_claims
from synth_pipelines_tests.dagster_helpers import files_under

SEED = 31
TEST_SCHEMAS = Path(__file__).parents[1] / "relational" / "schemas"
# library: anchors (a loan after its member joined, a review after the book was published).
# music_store: a self-reference (employees.reports_to), a junction table with a composite key
# (playlist_tracks), copies (a line's price from its track, an invoice's billing city from its customer)
# and line sums (an invoice's total = the sum of its lines).
CASES: list[tuple[str, Path, dict[str, Any]]] = [
    ("library", SCHEMAS_DIR / "library.sql", {"rows": 40}),
    ("music_store", TEST_SCHEMAS / "music_store.sql", {"rows": 30}),
]
IDS = [name for name, _, _ in CASES]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _database(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a DuckDB file, its rows in order (the file's bytes are not stable by design)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()]
        return {n: con.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}
    finally:
        con.close()


def _same_output(compact: Path, reference: Path) -> None:
    mine, theirs = _files(compact), _files(reference)
    assert sorted(mine) == sorted(theirs)
    for name in mine:
        if name.endswith(".duckdb"):
            assert _database(compact / name) == _database(reference / name), name
        else:
            assert mine[name] == theirs[name], name


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What ``synth relational`` writes without shards (every format)."""
    root = tmp_path_factory.mktemp("unsharded")
    for name, ddl, values in CASES:
        cfg = RelationalDomain(ddl).parse_config(values)
        export_dataset(prepare(ddl, cfg, SEED), SEED, root / name)
    return {name: root / name for name, _, _ in CASES}


@pytest.mark.parametrize("shards", [1, 2, 7])
@pytest.mark.parametrize(("name", "ddl", "values"), CASES, ids=IDS)
def test_parts_in_order_are_the_unsharded_rows_the_report_is_the_same_and_compact_is_byte_identical(
    name: str, ddl: Path, values: dict[str, Any], shards: int, references: dict[str, Path], tmp_path: Path
) -> None:
    domain = RelationalDomain(ddl)
    cfg = domain.parse_config(values)
    reference = references[name]
    report = json.loads((reference / "validation_report.json").read_text())
    summary = publish_sharded(domain, cfg, shards, tmp_path / "parts", seed=SEED)
    assert set(summary["files"]) == {f"{kind}:{t}" for t in report["rows"] for kind in ("parquet", "csv")}
    for role, entry in summary["files"].items():
        parts = [tmp_path / "parts" / p for p in entry["parts"]]
        assert len(parts) == shards
        whole = reference / entry["file"]
        if whole.suffix == ".parquet":
            read = pl.concat([pl.read_parquet(p) for p in parts])
            assert read.equals(pl.read_parquet(whole)), role
        else:  # CSV: every part has the header, then its rows; together they are the unsharded file
            header = whole.read_bytes().split(b"\n", 1)[0] + b"\n"
            texts = [p.read_bytes() for p in parts]
            assert all(t.startswith(header) for t in texts), role
            assert header + b"".join(t.removeprefix(header) for t in texts) == whole.read_bytes(), role
        assert entry["rows"] == report["rows"][role.split(":", 1)[1]], role
    # The report over all parts is the unsharded report, byte for byte (every count, coverage, sample).
    assert (tmp_path / "parts" / "validation_report.json").read_bytes() == (
        reference / "validation_report.json"
    ).read_bytes()
    check = summary["checks"]["all_constraints_hold"]
    assert check["passed"] and check["violations"] == 0 and check["rule_violations"] == 0
    # The per-row claims counted by the shards, summed, are the report's counts: every claim is present
    # (none reported as 0 without being counted) and each table's rows add up.
    assert check["rows"] == report["rows"]
    assert check["row_claims"] == report_row_claims(report)
    assert all(check["row_claims"][t] for t in report["rows"])  # each table has NOT NULL/PK claims counted
    assert sum(check["rows_drawn"].values()) >= sum(report["rows"].values())
    compacted = publish_sharded(domain, cfg, shards, tmp_path / "compact", seed=SEED, compacted=True)
    assert compacted == summary
    _same_output(tmp_path / "compact", reference)


def test_a_shard_starting_inside_a_block_draws_it_and_keeps_only_its_rows(tmp_path: Path) -> None:
    """Loans of 70,000 rows are two blocks of the generator (65,536 rows each): shard 1 of 3 starts and
    ends inside block 0, shard 2 starts in block 0 and holds all of block 1."""
    ddl = SCHEMAS_DIR / "library.sql"
    domain = RelationalDomain(ddl)
    cfg = domain.parse_config({"rows": 20, "table_rows": {"loans": 70_000}})
    whole = prepare(ddl, cfg, SEED).generator.table_frame("loans")
    out = tmp_path / "shards"
    manifests = run_shards(domain, cfg, 3, out, seed=SEED)
    parts = [pl.read_parquet(out / m["files"]["parquet:loans"]["part"]) for m in manifests]
    assert [p.height for p in parts] == [70_000 * (i + 1) // 3 - 70_000 * i // 3 for i in range(3)]
    assert pl.concat(parts).equals(whole)
    # Only loans is large: a shard draws its blocks (0, or 0 and 1), not the whole table.
    drawn = [m["checks"]["all_constraints_hold"]["rows_drawn"]["loans"] for m in manifests]
    assert drawn == [65_536, 65_536, 70_000]


def test_a_part_depends_only_on_seed_config_k_and_i(tmp_path: Path) -> None:
    """Shard 4 of 7 alone has the bytes of shard 4 of a run on a pool of 2 spawned processes."""
    _, ddl, values = CASES[1]
    domain = RelationalDomain(ddl)
    cfg = domain.parse_config(values)
    pooled = publish_sharded(domain, cfg, 7, tmp_path / "pool", seed=SEED, workers=2)
    alone = run_shard(domain, cfg, 7, 4, tmp_path / "alone", seed=SEED)
    assert alone == json.loads((tmp_path / "pool" / manifest_path(7, 4)).read_text())
    assert alone["units"] == list(shard_range(domain.shard_units(cfg), 7, 4))
    for part in alone["files"].values():
        assert (tmp_path / "alone" / part["part"]).read_bytes() == (tmp_path / "pool" / part["part"]).read_bytes()
    assert pooled["checks"]["all_constraints_hold"]["passed"]


def _plant(out: Path, shard: int, shards: int, role: str, change: Any) -> str:
    """Rewrite one Parquet part and its manifest's size and sha256, so only a proof over the data sees it."""
    path = out / manifest_path(shards, shard)
    manifest = json.loads(path.read_text())
    entry = manifest["files"][role]
    part = out / entry["part"]
    frame = pl.read_parquet(part)
    change(frame).cast(frame.schema).write_parquet(part)
    entry["bytes"], entry["sha256"] = part.stat().st_size, file_sha256(part)
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return entry["part"]


def _set_first(frame: pl.DataFrame, column: str, value: Any) -> pl.DataFrame:
    return frame.with_columns(frame[column].clone().scatter(0, value))


def test_a_planted_duplicate_key_or_orphan_foreign_key_fails_the_commit_naming_table_constraint_and_part(
    tmp_path: Path,
) -> None:
    domain = RelationalDomain(SCHEMAS_DIR / "library.sql")
    cfg = domain.parse_config({"rows": 40})
    out = tmp_path / "dup"
    run_shards(domain, cfg, 2, out, seed=SEED)
    commit_shards(domain, cfg, 2, out, seed=SEED)  # the set as written is whole
    taken = pl.read_parquet(out / "members" / "part-00000-of-00002.parquet")["member_id"][0]
    part = _plant(out, 1, 2, "parquet:members", lambda f: _set_first(f, "member_id", taken))
    # Each part alone has unique keys (its shard's per-row counts still hold): only the set has a duplicate.
    with pytest.raises(ConstraintViolation) as failed:
        commit_shards(domain, cfg, 2, out, seed=SEED)
    message = str(failed.value)
    assert "table members: PRIMARY KEY (member_id) x1: duplicate key" in message
    assert "members/part-00000-of-00002.parquet" in message and part in message

    out = tmp_path / "orphan"
    run_shards(domain, cfg, 2, out, seed=SEED)
    part = _plant(out, 1, 2, "parquet:loans", lambda f: _set_first(f, "member_id", 10**6))
    with pytest.raises(ConstraintViolation) as failed:
        commit_shards(domain, cfg, 2, out, seed=SEED)
    message = str(failed.value)
    assert "table loans: FOREIGN KEY (member_id) x1: no members row in part" in message
    assert part in message and "(1000000)" in message
    assert not (out / "_manifest.json").exists()


def test_cli_shards_compact_equals_the_plain_run_and_bad_combinations_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    args = ["relational", "--ddl", str(TEST_SCHEMAS / "music_store.sql"), "--rows", "20", "--seed", str(SEED)]
    assert main([*args, "--out", str(tmp_path / "plain")]) == 0
    assert main([*args, "--shards", "3", "--compact", "--out", str(tmp_path / "compact")]) == 0
    _same_output(tmp_path / "compact", tmp_path / "plain")
    assert main([*args, "--shards", "3", "--shard", "1", "--out", str(tmp_path / "one")]) == 0
    incoming = tmp_path / "one" / INCOMING / next((tmp_path / "one" / INCOMING).iterdir()).name
    assert (incoming / manifest_path(3, 1)).is_file()  # in the incoming area, which readers never read
    assert not (tmp_path / "one" / "_manifest.json").exists()  # a shard alone is not a committed set
    # the other machines' shards, then the commit step: the set the pooled run publishes, report included
    for shard in ("2", "0"):
        assert main([*args, "--shards", "3", "--shard", shard, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--shards", "3", "--commit", "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--shards", "3", "--out", str(tmp_path / "pooled")]) == 0
    assert files_under(tmp_path / "one") == files_under(tmp_path / "pooled")
    assert "validation_report.json" in files_under(tmp_path / "one")
    capsys.readouterr()
    refused = {
        ("--shard", "1"): "--shard needs --shards K",
        ("--compact",): "--compact needs --shards K",
        ("--shards", "2", "--shard", "2"): "--shard must be 0 .. 1",
        ("--shards", "2", "--shard", "0", "--compact"): "--compact needs every shard",
        ("--shards", "2", "--format", "parquet"): "--format with --shards",
        ("--shards", "2", "--save"): "--save keeps one drawn dataset",
        ("--shards", "2", "--provider", "openai"): "--shards runs offline only",
        ("--commit",): "--commit needs --shards K",
        ("--shards", "2", "--shard", "0", "--commit"): "--commit publishes the shards",
    }
    for extra, says in refused.items():
        code = main([*args, *extra, "--out", str(tmp_path / "refused")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and says in err[0], (extra, err)
        assert not (tmp_path / "refused").exists()


OTHER_SCHEMAS = sorted(
    p for p in [*SCHEMAS_DIR.glob("*.sql"), *TEST_SCHEMAS.glob("*.sql")] if p.stem not in ("library", "music_store")
)


@pytest.mark.parametrize("ddl", OTHER_SCHEMAS, ids=[p.stem for p in OTHER_SCHEMAS])
def test_every_schema_compacts_to_the_unsharded_files(ddl: Path, tmp_path: Path) -> None:
    """Every shipped and test schema (dialects, odd table names, composite keys, CHECKs): K=3 compacts to the
    unsharded files; ``hr`` with more shards than rows leaves empty parts and still compacts."""
    rows, shards = (3, 7) if ddl.stem == "hr" else (12, 3)
    domain = RelationalDomain(ddl)
    cfg = domain.parse_config({"rows": rows})
    export_dataset(prepare(ddl, cfg, SEED), SEED, tmp_path / "plain")
    publish_sharded(domain, cfg, shards, tmp_path / "compact", seed=SEED, compacted=True)
    _same_output(tmp_path / "compact", tmp_path / "plain")


def test_the_proof_connection_reads_the_listed_parts_and_nothing_else(tmp_path: Path) -> None:
    """CHECK expressions from the DDL run on the commit's DuckDB: it reads the parts it lists, no other file,
    and its lock cannot be undone."""
    part, other = tmp_path / "part.parquet", tmp_path / "other.parquet"
    pl.DataFrame({"x": [1, 2]}).write_parquet(part)
    pl.DataFrame({"secret": [3]}).write_parquet(other)
    con = locked_connection([part])
    try:
        assert con.execute(f"SELECT sum(x) FROM read_parquet('{part}')").fetchone() == (3,)
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT * FROM read_parquet('{other}')")
        with pytest.raises(duckdb.InvalidInputException):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()
