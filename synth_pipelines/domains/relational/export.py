"""Per-table Parquet and CSV, a deterministic ``dataset.zip``, and a DuckDB database with the constraints.

Parquet and CSV go through the foundation's block writers (``core/export.py``), one block at a
time, so the CLI (streaming blocks) and Dagster (whole frames) write the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl

from synth_pipelines.core.atomic import atomic_path
from synth_pipelines.core.export import CsvBlockWriter, iter_blocks
from synth_pipelines.domains.relational.constraints import compile_checks
from synth_pipelines.domains.relational.ddl import Schema, SqlType, Table
from synth_pipelines.domains.relational.generate import TableModel
from synth_pipelines.domains.relational.plan import Plan
from synth_pipelines.domains.relational.report import q

FORMATS = ("parquet", "csv", "zip", "duckdb")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same data always gives the same archive bytes
# Deflate level 1: 5x faster than the default 6 on these CSVs for a ~25% larger archive (a download
# convenience; Parquet is the compact format).
ZIP_LEVEL = 1
DUCKDB_THREADS = 2
# A table name used as its file name as it is: letters, digits, "_", "-" and "." (not first), so the
# name is one path component on every filesystem and a zip entry of its own.
_PLAIN_STEM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,119}")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def table_file_stems(names: Iterable[str]) -> dict[str, str]:
    """Table -> the stem of its files (``<stem>.parquet``, ``<stem>.csv``, the zip entry): unique and safe.

    A plain name (``_PLAIN_STEM``) whose case-folded form no other table shares is its own stem, so
    ordinary schemas keep ``<table>.parquet``. Any other name ("a/b", a control character, a leading
    dot, a case-only twin on a case-insensitive filesystem) becomes its safe characters plus 8 hex
    digits of its SHA-256: stable across runs and machines, and never equal to another table's stem.
    """
    names = list(names)
    folded: dict[str, int] = {}
    for name in names:
        folded[name.casefold()] = folded.get(name.casefold(), 0) + 1
    stems: dict[str, str] = {}
    for name in names:
        if _PLAIN_STEM.fullmatch(name) and folded[name.casefold()] == 1:
            stems[name] = name
        else:
            safe = _UNSAFE_CHARS.sub("_", name).strip("_")[:60] or "table"
            stems[name] = f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    taken: dict[str, str] = {}
    for name, stem in stems.items():
        other = taken.setdefault(stem.casefold(), name)
        if other != name:  # a plain name that happens to look like another's hashed stem
            raise ValueError(f"tables {other!r} and {name!r} would share the file name {stem!r}; rename one")
    return stems


# Dialects whose booleans are integers: MySQL's BOOLEAN is TINYINT(1) and its LOAD DATA stores 'true' as 0
# (or refuses it in strict mode); SQLite has no boolean type, and 'true' would stay TEXT in a NUMERIC column.
BOOL_AS_INT_DIALECTS = frozenset({"mysql", "sqlite"})


def csv_ready(block: pl.DataFrame, dialect: str | None = None) -> pl.DataFrame:
    """TIME as ``HH:MM:SS`` (polars would print nanoseconds); booleans as 0/1 in dialects without boolean
    literals (``BOOL_AS_INT_DIALECTS``); MySQL timestamps as its DATETIME literal ``YYYY-MM-DD HH:MM:SS.fff``
    (UTC; MySQL does not read a ``T``/``Z`` ISO value in strict mode); everything else as the writer does."""
    fixes = [pl.col(n).dt.strftime("%H:%M:%S") for n, d in block.schema.items() if d == pl.Time]
    if dialect in BOOL_AS_INT_DIALECTS:
        fixes += [pl.col(n).cast(pl.UInt8) for n, d in block.schema.items() if d == pl.Boolean]
    if dialect == "mysql":
        fixes += [
            pl.col(n).dt.strftime("%Y-%m-%d %H:%M:%S%.3f")
            for n, d in block.schema.items()
            if isinstance(d, pl.Datetime)
        ]
    return block.with_columns(fixes) if fixes else block


# Meanings whose values come from a small vocabulary: dictionary encoding pays off there. Keys, numbers,
# timestamps and free text are near-unique, where building a dictionary first costs 2-4x the write time
# for a larger file.
_VOCAB_MEANINGS = frozenset(
    {
        "first_name", "last_name", "country_code", "country", "city", "currency", "timezone", "language",
        "color", "job", "department", "status", "gender", "state", "enum", "bool",
    }
)  # fmt: skip


def dictionary_columns(model: TableModel) -> list[str]:
    """The columns worth dictionary-encoding in Parquet: from the schema alone, never the data."""
    return [
        name
        for name, spec in model.specs.items()
        if name not in model.key_columns and (spec.choices is not None or spec.semantic in _VOCAB_MEANINGS)
    ]


class CsvTableWriter(CsvBlockWriter):
    """The foundation's CSV writer, plus TIME as ``HH:MM:SS``, booleans as the dialect writes them
    (``dialect`` in ``BOOL_AS_INT_DIALECTS``: 0/1, otherwise true/false as PostgreSQL and DuckDB read them)
    and a header row even for an empty table."""

    def __init__(self, path: Path, schema: pl.Schema, dialect: str | None = None) -> None:
        super().__init__(path)
        self._names = schema.names()
        self._dialect = dialect

    def _write(self, block: pl.DataFrame) -> None:
        super()._write(csv_ready(block, self._dialect))

    def _close(self) -> None:
        if self._header:  # nothing was written: an empty table still gets its header row
            self._fh.write((",".join(self._names) + "\n").encode())
        super()._close()


def frame_blocks(df: pl.DataFrame) -> Iterable[pl.DataFrame]:
    return iter_blocks(df)


def write_zip(csv_files: list[Path], target: Path) -> Path:
    """The CSVs in insert order, deflated, with fixed timestamps and permissions."""
    with (
        atomic_path(target) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as zf,
    ):
        for path in csv_files:
            info = zipfile.ZipInfo(path.name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            # A ZipInfo passed to open() keeps its own level (public as compress_level from Python 3.13).
            info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]
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


def duckdb_create_table(schema: Schema, plan: Plan, table: Table, primary_key: bool = True) -> str:
    """The table's DuckDB DDL; ``primary_key=False`` leaves the PRIMARY KEY to ``ALTER TABLE`` after the load."""
    lines = []
    for col in table.columns.values():
        line = f"{q(col.name)} {duckdb_type(col.type)}"
        if not col.nullable:
            line += " NOT NULL"
        lines.append(line)
    if table.primary_key and primary_key:
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
        # PostgreSQL accepts a key of another integer width (a SMALLINT or INT column referencing a BIGINT
        # key); DuckDB refuses to create such a foreign key. It stays out of the DuckDB schema too, and the
        # report still counts its orphans.
        parent = schema.tables[fk.ref_table]
        mine = [duckdb_type(table.columns[c].type) for c in fk.columns]
        theirs = [duckdb_type(parent.columns[c].type) for c in fk.ref_columns]
        if mine != theirs:
            continue
        cols = ", ".join(q(c) for c in fk.columns)
        refs = ", ".join(q(c) for c in fk.ref_columns)
        lines.append(f"FOREIGN KEY ({cols}) REFERENCES {q(fk.ref_table)} ({refs})")
    body = ",\n  ".join(lines)
    return f"CREATE TABLE {q(table.name)} (\n  {body}\n)"


def write_duckdb(schema: Schema, plan: Plan, parquet_files: dict[str, Path], target: Path) -> Path:
    """A DuckDB database with the schema's constraints, loaded in insert order (DuckDB checks them).

    Each table is created with its NOT NULL, UNIQUE, CHECK and FOREIGN KEY constraints, loaded, and
    then given its PRIMARY KEY (``ALTER TABLE ... ADD PRIMARY KEY`` builds the index once, verifying
    every row, instead of growing it row by row) before any child table references it. DuckDB cannot
    add UNIQUE or FOREIGN KEY constraints later, so those are checked during the load.
    """
    with atomic_path(target) as tmp:
        tmp.unlink()  # DuckDB refuses to open an empty file as a database
        con = duckdb.connect(str(tmp), config={"threads": DUCKDB_THREADS, "memory_limit": "512MB"})
        try:
            for name in plan.insert_order:
                table = schema.tables[name]
                con.execute(duckdb_create_table(schema, plan, table, primary_key=False))
                path = str(parquet_files[name]).replace("'", "''")
                con.execute(f"INSERT INTO {q(name)} SELECT * FROM read_parquet('{path}', hive_partitioning = false)")
                if table.primary_key:
                    con.execute(f"ALTER TABLE {q(name)} ADD PRIMARY KEY ({', '.join(q(c) for c in table.primary_key)})")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        wal = Path(str(tmp) + ".wal")
        wal.unlink(missing_ok=True)
    return target
