"""Scenario tables in json, jsonl, csv, yaml and parquet, and back.

Every format is written block by block (flat memory) through the foundation's atomic writers, and
``read_table`` turns any of them back into the exact frame that was written: timestamps travel as
ISO-8601 UTC strings, and in CSV a nested column (a list, a struct) is one JSON-encoded cell.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import yaml

from synth_pipelines.core.export import (
    ISO_MS,
    BlockWriter,
    CsvBlockWriter,
    JsonlBlockWriter,
    ParquetBlockWriter,
    iter_blocks,
    timestamps_as_iso,
)
from synth_pipelines.core.rng import BLOCK_ROWS

# libyaml when present: same output as the pure-Python emitter, many times faster.
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class JsonArrayBlockWriter(BlockWriter):
    """One JSON array of row objects, written a block at a time."""

    def _open(self, tmp: Path) -> None:
        self._fh = open(tmp, "wb")  # noqa: SIM115 - closed in _close
        self._fh.write(b"[")
        self._first = True

    def _write(self, block: pl.DataFrame) -> None:
        if not block.height:
            return
        lines = timestamps_as_iso(block).write_ndjson().rstrip("\n").replace("\n", ",\n")
        self._fh.write((("\n" if self._first else ",\n") + lines).encode())
        self._first = False

    def _close(self) -> None:
        self._fh.write(b"]\n" if self._first else b"\n]\n")
        self._fh.close()


class YamlBlockWriter(BlockWriter):
    """One YAML sequence of mappings; concatenated block sequences form a single sequence."""

    def _open(self, tmp: Path) -> None:
        self._fh = open(tmp, "wb")  # noqa: SIM115 - closed in _close
        self._empty = True

    def _write(self, block: pl.DataFrame) -> None:
        if not block.height:
            return
        text = yaml.dump(
            timestamps_as_iso(block).to_dicts(),
            Dumper=_YAML_DUMPER,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=1_000_000,  # never fold long strings: a line per field is easier to diff
        )
        self._fh.write(text.encode())
        self._empty = False

    def _close(self) -> None:
        if self._empty:
            self._fh.write(b"[]\n")
        self._fh.close()


def _is_nested(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.List | pl.Struct | pl.Array)


def _csv_cells(df: pl.DataFrame) -> pl.DataFrame:
    """Nested columns as JSON text: ``["a","b"]`` (wrapped in a struct to use polars' encoder)."""
    exprs = []
    for name, dtype in df.schema.items():
        if _is_nested(dtype):
            prefix = len(json.dumps(name)) + 2  # the '{"name":' polars puts before the value
            encoded = pl.struct(name).struct.json_encode().str.slice(prefix).str.strip_suffix("}")
            exprs.append(pl.when(pl.col(name).is_null()).then(None).otherwise(encoded).alias(name))
    return df.with_columns(exprs) if exprs else df


def _writer_for(fmt: str, path: Path, schema: pl.Schema) -> BlockWriter:
    if fmt == "parquet":
        return ParquetBlockWriter(path, schema)
    return {
        "jsonl": JsonlBlockWriter,
        "csv": CsvBlockWriter,
        "json": JsonArrayBlockWriter,
        "yaml": YamlBlockWriter,
    }[fmt](path)


def write_table(df: pl.DataFrame, path: str | os.PathLike[str], fmt: str, block_rows: int = BLOCK_ROWS) -> Path:
    """Write ``df`` to ``path`` (atomically) in ``fmt``."""
    path = Path(path)
    with _writer_for(fmt, path, df.schema) as writer:
        for block in iter_blocks(df, block_rows):
            if block.height:
                writer.write(_csv_cells(block) if fmt == "csv" else block)
    return path


def _wire_schema(schema: pl.Schema, fmt: str) -> dict[str, pl.DataType]:
    """How the columns look in a text file before decoding."""
    wire: dict[str, pl.DataType] = {}
    for name, dtype in schema.items():
        # YAML has a native date type (and pyyaml uses it); JSON and CSV carry dates as text.
        text_date = isinstance(dtype, pl.Date) and fmt != "yaml"
        if isinstance(dtype, pl.Datetime) or text_date or (fmt == "csv" and _is_nested(dtype)):
            wire[name] = pl.String()
        else:
            wire[name] = dtype
    return wire


def _decode(df: pl.DataFrame, schema: pl.Schema, fmt: str) -> pl.DataFrame:
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            exprs.append(col.str.to_datetime(ISO_MS, time_zone="UTC", time_unit=dtype.time_unit).cast(dtype))
        elif isinstance(dtype, pl.Date) and fmt != "yaml":
            exprs.append(col.str.to_date("%Y-%m-%d"))
        elif fmt == "csv" and _is_nested(dtype):
            wrapped = pl.concat_str([pl.lit("{" + json.dumps(name) + ":"), col, pl.lit("}")])
            exprs.append(wrapped.str.json_decode(pl.Struct({name: dtype})).struct.field(name))
        else:
            exprs.append(col.cast(dtype))
    return df.select(exprs)


def read_table(path: str | os.PathLike[str], fmt: str, schema: pl.Schema) -> pl.DataFrame:
    """Read a file written by ``write_table`` back into a frame with exactly ``schema``."""
    path = Path(path)
    if fmt == "parquet":
        return pl.read_parquet(path).select([pl.col(n).cast(t) for n, t in schema.items()])
    wire = _wire_schema(schema, fmt)
    if fmt == "jsonl":
        raw = pl.read_ndjson(path, schema=wire) if path.stat().st_size else pl.DataFrame(schema=wire)
    elif fmt == "json":
        raw = pl.read_json(path, schema=wire)
    elif fmt == "csv":
        raw = pl.read_csv(path, schema=wire) if path.stat().st_size else pl.DataFrame(schema=wire)
    elif fmt == "yaml":
        with open(path, "rb") as fh:
            rows = yaml.load(fh, Loader=_YAML_LOADER) or []
        raw = pl.DataFrame(rows, schema=wire) if rows else pl.DataFrame(schema=wire)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return _decode(raw, schema, fmt)


def suffix(fmt: str) -> str:
    return "." + fmt
