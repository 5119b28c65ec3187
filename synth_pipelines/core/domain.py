"""The domain contract: what every synthetic dataset family declares, and the plain pipeline that runs it.

A domain turns ``(config, seed)`` into one or more named tables and writes them as files:

``config -> draw -> [normalize] -> checks -> export``

- ``config_model``: one pydantic model. The CLI's flags and Dagster's run config are built from it,
  so the two share fields and defaults by construction.
- ``draw``: the tables, as a dict ``name -> polars.DataFrame`` (one table for the log domains, many
  for relational and scenarios). A domain whose draw is a raw form (JSON lines as a source emits
  them) sets ``has_raw_form`` and turns it into clean tables in ``normalize``.
- ``schemas``: a pandera schema per clean table; ``checks`` adds what a schema cannot say (a
  recovered Markov chain, constraint counts, claims across tables). Every check is declared up front
  in ``check_specs`` (Dagster needs the names before anything runs); a blocking check that fails
  stops the export, so no file claims what was not proven.
- ``export``: the files, written into a folder the caller stages (``core/atomic.output_set``).

``run_domain`` below is the whole pipeline without Dagster; the Dagster factory
(``orchestration/factory.py``) runs the same methods one asset per step. Both write the same bytes.
Domains never import Dagster or ``orchestration/``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandera.polars as pa
import polars as pl
from pydantic import BaseModel

from synth_pipelines.core.paths import default_data_dir
from synth_pipelines.core.preview import markdown_table
from synth_pipelines.core.validate import validate_frame

ProgressFn = Callable[[int], None]
Tables = dict[str, pl.DataFrame]
Schema = pa.DataFrameSchema | type[pa.DataFrameModel]


class ConstraintViolation(Exception):
    """Generated data would break a constraint it claims to hold; nothing was written."""


@dataclass(frozen=True)
class Markdown:
    """A metadata value shown as markdown (a table, a list) rather than as text."""

    text: str


@dataclass(frozen=True)
class CheckSpec:
    name: str
    description: str
    blocking: bool = True  # a failure stops the export (Dagster: a blocking asset check)


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    summary: str  # one line, e.g. "all 5000 rows valid" or "3 sessions break the workflow"
    metadata: dict[str, Any] = field(default_factory=dict)  # numbers, text, dicts/lists (JSON), Markdown


SCHEMA_CHECK = CheckSpec("no_invalid_rows", "Every row of every table passes its pandera schema.")


@dataclass
class RunContext:
    """What a domain may use besides its config and seed."""

    data_dir: Path = field(default_factory=lambda: Path(default_data_dir()))
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("synth_pipelines"))
    # The run's provider clients (``synth_pipelines.llm.session.LLMSession``) for LLM-backed domains;
    # ``None`` means offline. Whoever opened it closes it: the CLI, or the Dagster ``llm`` resource.
    llm: Any = None
    progress: ProgressFn | None = None
    # Numbers a domain reports about its own run (LLM requests, cache hits...), shown as metadata.
    metadata: dict[str, Any] = field(default_factory=dict)
    # The folder the run's final files land in, when the caller knows it (the CLI; Dagster: None): a
    # domain may write what it has accepted there while it runs (nlp ``--incremental-save``).
    live_dir: Path | None = None


@dataclass(frozen=True)
class UnitsWritten:
    """What ``Domain.write_units`` wrote: the files by role, and each check's outcome for those units.

    ``checks[name]`` holds ``passed`` and numbers that add up across shards (``rows``, counts).
    """

    files: dict[str, Path]
    checks: dict[str, dict[str, Any]]


class Domain(ABC):
    """A synthetic dataset family. Subclasses are plain Python over polars and numpy."""

    name: str  # asset group and export folder, e.g. "cv_logs"
    cli_name: str  # CLI subcommand, e.g. "cv-logs"
    version: str  # bump when the same seed and config would produce different bytes
    description: str
    config_model: type[BaseModel]
    uses_llm: ClassVar[bool] = False
    has_raw_form: ClassVar[bool] = False
    check_specs: tuple[CheckSpec, ...] = (SCHEMA_CHECK,)

    def parse_config(self, values: Mapping[str, Any] | None = None) -> Any:
        return self.config_model.model_validate(dict(values or {}))

    def describe(self, cfg: Any, seed: int) -> dict[str, Any]:
        """Facts about a run known before drawing (the relational insert plan); raises on an impossible config."""
        return {}

    @abstractmethod
    def draw(self, cfg: Any, seed: int, ctx: RunContext) -> Tables:
        """The tables of one seed (their raw form when ``has_raw_form``)."""

    def normalize(self, raw: Tables, cfg: Any) -> Tables:
        """Parse and canonicalise the raw form into clean typed tables (only when ``has_raw_form``)."""
        return raw

    def schemas(self, cfg: Any) -> Mapping[str, Schema]:
        """The pandera schema of each clean table."""
        return {}

    def checks(self, tables: Tables, cfg: Any, seed: int) -> list[CheckOutcome]:
        """One outcome per ``check_specs`` entry; by default the schema check alone."""
        return [self.schema_outcome(tables, cfg)]

    @abstractmethod
    def export(self, tables: Tables, cfg: Any, seed: int, out_dir: Path, ctx: RunContext) -> dict[str, Path]:
        """Write the files into ``out_dir``; return them by role."""

    # ---- scale-out (core/shards.py, docs/scale-out.md) -------------------------------------------
    # A domain whose units (records, runs, sessions) are prefix-stable can be made as shards: it says
    # how many units a config has and writes the files of a range of units. ``None``: no shards (yet).

    def shard_units(self, cfg: Any) -> int | None:
        """How many units (the thing shards split) the config has; ``None`` when the domain cannot shard."""
        return None

    def write_units(self, cfg: Any, seed: int, start: int, stop: int, out_dir: Path, ctx: RunContext) -> UnitsWritten:
        """The files the unsharded run writes, for units ``start .. stop`` only, every row checked."""
        raise ConstraintViolation(f"{self.name}: cannot be made as shards")

    def summarize_shard_checks(self, cfg: Any, checks: dict[str, Any]) -> dict[str, Any]:
        """The checks of the whole set from the shards' summed outcomes (a check decided over all shards
        replaces its entry, e.g. api-traces' transition estimate from summed edge counts)."""
        return checks

    def check_set_parts(self, cfg: Any, parts: dict[str, list[Path]], checks: dict[str, Any]) -> dict[str, Any]:
        """Claims decided by reading all parts back at the commit (``parts``: each role's part files in
        order), e.g. NLP's unique samples across shards; returns ``checks`` updated. Default: none."""
        return checks

    def commit_shard_set(
        self, cfg: Any, seed: int, checks: dict[str, Any], parts: Mapping[str, list[Path]], out_dir: Path
    ) -> tuple[dict[str, Any], dict[str, Path]]:
        """At the commit, after every part is proven as written: the checks of the whole set, and the files
        the commit writes once for the set into ``out_dir`` (by role; e.g. a report over all parts).

        ``parts``: each role's part files in shard order. By default the checks from the summed numbers
        (``summarize_shard_checks``), then those read from the parts (``check_set_parts``), and no file.
        A failure over the set raises ``ConstraintViolation`` naming what failed (nothing is published).
        """
        return self.check_set_parts(cfg, dict(parts), self.summarize_shard_checks(cfg, checks)), {}

    def compact_set(self, cfg: Any, seed: int, files: Mapping[str, Path], out_dir: Path) -> dict[str, Path]:
        """With ``--compact``, after the single files are written into ``out_dir`` (``files`` by role): files
        the unsharded run builds from them (an archive, a database), by role. By default none."""
        return {}

    def compact_parts(self, cfg: Any, role: str, parts: list[Path], target: Path) -> None:
        """Write ``target`` (the unsharded file of ``role``) from its parts in order, byte for byte.

        By default: text parts are concatenated (a CSV's header kept once); Parquet parts are re-written
        through ``ParquetBlockWriter`` with ``write_frame``'s settings. A domain that writes otherwise
        (other Parquet settings, numbers that run across the file) overrides this.
        """
        from synth_pipelines.core.export import ParquetBlockWriter

        if target.suffix == ".parquet":
            schema = pl.read_parquet_schema(parts[0]) if parts else None
            with ParquetBlockWriter(target, pl.Schema(schema) if schema else None) as writer:
                for part in parts:
                    frame = pl.read_parquet(part)
                    if frame.height:
                        writer.write(frame)
            return
        with target.open("wb") as out:
            header_written = False
            for part in parts:
                with part.open("rb") as fh:
                    if target.suffix == ".csv":
                        # The header once, from the first part that has one: a part of no rows may be an
                        # empty file (the block writers write a CSV header with the first block).
                        header = fh.readline()
                        if header and not header_written:
                            out.write(header)
                            header_written = True
                    while chunk := fh.read(1 << 20):
                        out.write(chunk)

    def schema_outcome(self, tables: Tables, cfg: Any, name: str = SCHEMA_CHECK.name) -> CheckOutcome:
        """Every table against its pandera schema, as one check outcome."""
        outcomes = {table: validate_frame(schema, tables[table]) for table, schema in self.schemas(cfg).items()}
        if not outcomes:
            raise ConstraintViolation(f"{self.name}: no pandera schema declared; nothing was checked")
        invalid = sum(o.invalid_rows for o in outcomes.values())
        failures = [(t, o) for t, o in outcomes.items() if not o.ok]
        cases = pl.concat(
            [o.failure_cases.head(20).with_columns(pl.lit(t).alias("table")) for t, o in failures], how="diagonal"
        ) if failures else None  # fmt: skip
        return CheckOutcome(
            name,
            passed=not failures,
            summary="; ".join(f"{t}: {o.summary()}" for t, o in (failures or outcomes.items())),
            metadata={
                "invalid_rows": invalid,
                "failure_case_count": sum(o.failure_cases.height for _, o in failures),
                "failure_cases": Markdown(markdown_table(cases) if cases is not None else "No failure cases."),
            },
        )


@dataclass(frozen=True)
class DomainRun:
    tables: Tables
    checks: list[CheckOutcome]
    files: dict[str, Path]


def verified_checks(domain: Domain, tables: Tables, cfg: Any, seed: int) -> list[CheckOutcome]:
    """The domain's check outcomes, exactly one per declared spec (a missing one would pass silently)."""
    outcomes = domain.checks(tables, cfg, seed)
    declared = [spec.name for spec in domain.check_specs]
    if sorted(o.name for o in outcomes) != sorted(declared):
        raise ConstraintViolation(
            f"{domain.name}: checks returned {[o.name for o in outcomes]}, but the domain declares {declared}"
        )
    return outcomes


def blocking_failures(domain: Domain, outcomes: list[CheckOutcome]) -> list[CheckOutcome]:
    blocking = {spec.name for spec in domain.check_specs if spec.blocking}
    return [o for o in outcomes if o.name in blocking and not o.passed]


def draw_tables(domain: Domain, cfg: Any, seed: int, ctx: RunContext) -> Tables:
    """The clean tables of one seed: draw, then normalize when the domain has a raw form."""
    tables = domain.draw(cfg, seed, ctx)
    return domain.normalize(tables, cfg) if domain.has_raw_form else tables


def run_domain(domain: Domain, cfg: Any, seed: int, out_dir: Path, ctx: RunContext | None = None) -> DomainRun:
    """The whole pipeline without Dagster; refuses to export data that fails a blocking check."""
    ctx = ctx or RunContext()
    tables = draw_tables(domain, cfg, seed, ctx)
    outcomes = verified_checks(domain, tables, cfg, seed)
    failed = blocking_failures(domain, outcomes)
    if failed:
        reasons = "; ".join(f"{o.name}: {o.summary}" for o in failed)
        raise ConstraintViolation(f"{domain.name} seed={seed}: {reasons}; nothing was written")
    files = domain.export(tables, cfg, seed, out_dir, ctx)
    return DomainRun(tables, outcomes, files)
