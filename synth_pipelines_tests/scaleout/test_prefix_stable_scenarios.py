"""Scenarios: record i (and the entity rows it uses) depends only on the seed and i."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from synth_pipelines.domains.scenarios.registry import get_scenario
from synth_pipelines.domains.scenarios.run import draw_entities, generate_records

BUILTINS = ("financial", "healthcare", "tech-support")


def _run(name: str, count: int) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    scenario = get_scenario(name)
    cfg = scenario.parse_config({"count": count})
    entities = draw_entities(scenario, cfg, 9)
    return generate_records(scenario, cfg, 9, entities).records, entities


@pytest.mark.parametrize("name", BUILTINS)
# 1,000: a fraud stratum; 4,000: a block of financial and healthcare (its accounts, patients, plan, text)
@pytest.mark.parametrize(("small", "large"), [(100, 300), (1_020, 1_090), (4_100, 8_300)])
def test_a_smaller_count_is_a_prefix_of_a_larger_one(name: str, small: int, large: int) -> None:
    few, few_entities = _run(name, small)
    many, many_entities = _run(name, large)
    assert few.height == small
    assert_frame_equal(few, many.head(small))
    for table, rows in few_entities.items():
        assert rows.height <= many_entities[table].height
        assert_frame_equal(rows, many_entities[table].head(rows.height))
