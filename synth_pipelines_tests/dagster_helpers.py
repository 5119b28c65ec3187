"""Materialize asset groups in-process the way the README promises: Parquet intermediates, a real DuckDB
catalog file and the exports, all in a temp data dir."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from synth_pipelines.definitions import defs
from synth_pipelines.orchestration.resources import default_resources


def materialize_group(
    group: str,
    seed: int,
    data_dir: Path,
    instance: dg.DagsterInstance,
    run_config: dict[str, Any] | None = None,
    raise_on_error: bool = True,
    resources: dict[str, Any] | None = None,
    assets: Sequence[Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Register ``seed`` and materialize every asset of ``group`` for it into ``data_dir``.

    ``resources`` replace the defaults by key (e.g. an ``llm`` resource); ``assets`` replace the
    project's definitions (e.g. ``build_domain_assets`` of a domain that is not registered).
    """
    if not instance.has_dynamic_partition("seed", str(seed)):
        instance.add_dynamic_partitions("seed", [str(seed)])
    # defs.assets holds the definitions as written (no resources bound), so the test's resources apply.
    selected = list(assets) if assets is not None else [*(defs.assets or []), *(defs.asset_checks or [])]
    return dg.materialize(
        selected,
        selection=dg.AssetSelection.groups(group),
        partition_key=str(seed),
        instance=instance,
        resources=default_resources(str(data_dir)) | (resources or {}),
        run_config=run_config or {},
        raise_on_error=raise_on_error,
    )


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
