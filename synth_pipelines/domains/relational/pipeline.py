"""The Dagster-free relational pipeline: DDL -> plan -> tables -> validated exports.

The CLI streams blocks straight from the generator; the Dagster export asset passes the table
frames it loaded. Both end in ``export_dataset``, so they write the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.core.export import BlockWriter, ParquetBlockWriter, WriteBehind
from synth_pipelines.domains.relational.ddl import DIALECTS, Schema, load_ddl
from synth_pipelines.domains.relational.export import (
    FORMATS,
    CsvTableWriter,
    dictionary_columns,
    frame_blocks,
    table_file_stems,
    write_duckdb,
    write_zip,
)
from synth_pipelines.domains.relational.generate import RelationalGenerator
from synth_pipelines.domains.relational.plan import Plan, make_plan
from synth_pipelines.domains.relational.realism import Resolved, build_spec, resolve
from synth_pipelines.domains.relational.report import build_report, report_json, violation_summary
from synth_pipelines.domains.relational.spec import GenerationSpec, load_spec

# Bump when the same DDL, seed and config would give different bytes.
GENERATOR_VERSION = "relational-6"


class RelationalConfig(BaseModel):
    """How much to generate for a schema (the DDL file itself is the rest of the config)."""

    model_config = ConfigDict(allow_inf_nan=False)  # --fanout inf would reach int(rows * fanout)

    rows: int = Field(1000, ge=0, description="Rows per table unless overridden; child tables get rows x fanout.")
    table_rows: dict[str, int] = Field(default_factory=dict, description="Per-table row counts, e.g. {'loans': 50000}.")
    fanout: float = Field(2.0, ge=0, description="Multiplier for tables hanging off a parent through a non-unique FK.")
    dialect: str | None = Field(None, description="postgres, mysql or sqlite; detected from the DDL when unset.")
    spec: str | None = Field(
        None,
        description="Generation spec file (YAML or JSON) merged over the inferred one; its row counts win. "
        "`synth relational --print-spec` writes the full spec a run uses.",
    )
    instructions: str | None = Field(
        None,
        description="What the data should look like, in words, for the AI hybrid (one model request per "
        "table; e.g. 'mostly science fiction, a tenth of loans overdue'). Used only with an LLM provider.",
    )

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str | None) -> str | None:
        if value is not None and value not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}")
        return value

    @field_validator("table_rows")
    @classmethod
    def _non_negative(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if v < 0}
        if bad:
            raise ValueError(f"table_rows must be >= 0: {bad}")
        return value


@dataclass
class Prepared:
    schema: Schema
    plan: Plan
    generator: RelationalGenerator
    # This run's AI figures per table (status, tokens, cached): for the summary and metadata, not the files.
    ai_run: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def spec(self) -> GenerationSpec:
        return self.generator.resolved.spec


def plan_and_spec(schema: Schema, cfg: RelationalConfig) -> tuple[Plan, Resolved]:
    """The insert plan and the validated spec: inferred from the DDL, with ``cfg.spec`` merged over it
    (its row counts replace the configured ones). A bad spec raises ``SpecError`` with one line."""
    user = load_spec(cfg.spec) if cfg.spec else None
    # A spec's roles decide the counts of the tables whose rows it does not set (unknown tables are refused
    # by build_spec with the spec named).
    roles = {name: t.role for name, t in (user.tables.items() if user else ()) if t.role and name in schema.tables}
    plan = make_plan(schema, cfg.rows, cfg.table_rows, cfg.fanout, roles)
    spec = build_spec(schema, plan, user, source=str(cfg.spec))
    rows = {name: t.rows for name, t in spec.tables.items() if t.rows is not None}
    if any(plan.rows[name] != n for name, n in rows.items()):
        plan = make_plan(schema, cfg.rows, {**cfg.table_rows, **rows}, cfg.fanout, roles)
    return plan, resolve(schema, plan, spec)


def with_ai(
    schema: Schema, plan: Plan, resolved: Resolved, cfg: RelationalConfig, seed: int, llm: Any
) -> tuple[Resolved, dict[str, dict[str, Any]]]:
    """The spec after the AI hybrid when ``llm`` (an ``LLMSession``) has a provider and ``USE_AI`` is not
    false; otherwise ``resolved`` unchanged (the deterministic spec)."""
    if llm is None:
        return resolved, {}
    from synth_pipelines.domains.relational.ai import ai_enabled, apply_ai

    settings = llm.settings
    if not ai_enabled(settings.provider):
        return resolved, {}
    generator = llm.generator()  # the session closes it
    return apply_ai(schema, plan, resolved, cfg.instructions, seed, generator, settings.model)


def prepare(ddl: str | Path, cfg: RelationalConfig, seed: int, llm: Any = None) -> Prepared:
    """Schema, plan, spec and generator; with ``llm`` (an ``LLMSession``), the AI hybrid's patches applied."""
    schema = load_ddl(ddl, cfg.dialect)
    plan, resolved = plan_and_spec(schema, cfg)
    resolved, ai_run = with_ai(schema, plan, resolved, cfg, seed, llm)
    return Prepared(schema, plan, RelationalGenerator(schema, plan, seed, resolved), ai_run)


def parse_formats(text: str | None) -> tuple[str, ...]:
    if not text:
        return FORMATS
    wanted = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    return wanted


class _PhaseClock:
    """Wall and process CPU seconds per phase (CPU time shows the work on a busy shared machine)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = (time.perf_counter(), time.process_time())

    def lap(self, phase: str) -> None:
        now = (time.perf_counter(), time.process_time())
        if self.timings is not None:
            self.timings[phase] = now[0] - self.last[0]
            self.timings[f"{phase}_cpu"] = now[1] - self.last[1]
        self.last = now

    def note(self, phase: str, seconds: float) -> None:
        if self.timings is not None:
            self.timings[phase] = seconds


def _timed(fn: Callable[..., Path], *args: Any) -> tuple[Path, float]:
    start = time.perf_counter()
    return fn(*args), time.perf_counter() - start


def export_dataset(
    prepared: Prepared,
    seed: int,
    out_dir: Path,
    formats: tuple[str, ...] = FORMATS,
    tables: dict[str, pl.DataFrame] | None = None,
    progress: Any = None,
    timings: dict[str, float] | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Write every table into ``out_dir``, validate the written data, then add the report, zip and database.

    Returns the report and the files by role. ``out_dir`` is a folder the caller stages
    (``core/atomic.output_set`` in the CLI, ``atomic_dir`` in Dagster): on a violation this raises
    ``ConstraintViolation`` before the zip and the database are built, and the caller discards the
    folder, so nothing reaches the real output. Tables written only to build the zip or the database
    (CSV without ``csv``, Parquet without ``parquet``) are removed again. ``timings``, when given,
    receives wall and CPU seconds per phase (generate, validate, package: the zip and the DuckDB
    database, built side by side, with each one's own wall time) for benches.
    """
    clock = _PhaseClock(timings)
    schema, plan, gen = prepared.schema, prepared.plan, prepared.generator
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        want_csv = "csv" in formats or "zip" in formats
        parquet: dict[str, Path] = {}
        csv: dict[str, Path] = {}
        stems = table_file_stems(plan.insert_order)
        # Parquet and CSV each get a writer thread, so drawing, Parquet encoding and CSV formatting
        # (all GIL-free for the heavy parts) overlap; each file is still written in block order.
        with WriteBehind("relational-parquet") as pq_thread, WriteBehind("relational-csv") as csv_thread:
            for name in plan.insert_order:
                frame_schema = gen.empty_frame(name).schema
                parquet[name] = out_dir / f"{stems[name]}.parquet"
                csv[name] = out_dir / f"{stems[name]}.csv"
                sinks: list[tuple[BlockWriter, WriteBehind]] = [
                    (
                        ParquetBlockWriter(
                            parquet[name], frame_schema, dictionary=dictionary_columns(gen.models[name])
                        ),
                        pq_thread,
                    )
                ]
                if want_csv:
                    sinks.append((CsvTableWriter(csv[name], frame_schema, schema.dialect), csv_thread))
                for sink, thread in sinks:
                    thread.submit(sink.__enter__)
                try:
                    blocks = frame_blocks(tables[name]) if tables is not None else gen.iter_blocks(name)
                    for block in blocks:
                        if block.height:
                            for sink, thread in sinks:
                                thread.submit(sink.write, block)
                except BaseException as exc:
                    for sink, thread in sinks:
                        thread.submit(sink.__exit__, type(exc), exc, exc.__traceback__)
                    raise
                for sink, thread in sinks:
                    thread.submit(sink.__exit__, None, None, None)
                if progress is not None:
                    progress(plan.rows[name])
            pq_thread.drain()
            csv_thread.drain()
        clock.lap("generate")
        report = build_report(schema, plan, gen, dict(parquet), seed, GENERATOR_VERSION)
        clock.lap("validate")
        if not report["ok"]:
            raise ConstraintViolation(
                f"{schema.source} seed={seed}: generated data violates constraints or rules "
                f"({violation_summary(report)}); "
                "nothing was written"
            )
        if any(stem != name for name, stem in stems.items()):
            # Only when a file is not named after its table: a plain schema's report keeps its bytes.
            report["table_files"] = dict(stems)
        (out_dir / "validation_report.json").write_text(report_json(report), encoding="utf-8")
        files: dict[str, Path] = {"report": out_dir / "validation_report.json"}
        if "parquet" in formats:
            files |= {f"parquet:{n}": p for n, p in parquet.items()}
        if "csv" in formats:
            files |= {f"csv:{n}": p for n, p in csv.items()}
        # The archive (zlib) and the database (DuckDB) both release the GIL: build them side by side.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="relational-zip") as pool:
            zipped = (
                pool.submit(_timed, write_zip, [csv[n] for n in plan.insert_order], out_dir / "dataset.zip")
                if "zip" in formats
                else None
            )
            if "duckdb" in formats:
                files["duckdb"], seconds = _timed(write_duckdb, schema, plan, parquet, out_dir / "dataset.duckdb")
                clock.note("duckdb", seconds)
            if zipped is not None:
                files["zip"], seconds = zipped.result()
                clock.note("zip", seconds)
        if zipped is not None or "duckdb" in formats:
            clock.lap("package")
        kept = set(files.values())
        for path in [*parquet.values(), *csv.values()]:
            if path not in kept:
                path.unlink(missing_ok=True)
        return report, files
    finally:
        gen.close()
