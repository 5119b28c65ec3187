"""The project's assets on a ``dask.distributed`` cluster: one job, ``all_domains_dask``, run by ``dagster-dask``.

A code location of its own (``-m synth_pipelines.orchestration.dask_job``), so the main ``defs`` do not
import dask (about a second more on every load). The graph is the static asset graph of the groups
selected, one Dagster step per asset, each step a dask task on whichever worker is free, submitted by
``dask_executor.py`` when its inputs are ready. Steps exchange values through the Parquet IO manager, so every worker
must reach the same storage: one machine's disk for a ``LocalCluster``, an object store
(``SYNTH_STORAGE_URL=s3://...``) for a real cluster. docs/scale-out.md "Executors" shows how to run it.
"""

from __future__ import annotations

import dagster as dg

from synth_pipelines.definitions import defs as project_defs
from synth_pipelines.orchestration.dask_executor import synth_dask_executor

all_domains_dask = dg.define_asset_job(
    "all_domains_dask",
    selection=dg.AssetSelection.all(),
    executor_def=synth_dask_executor,
    description="Every domain for one seed partition, each step a task on a dask.distributed cluster.",
    tags={"synth/job": "all_domains_dask"},
)

defs = dg.Definitions.merge(project_defs, dg.Definitions(jobs=[all_domains_dask]))


def all_domains_dask_job() -> dg.JobDefinition:
    """The job, resolved with the project's resources: the target ``dg.reconstructable`` needs for workers."""
    return defs.resolve_job_def("all_domains_dask")
