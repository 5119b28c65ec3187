"""Intermediates between assets as Parquet: a small ``UPathIOManager`` for the domain contract's values.

A step's value is either a run's config (a JSON object, ``config.json``) or the tables of one seed
(``{name: polars.DataFrame}``: one Parquet file per table plus ``tables.json`` with their order).
Parquet keeps polars dtypes exactly (time zones, widths, nested types), so nothing downstream has to
repair them. Layout: ``<base>/<group>/<step>/seed=<seed>/``; the ``seed=`` folder makes the files a
hive-partitioned dataset that DuckDB reads with a ``seed`` column (the catalog's views).

``dagster-polars`` would be the library for this, but 0.27.12 breaks on polars 2 (``scan_parquet``
lost ``rechunk``); this class is the part of it we need. Paths are universal-pathlib paths, but the folder swap
(``core/atomic.atomic_dir``) uses local renames: object-store bases come with the scale-out issue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from upath import UPath

from synth_pipelines.core.atomic import atomic_dir

MANIFEST = "tables.json"
CONFIG_FILE = "config.json"


def table_file_names(names: list[str]) -> dict[str, str]:
    """A safe, unique Parquet file name per table, stable for a given list of table names."""
    files: dict[str, str] = {}
    used: set[str] = set()
    for index, name in enumerate(names):
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "table"
        if stem.lower() in used:  # case-insensitive file systems: "Data" and "DATA" must not collide
            stem = f"{stem}~{index}"
        used.add(stem.lower())
        files[name] = f"{stem}.parquet"
    return files


class TablesIOManager(dg.UPathIOManager):
    extension = ""  # a folder per partition

    def get_path_for_partition(self, context: Any, path: UPath, partition: str) -> UPath:
        return path / f"seed={partition}"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        # The seed's folder is replaced as a unit (core/atomic): a reader never sees half a step.
        with atomic_dir(Path(path.path)) as staging:
            if isinstance(obj, Mapping) and obj and all(isinstance(v, pl.DataFrame) for v in obj.values()):
                files = table_file_names(list(obj))
                for name, frame in obj.items():
                    frame.write_parquet(staging / files[name])
                manifest = [{"name": name, "file": files[name], "rows": obj[name].height} for name in obj]
                (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
            elif isinstance(obj, Mapping):
                (staging / CONFIG_FILE).write_text(json.dumps(obj, indent=1, sort_keys=True))
            else:
                raise TypeError(f"{context.asset_key.to_user_string()}: cannot store a {type(obj).__name__}")

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        if (path / CONFIG_FILE).exists():
            return json.loads((path / CONFIG_FILE).read_text())
        manifest = json.loads((path / MANIFEST).read_text())
        return {entry["name"]: pl.read_parquet(str(path / entry["file"])) for entry in manifest}


class ParquetIOManager(dg.ConfigurableIOManagerFactory):
    """Stores every step of every domain under ``base_path`` (default ``<data>/storage``)."""

    base_path: str

    def create_io_manager(self, context: dg.InitResourceContext) -> TablesIOManager:
        return TablesIOManager(base_path=UPath(self.base_path))
