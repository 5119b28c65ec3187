"""Several domain groups of one seed partition on a real dask.distributed LocalCluster (two worker processes).

The job is the project's ``all_domains_dask`` (``orchestration/dask_job.py``) cut to three groups: a
static graph of eleven steps. Each step's events carry the PID of the process that ran it, so the test
sees the work spread over more than one worker, and the exported files are byte-for-byte those of
the in-process run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from synth_pipelines.orchestration.dask_executor import synth_dask_executor
from synth_pipelines.orchestration.dask_job import all_domains_dask_job
from synth_pipelines_tests.dagster_helpers import files_under, materialize_group
from synth_pipelines_tests.golden.cases import UNHASHED

SEED = 42
GROUPS = ("cv_logs", "api_traces", "library")
# Small counts: two cores are shared; what is tested is where the steps run and what they write.
OPS = {
    "cv_logs__config": {"config": {"count": 300}},
    "api_traces__config": {"config": {"users": 15}},
    "library__config": {"config": {"rows": 20}},
}
TWO_WORKERS = {"cluster": {"local": {"n_workers": 2, "threads_per_worker": 1, "dashboard_address": ":0"}}}


def exports(data_dir: Path) -> dict[str, bytes]:
    """Every exported file's bytes; a DuckDB file is not byte-stable by design (golden/cases.py): its name only."""
    return {
        name: b"(not byte-stable)" if Path(name).name in UNHASHED else data
        for name, data in files_under(data_dir / "exports").items()
    }


def test_several_groups_run_on_two_dask_workers_and_export_the_in_process_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dask_data, local_data = tmp_path / "dask", tmp_path / "local"
    # The workers are new processes: they build the project's resources from the environment they inherit.
    monkeypatch.setenv("SYNTH_DATA_DIR", str(dask_data))
    monkeypatch.setenv("SYNTH_DUCKDB_PATH", str(dask_data / "warehouse.duckdb"))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(SEED)])
        selection = {key for key in all_domains_dask_job().asset_layer.executable_asset_keys if key.path[0] in GROUPS}
        with dg.execute_job(
            dg.reconstructable(all_domains_dask_job),
            instance=instance,
            run_config={"ops": OPS, "execution": {"config": TWO_WORKERS}},
            tags={"dagster/partition": str(SEED)},
            asset_selection=list(selection),
        ) as result:
            assert result.success
            step_pids = {
                event.step_key: event.pid for event in result.all_events if event.event_type_value == "STEP_SUCCESS"
            }
    steps = {f"{g}__{s}" for g in GROUPS for s in ("config", "normalized", "exported")}
    steps |= {"cv_logs__raw", "api_traces__raw"}  # the groups with a raw form (relational is drawn clean)
    assert set(step_pids) == steps  # every step of the static graph ran (none silently skipped)
    assert os.getpid() not in step_pids.values()  # none in this process
    assert len(set(step_pids.values())) >= 2, step_pids  # the steps ran in more than one worker process

    monkeypatch.setenv("SYNTH_DUCKDB_PATH", str(local_data / "warehouse.duckdb"))
    with dg.instance_for_test() as instance:
        for group in GROUPS:
            own = {"ops": {f"{group}__config": OPS[f"{group}__config"]}}  # a one-group run refuses other ops
            assert materialize_group(group, SEED, local_data, instance, own).success
    dask_files = exports(dask_data)
    assert {name.split("/")[0] for name in dask_files} == set(GROUPS)
    assert dask_files == exports(local_data)


# A probe of how the executor follows the plan: a dynamic fan-out, an optional output left unset, a failure.
@dg.op(out={"kept": dg.Out(int), "unset": dg.Out(int, is_required=False)})
def probe_source() -> Any:
    yield dg.Output(1, "kept")  # "unset" is never yielded: its consumer must be skipped


@dg.op
def probe_skipped(value: int) -> int:
    return value


@dg.op(out=dg.DynamicOut(int))
def probe_fan_out() -> Any:
    for index in range(3):
        yield dg.DynamicOutput(index, mapping_key=str(index))


@dg.op
def probe_mapped(index: int) -> int:
    return index * 10


@dg.op
def probe_collected(values: list) -> list:
    return sorted(values)


@dg.op
def probe_fails(value: int) -> int:
    raise dg.Failure(description="probe failure")


@dg.op
def probe_below_failure(value: int) -> int:
    return value


def probe_job() -> dg.JobDefinition:
    @dg.job(name="dask_plan_probe", executor_def=synth_dask_executor)
    def job() -> None:
        kept, unset = probe_source()
        probe_skipped(unset)
        probe_collected(probe_fan_out().map(probe_mapped).collect())
        probe_below_failure(probe_fails(kept))

    return job


def test_the_dask_executor_follows_the_plan_skips_abandons_and_maps_dynamic_outputs() -> None:
    # dagster-dask's own executor submits the static plan at once: a dynamic fan-out ran only its first step,
    # a consumer of an unset optional output failed instead of being skipped, and a step below a failure ran.
    with (
        dg.instance_for_test() as instance,
        dg.execute_job(
            dg.build_reconstructable_job(__name__, "probe_job"),
            instance=instance,
            run_config={"execution": {"config": TWO_WORKERS}},
            raise_on_error=False,
        ) as result,
    ):
        by_type: dict[str, set[str]] = {}
        for event in result.all_events:
            if event.step_key is not None:
                by_type.setdefault(event.event_type_value, set()).add(event.step_key)
        assert not result.success  # probe_fails failed
        assert result.output_for_node("probe_collected") == [0, 10, 20]
    mapped = {f"probe_mapped[{i}]" for i in range(3)}
    assert by_type["STEP_SUCCESS"] == {"probe_source", "probe_fan_out", "probe_collected"} | mapped
    assert by_type["STEP_SKIPPED"] == {"probe_skipped"}
    assert by_type["STEP_FAILURE"] == {"probe_fails"}
    assert "probe_below_failure" not in by_type.get("STEP_START", set())  # abandoned, never started
