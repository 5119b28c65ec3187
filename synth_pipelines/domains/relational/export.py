"""Per-table Parquet and CSV, a deterministic ``dataset.zip``, and a DuckDB database with the constraints.

Parquet and CSV go through the foundation's block writers (``core/export.py``), one block at a
time, so the CLI (streaming blocks) and Dagster (whole frames) write the same bytes.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl

from synth_pipelines.core.atomic import atomic_path
from synth_pipelines.core.export import CsvBlockWriter, ParquetBlockWriter, iter_blocks
from synth_pipelines.domains.relational.constraints import compile_checks
from synth_pipelines.domains.relational.ddl import Schema, SqlType, Table
from synth_pipelines.domains.relational.plan import Plan
from synth_pipelines.domains.relational.report import q

FORMATS = ("parquet", "csv", "zip", "duckdb")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same data always gives the same archive bytes


def csv_ready(block: pl.DataFrame) -> pl.DataFrame:
    """TIME as ``HH:MM:SS`` (polars would print nanoseconds); everything else as the writer does."""
    times = [pl.col(n).dt.strftime("%H:%M:%S") for n, d in block.schema.items() if d == pl.Time]
    return block.with_columns(times) if times else block


def write_table(blocks: Iterable[pl.DataFrame], schema: pl.Schema, parquet: Path, csv: Path | None) -> int:
    """Stream a table's blocks into its Parquet (and CSV) file; return the row count."""
    rows = 0
    with ParquetBlockWriter(parquet, schema) as pq_writer:
        csv_writer = CsvBlockWriter(csv) if csv is not None else None
        if csv_writer is not None:
            csv_writer.__enter__()
        try:
            wrote_header = False
            for block in blocks:
                if block.height == 0:
                    continue
                pq_writer.write(block)
                if csv_writer is not None:
                    csv_writer.write(csv_ready(block))
                    wrote_header = True
                rows += block.height
            if csv_writer is not None and not wrote_header:
                # An empty table still gets its header row.
                csv_writer._fh.write((",".join(schema.names()) + "\n").encode())
        except BaseException as exc:
            if csv_writer is not None:
                csv_writer.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if csv_writer is not None:
            csv_writer.__exit__(None, None, None)
    return rows


def frame_blocks(df: pl.DataFrame) -> Iterable[pl.DataFrame]:
    return iter_blocks(df)


def write_zip(csv_files: list[Path], target: Path) -> Path:
    """The CSVs in insert order, deflated, with fixed timestamps and permissions."""
    with (
        atomic_path(target) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf,
    ):
        for path in csv_files:
            info = zipfile.ZipInfo(path.name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return target


def duckdb_type(t: SqlType) -> str:
    if t.kind == "int":
        lo, hi = t.min_value or 0, t.max_value or 0
        signed = [("TINYINT", 2**7), ("SMALLINT", 2**15), ("INTEGER", 2**31), ("BIGINT", 2**63)]
        if lo >= 0 and hi > 2**31 - 1 and hi <= 2**32 - 1:
            return "UINTEGER"
        return next(name for name, lim in signed if lo >= -lim and hi <= lim - 1)
    if t.kind == "decimal":
        return f"DECIMAL({t.precision}, {t.scale})"
    if t.kind == "enum":
        values = ", ".join("'" + v.replace("'", "''") + "'" for v in t.enum_values)
        return f"ENUM({values})"
    return {
        "float": "DOUBLE",
        "bool": "BOOLEAN",
        "string": "VARCHAR",
        "date": "DATE",
        "time": "TIME",
        "timestamp": "TIMESTAMP",
        "timestamptz": "TIMESTAMPTZ",
        "uuid": "UUID",
        "json": "JSON",
    }[t.kind]


def duckdb_create_table(schema: Schema, plan: Plan, table: Table) -> str:
    lines = []
    for col in table.columns.values():
        line = f"{q(col.name)} {duckdb_type(col.type)}"
        if not col.nullable:
            line += " NOT NULL"
        lines.append(line)
    if table.primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(q(c) for c in table.primary_key)})")
    lines.extend(f"UNIQUE ({', '.join(q(c) for c in cols)})" for cols in table.uniques)
    for compiled in compile_checks(schema, table):
        lines.append(f"CHECK ({compiled.duckdb_sql})")
    for fk in table.foreign_keys:
        # DuckDB cannot add a foreign key later (no ALTER TABLE ... ADD FOREIGN KEY) and checks
        # references row by row, so cycle-closing and self-references stay out of the DuckDB schema;
        # validation_report.json counts their orphans instead.
        if plan.is_deferred(fk) or fk.ref_table == table.name:
            continue
        cols = ", ".join(q(c) for c in fk.columns)
        refs = ", ".join(q(c) for c in fk.ref_columns)
        lines.append(f"FOREIGN KEY ({cols}) REFERENCES {q(fk.ref_table)} ({refs})")
    body = ",\n  ".join(lines)
    return f"CREATE TABLE {q(table.name)} (\n  {body}\n)"


def write_duckdb(schema: Schema, plan: Plan, parquet_files: dict[str, Path], target: Path) -> Path:
    """A DuckDB database with the schema's constraints, loaded in insert order (DuckDB checks them)."""
    with atomic_path(target) as tmp:
        tmp.unlink()  # DuckDB refuses to open an empty file as a database
        con = duckdb.connect(str(tmp), config={"threads": 2, "memory_limit": "512MB"})
        try:
            for name in plan.insert_order:
                table = schema.tables[name]
                con.execute(duckdb_create_table(schema, plan, table))
                path = str(parquet_files[name]).replace("'", "''")
                con.execute(
                    f"INSERT INTO {q(name)} SELECT * FROM read_parquet('{path}', hive_partitioning = false)"
                )
            con.execute("CHECKPOINT")
        finally:
            con.close()
        wal = Path(str(tmp) + ".wal")
        wal.unlink(missing_ok=True)
    return target
