"""A domain from scratch: sensors and their hourly readings (the worked example of docs/architecture.md).

Two tables, a pandera schema each, one cross-table check, Parquet + CSV exports. Every random number
comes from ``block_rng`` keyed by (seed, domain, stream, block), so the bytes depend only on the seed
and config, never on how the work is split. No Dagster here: the factory turns it into an asset group.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandera.polars as pa
import polars as pl
from pydantic import BaseModel, Field

from synth_pipelines.core.domain import SCHEMA_CHECK, CheckOutcome, CheckSpec, Domain, RunContext, Tables
from synth_pipelines.core.export import write_frame
from synth_pipelines.core.rng import block_rng, block_spans

KINDS = ["temperature", "humidity", "pressure"]
READINGS_BELONG = CheckSpec("readings_belong_to_sensors", "Every reading names a sensor of the sensors table.")


class SensorConfig(BaseModel):
    sensors: int = Field(20, ge=1, le=100_000, description="number of sensors")
    hours: int = Field(48, ge=1, le=24 * 365, description="hourly readings per sensor")


class SensorReadingsDomain(Domain):
    name = "sensor_readings"
    cli_name = "sensor-readings"
    version = "1"
    description = "Sensors and their hourly readings."
    config_model = SensorConfig
    check_specs = (SCHEMA_CHECK, READINGS_BELONG)

    def draw(self, cfg: SensorConfig, seed: int, ctx: RunContext) -> Tables:
        rng = block_rng(seed, self.name, "sensors")
        sensors = pl.DataFrame(
            {
                "sensor_id": np.arange(1, cfg.sensors + 1, dtype=np.int64),
                "kind": rng.choice(KINDS, cfg.sensors),
                "baseline": rng.normal(20.0, 5.0, cfg.sensors),
            }
        )
        total = cfg.sensors * cfg.hours
        blocks = []
        for block, start, n in block_spans(total):  # fixed blocks: any block can be drawn alone
            rows = np.arange(start, start + n)
            noise = block_rng(seed, self.name, "readings", block).normal(0.0, 1.0, n)
            blocks.append(
                pl.DataFrame({"sensor_id": rows // cfg.hours + 1, "hour": (rows % cfg.hours).astype(np.int32)})
                .join(sensors.select("sensor_id", "baseline"), on="sensor_id", how="left", maintain_order="left")
                .select("sensor_id", "hour", (pl.col("baseline") + pl.Series(noise)).alias("value"))
            )
        return {"sensors": sensors, "readings": pl.concat(blocks)}

    def schemas(self, cfg: SensorConfig) -> dict[str, pa.DataFrameSchema]:
        return {
            "sensors": pa.DataFrameSchema(
                {
                    "sensor_id": pa.Column(pl.Int64, pa.Check.ge(1), unique=True),
                    "kind": pa.Column(pl.String, pa.Check.isin(KINDS)),
                    "baseline": pa.Column(pl.Float64),
                },
                strict=True,
            ),
            "readings": pa.DataFrameSchema(
                {
                    "sensor_id": pa.Column(pl.Int64),
                    "hour": pa.Column(pl.Int32, pa.Check.in_range(0, cfg.hours - 1)),
                    "value": pa.Column(pl.Float64),
                },
                strict=True,
                unique=["sensor_id", "hour"],
            ),
        }

    def checks(self, tables: Tables, cfg: SensorConfig, seed: int) -> list[CheckOutcome]:
        orphans = tables["readings"].join(tables["sensors"], on="sensor_id", how="anti").height
        belong = CheckOutcome(
            READINGS_BELONG.name, orphans == 0, f"{orphans} readings without a sensor", {"orphans": orphans}
        )
        return [self.schema_outcome(tables, cfg), belong]

    def export(self, tables: Tables, cfg: SensorConfig, seed: int, out_dir: Path, ctx: RunContext) -> dict[str, Path]:
        return {
            f"{name}_{ext}": write_frame(frame, Path(out_dir) / f"{name}.{ext}")
            for name, frame in tables.items()
            for ext in ("parquet", "csv")
        }


def domains() -> list[Domain]:
    return [SensorReadingsDomain()]
