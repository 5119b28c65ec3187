"""The dataset store end to end: save, list, show, export, edits, refusals, undo, migrations, parallel writers."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import polars as pl
import pytest

from synth_pipelines import cli
from synth_pipelines.store.catalog import DatasetStore
from synth_pipelines.store.migrations import MIGRATIONS
from synth_pipelines.store.modify import EditRefused, apply_sql, undo
from synth_pipelines_tests.store.conftest import LIBRARY, synth


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def export_bytes(capsys: pytest.CaptureFixture[str], tmp_path: Path, ref: str, name: str, fmt: str = "csv") -> bytes:
    out = tmp_path / f"{name}.zip"
    code, _, err = run(capsys, "datasets", "export", ref, "--out", str(out), "--format", fmt)
    assert code == 0, err
    return out.read_bytes()


def table(store: DatasetStore, ref: str, name: str, version: int | None = None) -> pl.DataFrame:
    info = store.get(ref)
    return pl.read_parquet(store.table_files(info, version)[name])


def test_save_list_show_export_and_db_check(
    data_dir: Path, store: DatasetStore, dataset_id: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "datasets", "list")
    assert (
        code == 0 and dataset_id in out and "library" in out and " 160 " in out
    )  # 4 entities x 20 + loans, reviews 2 x 20 (roles)
    info = store.get("library")
    assert info.id == dataset_id and info.current_version == 1 and info.seed == 42 and info.asset_group == "library"
    assert info.ddl == LIBRARY.read_text() and info.ddl_sha256 == hashlib.sha256(LIBRARY.read_bytes()).hexdigest()
    meta = info.meta
    assert meta["table_order"] == ["authors", "publishers", "books", "members", "loans", "reviews"]
    assert meta["primary_keys"]["members"] == ["member_id"] and meta["validation_report"]["ok"]
    assert {"table": "loans", "columns": ["member_id"], "references": "members(member_id)",
            "rows_with_reference": 40}.items() <= next(
        fk for fk in meta["foreign_keys"] if fk["table"] == "loans" and fk["columns"] == ["member_id"]
    ).items()  # fmt: skip
    assert meta["column_stats"]["members"]["tier"]["distinct"] >= 1
    code, out, _ = run(capsys, "datasets", "show", dataset_id, "--table", "members", "--limit", "3")
    assert code == 0 and "member_id" in out and "shape: (3, 8)" in out
    # Export: the CSVs of the stored Parquet, the same bytes every time, equal to a fresh --out run's CSVs.
    first = export_bytes(capsys, tmp_path, dataset_id, "a")
    assert first == export_bytes(capsys, tmp_path, "library", "b")
    fresh = tmp_path / "fresh"
    done = synth("relational", "--ddl", str(LIBRARY), "--rows", "20", "--seed", "42", "--out", str(fresh),
                 "--format", "zip", data_dir=tmp_path / "unused")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert first == (fresh / "dataset.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(export_bytes(capsys, tmp_path, dataset_id, "p", "parquet"))) as zf:
        assert zf.namelist() == [f"{t}.parquet" for t in meta["table_order"]]
        assert zf.read("members.parquet") == store.table_files(info)["members"].read_bytes()
    code, out, _ = run(capsys, "db", "check")
    assert code == 0 and out.splitlines()[0] == f"Migrations applied: {len(MIGRATIONS)}"
    code, _, err = run(capsys, "datasets", "show", "nope")
    assert code == 1 and err.count("\n") == 1 and "no dataset 'nope'" in err


def test_save_with_out_writes_both_and_keeps_the_requested_formats(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    done = synth("relational", "--ddl", str(LIBRARY), "--rows", "10", "--format", "csv", "--out", str(out), "--save",
                 data_dir=data)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".parquet") == []
    assert (out / "members.csv").is_file()
    assert len(DatasetStore(data).list()) == 1


def test_db_check_fails_on_pending_and_unknown_migrations(tmp_path: Path, store: DatasetStore) -> None:
    empty = synth("db", "check", data_dir=tmp_path / "empty")
    assert empty.returncode == 1 and empty.stdout.startswith("Migrations applied: 0\nPending: 0001_")
    with store.writing() as con:
        con.execute("INSERT INTO schema_migrations VALUES ('9999_from_the_future', now()::TIMESTAMP)")
    future = synth("db", "check", data_dir=store.root.parent)
    assert future.returncode == 1 and "Unknown to this version: 9999_from_the_future" in future.stdout
    assert f"Migrations applied: {len(MIGRATIONS) + 1}" in future.stdout


def test_an_older_catalog_is_migrated_in_order(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path)
    store.root.mkdir(parents=True)
    con = duckdb.connect(str(store.catalog_path))
    con.execute("CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    con.execute(MIGRATIONS["0001_generated_datasets"])
    con.execute("INSERT INTO schema_migrations VALUES ('0001_generated_datasets', now()::TIMESTAMP)")
    con.close()
    assert store.migrations().pending == sorted(MIGRATIONS)[1:]
    assert store.list() == []  # a read brings it up to date
    assert store.migrations().ok and store.migrations().applied == sorted(MIGRATIONS)


# -- edits that must be refused, with nothing changed -------------------------------------------------

BREAKING = [
    ("DELETE FROM members WHERE member_id = 1", "FOREIGN KEY (member_id)"),
    ("UPDATE members SET email = 'same@example.com' WHERE member_id < 3", "members: UNIQUE (email) x1"),
    ("UPDATE books SET price = -1 WHERE book_id = 3", "books: CHECK (price >= 0) x1"),
    (
        "UPDATE loans SET loaned_at = TIMESTAMP '1900-01-01' WHERE loan_id = 1",
        "RULE (loaned_at >= members.joined_at) x1",
    ),
    ("UPDATE members SET email = NULL WHERE member_id = 2", "members: NOT NULL (email) x1"),
    ("UPDATE members SET member_id = 'abc' WHERE member_id = 2", "failed in DuckDB"),
]


@pytest.mark.parametrize(("sql", "named"), BREAKING)
def test_an_edit_breaking_a_constraint_or_rule_is_refused_and_nothing_changes(
    data_dir: Path, store: DatasetStore, dataset_id: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    sql: str, named: str,
) -> None:  # fmt: skip
    before = export_bytes(capsys, tmp_path, dataset_id, "before")
    code, out, err = run(capsys, "modify", dataset_id, "--sql", sql)
    assert code == 1 and out == "" and named in err and err.count("\n") == 1, err
    assert "current version is unchanged" in err or "nothing was changed" in err
    info = store.get(dataset_id)
    assert info.current_version == 1 and [v.version for v in store.versions(dataset_id)] == [1]
    assert export_bytes(capsys, tmp_path, dataset_id, "after") == before
    assert not list((store.root / dataset_id).glob(".staging-*"))


def test_a_cascade_is_applied_only_when_the_plan_says_how(store: DatasetStore, dataset_id: str) -> None:
    with pytest.raises(EditRefused, match="FOREIGN KEY"):
        apply_sql(store, dataset_id, ["DELETE FROM members WHERE member_id = 7"])
    children = ("loans", "reviews")
    counts = {t: table(store, dataset_id, t).filter(pl.col("member_id") == 7).height for t in children}
    outcome = apply_sql(
        store,
        dataset_id,
        [f"DELETE FROM {t} WHERE member_id = 7" for t in children] + ["DELETE FROM members WHERE member_id = 7"],
    )
    assert outcome.version == 2
    assert outcome.diff["tables"]["members"] == outcome.diff["tables"]["members"] | {
        "added": 0,
        "changed": 0,
        "deleted": 1,
    }
    for t in children:
        assert outcome.diff["tables"][t]["deleted"] == counts[t]
    assert outcome.diff["tables"]["books"] == {"added": 0, "changed": 0, "deleted": 0}


def test_undo_restores_the_exact_bytes_of_an_earlier_version(
    data_dir: Path, store: DatasetStore, dataset_id: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    v1 = export_bytes(capsys, tmp_path, dataset_id, "v1")
    v1_parquet = export_bytes(capsys, tmp_path, dataset_id, "v1p", "parquet")
    assert run(capsys, "modify", dataset_id, "--sql", "UPDATE members SET tier = 'staff' WHERE member_id <= 5")[0] == 0
    v2 = export_bytes(capsys, tmp_path, dataset_id, "v2")
    assert run(capsys, "modify", dataset_id, "--sql", "UPDATE books SET copies = 2")[0] == 0
    assert v2 != v1
    code, out, _ = run(capsys, "datasets", "undo", dataset_id)
    assert code == 0 and "version 4 is current (restored version 2)" in out
    assert export_bytes(capsys, tmp_path, dataset_id, "u2") == v2
    code, out, _ = run(capsys, "datasets", "undo", dataset_id, "--to", "1")
    assert code == 0 and "version 5 is current (restored version 1)" in out
    assert export_bytes(capsys, tmp_path, dataset_id, "u1") == v1
    assert export_bytes(capsys, tmp_path, dataset_id, "u1p", "parquet") == v1_parquet
    code, out, _ = run(capsys, "datasets", "versions", dataset_id)
    lines = out.splitlines()
    assert len(lines) == 5 and lines[-1].startswith("* v5") and "[restores v1]" in lines[-1]
    assert "members: 5 changed" in lines[1] and "books: " in lines[2]
    with pytest.raises(EditRefused, match="already current"):
        undo(store, dataset_id, 5)


def test_a_spec_patch_redraws_only_what_it_names_and_its_dependents(
    data_dir: Path, store: DatasetStore, dataset_id: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    patch = tmp_path / "patch.yaml"
    patch.write_text(
        "tables:\n  members:\n    columns:\n      tier:\n        generator: vocabulary\n        values: [premium]\n"
    )
    before = store.table_files(store.get(dataset_id))
    old = {t: p.read_bytes() for t, p in before.items()}
    code, out, err = run(capsys, "modify", dataset_id, "--spec-patch", str(patch))
    assert code == 0, err
    assert "regenerated members, loans, reviews" in out
    info = store.get(dataset_id)
    after = store.table_files(info)
    for t in ("authors", "publishers", "books"):
        assert after[t].read_bytes() == old[t]
    members_before, members_after = pl.read_parquet(before["members"]), pl.read_parquet(after["members"])
    assert set(members_after["tier"]) == {"premium"}
    assert members_after.drop("tier").equals(members_before.drop("tier"))  # only the patched column moved
    assert "tier:\n        generator: vocabulary" in (store.version_dir(dataset_id, 2) / "spec.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables:\n  members:\n    columns:\n      nope:\n        generator: vocabulary\n")
    code, _, err = run(capsys, "modify", dataset_id, "--spec-patch", str(bad))
    assert code == 1 and "unknown column members.nope" in err and store.get(dataset_id).current_version == 2


def test_a_crash_mid_write_leaves_the_last_good_version(
    store: DatasetStore, dataset_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.get(dataset_id)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as if killed between the rename and the catalog commit

    monkeypatch.setattr(DatasetStore, "_insert_version", staticmethod(crash))
    with pytest.raises(KeyboardInterrupt):
        apply_sql(store, dataset_id, ["UPDATE books SET copies = 3"])
    monkeypatch.undo()
    assert store.get(dataset_id).current_version == before.current_version == 1
    assert [v.version for v in store.versions(dataset_id)] == [1]
    (store.root / dataset_id / "v0002").mkdir()  # an unreferenced folder a harder crash could leave
    (store.root / dataset_id / "v0002" / "junk").write_text("x")
    outcome = apply_sql(store, dataset_id, ["UPDATE books SET copies = 3"])
    assert outcome.version == 2 and not (store.root / dataset_id / "v0002" / "junk").exists()


def test_parallel_writers_lose_nothing(data_dir: Path, store: DatasetStore, dataset_id: str) -> None:
    """Two edits of one dataset and two saves, each in its own process, all at once."""
    jobs = [
        ("modify", dataset_id, "--sql", "UPDATE members SET tier = 'staff' WHERE member_id = 3"),
        ("modify", dataset_id, "--sql", "UPDATE books SET copies = 7 WHERE book_id = 4"),
        ("relational", "--ddl", str(LIBRARY), "--rows", "5", "--seed", "1", "--save", "--name", "one"),
        ("relational", "--ddl", str(LIBRARY), "--rows", "5", "--seed", "2", "--save", "--name", "two"),
    ]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda argv: synth(*argv, data_dir=data_dir), jobs))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    info = store.get(dataset_id)
    assert info.current_version == 3 and [v.version for v in store.versions(dataset_id)] == [1, 2, 3]
    members, books = table(store, dataset_id, "members"), table(store, dataset_id, "books")
    assert members.filter(pl.col("member_id") == 3)["tier"].item() == "staff"  # both edits are in v3
    assert books.filter(pl.col("book_id") == 4)["copies"].item() == 7
    assert sorted(d.name or "" for d in store.list()) == ["library", "one", "two"]
    assert synth("db", "check", data_dir=data_dir).returncode == 0


def test_delete_removes_the_dataset(store: DatasetStore, dataset_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "datasets", "delete", "library")
    assert code == 0 and out.startswith(f"deleted {dataset_id}")
    assert store.list() == [] and not (store.root / dataset_id).exists()


def test_each_accepted_version_is_a_dagster_materialization_with_the_diff(
    store: DatasetStore, dataset_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    outcome = apply_sql(store, dataset_id, ["UPDATE members SET tier = 'staff' WHERE member_id <= 2"])
    assert outcome.notes == []
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["kept_datasets", dataset_id]))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["version"].value == 2 and metadata["kind"].value == "sql"
    assert metadata["rows_changed"].value == outcome.diff["totals"]["changed"] >= 1
    assert json.loads(json.dumps(metadata["diff"].value))["tables"]["members"]["changed"] >= 1
