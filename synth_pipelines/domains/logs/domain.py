"""``LogDomain``: the pipeline of every ML-ops log domain, and its streaming twin for the CLI.

Dagster path (the domain contract): ``draw`` (table ``lines``: raw lines as a source emits them) ->
``normalize`` (parse + canonicalise into the table named like the domain) -> schema check ->
``export`` (clean JSONL + Parquet, invalid mirror + manifest). CLI path: ``stream`` runs the same
methods one block at a time, so memory stays flat, and writes the same bytes.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import pyarrow.parquet as pq
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from synth_pipelines.core.domain import (
    SCHEMA_CHECK,
    ConstraintViolation,
    Domain,
    ProgressFn,
    RunContext,
    Schema,
    Tables,
    UnitsWritten,
)
from synth_pipelines.core.export import JsonlBlockWriter, ParquetBlockWriter, TextBlockWriter, WriteBehind
from synth_pipelines.core.limits import log_range_problem
from synth_pipelines.core.rng import BLOCK_ROWS, block_spans, record_rng
from synth_pipelines.core.validate import ValidationOutcome, validate_frame
from synth_pipelines.domains.logs.fields import Inventory
from synth_pipelines.domains.logs.lines import normalize_values, parse_lines, to_lines, to_raw_lines
from synth_pipelines.domains.logs.mirror import make_invalid

# Parquet: a column stays dictionary-encoded while its dictionary fits this page size. Ids and
# measurements never fit, and giving up on them early is faster and makes smaller files than
# pyarrow's 1 MiB default; vocabulary columns fit easily.
DICTIONARY_PAGE_BYTES = 64 << 10

# Export file name prefixes: no path separators, no leading dot.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class LogConfig(BaseModel):
    count: int = Field(5_000, ge=1, le=100_000_000, description="Number of clean records (runs for agent traces).")
    name: str = Field("log", pattern=NAME_PATTERN, description="File name prefix of the exports.")
    start: str = Field("2026-01-01T00:00:00Z", description="Timestamp of the first record (ISO-8601, UTC).")

    @field_validator("start")
    @classmethod
    def _start_is_iso(cls, value: str) -> str:
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"start must be an ISO-8601 timestamp, got {value!r}") from exc
        return value

    @field_validator("start")
    @classmethod
    def _start_fits_the_calendar(cls, value: str, info: ValidationInfo) -> str:
        # Timestamps past 9999-12-31 cannot be written as ISO-8601 or read back by most tools.
        problem = log_range_problem(value, info.data.get("count"))
        if problem is not None:
            raise ValueError(problem)
        return value

    @property
    def start_ms(self) -> int:
        moment = dt.datetime.fromisoformat(self.start.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)


def export_names(name: str) -> dict[str, str]:
    """Export files by role, relative to the output folder."""
    return {
        "valid_jsonl": f"{name}_valid.jsonl",
        "valid_parquet": f"{name}_valid.parquet",
        "invalid_jsonl": f"raw/{name}_invalid.jsonl",
        "invalid_manifest": f"raw/{name}_invalid_manifest.jsonl",
    }


def _then(fn: Callable[..., Any], future: Future[Any], *args: Any) -> Any:
    """``fn(*args, result)`` once ``future`` has its result (a task that waits for an earlier one)."""
    return fn(*args, future.result())


# Manifest lines of the invalid mirror start with the mirror line's number.
_LINE_NUMBER = r'^\{"line":(\d+),'
RENUMBER_CHUNK_BYTES = 64 << 20


def renumber_lines(part: Path, offset: int, out: Any) -> int:
    """Copy a manifest part to ``out`` with every ``"line"`` number plus ``offset``; return its lines.

    Vectorized over chunks of whole lines (a part may be larger than memory).
    """
    lines_seen = 0
    with part.open("rb") as fh:
        tail = b""
        while True:
            chunk = fh.read(RENUMBER_CHUNK_BYTES)
            data = tail + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            whole, tail = data[:cut], data[cut:]
            if whole:
                # split on "\n" only: str.splitlines would also split inside strings at U+2028 and kin
                lines = pl.Series(whole.decode("utf-8").split("\n")[:-1], dtype=pl.String).to_frame("l")
                renumbered = lines.select(
                    pl.concat_str(
                        [
                            pl.lit('{"line":'),
                            (pl.col("l").str.extract(_LINE_NUMBER, 1).cast(pl.Int64) + offset).cast(pl.String),
                            pl.lit(","),
                            pl.col("l").str.replace(_LINE_NUMBER, ""),
                            pl.lit("\n"),
                        ]
                    )
                ).to_series()
                out.write(renumbered.str.join("").item().encode("utf-8"))
                lines_seen += lines.height
            if not chunk:
                return lines_seen


def _skipping(fn: Callable[..., Any], skip: int) -> Callable[..., Any]:
    """``fn`` with ``skip=skip`` (the rows of a block before a shard's first record)."""
    return (lambda *args: fn(*args, skip=skip)) if skip else fn


class LogWriters:
    """The export files of a log domain, written block by block, renamed into place together.

    ``mirror=False`` leaves out the invalid mirror and its manifest (clean set only).
    """

    def __init__(self, domain: LogDomain, out_dir: Path, name: str, seed: int, mirror: bool = True) -> None:
        self.domain, self.seed, self.mirror = domain, seed, mirror
        roles = export_names(name)
        if not mirror:
            roles = {role: rel for role, rel in roles.items() if role.startswith("valid")}
        self.paths = {role: out_dir / rel for role, rel in roles.items()}
        self._stack = ExitStack()

    def __enter__(self) -> LogWriters:
        schema = self.domain.inventory.polars_schema
        self.valid = self._stack.enter_context(TextBlockWriter(self.paths["valid_jsonl"]))
        self.parquet = self._stack.enter_context(
            ParquetBlockWriter(self.paths["valid_parquet"], schema, dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES)
        )
        if self.mirror:
            self.invalid = self._stack.enter_context(TextBlockWriter(self.paths["invalid_jsonl"]))
            self.manifest = self._stack.enter_context(JsonlBlockWriter(self.paths["invalid_manifest"]))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.__exit__(*exc)  # type: ignore[arg-type]

    def write(self, clean: pl.DataFrame, block: int) -> None:
        """One block, every file, in this thread (the Dagster export)."""
        lines = to_lines(clean, self.domain.inventory)
        self.write_parquet(clean)
        self.write_lines(lines)
        if self.mirror:
            self.write_mirror(self.mirror_of(clean, block, self.invalid.rows + 1, lines))

    def write_parquet(self, clean: pl.DataFrame, skip: int = 0) -> None:
        self.parquet.write(clean.slice(skip) if skip else clean)

    def write_lines(self, lines: pl.Series, skip: int = 0) -> None:
        self.valid.write_lines(lines.slice(skip) if skip else lines)

    def mirror_of(
        self, clean: pl.DataFrame, block: int, first_line: int, clean_lines: pl.Series, skip: int = 0
    ) -> tuple[pl.Series, pl.DataFrame]:
        """The block's invalid mirror lines and manifest, numbered from ``first_line``; without the
        first ``skip`` rows (a shard starting inside the block: the mirror is drawn for the block from
        its start, so a row's defect never depends on where a shard starts)."""
        rng = record_rng(self.seed, self.domain.name, "mirror", block)
        lines, manifest = make_invalid(clean, self.domain.inventory, rng, first_line - skip, clean_lines)
        return (lines.slice(skip), manifest.slice(skip)) if skip else (lines, manifest)

    def write_mirror(self, mirror: tuple[pl.Series, pl.DataFrame]) -> None:
        lines, manifest = mirror
        self.invalid.write_lines(lines)
        self.manifest.write(manifest)


class LogDomain(Domain):
    inventory: ClassVar[Inventory]
    config_model: ClassVar[type[LogConfig]] = LogConfig
    has_raw_form: ClassVar[bool] = True
    raw_table: ClassVar[str] = "lines"
    block_records: ClassVar[int] = BLOCK_ROWS  # primary records per random block
    # pandera's cost is mostly per call (one lazy query per check), not per row: the streaming path
    # validates blocks together up to this many rows. Validation only reads, so bytes never depend on it.
    validate_rows: ClassVar[int] = 4 * BLOCK_ROWS

    @abstractmethod
    def draw_block(self, cfg: LogConfig, seed: int, rng: np.random.Generator, start: int, n: int) -> pl.DataFrame:
        """Clean records ``start .. start+n`` (flat, conformed) from this block's generator."""

    def block_ids(self, clean: pl.DataFrame) -> np.ndarray:
        """The random block each clean row came from (one row per record by default)."""
        return np.arange(clean.height) // self.block_records

    def rows_of_records(self, clean: pl.DataFrame, records: int) -> int:
        """Rows of the first ``records`` records of ``clean`` (one row per record by default)."""
        return records

    def record_pieces(self, start: int, stop: int) -> list[tuple[int, int, int, int]]:
        """``(block, block_start, prefix, skip)`` covering records ``start .. stop``: draw ``prefix``
        records of ``block`` from its start and leave out the first ``skip`` (a range starting inside
        a block costs at most one partial block more; records are prefix-stable, so they are the same)."""
        pieces = []
        for block in range(start // self.block_records, -(-stop // self.block_records)):
            block_start = block * self.block_records
            prefix = min(stop, block_start + self.block_records) - block_start
            pieces.append((block, block_start, prefix, max(0, start - block_start)))
        return pieces

    def clean_block(self, cfg: LogConfig, seed: int, block: int, start: int, n: int) -> pl.DataFrame:
        return self.draw_block(cfg, seed, record_rng(seed, self.name, "records", block), start, n)

    def raw_block(self, cfg: LogConfig, seed: int, block: int, start: int, n: int) -> pl.DataFrame:
        clean = self.clean_block(cfg, seed, block, start, n)
        lines = to_raw_lines(clean, self.inventory, record_rng(seed, self.name, "raw-style", block))
        return lines.alias("line").to_frame()

    def draw(self, cfg: LogConfig, seed: int, ctx: RunContext) -> Tables:
        blocks = []
        for block, start, n in block_spans(cfg.count, self.block_records):
            blocks.append(self.raw_block(cfg, seed, block, start, n))
            if ctx.progress:
                ctx.progress(n)
        return {self.raw_table: pl.concat(blocks)}

    def normalize(self, raw: Tables, cfg: LogConfig) -> Tables:
        return {self.name: self.parse(raw[self.raw_table])}

    def parse(self, raw_lines: pl.DataFrame) -> pl.DataFrame:
        """Raw lines (column ``line``) -> clean typed records."""
        inv = self.inventory
        return inv.conform(normalize_values(parse_lines(raw_lines["line"], inv), inv))

    def schema(self) -> Schema:
        if not hasattr(self, "_schema"):
            self._schema = self.inventory.pandera_schema()
        return self._schema

    def __getstate__(self) -> dict[str, Any]:
        # The cached pandera schema holds lambdas: a shard worker process (core/shards.py) builds its own.
        return {k: v for k, v in self.__dict__.items() if k != "_schema"}

    def schemas(self, cfg: LogConfig) -> dict[str, Schema]:
        return {self.name: self.schema()}

    def validate(self, clean: pl.DataFrame) -> ValidationOutcome:
        return validate_frame(self.schema(), clean)

    def export(self, tables: Tables, cfg: LogConfig, seed: int, out_dir: Path, ctx: RunContext) -> dict[str, Path]:
        clean = tables[self.name]
        ids = self.block_ids(clean)
        bounds = np.flatnonzero(np.diff(ids)) + 1
        with LogWriters(self, out_dir, cfg.name, seed) as writers:
            for start, stop in zip([0, *bounds.tolist()], [*bounds.tolist(), clean.height], strict=True):
                if stop > start:
                    writers.write(clean.slice(start, stop - start), int(ids[start]))
        return writers.paths

    def stream(
        self,
        cfg: LogConfig,
        seed: int,
        out_dir: Path,
        progress: ProgressFn | None = None,
        *,
        mirror: bool = True,
        round_trip: bool = False,
        records: tuple[int, int] | None = None,
    ) -> dict[str, Path]:
        """Generate, validate and write block by block; nothing lands if any block is invalid.

        The main thread draws the blocks; worker threads validate them (a few blocks per pandera
        call), render them (JSON lines, invalid mirror) and write them, each file in block order, so
        drawing overlaps the rest (polars, pyarrow and numpy release the GIL) while memory stays
        bounded: the workers hold one batch while the next one is drawn. The bytes never depend on
        the threads (tested against the Dagster path's single-threaded export).

        ``round_trip=True`` also renders every record as its raw line and parses and normalizes it
        back (what the Dagster path's raw -> normalized steps do); the round-trip guarantee makes
        that the same records, so the bytes are the same either way. ``mirror=False`` writes the
        clean set only. ``records=(start, stop)``: those records only (a shard, ``core/shards.py``);
        the invalid manifest then numbers the lines of this file from 1.
        """
        with (
            LogWriters(self, out_dir, cfg.name, seed, mirror) as writers,
            ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{self.name}-render") as rendering,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-validate") as validating,
            # hand_over waits for a batch before the next one: the writers need no bound of their own.
            WriteBehind(f"{self.name}-parquet", depth=None) as parquet,
            WriteBehind(f"{self.name}-jsonl", depth=None) as jsonl,
            WriteBehind(f"{self.name}-mirror", depth=None) as mirror_writer,
        ):
            # Blocks are rendered (clean lines, then the mirror from them) two at a time; one thread per
            # output file writes them in block order. Validation runs beside the writers: a failure
            # stops the run before any file is renamed into place. A render task may wait for an
            # earlier one (the mirror needs its block's lines), never for a later one: no deadlock.
            in_flight: list[Future[Any]] = []
            batch: list[tuple[int, pl.DataFrame, int]] = []  # (block, clean rows from the block start, skip)
            mirror_lines = [0]  # lines of the mirror so far: each block's manifest numbers from there
            inv = self.inventory

            def hand_over() -> None:
                for future in in_flight:  # the previous batch is done first: memory stays flat
                    future.result()
                visible = [(block, clean.slice(skip) if skip else clean) for block, clean, skip in batch]
                in_flight[:] = [validating.submit(self._validate_batch, visible, seed)]
                for block, clean, skip in batch:
                    lines = rendering.submit(to_lines, clean, inv)
                    in_flight.extend([lines, parquet.submit(writers.write_parquet, clean, skip)])
                    in_flight.append(jsonl.submit(_then, _skipping(writers.write_lines, skip), lines))
                    if mirror:
                        first_line = mirror_lines[0] + 1
                        broken = rendering.submit(
                            _then, _skipping(writers.mirror_of, skip), lines, clean, block, first_line
                        )
                        mirror_lines[0] += clean.height - skip
                        in_flight.extend([broken, mirror_writer.submit(_then, writers.write_mirror, broken)])

            try:
                first, stop = records or (0, cfg.count)
                for block, start, n, skip in self.record_pieces(first, stop):
                    if round_trip:
                        clean = self.parse(self.raw_block(cfg, seed, block, start, n))
                    else:
                        clean = self.clean_block(cfg, seed, block, start, n)
                    batch.append((block, clean, self.rows_of_records(clean, skip) if skip else 0))
                    if progress:
                        progress(n - skip)
                    if sum(c.height - k for _, c, k in batch) >= self.validate_rows:
                        hand_over()
                        batch = []
                if batch:
                    hand_over()
                for future in in_flight:
                    future.result()
            except BaseException:
                for future in in_flight:
                    future.cancel()
                raise
        return writers.paths

    # ---- shards (core/shards.py): units are records (runs for agent traces) -----------------------

    def shard_units(self, cfg: LogConfig) -> int:
        return cfg.count

    def write_units(
        self, cfg: LogConfig, seed: int, start: int, stop: int, out_dir: Path, ctx: RunContext
    ) -> UnitsWritten:
        """Records ``start .. stop``: the clean set and the invalid mirror, every block validated (``stream``)."""
        paths = self.stream(cfg, seed, out_dir, ctx.progress, records=(start, stop))
        rows = pq.ParquetFile(paths["valid_parquet"]).metadata.num_rows
        return UnitsWritten(dict(paths), {SCHEMA_CHECK.name: {"passed": True, "rows": rows}})

    def compact_parts(self, cfg: LogConfig, role: str, parts: list[Path], target: Path) -> None:
        if role == "valid_parquet":  # the export's own Parquet settings (LogWriters)
            with ParquetBlockWriter(
                target, self.inventory.polars_schema, dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES
            ) as writer:
                for part in parts:
                    frame = pl.read_parquet(part)
                    if frame.height:
                        writer.write(frame)
        elif role == "invalid_manifest":  # each part numbers its mirror lines from 1: number them on
            with target.open("wb") as out:
                offset = 0
                for part in parts:
                    offset += renumber_lines(part, offset, out)
        else:
            super().compact_parts(cfg, role, parts, target)

    def _validate_batch(self, batch: list[tuple[int, pl.DataFrame]], seed: int) -> None:
        blocks = [block for block, _ in batch]
        frame = pl.concat([clean for _, clean in batch], rechunk=False) if len(batch) > 1 else batch[0][1]
        outcome = self.validate(frame)
        if not outcome.ok:
            where = f"block {blocks[0]}" if len(blocks) == 1 else f"blocks {blocks[0]}-{blocks[-1]}"
            raise ConstraintViolation(f"{self.name} seed={seed} {where}: {outcome.summary()}")
