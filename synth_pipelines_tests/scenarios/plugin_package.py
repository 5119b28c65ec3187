"""A tiny third-party scenario package, installed into a temporary folder by the tests.

It is what a real plugin ships: a module with a ``Scenario`` subclass and a ``.dist-info`` whose
``entry_points.txt`` names it in the ``synth_pipelines.scenarios`` group.
"""

from __future__ import annotations

from pathlib import Path

MODULE = """
import numpy as np
import pandera.polars as pa
import polars as pl
from pydantic import BaseModel, Field

from synth_pipelines.core.rng import block_rng
from synth_pipelines.domains.scenarios.base import Scenario, ScenarioArg


class StockCount(BaseModel):
    sku: str
    quantity: int
    note: str = Field(min_length=1)


class StockCountScenario(Scenario):
    name = "stock-count"
    version = "1"
    summary = "Warehouse stock counts (example plugin)"
    system_description = "You write short warehouse notes."
    record_model = StockCount
    record_name = "counts"
    planned_fields = ("sku", "quantity")
    output_formats = ("jsonl", "csv")
    arguments = (ScenarioArg("--max-quantity", int, 50, "largest count", minimum=1),)
    examples = ("synth scenario --scenario stock-count --count 5 --max-quantity 9",)

    def schema(self, cfg):
        return pa.DataFrameSchema(
            {
                "sku": pa.Column(str, unique=True),
                "quantity": pa.Column(int, pa.Check.in_range(0, cfg.max_quantity)),
                "note": pa.Column(str),
            },
            strict=True,
        )

    def draw_plan(self, cfg, seed, entities):
        rng = block_rng(seed, "scenario/stock-count", "plan", 0)
        return pl.DataFrame({"sku": [f"SKU-{i:04d}" for i in range(cfg.count)],
                             "quantity": rng.integers(0, cfg.max_quantity + 1, cfg.count)})

    def draw_offline(self, plan, cfg, seed, entities):
        return plan.select(pl.format("counted {} units of {}", "quantity", "sku").alias("note"))

    def build_prompt(self, plan_row, cfg):
        return f"Write a note about counting {plan_row['quantity']} units of {plan_row['sku']}."
"""


def install_plugin(root: Path) -> Path:
    """Write the package and its metadata under ``root`` (to be put on ``sys.path``)."""
    (root / "acme_stock").mkdir(parents=True)
    (root / "acme_stock" / "__init__.py").write_text(MODULE)
    info = root / "acme_stock-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-stock\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[synth_pipelines.scenarios]\n"
        "stock-count = acme_stock:StockCountScenario\n"
        "broken-one = acme_stock:DoesNotExist\n"
    )
    return root
