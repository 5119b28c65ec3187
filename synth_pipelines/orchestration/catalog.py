"""The DuckDB warehouse as a browsable catalog: one view per table over the validated Parquet of every seed.

Nothing flows through the warehouse any more (intermediates are Parquet, ``storage.py``); it is where a
person opens ``data/warehouse.duckdb`` in a notebook or BI tool and finds every group as a schema and
every table as a view with a ``seed`` column. A view lists only the seeds whose export succeeded (the
``exported_partitions`` table), so a partition that failed a blocking check never shows up there; a
seed exported before and re-run with data that fails one is withdrawn (``withdraw``), since the views
read the intermediates that run replaced.
The write is a few statements; a warehouse held open by another writer is retried briefly, then the
export reports the catalog as not updated rather than failing.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import duckdb
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from synth_pipelines.orchestration.storage import table_file_names


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


EXPORTED_TABLE = (
    "CREATE TABLE IF NOT EXISTS main.exported_partitions "
    "(group_name VARCHAR, seed BIGINT, exported_at TIMESTAMPTZ, PRIMARY KEY (group_name, seed))"
)

_retry_while_locked = retry(
    retry=retry_if_exception_type(duckdb.IOException),
    stop=stop_after_attempt(5),
    wait=wait_exponential(multiplier=0.2, max=2),
    reraise=True,
)


@_retry_while_locked
def _withdraw(warehouse: Path, group: str, seed: int) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(EXPORTED_TABLE)
        con.execute("DELETE FROM main.exported_partitions WHERE group_name = ? AND seed = ?", [group, seed])


@_retry_while_locked
def _publish(warehouse: Path, storage: Path, group: str, seed: int, tables: list[str]) -> None:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    files = table_file_names(tables)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(EXPORTED_TABLE)
        con.execute(
            "INSERT OR REPLACE INTO main.exported_partitions VALUES (?, ?, ?)",
            [group, seed, dt.datetime.now(dt.UTC)],
        )
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(group)}")
        for table in tables:
            pattern = storage / group / "normalized" / "seed=*" / files[table]
            con.execute(
                f"CREATE OR REPLACE VIEW {_quote(group)}.{_quote(table)} AS "
                f"SELECT * FROM read_parquet({_literal(str(pattern))}, hive_partitioning = true, union_by_name = true) "
                f"WHERE seed IN (SELECT seed FROM main.exported_partitions WHERE group_name = {_literal(group)})"
            )


def publish(warehouse: Path, storage: Path, group: str, seed: int, tables: list[str], log: logging.Logger) -> bool:
    """Record ``seed`` of ``group`` as exported and (re)create its table views; False if the warehouse stayed locked."""
    try:
        _publish(warehouse, storage, group, seed, tables)
    except duckdb.IOException as exc:
        log.warning(f"catalog {warehouse} not updated for {group} seed={seed}: {exc}")
        return False
    return True


def withdraw(warehouse: Path, group: str, seed: int, log: logging.Logger) -> bool:
    """Stop listing ``seed`` of ``group``: its intermediates are being replaced by data that failed a blocking check.

    Without this, a seed exported once and later re-run with failing data would show the failing rows
    (the views read the intermediates). False if the warehouse stayed locked; nothing to do without one.
    """
    if not warehouse.exists():
        return True
    try:
        _withdraw(warehouse, group, seed)
    except duckdb.IOException as exc:
        log.warning(f"catalog {warehouse}: could not withdraw {group} seed={seed}: {exc}")
        return False
    return True
