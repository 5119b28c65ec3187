"""Same seed and config -> the same bytes, on any machine and through either path (CLI or Dagster).

The hashes in ``hashes.json`` were recorded from the code before the one-domain-contract redesign;
the redesign had to keep every one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth_pipelines_tests.golden.cases import HASHES, ROOT, SEEDS, run_cli_cases, run_dagster_cases

RECORDED = json.loads(HASHES.read_text())


def _diff(expected: dict[str, str], got: dict[str, str]) -> list[str]:
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    changed = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    return [f"missing: {k}" for k in missing] + [f"unexpected: {k}" for k in extra] + [f"changed: {k}" for k in changed]


@pytest.mark.parametrize("seed", SEEDS)
def test_cli_outputs_of_every_domain_match_the_recorded_hashes(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    got = run_cli_cases(seed, tmp_path / "out")
    assert len(got) == len(RECORDED["cli"][str(seed)]) > 60
    assert _diff(RECORDED["cli"][str(seed)], got) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_dagster_exports_of_every_group_match_the_recorded_hashes(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    got = run_dagster_cases(seed, tmp_path / "data")
    assert _diff(RECORDED["dagster"][str(seed)], got) == []


def test_the_two_seeds_differ_and_cli_equals_dagster_in_the_record() -> None:
    for seed in SEEDS:
        assert RECORDED["cli"][str(seed)] == RECORDED["dagster"][str(seed)]
    first, second = (RECORDED["cli"][str(s)] for s in SEEDS)
    # The workflow's ground truth is the workflow itself, whatever the seed; every drawn file differs.
    assert [k for k in first if first[k] == second[k]] == ["api_traces/ground_truth.json"]
