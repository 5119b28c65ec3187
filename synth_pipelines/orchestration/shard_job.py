"""The shards of one seed partition as parallel Dagster steps; K, the shard count, is run config.

``sharded_job(domain)`` is one job per domain (``<group>__sharded``, in the main ``defs``) whatever K::

    <group>__shard_config -> <group>__shard[00000] .. <group>__shard[<K-1>] -> <group>__shard_commit

a dynamic fan-out: ``shard_config`` takes the domain's config (as ``<group>__config`` of the asset group)
plus ``shards: K`` (default 4; 1 .. 99999, refused in one line otherwise), validates both, claims the
(group, seed) writer lock the asset group uses (both write the same export folder), names a scratch
folder for this run under ``<data>/storage/.shards/`` and yields one dynamic output per shard; each shard
step calls ``core/shards.run_shard`` into it; ``shard_commit`` (the fan-in) calls ``commit_shards`` (every
shard present, same seed/config/K, sha256 as written, checks over the set), publishes the folder as the
seed's export, replacing ``exports/<group>/seed=<k>/`` as a unit like the unsharded ``exported`` step, and
records it as that step's asset: an ``AssetMaterialization`` of ``<group>/exported`` for the partition and
one ``AssetCheckEvaluation`` per check of the domain, proven over the whole set. The bytes are
``publish_sharded``'s for the same (seed, config, K): a part depends on nothing else.

Dynamic outputs need an executor that follows the plan as it runs: the multiprocess executor does, and so
does ours on dask (``dask_executor.py``); dagster-dask's own ran only the first mapped step.

Every step must reach the scratch folder: one machine (multiprocess executor, a dask ``LocalCluster``)
or a shared filesystem. With ``SYNTH_EXPORTS_URL`` the commit publishes the set to the object store
(``core/objstore.publish_set``: every file, then the store's ``_manifest.json`` last; the set's own
``_manifest.json`` is one of its files, docs/scale-out.md "Sharded sets on an object store").
"""

# No `from __future__ import annotations`: Dagster reads the op config class from real annotations.
import os
import shutil
import time
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from synth_pipelines.core.atomic import output_set
from synth_pipelines.core.domain import ConstraintViolation, Domain
from synth_pipelines.core.objstore import ObjectStoreError, publish_set, redact
from synth_pipelines.core.shards import (
    MAX_SHARDS,
    ShardError,
    commit_shards,
    config_json,
    run_shard,
    sharded_set_info,
)
from synth_pipelines.domains.registry import all_domains, domain_by_name
from synth_pipelines.orchestration import catalog, locks
from synth_pipelines.orchestration.factory import config_class, to_metadata
from synth_pipelines.orchestration.partitions import parse_seed, seed_partitions
from synth_pipelines.orchestration.resources import SynthDataDir, default_resources

DEFAULT_SHARDS = 4
SHARDS_FIELD = "shards"  # the run-config field next to the domain's own (none of them has one of that name)
SCRATCH = ".shards"  # under the data folder's storage/: <group>/seed=<k>/<run id>/


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


def shard_config_class(domain: Domain) -> type[dg.Config]:
    """The domain's run config plus ``shards`` (K)."""
    base = config_class(domain)
    if SHARDS_FIELD in base.model_fields:
        raise ValueError(f"{domain.name}: its config has a field {SHARDS_FIELD!r}, the sharded job's K")
    return type(
        f"{base.__name__}Sharded",
        (base,),
        {
            "__annotations__": {SHARDS_FIELD: int},
            SHARDS_FIELD: Field(
                default=DEFAULT_SHARDS, description=f"K: the number of shards, one step each (1 .. {MAX_SHARDS})."
            ),
        },
    )


def sharded_job(domain: Domain | str, executor: str = "multiprocess") -> dg.JobDefinition:
    """One seed partition of ``domain`` as K parallel shard steps (K from run config) and a commit step.

    ``executor``: ``"multiprocess"`` (each step a process; the default) or ``"dask"`` (each step a task
    on a dask.distributed cluster; imports dask).
    """
    domain = domain_by_name(domain) if isinstance(domain, str) else domain
    if domain.shard_units(domain.parse_config({})) is None:
        raise ValueError(f"{domain.name}: cannot be sharded yet (docs/scale-out.md)")
    group = domain.name
    run_config_cls = shard_config_class(domain)

    @dg.op(
        name=f"{group}__shard_config",
        description=f"Validate {group}'s config and the shard count K, claim the partition, fan out K shards.",
        out={"plan": dg.Out(dict), "shard": dg.DynamicOut(int)},
    )
    def shard_config(
        context: dg.OpExecutionContext,
        config: run_config_cls,  # type: ignore[valid-type]
        synth_data: SynthDataDir,
    ) -> Any:
        seed = parse_seed(context.partition_key)
        try:
            locks.claim(context.instance, synth_data.storage, group, seed, context.run.run_id)
        except locks.PartitionBusy as exc:
            raise dg.Failure(description=str(exc)) from None
        values = config.model_dump()  # type: ignore[attr-defined]
        shards = values.pop(SHARDS_FIELD)
        if not 1 <= shards <= MAX_SHARDS:  # (a failed run's lock is stale: the next claim takes it over)
            raise dg.Failure(description=f"{group} seed={seed}: run config shards={shards}: must be 1 .. {MAX_SHARDS}")
        try:
            cfg = domain.parse_config(values)
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
        plan = {"seed": seed, "shards": shards, "config": config_json(domain, cfg), "scratch": str(scratch)}
        yield dg.Output(
            plan, "plan", metadata={"seed": seed, "shards": shards, "units": units, "scratch": str(scratch)}
        )
        for shard in range(shards):
            yield dg.DynamicOutput(shard, output_name="shard", mapping_key=f"{shard:05d}")

    @dg.op(name=f"{group}__shard", description=f"One shard of {group}: its part files and manifest.")
    def one_shard(context: dg.OpExecutionContext, plan: dict, shard: int) -> dict:
        shards = plan["shards"]
        cfg = domain.parse_config(plan["config"])
        try:
            manifest = run_shard(domain, cfg, shards, shard, plan["scratch"], seed=plan["seed"])
        except (ConstraintViolation, ShardError) as exc:
            raise dg.Failure(description=f"{group} seed={plan['seed']} shard {shard}/{shards}: {exc}") from None
        context.add_output_metadata(
            {
                "shard": shard,
                "units": dg.MetadataValue.json(manifest["units"]),
                "rows": dg.MetadataValue.json({role: f["rows"] for role, f in manifest["files"].items()}),
                "pid": os.getpid(),
            }
        )
        return manifest

    @dg.op(
        name=f"{group}__shard_commit",
        description=f"Prove the K shards whole, publish exports/{group}/seed=<k>/ as a unit: {group}/exported.",
    )
    def shard_commit(context: dg.OpExecutionContext, plan: dict, manifests: list, synth_data: SynthDataDir) -> dict:
        seed, shards, scratch = plan["seed"], plan["shards"], Path(plan["scratch"])
        started = time.perf_counter()
        cfg = domain.parse_config(plan["config"])
        try:
            summary = commit_shards(domain, cfg, shards, scratch, seed=seed)
        except (ConstraintViolation, ShardError) as exc:  # relational: a key or foreign key over all parts
            raise dg.Failure(description=f"{group} seed={seed}: {exc}") from None
        target = synth_data.export_location(group, seed)
        # Sizes read before publishing: an object store's files are not on this disk afterwards.
        sizes = {str(p.relative_to(scratch)): p.stat().st_size for p in sorted(scratch.rglob("*")) if p.is_file()}
        if isinstance(target, str):  # an object store: the files, then the store's manifest last
            try:
                publish_set(scratch, target, sharded_set_info(domain, cfg, seed, shards))
            except ObjectStoreError as exc:
                raise dg.Failure(description=f"{group} seed={seed}: {exc}") from None
        else:
            with output_set(Path(target), exclusive=True) as staging:
                for child in sorted(scratch.iterdir()):
                    shutil.move(child, staging / child.name)  # a rename on one filesystem
        shutil.rmtree(scratch, ignore_errors=True)
        seconds = time.perf_counter() - started
        # The catalog's views read the unsharded run's Parquet intermediates, which a sharded run does not write:
        # if an earlier unsharded run listed this seed, its views would now show rows the export no longer has.
        if not synth_data.warehouse.exists():
            catalog_note = "no catalog yet (sharded parts are not in its views)"
        elif catalog.withdraw(synth_data.warehouse, group, seed, context.log):
            catalog_note = f"{synth_data.warehouse}: seed {seed} withdrawn (its views read unsharded intermediates)"
        else:
            catalog_note = "not updated (locked)"
        locks.release(synth_data.storage, group, seed, context.run.run_id)
        context.log_event(exported_materialization(domain, summary, shards, target, sizes, seconds, catalog_note))
        for name, check in summary["checks"].items():
            context.log_event(exported_check(domain, name, check, seed, shards))
        context.add_output_metadata(
            to_metadata(
                {
                    "seed": seed,
                    "shards": shards,
                    "shard_steps": len(manifests),
                    "export_dir": redact(target) if isinstance(target, str) else str(target),
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
        description=f"{group} for one seed partition as K parallel shard steps (K: run config `shards`) and a "
        f"commit that materializes {group}/exported.",
        tags={"synth/job": f"{group}__sharded"},
    )
    def job() -> None:
        plan, shard = shard_config()
        shard_commit(plan, shard.map(lambda i: one_shard(plan, i)).collect())

    return job


def exported_materialization(
    domain: Domain,
    summary: dict[str, Any],
    shards: int,
    target: Path | str,
    sizes: dict[str, int],
    seconds: float,
    catalog_note: str,
) -> dg.AssetMaterialization:
    """``<group>/exported`` for the seed, with the metadata the unsharded ``exported`` step gives (per part set);
    ``sizes``: bytes of each file of the set by its path in the set."""
    listing = "\n".join(
        f"- `{role}`: {len(entry['parts'])} parts of `{entry['file']}`, {entry['rows']:,} rows, "
        f"{sum(sizes[str(part)] for part in entry['parts']):,} bytes"
        for role, entry in summary["files"].items()
    )
    return dg.AssetMaterialization(
        asset_key=dg.AssetKey([domain.name, "exported"]),
        partition=str(summary["seed"]),
        description=f"{shards} shards, committed as one set",
        metadata={
            "seed": summary["seed"],
            "generator_version": domain.version,
            "shards": shards,
            "export_dir": redact(target) if isinstance(target, str) else dg.MetadataValue.path(str(target)),
            "files": dg.MetadataValue.md(listing),
            "rows": dg.MetadataValue.json({role: entry["rows"] for role, entry in summary["files"].items()}),
            "bytes_written": sum(sizes.values()),
            "seconds": round(seconds, 4),
            "catalog": catalog_note,
        }
        | {f"check {name}": "passed" if check["passed"] else "FAILED" for name, check in summary["checks"].items()},
    )


def exported_check(domain: Domain, name: str, check: dict[str, Any], seed: int, shards: int) -> dg.AssetCheckEvaluation:
    """One check of the domain over all shards, reported for ``<group>/exported`` and the seed.

    The asset group declares its checks on ``<group>/normalized`` (the table they read); a sharded run has no
    such table, so its evaluations go to the asset it did make. Dagster records them (the instance's check
    history for ``<group>/exported``); the UI's Checks tab lists only declared checks, so there they show in the
    run's events, not under the asset.
    """
    blocking = next((spec.blocking for spec in domain.check_specs if spec.name == name), False)
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey([domain.name, "exported"]),
        check_name=name,
        passed=bool(check["passed"]),
        severity=dg.AssetCheckSeverity.ERROR,
        blocking=blocking,
        partition=str(seed),
        description=f"over all {shards} shards",
        metadata=to_metadata({"seed": seed, "shards": shards} | {k: v for k, v in check.items() if k != "passed"}),
    )


def _executor(name: str) -> dg.ExecutorDefinition:
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "dask":
        from synth_pipelines.orchestration.dask_executor import synth_dask_executor

        return synth_dask_executor
    raise ValueError(f"executor must be 'multiprocess' or 'dask', got {name!r}")


def reconstructable_sharded_job(domain: str, executor: str = "multiprocess") -> Any:
    """What ``dg.execute_job`` needs to rebuild the job in step processes and dask workers."""
    return dg.build_reconstructable_job(
        __name__, "sharded_job", reconstructable_args=(domain,), reconstructable_kwargs={"executor": executor}
    )


def sharded_jobs() -> list[dg.JobDefinition]:
    """``<group>__sharded`` for every shardable domain, on the multiprocess executor (the main ``defs``)."""
    return [sharded_job(domain) for domain in shardable_domains()]
