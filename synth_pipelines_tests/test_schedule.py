"""The nightly schedule regenerates every registered seed; the sensor registers seeds from a file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from synth_pipelines.orchestration.schedules import nightly_regeneration, read_seed_file, seed_file_sensor

TICK = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)


def test_no_seeds_registered_means_skip() -> None:
    with dg.instance_for_test() as instance:
        result = nightly_regeneration(dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK))
    assert isinstance(result, dg.SkipReason)
    assert "synth seed add" in (result.skip_message or "")


def test_one_run_request_per_registered_seed_keyed_by_day() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", ["42", "7", "100"])
        requests = nightly_regeneration(dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK))
    assert isinstance(requests, list)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("7", "2026-11-22-seed-7"),
        ("42", "2026-11-22-seed-42"),
        ("100", "2026-11-22-seed-100"),
    ]


def test_sensor_registers_new_seeds_from_the_seed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path))
    (tmp_path / "seeds.txt").write_text("# seeds to keep fresh\n42\n7  # demo\n42\n")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", ["42"])
        result = seed_file_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SensorResult)
    (request,) = result.dynamic_partitions_requests
    assert list(request.partition_keys) == ["7"]


def test_a_bad_seed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text("42\nforty-two\n")
    with pytest.raises(ValueError, match=r"seeds.txt:2: seed must be a non-negative integer"):
        read_seed_file(path)
    path.write_text(f"42\n{2**63 - 1}\n{2**63}\n")
    with pytest.raises(ValueError, match=r"seeds.txt:3: seed must be between 0 and 2\*\*63-1 \(9223372036854775807\)"):
        read_seed_file(path)
