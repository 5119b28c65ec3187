"""`synth seed add|list` in a fresh interpreter against a throwaway DAGSTER_HOME: the range of a seed,
duplicates, and that the seeds land in that instance (read back through Dagster, not through the CLI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from synth_pipelines import cli
from synth_pipelines.orchestration.partitions import parse_seed

ROOT = Path(__file__).resolve().parents[1]
MAX_SEED = 2**63 - 1  # the warehouse stores seeds as BIGINT


def synth(home: Path | None, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"PYTHONPATH": str(ROOT)}
    if home is not None:
        env["DAGSTER_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "synth_pipelines.cli", *argv], capture_output=True, text=True, env=env, timeout=120
    )


def registered(home: Path) -> list[str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return instance.get_dynamic_partitions("seed")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    shutil.copy(ROOT / "dagster.yaml", folder / "dagster.yaml")
    return folder


def test_seeds_are_added_once_in_canonical_form_to_the_instance_at_dagster_home(home: Path, tmp_path: Path) -> None:
    first = synth(home, "seed", "add", "7", "42", "7", "007", "0", str(MAX_SEED))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"registered: 7, 42, 0, {MAX_SEED}"
    assert registered(home) == ["7", "42", "0", str(MAX_SEED)]
    again = synth(home, "seed", "add", "42", "7")
    assert again.returncode == 0 and again.stdout.strip() == "registered: (already registered)"
    more = synth(home, "seed", "add", "42", "8")
    assert more.stdout.strip() == "registered: 8"
    listed = synth(home, "seed", "list")
    assert listed.returncode == 0 and listed.stdout.split() == ["0", "7", "8", "42", str(MAX_SEED)]
    # Another DAGSTER_HOME is another instance: nothing registered there.
    other = tmp_path / "other_home"
    other.mkdir()
    assert synth(other, "seed", "list").stdout == "" and registered(other) == []
    assert registered(home) == ["7", "42", "0", str(MAX_SEED), "8"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", f"seed must be between 0 and 2**63-1 ({MAX_SEED}), got -1"),
        (str(MAX_SEED + 1), f"seed must be between 0 and 2**63-1 ({MAX_SEED}), got {MAX_SEED + 1}"),
        ("4.5", "expected a whole number, got '4.5'"),
        ("seven", "expected a whole number, got 'seven'"),
    ],
)
def test_a_seed_out_of_range_is_refused_with_one_line_and_nothing_registered(
    home: Path, value: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # in-process: the parser refuses before any instance opens
    with pytest.raises(SystemExit) as stopped:
        cli.main(["seed", "add", "5", value])
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert message in err and err.strip().splitlines()[-1].startswith("synth seed add: error: ")
    assert registered(home) == []  # not even the valid seed before it


def test_without_dagster_home_it_says_so_and_registers_nothing() -> None:
    done = synth(None, "seed", "add", "5")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "synth: error: DAGSTER_HOME is not set: seeds are stored in the persistent instance (make sets it)"
    )


def test_partition_keys_added_elsewhere_are_held_to_the_same_range() -> None:
    assert parse_seed(str(MAX_SEED)) == MAX_SEED
    for key in (str(MAX_SEED + 1), "-3", "07", "x"):
        with pytest.raises(ValueError, match="seed partition key"):
            parse_seed(key)
