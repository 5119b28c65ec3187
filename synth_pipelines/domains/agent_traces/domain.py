"""The agent traces domain: runs drawn in blocks, each written as one line per step."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl
from pydantic import Field

from synth_pipelines.domains.agent_traces.draw import draw_agent_runs
from synth_pipelines.domains.agent_traces.schema import INVENTORY
from synth_pipelines.domains.logs.domain import NAME_PATTERN, LogConfig, LogDomain


class AgentTracesConfig(LogConfig):
    name: str = Field("agent_traces", pattern=NAME_PATTERN, description="File name prefix.")


class AgentTracesDomain(LogDomain):
    name = "agent_traces"
    cli_name = "agent-logs"
    version = "1.2.0"
    description = "Agent run traces, one line per step (plan, tool and model calls, final), with an invalid mirror."
    config_model: ClassVar[type[LogConfig]] = AgentTracesConfig
    inventory = INVENTORY
    # ``count`` and blocks are in runs. A run has at most 38 steps (about 10 on average), so a block
    # of 8,192 runs stays around 90,000 rows and never above 311,296.
    block_records: ClassVar[int] = 8_192

    def draw_block(self, cfg: LogConfig, seed: int, rng: np.random.Generator, start: int, n: int) -> pl.DataFrame:
        return self.inventory.conform(draw_agent_runs(seed, rng, start, n, cfg.start_ms))

    def block_ids(self, clean: pl.DataFrame) -> np.ndarray:
        """The block of each step row: the ordinal of its run (runs are contiguous) // runs per block."""
        run_id = clean["run_id"]
        starts_run = (run_id != run_id.shift(1)).fill_null(True)
        return ((starts_run.cum_sum() - 1) // self.block_records).to_numpy()

    def rows_of_records(self, clean: pl.DataFrame, records: int) -> int:
        """Step rows of the first ``records`` runs (runs are contiguous)."""
        run_id = clean["run_id"]
        run_ordinal = (run_id != run_id.shift(1)).fill_null(True).cum_sum()
        return int((run_ordinal <= records).sum())


def domains() -> list[LogDomain]:
    return [AgentTracesDomain()]
