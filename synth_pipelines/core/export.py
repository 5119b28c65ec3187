"""Deterministic, atomic, block-wise writers for Parquet, JSONL and CSV.

Files are written one fixed-size block at a time (one Parquet row group per block), so a
dataset streamed block by block (the CLI) and the same dataset written from one frame (Dagster)
produce the same bytes, and memory stays flat however many rows there are.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from synth_pipelines.core.atomic import atomic_path
from synth_pipelines.core.rng import BLOCK_ROWS

ISO_MS = "%Y-%m-%dT%H:%M:%S%.3fZ"


def iter_blocks(df: pl.DataFrame, block_rows: int = BLOCK_ROWS) -> Iterator[pl.DataFrame]:
    """Slices of ``df`` of ``block_rows`` rows (at least one slice, possibly empty)."""
    if df.height == 0:
        yield df
        return
    for start in range(0, df.height, block_rows):
        yield df.slice(start, block_rows)


def timestamps_as_iso(df: pl.DataFrame) -> pl.DataFrame:
    """Datetime columns as ISO-8601 UTC strings with milliseconds (how JSON and CSV carry them)."""
    exprs = [
        pl.col(name).dt.convert_time_zone("UTC").dt.strftime(ISO_MS)
        if dtype.time_zone is not None  # type: ignore[union-attr]
        else pl.col(name).dt.strftime(ISO_MS)
        for name, dtype in df.schema.items()
        if isinstance(dtype, pl.Datetime)
    ]
    return df.with_columns(exprs) if exprs else df


class BlockWriter:
    """Writes blocks to a temporary file and renames it into place on a clean exit."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._ctx = atomic_path(self.path)
        self.rows = 0

    def __enter__(self) -> BlockWriter:
        self._tmp = self._ctx.__enter__()
        self._open(self._tmp)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close()
        self._ctx.__exit__(exc_type, exc, tb)

    def write(self, block: pl.DataFrame) -> None:
        self.rows += block.height
        self._write(block)

    def _open(self, tmp: Path) -> None: ...
    def _write(self, block: pl.DataFrame) -> None: ...
    def _close(self) -> None: ...


class ParquetBlockWriter(BlockWriter):
    """Row groups of exactly ``block_rows`` rows (the last may be shorter), zstd, statistics on.

    Incoming blocks are re-cut to fixed-size row groups, so the file's bytes do not depend on how
    the caller sliced the rows.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        schema: pl.Schema | None = None,
        block_rows: int = BLOCK_ROWS,
        dictionary: bool | list[str] = True,
        dictionary_pagesize_limit: int | None = None,
    ) -> None:
        super().__init__(path)
        self._schema = schema
        self._dictionary = dictionary  # True: every column; a list: only those columns
        self._dictionary_pagesize_limit = dictionary_pagesize_limit  # None: pyarrow's default (1 MiB)
        self._block_rows = block_rows
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None

    def _open(self, tmp: Path) -> None:
        self._tmp_path = tmp

    def _emit(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self._tmp_path,
                table.schema,
                compression="zstd",
                use_dictionary=self._dictionary,
                write_statistics=True,
                dictionary_pagesize_limit=self._dictionary_pagesize_limit,
            )
        self._writer.write_table(table, row_group_size=max(1, table.num_rows))

    def _write(self, block: pl.DataFrame) -> None:
        self._pending.append(block)
        self._pending_rows += block.height
        if self._pending_rows >= self._block_rows:
            buffered = pl.concat(self._pending, rechunk=False)
            full = (buffered.height // self._block_rows) * self._block_rows
            for start in range(0, full, self._block_rows):
                self._emit(buffered.slice(start, self._block_rows).rechunk().to_arrow())
            rest = buffered.slice(full)
            self._pending, self._pending_rows = ([rest] if rest.height else []), rest.height

    def _close(self) -> None:
        if self._pending_rows:
            self._emit(pl.concat(self._pending).rechunk().to_arrow())
            self._pending, self._pending_rows = [], 0
        if self._writer is None and self._schema is not None:
            # An empty dataset still gets a readable file with the right columns.
            self._emit(pl.DataFrame(schema=self._schema).to_arrow())
        if self._writer is not None:
            self._writer.close()


class TextBlockWriter(BlockWriter):
    """Appends already-serialized lines (one string column, or a Series) to a text file."""

    def _open(self, tmp: Path) -> None:
        self._fh = open(tmp, "wb")  # noqa: SIM115 - closed in _close

    def write_lines(self, lines: pl.Series | Iterable[str]) -> None:
        series = lines if isinstance(lines, pl.Series) else pl.Series(list(lines), dtype=pl.String)
        self.rows += series.len()
        if series.len():
            # Written by polars' CSV writer with quoting off: each line's bytes as they are, then a
            # newline, straight to the file (no Python string of the whole block). Null lines are
            # left out, as joining them would.
            series.drop_nulls().to_frame("line").write_csv(self._fh, include_header=False, quote_style="never")

    def _write(self, block: pl.DataFrame) -> None:
        self.rows -= block.height
        self.write_lines(block.to_series(0))

    def _close(self) -> None:
        self._fh.close()


class JsonlBlockWriter(BlockWriter):
    """Rows as JSON objects, one per line; timestamps as ISO-8601 UTC strings."""

    def _open(self, tmp: Path) -> None:
        self._fh = open(tmp, "wb")  # noqa: SIM115 - closed in _close

    def _write(self, block: pl.DataFrame) -> None:
        if block.height:
            timestamps_as_iso(block).write_ndjson(self._fh)

    def _close(self) -> None:
        self._fh.close()


class CsvBlockWriter(BlockWriter):
    """CSV with a header row; NULL is an empty unquoted field, an empty string is ``""``."""

    def _open(self, tmp: Path) -> None:
        self._fh = open(tmp, "wb")  # noqa: SIM115 - closed in _close
        self._header = True

    def _write(self, block: pl.DataFrame) -> None:
        text = timestamps_as_iso(block).write_csv(include_header=self._header, null_value="", quote_style="necessary")
        self._header = False
        self._fh.write(text.encode())

    def _close(self) -> None:
        self._fh.close()


class WriteBehind:
    """File writes on one background thread, in submission order, at most ``depth`` calls behind.

    Drawing (numpy, polars) and writing (Parquet encoding and compression in Arrow) both release the
    GIL, so the next block is drawn while the last one is written. One thread per file (or per set of
    files written one after another) keeps every file's bytes in a fixed order; the bounded backlog
    keeps memory flat. ``depth=None`` leaves the bound to a caller that already waits on the returned
    futures in batches (the log domains' stream), so ``submit`` never blocks or raises there.
    """

    def __init__(self, name: str = "write-behind", depth: int | None = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: deque[Future[Any]] = deque()
        self._depth = depth
        # The first call that failed, in execution order: later calls on the same writer then fail too
        # (a write to a file whose creation hit a full disk), and it is the first error that says why.
        self._first_error: BaseException | None = None

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except BaseException as exc:
            if self._first_error is None:
                self._first_error = exc
            raise

    def _result(self, future: Future[Any]) -> None:
        try:
            future.result()
        except BaseException:
            if self._first_error is not None:
                raise self._first_error from None
            raise

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future = self._pool.submit(self._call, fn, *args)
        if self._depth is not None:
            self._pending.append(future)
            while len(self._pending) > self._depth:
                self._result(self._pending.popleft())
        return future

    def drain(self) -> None:
        """Wait for the bounded backlog, raising the first failed write's error."""
        while self._pending:
            self._result(self._pending.popleft())

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Always wait for the thread, so nothing writes into a directory the caller is about to remove.
        self._pool.shutdown(wait=True)
        if exc_type is None:
            self.drain()


def write_frame(df: pl.DataFrame, path: str | os.PathLike[str], block_rows: int = BLOCK_ROWS) -> Path:
    """Write a whole frame by blocks, choosing the format from the file suffix."""
    path = Path(path)
    writer_cls: type[BlockWriter] = {
        ".parquet": ParquetBlockWriter,
        ".jsonl": JsonlBlockWriter,
        ".csv": CsvBlockWriter,
    }[path.suffix]
    writer = ParquetBlockWriter(path, df.schema) if writer_cls is ParquetBlockWriter else writer_cls(path)
    with writer:
        for block in iter_blocks(df, block_rows):
            if block.height:
                writer.write(block)
    return path
