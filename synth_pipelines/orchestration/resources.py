"""Resources: where project data lives, and the DuckDB warehouse IO manager."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_duckdb_polars import DuckDBPolarsIOManager

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> str:
    return os.environ.get("SYNTH_DATA_DIR", str(PROJECT_ROOT / "data"))


class SynthDataDir(dg.ConfigurableResource):
    """The project's ``data/`` folder: exports go to ``<data_dir>/exports/<domain>/seed=<seed>/``."""

    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)

    def export_dir(self, domain: str, seed: int) -> Path:
        return self.root / "exports" / domain / f"seed={seed}"


def warehouse_io_manager(data_dir: str | None = None) -> DuckDBPolarsIOManager:
    database = os.environ.get("SYNTH_DUCKDB_PATH") or str(Path(data_dir or default_data_dir()) / "warehouse.duckdb")
    # DuckDB creates the file but not its folder; a missing folder would surface as a retried IOException.
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    return DuckDBPolarsIOManager(database=database)


def default_resources(data_dir: str | None = None) -> dict[str, object]:
    data_dir = data_dir or default_data_dir()
    from synth_pipelines.llm.resource import LLMResource

    return {
        "io_manager": warehouse_io_manager(data_dir),
        "synth_data": SynthDataDir(path=data_dir),
        # Offline by default: every pipeline runs with no key. Unset fields come from SYNTH_LLM_* / .env.
        "llm": LLMResource(),
    }
