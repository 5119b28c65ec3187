"""Prompt builders need no model; the LLM path keeps facts, skips failed records and says why."""

from __future__ import annotations

import polars as pl
import pytest

from synth_pipelines.domains.scenarios.registry import get_scenario
from synth_pipelines.domains.scenarios.run import draw_entities, generate_records
from synth_pipelines_tests.scenarios.fakes import FakeGenerator

BUILTINS = ["tech-support", "financial", "healthcare"]


def _plan(name: str, count: int = 20, **values: object) -> tuple[object, object, pl.DataFrame]:
    scenario = get_scenario(name)
    cfg = scenario.parse_config({"count": count, **values})
    return scenario, cfg, scenario.draw_plan(cfg, 9, draw_entities(scenario, cfg, 9))


@pytest.mark.parametrize("name", BUILTINS)
def test_prompts_are_pure_and_carry_the_planned_facts(name: str) -> None:
    scenario, cfg, plan = _plan(name)
    row = plan.row(3, named=True)
    prompt = scenario.build_prompt(row, cfg)  # type: ignore[attr-defined]
    assert prompt == scenario.build_prompt(dict(row), cfg)  # type: ignore[attr-defined]
    id_field = scenario.planned_fields[0]  # type: ignore[attr-defined]
    assert row[id_field] in prompt
    system, user = scenario.messages(row, cfg)  # type: ignore[attr-defined]
    assert system == ("system", scenario.system_description) and user == ("user", prompt)  # type: ignore[attr-defined]


def test_prompts_state_the_facts_the_model_must_respect() -> None:
    scenario, cfg, plan = _plan("financial", 200, fraud_rate=0.1)
    fraud = plan.filter(pl.col("is_fraud")).row(0, named=True)
    assert f"IS fraudulent (pattern: {fraud['fraud_pattern']})" in scenario.build_prompt(fraud, cfg)  # type: ignore[attr-defined]
    scenario, cfg, plan = _plan("healthcare", 50, speciality=["cardiology"])
    row = plan.row(0, named=True)
    prompt = scenario.build_prompt(row, cfg)  # type: ignore[attr-defined]
    assert row["diagnoses"][0]["code"] in prompt and "cardiology" in prompt


@pytest.mark.parametrize("name", BUILTINS)
def test_llm_text_fills_planned_records_and_failed_records_are_skipped(name: str) -> None:
    scenario = get_scenario(name)
    cfg = scenario.parse_config({"count": 20})
    entities = draw_entities(scenario, cfg, 4)
    fake = FakeGenerator(fail_every=5)
    generated = generate_records(scenario, cfg, 4, entities, generator=fake)
    offline = generate_records(scenario, cfg, 4, entities)

    assert generated.source == "fake" and generated.planned == 20
    assert [f.index for f in generated.failures] == [4, 9, 14, 19]
    # Counted by kind; the full error goes to the log line of each record.
    assert generated.failure_reasons() == {"ValidationError": 4}
    assert {f.detail for f in generated.failures} == {"ValidationError: answer did not match the schema"}
    assert "16 of 20 records generated (fake), 4 failed and were skipped: ValidationError x4" in generated.summary()
    # The facts come from the plan whatever the model says: the kept rows equal the offline ones.
    planned = list(scenario.planned_fields)
    kept = offline.records.select(planned).filter(~pl.int_range(pl.len()).is_in([4, 9, 14, 19]))
    assert generated.records.select(planned).equals(kept)
    text_field = next(f for f in scenario.record_model.model_fields if f not in planned)
    assert generated.records[text_field][0].startswith(f"llm text {text_field} #0") or generated.records[text_field][
        0
    ] == [f"llm text {text_field} #0", f"llm text {text_field} #0 (follow-up)"]
    # Each request is a system + user message pair with its own provider seed, in [0, 2**31 - 1).
    seeds = [r.seed for r in fake.requests]
    assert len(set(seeds)) == 20 and all(0 <= s < 2**31 - 1 for s in seeds)
    assert fake.requests[0].messages[0][0] == "system"
    assert generated.metadata()["llm_requests"] == 20
    # A record's seed never depends on how many records the run has (so not on how it is split): a run of
    # 30 asks the first 20 records with the same seeds. Another run seed asks with other seeds.
    longer, other_seed = FakeGenerator(), FakeGenerator()
    cfg_30 = scenario.parse_config({"count": 30})
    generate_records(scenario, cfg_30, 4, draw_entities(scenario, cfg_30, 4), generator=longer)
    generate_records(scenario, cfg, 5, draw_entities(scenario, cfg, 5), generator=other_seed)
    assert [r.seed for r in longer.requests][:20] == seeds
    assert not set(seeds) & {r.seed for r in other_seed.requests}


def test_a_record_the_schema_rejects_is_skipped_with_the_check_named() -> None:
    scenario = get_scenario("tech-support")
    cfg = scenario.parse_config({"count": 10})

    class BlankSubjects(FakeGenerator):
        def generate(self, requests, schema):  # type: ignore[no-untyped-def]
            results = super().generate(requests, schema)
            results[2].value = schema.model_validate(results[2].value.model_dump() | {"subject": "   "})
            return results

    generated = generate_records(scenario, cfg, 1, {}, generator=BlankSubjects())
    assert generated.records.height == 9
    assert generated.failures[0].index == 2 and "subject" in generated.failures[0].reason
