"""The shards of one seed partition as parallel Dagster steps (``orchestration/shard_job.py``).

In process, under the multiprocess executor and on a two-worker dask ``LocalCluster``, the job's
export folder holds exactly ``publish_sharded``'s files for the same (seed, config, K): every part and
every manifest byte for byte. Step PIDs come from the ``STEP_SUCCESS`` events.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from synth_pipelines.core.shards import SET_MANIFEST, publish_sharded
from synth_pipelines.domains.registry import domain_by_name
from synth_pipelines.orchestration.resources import default_resources
from synth_pipelines.orchestration.shard_job import (
    SCRATCH,
    SHARDS_ENV,
    reconstructable_sharded_job,
    shardable_domains,
    sharded_job,
    shards_setting,
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
TWO_DASK_WORKERS = {"cluster": {"local": {"n_workers": 2, "threads_per_worker": 1, "dashboard_address": ":0"}}}


def reference(group: str, shards: int, root: Path) -> dict[str, bytes]:
    domain = domain_by_name(group)
    out = root / f"{group}-k{shards}"
    publish_sharded(domain, domain.parse_config(CONFIGS[group]), shards, out, seed=SEED, workers=1)
    return files_under(out)


def run_config(group: str, execution: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"ops": {f"{group}__shard_config": {"config": CONFIGS[group]}}}
    if execution is not None:
        config["execution"] = {"config": execution}
    return config


def step_pids(result: Any) -> dict[str, int]:
    return {e.step_key: e.pid for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}


def assert_published(data_dir: Path, group: str, shards: int, expected: dict[str, bytes]) -> None:
    exported = files_under(data_dir / "exports" / group / f"seed={SEED}")
    assert SET_MANIFEST in exported and len([n for n in exported if n.startswith("_shards/")]) == shards
    assert exported == expected  # every part and manifest, byte for byte; nothing else
    # The run's scratch folder is gone once published; the partition's writer lock is released.
    assert not any((data_dir / "storage" / SCRATCH / group / f"seed={SEED}").iterdir())
    assert not (data_dir / "storage" / ".locks" / group / f"seed={SEED}.lock").exists()


@pytest.mark.parametrize("group", ["cv_logs", "library"])
def test_in_process_the_job_publishes_publish_sharded_bytes(group: str, tmp_path: Path) -> None:
    """``library``: relational parts, and the constraint report the commit writes once for the set."""
    shards = 2
    job = sharded_job(group, shards=shards)
    assert job.graph.node_names() == [
        f"{group}__shard_config",
        f"{group}__shard_00000",
        f"{group}__shard_00001",
        f"{group}__shard_commit",
    ]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        result = job.execute_in_process(
            run_config=run_config(group),
            instance=instance,
            partition_key=str(SEED),
            resources=default_resources(str(tmp_path / "data")),
        )
        assert result.success
    assert_published(tmp_path / "data", group, shards, reference(group, shards, tmp_path))


@pytest.mark.parametrize(
    ("executor", "execution"),
    [("multiprocess", {"max_concurrent": 2}), ("dask", TWO_DASK_WORKERS)],
    ids=["multiprocess", "dask-local-cluster"],
)
def test_shard_steps_run_in_worker_processes_and_publish_publish_sharded_bytes(
    executor: str, execution: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group, shards = "api_traces", 4
    data_dir = tmp_path / "data"
    # Step processes and dask workers rebuild the job and its resources from the environment they inherit.
    monkeypatch.setenv("SYNTH_DATA_DIR", str(data_dir))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        with dg.execute_job(
            reconstructable_sharded_job(group, shards, executor),
            instance=instance,
            run_config=run_config(group, execution),
            tags={"dagster/partition": str(SEED)},
        ) as result:
            assert result.success
            pids = step_pids(result)
    shard_steps = {f"{group}__shard_{i:05d}" for i in range(shards)}
    assert set(pids) == {f"{group}__shard_config", f"{group}__shard_commit"} | shard_steps  # none skipped
    assert os.getpid() not in pids.values()
    assert len({pids[step] for step in shard_steps}) >= 2, pids  # the shards ran in more than one process
    assert_published(data_dir, group, shards, reference(group, shards, tmp_path))


def test_a_domain_whose_default_config_cannot_be_sharded_is_refused_when_the_job_is_built() -> None:
    # financial writes one JSON document by default: no parts of rows.
    with pytest.raises(ValueError, match="not --output-format json"):
        sharded_job("scenario_financial", shards=2)


def test_sharded_exports_to_an_object_store_are_refused_before_any_shard_runs(tmp_path: Path) -> None:
    group = "cv_logs"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        result = sharded_job(group, shards=2).execute_in_process(
            run_config=run_config(group),
            instance=instance,
            partition_key=str(SEED),
            resources=default_resources(str(tmp_path / "data"), exports_url="s3://synth-test/exports"),
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == f"{group}__shard_config"
    assert "object store are not supported yet" in str(failure.event_specific_data.error)
    assert not (tmp_path / "data" / "storage" / SCRATCH).exists()  # nothing drawn, no scratch folder


@pytest.mark.parametrize(("value", "expected"), [("3", 3), (None, 4), ("0", "1 or more"), ("four", "whole number")])
def test_the_shard_count_comes_from_synth_shards(
    value: str | None, expected: int | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv(SHARDS_ENV, raising=False)
    else:
        monkeypatch.setenv(SHARDS_ENV, value)
    if isinstance(expected, int):
        assert shards_setting() == expected
    else:
        with pytest.raises(ValueError, match=expected):
            shards_setting()


def test_offline_nlp_shard_steps_publish_publish_sharded_bytes(tmp_path: Path) -> None:
    group, shards = "nlp", 2
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        result = sharded_job(group, shards=shards).execute_in_process(
            run_config=run_config(group),
            instance=instance,
            partition_key=str(SEED),
            resources=default_resources(str(tmp_path / "data")),
        )
        assert result.success
    assert_published(tmp_path / "data", group, shards, reference(group, shards, tmp_path))


def test_the_code_location_has_a_sharded_job_for_each_domain_whose_default_config_shards() -> None:
    # The scenarios write one JSON document by default, which cannot be split into parts (refused when built,
    # above): they get no job. Every relational schema (data/schemas) does.
    assert [d.name for d in shardable_domains()] == [
        "cv_logs",
        "api_logs",
        "agent_traces",
        "api_traces",
        "company",
        "library",
        "restaurants",
        "nlp",
    ]
