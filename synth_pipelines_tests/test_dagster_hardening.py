"""Issue #15 item 9: one writer per (group, seed) partition, unknown run config refused, seeds in range.

Real Dagster runs in a test instance, real files in a temp data dir; the concurrent run is a second
thread materializing the same partition while the first is held inside its draw.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from synth_pipelines.cli import main as synth_main
from synth_pipelines.definitions import defs
from synth_pipelines.domains.cv_logs.domain import CvLogsDomain
from synth_pipelines.orchestration import locks
from synth_pipelines.orchestration.partitions import parse_seed, register_seeds
from synth_pipelines.orchestration.resources import default_resources
from synth_pipelines_tests.dagster_helpers import materialize_group

GROUP = "cv_logs"
SEED = 5
SMALL = {"ops": {f"{GROUP}__config": {"config": {"count": 20}}}}


def failure_descriptions(result: dg.ExecuteInProcessResult) -> list[str]:
    found = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        described = data.user_failure_data.description if data.user_failure_data else None
        found.append(described or data.error.message)
    return found


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_a_second_run_of_a_partition_being_written_fails_fast_naming_the_writer(
    tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    original = CvLogsDomain.draw

    def held_draw(self: CvLogsDomain, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "first-run":
            entered.set()
            assert release.wait(120), "the test never released the first run"
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CvLogsDomain, "draw", held_draw)
    data = tmp_path / "data"
    results: dict[str, dg.ExecuteInProcessResult] = {}

    def first() -> None:
        results["first"] = materialize_group(GROUP, SEED, data, instance, SMALL, raise_on_error=False)

    worker = threading.Thread(target=first, name="first-run")
    worker.start()
    try:
        assert entered.wait(120), "the first run never reached its draw"
        other_config = {"ops": {f"{GROUP}__config": {"config": {"count": 30}}}}
        second = materialize_group(GROUP, SEED, data, instance, other_config, raise_on_error=False)
    finally:
        release.set()
        worker.join(180)

    assert not second.success
    (message,) = failure_descriptions(second)
    first_run_id = results["first"].run_id
    assert message.startswith(f"{GROUP} seed={SEED} is being written by run {first_run_id}")
    assert "\n" not in message
    # the first run finished with its own config, untouched by the second
    assert results["first"].success
    stored = results["first"].asset_value(dg.AssetKey([GROUP, "config"]))
    assert stored["config"]["count"] == 20
    assert not locks.lock_path(data / "storage", GROUP, SEED).exists()  # released at the end of the run


def test_the_lock_of_a_run_that_failed_is_taken_over(
    tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = CvLogsDomain.draw
    monkeypatch.setattr(CvLogsDomain, "draw", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    data = tmp_path / "data"
    failed = materialize_group(GROUP, SEED, data, instance, SMALL, raise_on_error=False)
    assert not failed.success
    lock = locks.lock_path(data / "storage", GROUP, SEED)
    assert failed.run_id in lock.read_text()  # the failed run still holds it ...
    monkeypatch.setattr(CvLogsDomain, "draw", original)
    again = materialize_group(GROUP, SEED, data, instance, SMALL)
    assert again.success  # ... but a finished run's lock is stale
    assert not lock.exists()


def test_a_lock_of_a_run_unknown_to_the_instance_is_stale(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    storage = tmp_path / "storage"
    locks.claim(instance, storage, GROUP, SEED, "run-of-another-instance")
    locks.claim(instance, storage, GROUP, SEED, "next-run")
    assert "next-run" in locks.lock_path(storage, GROUP, SEED).read_text()


def selection_run(data: Path, instance: dg.DagsterInstance, run_config: dict[str, Any]) -> dg.ExecuteInProcessResult:
    """A run of one group cut from the implicit asset job: what `dagster asset materialize --select` does."""
    local = dg.Definitions(assets=defs.assets, asset_checks=defs.asset_checks, resources=default_resources(str(data)))
    job = local.resolve_implicit_global_asset_job_def()
    keys = [key for key in local.resolve_asset_graph().get_all_asset_keys() if key.path[0] == GROUP]
    register_seeds(instance, [SEED])
    return job.execute_in_process(
        run_config=run_config, instance=instance, partition_key=str(SEED), asset_selection=keys, raise_on_error=False
    )


def test_a_misspelled_op_key_fails_the_run_naming_the_key(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    result = selection_run(tmp_path / "data", instance, {"ops": {"nosuch__config": {"config": {"count": 5}}}})
    assert not result.success
    (message,) = failure_descriptions(result)
    assert message.startswith("run config: unknown op key(s) 'nosuch__config' under 'ops'")
    assert not (tmp_path / "data" / "exports" / GROUP).exists()  # nothing regenerated with defaults


def test_a_selection_run_with_config_for_another_group_still_runs(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    other = {"ops": {"api_logs__config": {"config": {"count": 5}}, f"{GROUP}__config": {"config": {"count": 20}}}}
    assert selection_run(tmp_path / "data", instance, other).success


@pytest.mark.parametrize(
    "run_config",
    [
        {"ops": {f"{GROUP}__config": {"config": {"count": 5, "nosuch": 1}}}},
        {"ops": {f"{GROUP}__config": {"config": {"count": 5}, "nosuch": 1}}},
    ],
    ids=["field-of-the-group-config", "key-beside-config"],
)
def test_an_unknown_field_in_a_group_config_is_refused(
    run_config: dict[str, Any], tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with pytest.raises(dg.DagsterInvalidConfigError, match="nosuch"):
        selection_run(tmp_path / "data", instance, run_config)


@pytest.mark.parametrize("seed", [str(2**80), str(2**63), "-1"])
def test_seed_add_refuses_a_seed_out_of_range_in_one_line(
    seed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        synth_main(["seed", "add", "1", seed])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "seeds" in err and ("2**63-1" in err or ">= 0" in err)
    with dg.DagsterInstance.from_config(str(tmp_path)) as stored:
        assert stored.get_dynamic_partitions("seed") == []  # not even the valid one: nothing half-registered


def test_the_largest_seed_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert synth_main(["seed", "add", str(2**63 - 1)]) == 0
    assert parse_seed(str(2**63 - 1)) == 2**63 - 1
    with pytest.raises(ValueError, match="2\\*\\*63-1"):
        parse_seed(str(2**63))


@pytest.mark.parametrize("command", [["cv-logs"], ["relational", "--schema", "library"], ["scenario"]])
def test_every_seed_flag_has_the_same_range(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        synth_main([*command, "--seed", str(2**80)])
    assert exit_info.value.code == 2
    assert "--seed: seed must be between 0 and 2**63-1" in capsys.readouterr().err
