"""Intermediates between assets as Parquet: a small ``UPathIOManager`` for the domain contract's values.

A step's value is either a run's config (a JSON object, ``config.json``) or the tables of one seed
(``{name: polars.DataFrame}``: one Parquet file per table plus ``tables.json`` with their order).
Parquet keeps polars dtypes exactly (time zones, widths, nested types), so nothing downstream has to
repair them. Layout: ``<base>/<group>/<step>/seed=<seed>/``; the ``seed=`` folder makes the files a
hive-partitioned dataset that DuckDB reads with a ``seed`` column (the catalog's views).

``dagster-polars`` would be the library for this, but 0.27.12 breaks on polars 2 (``scan_parquet``
lost ``rechunk``); this class is the part of it we need. Paths are universal-pathlib paths: a local base
swaps the seed's folder by renames (``core/atomic.atomic_dir``); an object-store base (``s3://bucket/prefix``)
publishes it as a manifest-committed set (``core/objstore``: files under ``_sets/<id>/``, ``_manifest.json``
written last), and reading goes through that manifest.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from upath import UPath

from synth_pipelines.core.atomic import atomic_dir
from synth_pipelines.core.objstore import SetInfo, is_remote, read_manifest, read_set_file, remote_output_set

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
        # The seed's folder is replaced as a unit (core/atomic, core/objstore): a reader never sees half a step.
        url = str(path)
        if is_remote(url):
            info = SetInfo(context.asset_key.to_user_string(), "", int(context.partition_key), {})
            with remote_output_set(url, info, what="intermediates") as staging:
                self._write(context, obj, staging)
            return
        with atomic_dir(Path(path.path)) as staging:
            self._write(context, obj, staging)

    def _write(self, context: dg.OutputContext, obj: Any, staging: Path) -> None:
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
        url = str(path)
        if is_remote(url):
            return self._load_remote(url)
        if (path / CONFIG_FILE).exists():
            return json.loads((path / CONFIG_FILE).read_text())
        manifest = json.loads((path / MANIFEST).read_text())
        return {entry["name"]: pl.read_parquet(str(path / entry["file"])) for entry in manifest}

    def _load_remote(self, url: str) -> Any:
        """A step published on an object store: only the objects its ``_manifest.json`` lists, sha256-checked."""
        published = read_manifest(url, what="intermediates")
        if published is None:
            raise FileNotFoundError(f"intermediates {url}: nothing published there (no _manifest.json)")
        paths = {entry["path"] for entry in published["files"]}
        if CONFIG_FILE in paths:
            return json.loads(read_set_file(url, published, CONFIG_FILE, "intermediates"))
        tables = json.loads(read_set_file(url, published, MANIFEST, "intermediates"))
        return {
            entry["name"]: pl.read_parquet(io.BytesIO(read_set_file(url, published, entry["file"], "intermediates")))
            for entry in tables
        }


class ParquetIOManager(dg.ConfigurableIOManagerFactory):
    """Stores every step of every domain under ``base_path`` (default ``<data>/storage``)."""

    base_path: str

    def create_io_manager(self, context: dg.InitResourceContext) -> TablesIOManager:
        return TablesIOManager(base_path=UPath(self.base_path))
