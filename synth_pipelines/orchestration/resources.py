"""Resources: where project data lives, and the Parquet IO manager for the steps between assets.

Exports and intermediates may live on an object store: ``exports_url`` / ``storage_url`` (or the
environment's ``SYNTH_EXPORTS_URL`` / ``SYNTH_STORAGE_URL``) take any fsspec URL (``s3://bucket/prefix``),
credentials from the backend's standard environment. The writer locks and the DuckDB catalog stay
in the local data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from synth_pipelines.core.objstore import local_or_url
from synth_pipelines.core.paths import default_data_dir
from synth_pipelines.orchestration.storage import ParquetIOManager


class SynthDataDir(dg.ConfigurableResource):
    """The project's ``data/`` folder: exports, intermediates (``storage/``), the warehouse catalog."""

    path: str
    exports_url: str | None = None  # default: <path>/exports
    storage_url: str | None = None  # the Parquet intermediates (the IO manager base); default <path>/storage

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

    def export_location(self, domain: str, seed: int) -> Path | str:
        """The seed's export folder, or its URL when exports go to an object store."""
        if self.exports_url:
            base = local_or_url(self.exports_url)
            return f"{base}/{domain}/seed={seed}" if isinstance(base, str) else base / domain / f"seed={seed}"
        return self.export_dir(domain, seed)

    @property
    def intermediates(self) -> Path | str:
        return local_or_url(self.storage_url) if self.storage_url else self.storage


def default_resources(
    data_dir: str | None = None, exports_url: str | None = None, storage_url: str | None = None
) -> dict[str, object]:
    from synth_pipelines.llm.resource import LLMResource

    data = SynthDataDir(
        path=data_dir or default_data_dir(),
        exports_url=exports_url or os.environ.get("SYNTH_EXPORTS_URL") or None,
        storage_url=storage_url or os.environ.get("SYNTH_STORAGE_URL") or None,
    )
    return {
        "parquet_io_manager": ParquetIOManager(base_path=str(data.intermediates)),
        "synth_data": data,
        # Offline by default: every pipeline runs with no key. Unset fields come from SYNTH_LLM_* / .env.
        "llm": LLMResource(),
    }
