"""``LogDomain``: the pipeline of every ML-ops log domain, and its streaming twin for the CLI.

Dagster path: ``draw`` (raw lines) -> ``normalize`` (parse + canonicalise) -> ``validate`` ->
``export`` (clean JSONL + Parquet, invalid mirror + manifest). CLI path: ``stream`` runs the same
methods one block at a time, so memory stays flat, and writes the same bytes.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from contextlib import ExitStack
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
from pydantic import BaseModel, Field, field_validator

from synth_pipelines.core.domain import ConstraintViolation, Domain, ProgressFn, RunContext
from synth_pipelines.core.export import JsonlBlockWriter, ParquetBlockWriter, TextBlockWriter
from synth_pipelines.core.rng import BLOCK_ROWS, block_rng, block_spans
from synth_pipelines.domains.logs.fields import Inventory
from synth_pipelines.domains.logs.lines import normalize_values, parse_lines, to_lines, to_raw_lines
from synth_pipelines.domains.logs.mirror import make_invalid

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


class LogWriters:
    """The four export files of a log domain, written block by block, renamed into place together."""

    def __init__(self, domain: LogDomain, out_dir: Path, name: str, seed: int) -> None:
        self.domain, self.seed = domain, seed
        self.paths = {role: out_dir / rel for role, rel in export_names(name).items()}
        self._stack = ExitStack()

    def __enter__(self) -> LogWriters:
        schema = self.domain.inventory.polars_schema
        self.valid = self._stack.enter_context(TextBlockWriter(self.paths["valid_jsonl"]))
        self.parquet = self._stack.enter_context(ParquetBlockWriter(self.paths["valid_parquet"], schema))
        self.invalid = self._stack.enter_context(TextBlockWriter(self.paths["invalid_jsonl"]))
        self.manifest = self._stack.enter_context(JsonlBlockWriter(self.paths["invalid_manifest"]))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.__exit__(*exc)  # type: ignore[arg-type]

    def write(self, clean: pl.DataFrame, block: int) -> None:
        inv = self.domain.inventory
        self.valid.write_lines(to_lines(clean, inv))
        self.parquet.write(clean)
        rng = block_rng(self.seed, self.domain.name, "mirror", block)
        lines, manifest = make_invalid(clean, inv, rng, first_line=self.invalid.rows + 1)
        self.invalid.write_lines(lines)
        self.manifest.write(manifest)


class LogDomain(Domain):
    inventory: ClassVar[Inventory]
    config_model: ClassVar[type[LogConfig]] = LogConfig
    block_records: ClassVar[int] = BLOCK_ROWS  # primary records per random block

    @abstractmethod
    def draw_block(self, cfg: LogConfig, seed: int, rng: np.random.Generator, start: int, n: int) -> pl.DataFrame:
        """Clean records ``start .. start+n`` (flat, conformed) from this block's generator."""

    def block_ids(self, clean: pl.DataFrame) -> np.ndarray:
        """The random block each clean row came from (one row per record by default)."""
        return np.arange(clean.height) // self.block_records

    def clean_block(self, cfg: LogConfig, seed: int, block: int, start: int, n: int) -> pl.DataFrame:
        return self.draw_block(cfg, seed, block_rng(seed, self.name, "records", block), start, n)

    def raw_block(self, cfg: LogConfig, seed: int, block: int, start: int, n: int) -> pl.DataFrame:
        clean = self.clean_block(cfg, seed, block, start, n)
        lines = to_raw_lines(clean, self.inventory, block_rng(seed, self.name, "raw-style", block))
        return lines.alias("line").to_frame()

    def draw(self, cfg: LogConfig, seed: int, ctx: RunContext) -> pl.DataFrame:
        blocks = []
        for block, start, n in block_spans(cfg.count, self.block_records):
            blocks.append(self.raw_block(cfg, seed, block, start, n))
            if ctx.progress:
                ctx.progress(n)
        return pl.concat(blocks)

    def normalize(self, raw: pl.DataFrame, cfg: LogConfig) -> pl.DataFrame:
        inv = self.inventory
        return inv.conform(normalize_values(parse_lines(raw["line"], inv), inv))

    def schema(self):  # type: ignore[no-untyped-def]
        if not hasattr(self, "_schema"):
            self._schema = self.inventory.pandera_schema()
        return self._schema

    def conform(self, df: pl.DataFrame) -> pl.DataFrame:
        return self.inventory.conform(df)

    def export(self, clean: pl.DataFrame, cfg: LogConfig, seed: int, out_dir: Path, ctx: RunContext) -> dict[str, Path]:
        ids = self.block_ids(clean)
        bounds = np.flatnonzero(np.diff(ids)) + 1
        with LogWriters(self, out_dir, cfg.name, seed) as writers:
            for start, stop in zip([0, *bounds.tolist()], [*bounds.tolist(), clean.height], strict=True):
                if stop > start:
                    writers.write(clean.slice(start, stop - start), int(ids[start]))
        return writers.paths

    def stream(self, cfg: LogConfig, seed: int, out_dir: Path, progress: ProgressFn | None = None) -> dict[str, Path]:
        """Generate, validate and write block by block; nothing lands if any block is invalid."""
        with LogWriters(self, out_dir, cfg.name, seed) as writers:
            for block, start, n in block_spans(cfg.count, self.block_records):
                clean = self.normalize(self.raw_block(cfg, seed, block, start, n), cfg)
                outcome = self.validate(clean)
                if not outcome.ok:
                    raise ConstraintViolation(f"{self.name} seed={seed} block {block}: {outcome.summary()}")
                writers.write(clean, block)
                if progress:
                    progress(n)
        return writers.paths
