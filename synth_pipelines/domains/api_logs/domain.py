"""The API call logs domain: wiring of schema and draw into the log pipeline."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl
from pydantic import Field

from synth_pipelines.domains.api_logs.draw import draw_api_calls
from synth_pipelines.domains.api_logs.schema import INVENTORY
from synth_pipelines.domains.logs.domain import NAME_PATTERN, LogConfig, LogDomain


class ApiLogsConfig(LogConfig):
    name: str = Field("api_logs", pattern=NAME_PATTERN, description="File name prefix.")


class ApiLogsDomain(LogDomain):
    name = "api_logs"
    cli_name = "api-logs"
    version = "1.2.0"
    description = "API gateway call logs (method, route, status, latency, sizes, client) with an invalid mirror."
    config_model: ClassVar[type[LogConfig]] = ApiLogsConfig
    inventory = INVENTORY

    def draw_block(self, cfg: LogConfig, seed: int, rng: np.random.Generator, start: int, n: int) -> pl.DataFrame:
        return self.inventory.conform(draw_api_calls(seed, rng, start, n, cfg.start_ms))


def domains() -> list[LogDomain]:
    return [ApiLogsDomain()]
