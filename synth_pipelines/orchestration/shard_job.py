"""The shards of one seed partition as parallel Dagster steps: ``sharded_job(domain, shards=K)``.

A static graph, K fixed when the job is built (no ``DynamicOut``: under dagster-dask 0.29 a dynamic
fan-out runs only its first step and still reports success)::

    <group>__shard_config -> <group>__shard_00000 .. <group>__shard_<K-1> -> <group>__shard_commit

``shard_config`` validates the run config (the domain's config, as for the asset group), claims the
(group, seed) writer lock the asset group uses (both write the same export folder) and names a
scratch folder for this run under ``<data>/storage/.shards/``; each shard step calls
``core/shards.run_shard`` into it; ``shard_commit`` calls ``commit_shards`` (every shard present,
same seed/config/K, sha256 as written, checks over the set) and publishes the folder as the seed's
export, replacing ``exports/<group>/seed=<k>/`` as a unit like the unsharded ``exported`` step. The
bytes are ``publish_sharded``'s for the same (seed, config, K): a part depends on nothing else.

Every step must reach the scratch folder: one machine (multiprocess executor, a dask
``LocalCluster``) or a shared filesystem. Exports to an object store are refused for now (the set's
own ``_manifest.json`` would meet the object-store set's manifest; docs/scale-out.md "Not done yet").

A code location of its own: ``dagster dev -m synth_pipelines.orchestration.shard_job`` builds one
job per shardable domain, ``<group>__sharded``, with K from ``SYNTH_SHARDS`` (default 4) read when the
definitions load. ``sharded_dask_job`` is the same graph on the dask executor.
"""

# No `from __future__ import annotations`: Dagster reads the op config class from real annotations.
import os
import shutil
from pathlib import Path
from typing import Any

import dagster as dg

from synth_pipelines.core.atomic import output_set
from synth_pipelines.core.domain import ConstraintViolation, Domain
from synth_pipelines.core.shards import ShardError, commit_shards, config_json, run_shard
from synth_pipelines.domains.registry import all_domains, domain_by_name
from synth_pipelines.orchestration import locks
from synth_pipelines.orchestration.factory import config_class, to_metadata
from synth_pipelines.orchestration.partitions import parse_seed, seed_partitions
from synth_pipelines.orchestration.resources import SynthDataDir, default_resources

SHARDS_ENV = "SYNTH_SHARDS"
DEFAULT_SHARDS = 4
SCRATCH = ".shards"  # under the data folder's storage/: <group>/seed=<k>/<run id>/


def shards_setting() -> int:
    """K for the code location's jobs, from ``SYNTH_SHARDS`` (read when the definitions load)."""
    raw = os.environ.get(SHARDS_ENV, str(DEFAULT_SHARDS))
    try:
        shards = int(raw)
    except ValueError:
        raise ValueError(f"{SHARDS_ENV}={raw!r}: must be a whole number of shards (1 ..)") from None
    if shards < 1:
        raise ValueError(f"{SHARDS_ENV}={raw!r}: must be 1 or more")
    return shards


def shardable_domains() -> list[Domain]:
    """Domains whose default config can be sharded (the log domains, api-traces, offline NLP, row-format scenarios).

    A domain that refuses its own default config (financial and healthcare write one JSON document by default)
    gets no sharded job: a run config could not make it valid.
    """
    found = []
    for domain in all_domains():
        try:
            if domain.shard_units(domain.parse_config({})) is not None:
                found.append(domain)
        except ShardError:
            continue
    return found


def _scratch_root(synth_data: SynthDataDir, group: str, seed: int) -> Path:
    return synth_data.storage / SCRATCH / group / f"seed={seed}"


def sharded_job(domain: Domain | str, shards: int = DEFAULT_SHARDS, executor: str = "multiprocess") -> dg.JobDefinition:
    """One seed partition of ``domain`` as ``shards`` parallel shard steps and a commit step.

    ``executor``: ``"multiprocess"`` (each step a process; the default) or ``"dask"`` (each step a task
    on a dask.distributed cluster; imports dask).
    """
    domain = domain_by_name(domain) if isinstance(domain, str) else domain
    if domain.shard_units(domain.parse_config({})) is None:
        raise ValueError(f"{domain.name}: cannot be sharded yet (docs/scale-out.md)")
    if not 1 <= shards <= 99_999:
        raise ValueError(f"shards must be 1 .. 99999, got {shards}")
    group = domain.name
    run_config_cls = config_class(domain)

    @dg.op(name=f"{group}__shard_config", description=f"Validate {group}'s config, claim the partition.")
    def shard_config(
        context: dg.OpExecutionContext,
        config: run_config_cls,  # type: ignore[valid-type]
        synth_data: SynthDataDir,
    ) -> dict:
        seed = parse_seed(context.partition_key)
        if isinstance(synth_data.export_location(group, seed), str):
            # A URL: the set's own _manifest.json and the object-store set's manifest would collide.
            raise dg.Failure(description=f"{group}: sharded exports to an object store are not supported yet")
        try:
            locks.claim(context.instance, synth_data.storage, group, seed, context.run.run_id)
        except locks.PartitionBusy as exc:
            raise dg.Failure(description=str(exc)) from None
        try:
            cfg = domain.parse_config(config.model_dump())  # type: ignore[attr-defined]
            units = domain.shard_units(cfg)
        except ValueError as exc:
            raise dg.Failure(description=f"{group} seed={seed}: {exc}") from None
        if units is None:
            raise dg.Failure(description=f"{group} seed={seed}: this config cannot be sharded")
        root = _scratch_root(synth_data, group, seed)
        # This run holds the partition: scratch folders of earlier runs (failed before their commit) are stale.
        if root.is_dir():
            for stale in root.iterdir():
                shutil.rmtree(stale, ignore_errors=True)
        scratch = root / context.run.run_id
        scratch.mkdir(parents=True, exist_ok=True)
        context.add_output_metadata({"seed": seed, "shards": shards, "units": units, "scratch": str(scratch)})
        return {"seed": seed, "config": config_json(domain, cfg), "scratch": str(scratch)}

    def shard_op(shard: int) -> dg.OpDefinition:
        @dg.op(name=f"{group}__shard_{shard:05d}", description=f"Shard {shard} of {shards} of {group}.")
        def one_shard(context: dg.OpExecutionContext, plan: dict) -> dict:
            cfg = domain.parse_config(plan["config"])
            try:
                manifest = run_shard(domain, cfg, shards, shard, plan["scratch"], seed=plan["seed"])
            except (ConstraintViolation, ShardError) as exc:
                raise dg.Failure(description=f"{group} seed={plan['seed']} shard {shard}/{shards}: {exc}") from None
            context.add_output_metadata(
                {
                    "units": dg.MetadataValue.json(manifest["units"]),
                    "rows": dg.MetadataValue.json({role: f["rows"] for role, f in manifest["files"].items()}),
                    "pid": os.getpid(),
                }
            )
            return manifest

        return one_shard

    @dg.op(
        name=f"{group}__shard_commit",
        description=f"Prove the {shards} shards whole, publish exports/{group}/seed=<k>/ as a unit.",
    )
    def shard_commit(context: dg.OpExecutionContext, plan: dict, manifests: list, synth_data: SynthDataDir) -> dict:
        seed, scratch = plan["seed"], Path(plan["scratch"])
        cfg = domain.parse_config(plan["config"])
        try:
            summary = commit_shards(domain, cfg, shards, scratch, seed=seed)
        except (ConstraintViolation, ShardError) as exc:  # relational: a key or foreign key over all parts
            raise dg.Failure(description=f"{group} seed={seed}: {exc}") from None
        target = synth_data.export_location(group, seed)
        with output_set(Path(target), exclusive=True) as staging:  # a URL was refused in shard_config
            for child in sorted(scratch.iterdir()):
                shutil.move(child, staging / child.name)  # a rename on one filesystem
        shutil.rmtree(scratch, ignore_errors=True)
        locks.release(synth_data.storage, group, seed, context.run.run_id)
        context.add_output_metadata(
            to_metadata(
                {
                    "seed": seed,
                    "shards": shards,
                    "export_dir": str(target),
                    "rows": {role: entry["rows"] for role, entry in summary["files"].items()},
                    "checks": {name: check["passed"] for name, check in summary["checks"].items()},
                }
            )
        )
        return summary

    @dg.job(
        name=f"{group}__sharded",
        partitions_def=seed_partitions,
        resource_defs=default_resources(),
        executor_def=_executor(executor),
        description=f"{group} for one seed partition as {shards} parallel shard steps and one commit.",
        tags={"synth/job": f"{group}__sharded", "synth/shards": str(shards)},
    )
    def job() -> None:
        plan = shard_config()
        shard_commit(plan, [shard_op(i)(plan) for i in range(shards)])

    return job


def _executor(name: str) -> dg.ExecutorDefinition:
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "dask":
        from synth_pipelines.orchestration.dask_executor import synth_dask_executor

        return synth_dask_executor
    raise ValueError(f"executor must be 'multiprocess' or 'dask', got {name!r}")


def reconstructable_sharded_job(domain: str, shards: int, executor: str = "multiprocess") -> Any:
    """What ``dg.execute_job`` needs to rebuild the job in step processes and dask workers."""
    return dg.build_reconstructable_job(
        __name__,
        "sharded_job",
        reconstructable_args=(domain,),
        reconstructable_kwargs={"shards": shards, "executor": executor},
    )


def _definitions() -> dg.Definitions:
    shards = shards_setting()
    return dg.Definitions(jobs=[sharded_job(d, shards) for d in shardable_domains()])


defs = _definitions()
