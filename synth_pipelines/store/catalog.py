"""The dataset store: a DuckDB catalog plus one folder of Parquet files per version, under ``<data dir>/datasets``.

Layout::

    datasets/catalog.duckdb         generated_datasets, dataset_versions, schema_migrations
    datasets/catalog.lock           flock: shared to read the catalog, exclusive to write it
    datasets/<id>/edit.lock         flock held for a whole edit of one dataset (edits queue, none is lost)
    datasets/<id>/v0001/            <table>.parquet, spec.yaml, validation_report.json (never changed again)

A version is written into a staging folder first; under the exclusive catalog lock it is renamed into
place and its catalog row inserted in one transaction, which also moves ``current_version``. A crash
before the commit leaves a staging folder (removed by the next writer) and the last good version current;
a crash between the rename and the commit leaves a folder no row points to, replaced by the next commit.

DuckDB lets one process at a time open a database file for writing, and none while it is open for
writing elsewhere: every open of the catalog happens under ``catalog.lock``, so processes queue instead
of failing.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from synth_pipelines.core.atomic import file_sha256
from synth_pipelines.core.paths import default_data_dir
from synth_pipelines.store.migrations import MigrationState, migrate, migration_state

STORE_DIR = "datasets"
CATALOG_FILE = "catalog.duckdb"
LOCK_FILE = "catalog.lock"
SPEC_FILE = "spec.yaml"
REPORT_FILE = "validation_report.json"


class StoreError(ValueError):
    """A dataset or version that does not exist, or a store that cannot be used; one line."""


@dataclass(frozen=True)
class DatasetInfo:
    id: str
    name: str | None
    created_at: datetime
    ddl: str
    ddl_sha256: str
    dialect: str
    seed: int
    spec: str
    config: dict[str, Any]
    meta: dict[str, Any]
    current_version: int
    asset_group: str | None

    @property
    def table_order(self) -> list[str]:
        return list(self.meta["table_order"])

    @property
    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name else self.id


@dataclass(frozen=True)
class VersionInfo:
    dataset_id: str
    version: int
    created_at: datetime
    created_by: str
    kind: str
    parent_version: int | None
    feedback: str | None
    plan: Any
    diff: Any
    files: dict[str, str]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class DatasetStore:
    def __init__(self, data_dir: str | Path | None = None) -> None:
        self.root = Path(data_dir if data_dir is not None else default_data_dir()) / STORE_DIR
        self.catalog_path = self.root / CATALOG_FILE

    # -- locks and connections ------------------------------------------------------------------
    @contextmanager
    def _flock(self, path: Path, exclusive: bool) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The catalog open for writing, migrated, under the exclusive lock."""
        with self._flock(self.root / LOCK_FILE, exclusive=True):
            con = duckdb.connect(str(self.catalog_path))
            try:
                migrate(con)
                yield con
            finally:
                con.close()

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """The catalog open read-only under the shared lock; None when no dataset was ever saved."""
        if not self.catalog_path.exists():
            yield None
            return
        state = self.migrations()
        if state.pending and not state.unknown:
            with self.writing():  # an older catalog: bring it up to date once
                pass
        with self._flock(self.root / LOCK_FILE, exclusive=False):
            con = duckdb.connect(str(self.catalog_path), read_only=True)
            try:
                yield con
            finally:
                con.close()

    def migrations(self) -> MigrationState:
        """What the catalog has applied, without changing it (``synth db check``)."""
        if not self.catalog_path.exists():
            return migration_state(None)
        with self._flock(self.root / LOCK_FILE, exclusive=False):
            con = duckdb.connect(str(self.catalog_path), read_only=True)
            try:
                return migration_state(con)
            finally:
                con.close()

    @contextmanager
    def editing(self, dataset_id: str) -> Iterator[None]:
        """Held for a whole edit: a second edit of the same dataset waits and then builds on the first."""
        with self._flock(self.root / dataset_id / "edit.lock", exclusive=True):
            yield

    # -- paths ------------------------------------------------------------------------------------
    def version_dir(self, dataset_id: str, version: int) -> Path:
        return self.root / dataset_id / f"v{version:04d}"

    def table_files(self, info: DatasetInfo, version: int | None = None) -> dict[str, Path]:
        folder = self.version_dir(info.id, version or info.current_version)
        return {name: folder / f"{name}.parquet" for name in info.table_order}

    def staging_dir(self, dataset_id: str | None = None) -> Path:
        """A fresh folder to build a version in; removed if it is never committed."""
        base = self.root / dataset_id if dataset_id else self.root
        path = base / f".staging-{secrets.token_hex(6)}"
        path.mkdir(parents=True)
        return path

    # -- reads ------------------------------------------------------------------------------------
    _INFO_COLUMNS = (
        "id, name, created_at, ddl, ddl_sha256, dialect, seed, spec, config, generation_meta, "
        "current_version, asset_group"
    )

    @staticmethod
    def _info(row: tuple[Any, ...]) -> DatasetInfo:
        return DatasetInfo(
            id=row[0], name=row[1], created_at=row[2], ddl=row[3], ddl_sha256=row[4], dialect=row[5], seed=row[6],
            spec=row[7], config=json.loads(row[8]), meta=json.loads(row[9]), current_version=row[10],
            asset_group=row[11],
        )  # fmt: skip

    def list(self) -> list[DatasetInfo]:
        with self.reading() as con:
            if con is None:
                return []
            rows = con.execute(f"SELECT {self._INFO_COLUMNS} FROM generated_datasets ORDER BY created_at, id")
            return [self._info(r) for r in rows.fetchall()]

    def get(self, ref: str) -> DatasetInfo:
        """A dataset by id or by name (the newest of that name)."""
        with self.reading() as con:
            row = None
            if con is not None:
                row = con.execute(
                    f"SELECT {self._INFO_COLUMNS} FROM generated_datasets WHERE id = ? OR name = ? "
                    "ORDER BY (id = ?) DESC, created_at DESC LIMIT 1",
                    [ref, ref, ref],
                ).fetchone()
        if row is None:
            raise StoreError(f"no dataset {ref!r} in {self.root} (synth datasets list shows the kept ones)")
        return self._info(row)

    def versions(self, dataset_id: str) -> list[VersionInfo]:
        with self.reading() as con:
            if con is None:
                return []
            rows = con.execute(
                "SELECT dataset_id, version, created_at, created_by, kind, parent_version, feedback, plan, diff, files "
                "FROM dataset_versions WHERE dataset_id = ? ORDER BY version",
                [dataset_id],
            ).fetchall()
        return [
            VersionInfo(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                json.loads(r[7]) if r[7] else None,
                json.loads(r[8]) if r[8] else None,
                json.loads(r[9]),
            )
            for r in rows
        ]

    def version(self, dataset_id: str, version: int) -> VersionInfo:
        found = [v for v in self.versions(dataset_id) if v.version == version]
        if not found:
            raise StoreError(f"dataset {dataset_id} has no version {version}")
        return found[0]

    # -- writes -----------------------------------------------------------------------------------
    def create(
        self,
        staged: Path,
        *,
        name: str | None,
        ddl: str,
        ddl_sha256: str,
        dialect: str,
        seed: int,
        spec: str,
        config: dict[str, Any],
        meta: dict[str, Any],
        asset_group: str | None,
    ) -> DatasetInfo:
        """A new dataset whose version 1 is the folder ``staged`` (moved into the store)."""
        files = self._file_hashes(staged, meta["table_order"])
        with self.writing() as con:
            while True:
                dataset_id = "ds-" + secrets.token_hex(4)
                taken = con.execute("SELECT count(*) FROM generated_datasets WHERE id = ?", [dataset_id]).fetchone()
                if not taken or not taken[0]:
                    break
            target = self.version_dir(dataset_id, 1)
            self._place(staged, target)
            try:
                con.execute("BEGIN TRANSACTION")
                con.execute(
                    "INSERT INTO generated_datasets (id, name, created_at, ddl, ddl_sha256, dialect, seed, spec, "
                    "config, generation_meta, current_version, asset_group) "
                    "VALUES (?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                    [dataset_id, name, ddl, ddl_sha256, dialect, seed, spec, json.dumps(config),
                     json.dumps(meta), asset_group],
                )  # fmt: skip
                self._insert_version(con, dataset_id, 1, "generate", None, None, None, None, files)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                shutil.rmtree(self.root / dataset_id, ignore_errors=True)
                raise
        return self.get(dataset_id)

    def commit_version(
        self,
        info: DatasetInfo,
        staged: Path,
        *,
        kind: str,
        parent_version: int,
        feedback: str | None,
        plan: Any,
        diff: Any,
    ) -> int:
        """Make ``staged`` the dataset's next version and its current one; returns the version number."""
        files = self._file_hashes(staged, info.table_order)
        with self.writing() as con:
            row = con.execute(
                "SELECT coalesce(max(version), 0) FROM dataset_versions WHERE dataset_id = ?", [info.id]
            ).fetchone()
            number = int(row[0]) + 1 if row else 1
            exists = con.execute("SELECT count(*) FROM generated_datasets WHERE id = ?", [info.id]).fetchone()
            if not exists or not exists[0]:
                raise StoreError(f"dataset {info.id} was deleted meanwhile; nothing was changed")
            target = self.version_dir(info.id, number)
            self._place(staged, target)
            try:
                con.execute("BEGIN TRANSACTION")
                self._insert_version(con, info.id, number, kind, parent_version, feedback, plan, diff, files)
                con.execute("UPDATE generated_datasets SET current_version = ? WHERE id = ?", [number, info.id])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                shutil.rmtree(target, ignore_errors=True)
                raise
        return number

    def delete(self, dataset_id: str) -> None:
        with self.writing() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM dataset_versions WHERE dataset_id = ?", [dataset_id])
            con.execute("DELETE FROM generated_datasets WHERE id = ?", [dataset_id])
            con.execute("COMMIT")
            # The rows are gone first: a crash now leaves only an unreferenced folder.
            shutil.rmtree(self.root / dataset_id, ignore_errors=True)

    @staticmethod
    def _insert_version(
        con: duckdb.DuckDBPyConnection,
        dataset_id: str,
        number: int,
        kind: str,
        parent: int | None,
        feedback: str | None,
        plan: Any,
        diff: Any,
        files: dict[str, str],
    ) -> None:
        con.execute(
            "INSERT INTO dataset_versions VALUES (?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?)",
            [
                dataset_id, number, _who(), kind, parent, feedback,
                None if plan is None else json.dumps(plan, sort_keys=True, default=str),
                None if diff is None else json.dumps(diff, default=str),  # tables in insert order
                json.dumps(files, sort_keys=True),
            ],
        )  # fmt: skip

    @staticmethod
    def _file_hashes(staged: Path, tables: list[str]) -> dict[str, str]:
        missing = [t for t in tables if not (staged / f"{t}.parquet").is_file()]
        if missing:
            raise StoreError(f"version folder {staged} lacks {', '.join(missing)}")
        return {t: file_sha256(staged / f"{t}.parquet") for t in tables}

    def _place(self, staged: Path, target: Path) -> None:
        """Rename the staged folder into place (called under the exclusive lock)."""
        for path in staged.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        if target.exists():  # left by a crash between a rename and its commit: no row points to it
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)
        _fsync_dir(target.parent)
        for leftover in target.parent.glob(".staging-*"):  # from crashed writers; ours is renamed already
            if leftover.is_dir() and self._stale(leftover):
                shutil.rmtree(leftover, ignore_errors=True)

    @staticmethod
    def _stale(path: Path, seconds: float = 3600.0) -> bool:
        """A staging folder nobody touched for an hour: a concurrent edit of another dataset is younger."""
        import time

        return time.time() - path.stat().st_mtime > seconds


def link_or_copy(source: Path, target: Path) -> None:
    """Versions never change once written, so an unchanged table is a hard link to the previous file."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
