"""Resources: where project data lives, and the Parquet IO manager for the steps between assets."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from synth_pipelines.core.paths import default_data_dir
from synth_pipelines.orchestration.storage import ParquetIOManager


class SynthDataDir(dg.ConfigurableResource):
    """The project's ``data/`` folder: exports, intermediates (``storage/``), the warehouse catalog."""

    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def warehouse(self) -> Path:
        return Path(os.environ.get("SYNTH_DUCKDB_PATH") or self.root / "warehouse.duckdb")

    def export_dir(self, domain: str, seed: int) -> Path:
        return self.root / "exports" / domain / f"seed={seed}"


def default_resources(data_dir: str | None = None) -> dict[str, object]:
    from synth_pipelines.llm.resource import LLMResource

    data = SynthDataDir(path=data_dir or default_data_dir())
    return {
        "parquet_io_manager": ParquetIOManager(base_path=str(data.storage)),
        "synth_data": data,
        # Offline by default: every pipeline runs with no key. Unset fields come from SYNTH_LLM_* / .env.
        "llm": LLMResource(),
    }
