"""What a domain declares, and the plain (Dagster-free) pipeline that runs it.

A domain is ``config -> draw (raw) -> normalize -> validate (pandera) -> export``. The Dagster
factory (``orchestration/factory.py``) turns a ``Domain`` into a seed-partitioned asset group; the
``synth`` CLI calls ``run_domain`` below. Both go through the same methods, so they write the same
bytes for the same seed and config.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandera.polars as pa
import polars as pl
from pydantic import BaseModel

from synth_pipelines.core.validate import ValidationOutcome, validate_frame

ProgressFn = Callable[[int], None]


class ConstraintViolation(Exception):
    """Generated data would break a constraint it claims to hold; nothing was written."""


@dataclass
class RunContext:
    """What a domain may use besides its config and seed: where project data lives, providers."""

    data_dir: Path = field(default_factory=lambda: Path("data"))
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("synth_pipelines"))
    resources: dict[str, Any] = field(default_factory=dict)
    progress: ProgressFn | None = None
    # Numbers a domain reports about its own run (LLM requests, cache hits...), shown as metadata.
    metadata: dict[str, Any] = field(default_factory=dict)


class Domain(ABC):
    """A synthetic dataset family. Subclasses are plain Python over polars and numpy."""

    name: ClassVar[str]  # asset group and export folder, e.g. "cv_logs"
    cli_name: ClassVar[str]  # CLI subcommand, e.g. "cv-logs"
    version: ClassVar[str]  # bump when the same seed would produce different bytes
    description: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    uses_llm: ClassVar[bool] = False

    @abstractmethod
    def draw(self, cfg: Any, seed: int, ctx: RunContext) -> pl.DataFrame:
        """The raw draw: records as a source would emit them."""

    @abstractmethod
    def normalize(self, raw: pl.DataFrame, cfg: Any) -> pl.DataFrame:
        """Parse and canonicalise the raw draw into clean typed records."""

    @abstractmethod
    def schema(self) -> pa.DataFrameSchema | type[pa.DataFrameModel]:
        """The pandera schema every clean record satisfies."""

    @abstractmethod
    def export(self, clean: pl.DataFrame, cfg: Any, seed: int, out_dir: Path, ctx: RunContext) -> dict[str, Path]:
        """Write the exports into ``out_dir`` (each file atomically); return them by role."""

    def conform(self, df: pl.DataFrame) -> pl.DataFrame:
        """Restore exact dtypes after a storage round trip (DuckDB widens some types)."""
        return df

    def validate(self, clean: pl.DataFrame) -> ValidationOutcome:
        return validate_frame(self.schema(), clean)

    def parse_config(self, values: dict[str, Any] | None = None) -> BaseModel:
        return self.config_model.model_validate(values or {})


@dataclass(frozen=True)
class DomainRun:
    clean: pl.DataFrame
    validation: ValidationOutcome
    files: dict[str, Path]


def run_domain(domain: Domain, cfg: BaseModel, seed: int, out_dir: Path, ctx: RunContext | None = None) -> DomainRun:
    """The whole pipeline without Dagster; refuses to export data that fails validation."""
    ctx = ctx or RunContext()
    clean = domain.normalize(domain.draw(cfg, seed, ctx), cfg)
    outcome = domain.validate(clean)
    if not outcome.ok:
        raise ConstraintViolation(f"{domain.name} seed={seed}: {outcome.summary()}; nothing was written")
    files = domain.export(clean, cfg, seed, out_dir, ctx)
    return DomainRun(clean, outcome, files)
