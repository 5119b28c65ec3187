"""Output in every supported format re-reads to the same records (and entity tables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth_pipelines.domains.scenarios.base import FORMATS
from synth_pipelines.domains.scenarios.formats import read_table
from synth_pipelines.domains.scenarios.registry import get_scenario
from synth_pipelines.domains.scenarios.run import run_scenario


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["tech-support", "financial", "healthcare"])
def test_every_format_round_trips(name: str, fmt: str, tmp_path: Path) -> None:
    scenario = get_scenario(name)
    cfg = scenario.parse_config({"count": 60, "output_format": fmt})
    run = run_scenario(scenario, cfg, 42, tmp_path)
    tables = {scenario.record_name: run.generated.records, **run.entities}
    assert set(run.files) == set(tables)
    for table, frame in tables.items():
        path = run.files[table]
        assert path.name == f"{name.replace('-', '_')}_{table}.{fmt}"
        back = read_table(path, fmt, frame.schema)
        assert back.equals(frame), f"{table}.{fmt} did not round-trip"


def test_the_written_bytes_do_not_depend_on_block_size(tmp_path: Path) -> None:
    from synth_pipelines.domains.scenarios.formats import write_table

    scenario = get_scenario("healthcare")
    run = run_scenario(scenario, scenario.parse_config({"count": 50}), 1, tmp_path / "run")
    for fmt in ("json", "jsonl", "csv", "yaml"):
        whole = write_table(run.generated.records, tmp_path / f"whole.{fmt}", fmt)
        pieces = write_table(run.generated.records, tmp_path / f"pieces.{fmt}", fmt, block_rows=7)
        assert whole.read_bytes() == pieces.read_bytes(), fmt
