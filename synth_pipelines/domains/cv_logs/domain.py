"""The CV logs domain: wiring of schema and draw into the log pipeline."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl
from pydantic import Field

from synth_pipelines.domains.cv_logs.draw import draw_cv_runs
from synth_pipelines.domains.cv_logs.schema import INVENTORY
from synth_pipelines.domains.logs.domain import NAME_PATTERN, LogConfig, LogDomain


class CvLogsConfig(LogConfig):
    name: str = Field("cv_logs", pattern=NAME_PATTERN, description="File name prefix.")


class CvLogsDomain(LogDomain):
    name = "cv_logs"
    cli_name = "cv-logs"
    version = "1.2.0"
    description = "Computer-vision model-run logs (train/validation/test/inference phases) with an invalid mirror."
    config_model: ClassVar[type[LogConfig]] = CvLogsConfig
    inventory = INVENTORY

    def draw_block(self, cfg: LogConfig, seed: int, rng: np.random.Generator, start: int, n: int) -> pl.DataFrame:
        return self.inventory.conform(draw_cv_runs(seed, rng, start, n, cfg.start_ms))


def domains() -> list[LogDomain]:
    return [CvLogsDomain()]
