"""The plugin contract fails at class definition, not at first use."""

from __future__ import annotations

from typing import Any

import pandera.polars as pa
import polars as pl
import pytest
from pydantic import BaseModel

from synth_pipelines.domains.scenarios.base import Scenario, ScenarioArg


class Note(BaseModel):
    note_id: str
    text: str


def _complete_body() -> dict[str, Any]:
    return {
        "name": "notes",
        "version": "1",
        "summary": "notes",
        "system_description": "You write notes.",
        "record_model": Note,
        "record_name": "notes",
        "planned_fields": ("note_id",),
        "examples": ("synth scenario --scenario notes --count 3",),
        "schema": lambda self, cfg: pa.DataFrameSchema({}),
        "draw_plan": lambda self, cfg, seed, entities: pl.DataFrame(),
        "draw_offline": lambda self, plan, cfg, seed, entities: pl.DataFrame(),
        "build_prompt": lambda self, row, cfg: "write a note",
    }


def test_a_complete_scenario_defines_and_gets_a_config_model() -> None:
    cls = type("Notes", (Scenario,), _complete_body())
    cfg = cls().parse_config({"count": 3})
    assert cfg.count == 3 and cfg.output_format == "json"
    assert list(cls().text_model().model_fields) == ["text"]


@pytest.mark.parametrize("member", ["name", "record_model", "examples", "build_prompt", "draw_offline", "schema"])
def test_a_missing_member_is_a_type_error_at_definition_time(member: str) -> None:
    body = _complete_body()
    del body[member]
    with pytest.raises(TypeError, match=member):
        type("Incomplete", (Scenario,), body)


def test_an_intermediate_base_class_may_be_abstract() -> None:
    class Base(Scenario, abstract=True):
        version = "1"

    with pytest.raises(TypeError, match="incomplete"):
        type("StillIncomplete", (Base,), {"name": "x"})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"name": "Tech Support"}, "kebab-case"),
        ({"output_formats": ("xml",)}, "output_formats"),
        ({"planned_fields": ("nope",)}, "planned_fields"),
        ({"planned_fields": ("note_id", "text")}, "every field is planned"),
        ({"arguments": (ScenarioArg("--count", int, 1, "clash"),)}, "reserved"),
        # Every flag of the provider layer is taken too, so a plugin cannot shadow --top-k or a budget.
        ({"arguments": (ScenarioArg("--top-k", int, 1, "clash"),)}, "reserved"),
        ({"arguments": (ScenarioArg("--failure-budget", int, 1, "clash"),)}, "reserved"),
        ({"arguments": (ScenarioArg("--when", dict, {}, "bad type"),)}, "type"),
        ({"references": {"note_id": ("authors", "id")}}, "reference"),
        # Block-drawn: a shard would call the range methods, so they must exist.
        ({"block_rows": 0}, "block_rows must be a positive int"),
        ({"block_rows": 100}, "implement draw_plan_range, draw_offline_range"),
        (
            {"block_rows": 100, "draw_plan_range": lambda self, cfg, seed, entities, start, stop: pl.DataFrame()},
            "implement draw_offline_range",
        ),
    ],
)
def test_bad_declarations_are_refused_with_the_reason(override: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        type("Bad", (Scenario,), _complete_body() | override)
