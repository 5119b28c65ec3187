"""The shards of one seed partition as parallel Dagster steps (``orchestration/shard_job.py``), K from run config.

One job definition per domain runs K=2 and K=3: in process, under the multiprocess executor and on a
two-worker dask ``LocalCluster``. Each time the export folder holds exactly ``publish_sharded``'s files for
the same (seed, config, K), every part and manifest byte for byte, exactly K shard steps ran (the dynamic
fan-out), and the instance records the run as the ``<group>/exported`` asset of the partition. Step PIDs
come from the ``STEP_SUCCESS`` events.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import dask.distributed
import pytest

from synth_pipelines.core.shards import SET_MANIFEST, publish_sharded
from synth_pipelines.definitions import defs
from synth_pipelines.domains.registry import domain_by_name
from synth_pipelines.orchestration.resources import default_resources
from synth_pipelines.orchestration.shard_job import (
    DEFAULT_SHARDS,
    SCRATCH,
    reconstructable_sharded_job,
    shardable_domains,
    sharded_job,
)
from synth_pipelines_tests.dagster_helpers import files_under

SEED = 42
# A few thousand records each: enough for several shards to be real work, small for two shared cores.
CONFIGS: dict[str, dict[str, Any]] = {
    "api_traces": {"users": 600},
    "cv_logs": {"count": 3000},
    "nlp": {"samples": 12},
    "library": {"rows": 40},
}


def reference(group: str, shards: int, root: Path) -> dict[str, bytes]:
    domain = domain_by_name(group)
    out = root / f"{group}-k{shards}"
    publish_sharded(domain, domain.parse_config(CONFIGS[group]), shards, out, seed=SEED, workers=1)
    return files_under(out)


def run_config(group: str, shards: int | None, execution: dict[str, Any] | None = None) -> dict[str, Any]:
    op_config = CONFIGS[group] | ({} if shards is None else {"shards": shards})
    config: dict[str, Any] = {"ops": {f"{group}__shard_config": {"config": op_config}}}
    if execution is not None:
        config["execution"] = {"config": execution}
    return config


def step_pids(result: Any) -> dict[str, int]:
    return {e.step_key: e.pid for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}


def assert_steps(result: Any, group: str, shards: int) -> dict[str, int]:
    """Exactly K shard steps ran (mapping keys 0 .. K-1), with the config and commit steps; none skipped or failed."""
    pids = step_pids(result)
    shard_steps = {f"{group}__shard[{i:05d}]" for i in range(shards)}
    assert set(pids) == {f"{group}__shard_config", f"{group}__shard_commit"} | shard_steps
    assert not [e for e in result.all_events if e.event_type_value in ("STEP_SKIPPED", "STEP_FAILURE")]
    return {step: pids[step] for step in shard_steps}


def assert_published(data_dir: Path, group: str, shards: int, expected: dict[str, bytes]) -> None:
    exported = files_under(data_dir / "exports" / group / f"seed={SEED}")
    assert SET_MANIFEST in exported and len([n for n in exported if n.startswith("_shards/")]) == shards
    assert exported == expected  # every part and manifest, byte for byte; nothing else
    # The run's scratch folder is gone once published; the partition's writer lock is released.
    assert not any((data_dir / "storage" / SCRATCH / group / f"seed={SEED}").iterdir())
    assert not (data_dir / "storage" / ".locks" / group / f"seed={SEED}.lock").exists()


def assert_catalogued(instance: dg.DagsterInstance, group: str, shards: int, data_dir: Path) -> None:
    """The run is the ``<group>/exported`` asset of the partition, with its checks over the whole set."""
    key = dg.AssetKey([group, "exported"])
    assert instance.get_materialized_partitions(key) == {str(SEED)}
    (record,) = instance.fetch_materializations(key, limit=1).records
    materialization = record.asset_materialization
    assert materialization is not None and materialization.partition == str(SEED)
    meta = {name: value.value for name, value in materialization.metadata.items()}
    assert meta["shards"] == shards and meta["seed"] == SEED
    assert meta["export_dir"] == str(data_dir / "exports" / group / f"seed={SEED}")
    manifest_rows = {role: entry["rows"] for role, entry in _set_manifest(data_dir, group)["files"].items()}
    assert meta["rows"] == manifest_rows
    assert meta["bytes_written"] == sum(
        len(b) for b in files_under(data_dir / "exports" / group / f"seed={SEED}").values()
    )
    for spec in domain_by_name(group).check_specs:
        (check,) = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(key, spec.name), limit=1
        )
        evaluation = check.event.dagster_event.event_specific_data
        assert evaluation.passed and evaluation.partition == str(SEED)
        assert evaluation.description == f"over all {shards} shards"


def _set_manifest(data_dir: Path, group: str) -> dict[str, Any]:
    return json.loads((data_dir / "exports" / group / f"seed={SEED}" / SET_MANIFEST).read_text())


def test_one_job_runs_k_from_run_config_in_process_and_materializes_the_exported_asset(tmp_path: Path) -> None:
    group = "cv_logs"
    job = sharded_job(group)  # one definition, K per run
    data_dir = tmp_path / "data"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        for shards in (2, 3):
            result = job.execute_in_process(
                run_config=run_config(group, shards),
                instance=instance,
                partition_key=str(SEED),
                resources=default_resources(str(data_dir)),
            )
            assert result.success
            assert_steps(result, group, shards)
            assert_published(data_dir, group, shards, reference(group, shards, tmp_path))
            assert_catalogued(instance, group, shards, data_dir)


def test_without_shards_in_the_run_config_k_is_the_default(tmp_path: Path) -> None:
    group = "cv_logs"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        result = sharded_job(group).execute_in_process(
            run_config=run_config(group, None),
            instance=instance,
            partition_key=str(SEED),
            resources=default_resources(str(tmp_path / "data")),
        )
        assert result.success
        assert_steps(result, group, DEFAULT_SHARDS)


@pytest.mark.parametrize("shards", [0, 100_000])
def test_a_shard_count_out_of_range_is_refused_in_one_line_before_anything_is_drawn(
    shards: int, tmp_path: Path
) -> None:
    group = "cv_logs"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        result = sharded_job(group).execute_in_process(
            run_config=run_config(group, shards),
            instance=instance,
            partition_key=str(SEED),
            resources=default_resources(str(tmp_path / "data")),
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == f"{group}__shard_config"
    message = failure.event_specific_data.user_failure_data.description
    assert message == f"cv_logs seed=42: run config shards={shards}: must be 1 .. 99999"
    assert not (tmp_path / "data" / "storage" / SCRATCH).exists()  # nothing drawn, no scratch folder
    assert not (tmp_path / "data" / "exports").exists()


def test_k_from_run_config_under_the_multiprocess_executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    group = "api_traces"
    data_dir = tmp_path / "data"
    # Step processes rebuild the job and its resources from the environment they inherit.
    monkeypatch.setenv("SYNTH_DATA_DIR", str(data_dir))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        for shards in (2, 3):
            with dg.execute_job(
                reconstructable_sharded_job(group, "multiprocess"),
                instance=instance,
                run_config=run_config(group, shards, {"max_concurrent": 2}),
                tags={"dagster/partition": str(SEED)},
            ) as result:
                assert result.success
                pids = assert_steps(result, group, shards)
            assert os.getpid() not in pids.values()
            assert len(set(pids.values())) == shards  # a process per step
            assert_published(data_dir, group, shards, reference(group, shards, tmp_path))
            assert_catalogued(instance, group, shards, data_dir)


def test_k_from_run_config_on_a_two_worker_dask_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    group = "api_traces"
    data_dir = tmp_path / "data"
    # The workers are new processes: they rebuild the job and its resources from the environment they inherit.
    monkeypatch.setenv("SYNTH_DATA_DIR", str(data_dir))
    # One cluster for both runs (dagster-dask's `existing` cluster type): two worker processes.
    with (
        dask.distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        dg.instance_for_test() as instance,
    ):
        instance.add_dynamic_partitions("seed", [str(SEED)])
        for shards in (3, 2):
            with dg.execute_job(
                reconstructable_sharded_job(group, "dask"),
                instance=instance,
                run_config=run_config(group, shards, {"cluster": {"existing": {"address": cluster.scheduler_address}}}),
                tags={"dagster/partition": str(SEED)},
            ) as result:
                assert result.success
                pids = assert_steps(result, group, shards)
            assert os.getpid() not in pids.values()
            assert len(set(pids.values())) == 2, pids  # the shards ran on both workers
            assert_published(data_dir, group, shards, reference(group, shards, tmp_path))
            assert_catalogued(instance, group, shards, data_dir)


def test_a_domain_whose_default_config_cannot_be_sharded_is_refused_when_the_job_is_built() -> None:
    # financial writes one JSON document by default: no parts of rows.
    with pytest.raises(ValueError, match="not --output-format json"):
        sharded_job("scenario_financial")


def test_relational_shard_steps_publish_publish_sharded_bytes_and_the_report_once(tmp_path: Path) -> None:
    """``library``: relational parts, and the constraint report the commit writes once for the set."""
    group, shards = "library", 2
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        result = sharded_job(group).execute_in_process(
            run_config=run_config(group, shards),
            instance=instance,
            partition_key=str(SEED),
            resources=default_resources(str(tmp_path / "data")),
        )
        assert result.success
        assert_steps(result, group, shards)
    expected = reference(group, shards, tmp_path)
    assert "validation_report.json" in expected
    assert_published(tmp_path / "data", group, shards, expected)


def test_offline_nlp_shard_steps_publish_publish_sharded_bytes(tmp_path: Path) -> None:
    group, shards = "nlp", 2
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        result = sharded_job(group).execute_in_process(
            run_config=run_config(group, shards),
            instance=instance,
            partition_key=str(SEED),
            resources=default_resources(str(tmp_path / "data")),
        )
        assert result.success
    assert_published(tmp_path / "data", group, shards, reference(group, shards, tmp_path))


def test_the_main_definitions_have_a_sharded_job_for_each_domain_whose_default_config_shards() -> None:
    # The scenarios write one JSON document by default, which cannot be split into parts (refused when built,
    # above): they get no job. Every relational schema (data/schemas) does.
    shardable = ["cv_logs", "api_logs", "agent_traces", "api_traces", "company", "library", "restaurants", "nlp"]
    assert [d.name for d in shardable_domains()] == shardable
    sharded = sorted(job.name for job in defs.resolve_all_job_defs() if job.name.endswith("__sharded"))
    assert sharded == sorted(f"{group}__sharded" for group in shardable)
