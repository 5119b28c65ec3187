"""The built-in scenarios offline: valid, deterministic, and honest about what they claim."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.domains.scenarios.base import ScenarioArgumentError
from synth_pipelines.domains.scenarios.registry import get_scenario, load_catalog
from synth_pipelines.domains.scenarios.run import (
    dataset_problems,
    draw_entities,
    generate_records,
    run_scenario,
)

BUILTINS = ["tech-support", "financial", "healthcare"]


def test_the_builtins_register_themselves() -> None:
    catalog = load_catalog()
    assert set(BUILTINS) <= set(catalog.scenarios)
    assert all(catalog.scenarios[name].origin == "built-in" for name in BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_offline_records_are_valid_and_complete(name: str) -> None:
    scenario = get_scenario(name)
    cfg = scenario.parse_config({"count": 300})
    entities = draw_entities(scenario, cfg, 7)
    generated = generate_records(scenario, cfg, 7, entities)
    assert generated.records.height == 300 and not generated.failures
    assert dataset_problems(scenario, cfg, generated.records, entities) == []
    assert generated.records.schema == scenario.record_schema()
    text_fields = [f for f in scenario.record_model.model_fields if f not in scenario.planned_fields]
    for field in text_fields:
        assert generated.records[field].null_count() == 0


@pytest.mark.parametrize("name", BUILTINS)
def test_same_seed_same_bytes_other_seed_other_bytes(name: str, tmp_path: Path) -> None:
    scenario = get_scenario(name)
    cfg = scenario.parse_config({"count": 120, "output_format": "parquet"})
    first = run_scenario(scenario, cfg, 11, tmp_path / "a").files
    second = run_scenario(scenario, cfg, 11, tmp_path / "b").files
    other = run_scenario(scenario, cfg, 12, tmp_path / "c").files
    for table in first:
        assert first[table].read_bytes() == second[table].read_bytes()
    main = scenario.record_name
    assert first[main].read_bytes() != other[main].read_bytes()


def test_financial_honours_its_arguments() -> None:
    scenario = get_scenario("financial")
    cfg = scenario.parse_config(
        {
            "count": 1000,
            "transaction_type": ["credit-card", "crypto"],
            "transaction_count_max": 4,
            "fraud_rate": 0.05,
        }
    )
    entities = draw_entities(scenario, cfg, 3)
    records = generate_records(scenario, cfg, 3, entities).records
    assert set(records["transaction_type"]) == {"credit-card", "crypto"}
    assert records.group_by("account_id").len()["len"].max() <= 4
    assert records["is_fraud"].sum() == 50  # an exact, labelled share
    assert records.filter(pl.col("is_fraud"))["fraud_pattern"].null_count() == 0
    crypto = records.filter(pl.col("transaction_type") == "crypto")
    assert set(crypto["currency"]) <= {"BTC", "ETH", "USDC"}
    assert set(crypto["merchant_category"]) == {"crypto-exchange"}
    jpy = records.filter(pl.col("currency") == "JPY")["amount"]
    assert (jpy == jpy.round(0)).all()  # yen has no minor unit
    assert records["account_id"].is_in(entities["accounts"]["account_id"].implode()).all()


def test_healthcare_vitals_are_physiological_and_pediatric_patients_are_children() -> None:
    scenario = get_scenario("healthcare")
    cfg = scenario.parse_config({"count": 400, "speciality": ["pediatrics", "cardiology"]})
    entities = draw_entities(scenario, cfg, 5)
    records = generate_records(scenario, cfg, 5, entities).records
    assert records.filter(pl.col("speciality") == "pediatrics")["patient_age"].max() < 18
    measured = records.filter(pl.col("encounter_type") != "telehealth")
    assert measured["heart_rate"].is_between(30, 220).all()
    assert (measured["diastolic_bp"] < measured["systolic_bp"]).all()
    assert measured["spo2"].is_between(70, 100).all()
    assert records.filter(pl.col("encounter_type") == "telehealth")["heart_rate"].null_count() > 0
    assert set(entities["patients"].columns) == {"patient_id", "sex", "birth_date", "blood_type"}  # no names


def test_the_dataset_check_catches_a_broken_claim() -> None:
    scenario = get_scenario("financial")
    cfg = scenario.parse_config({"count": 200, "transaction_count_max": 3})
    entities = draw_entities(scenario, cfg, 1)
    records = generate_records(scenario, cfg, 1, entities).records
    tampered = records.with_columns(pl.lit("ACC-0000001").alias("account_id"))
    problems = dataset_problems(scenario, cfg, tampered, entities)
    assert any("--transaction-count-max 3" in p for p in problems)


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        (
            "financial",
            {"transaction_type": ["credit-card", "cash"]},
            "--transaction-type: 'cash' is not one of",
        ),
        ("financial", {"transaction_count_max": 0}, "--transaction-count-max"),
        ("financial", {"fraud_rate": 0.9}, "--fraud-rate"),
        ("financial", {"count": 1, "fraud_rate": 0.1}, "--count 1"),
        ("healthcare", {"speciality": ["astrology"]}, "--speciality"),
        ("healthcare", {"age_min": 50, "age_max": 20}, "--age-min 50 is above --age-max 20"),
        ("healthcare", {"speciality": ["pediatrics"], "age_min": 40}, "pediatrics"),
        ("tech-support", {"channel": ["chat", "chat"]}, "twice"),
        ("tech-support", {"output_format": "xml"}, "--output-format 'xml' is not supported"),
    ],
)
def test_invalid_arguments_fail_clearly(name: str, values: dict, message: str) -> None:
    with pytest.raises(ScenarioArgumentError, match=message):
        get_scenario(name).parse_config(values)
