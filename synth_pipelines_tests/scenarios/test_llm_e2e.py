"""Each built-in scenario through the REAL ChatOpenAI / ChatGoogleGenerativeAI clients and the loopback stub."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import synth_pipelines.cli as cli
from synth_pipelines.domains.scenarios import cli as scenario_cli
from synth_pipelines.domains.scenarios.formats import read_table
from synth_pipelines.domains.scenarios.registry import get_scenario
from synth_pipelines.domains.scenarios.run import ScenarioRun, dataset_problems, generate_records, run_scenario
from synth_pipelines.llm.generate import build_generator
from synth_pipelines.llm.settings import LLMSettings
from synth_pipelines_tests.llm_stub import Fault, LLMStub, instance_of
from synth_pipelines_tests.scenarios.conftest import KEY
from synth_pipelines_tests.scenarios.fakes import FakeGenerator

BUILTINS = ["tech-support", "financial", "healthcare"]


def stub_settings(stub: LLMStub, provider: str = "openai", **extra: Any) -> LLMSettings:
    url = stub.openai_url if provider == "openai" else stub.url
    base = {"provider": provider, "model": "stub-model", "base_url": url, "api_key": KEY, "timeout_s": 5.0}
    return LLMSettings.model_validate(base | {"backoff_s": 0.0} | extra)


def generate(name: str, values: dict[str, Any], settings: LLMSettings, data_dir: Path, out: Path) -> ScenarioRun:
    scenario = get_scenario(name)
    generator = build_generator(settings, data_dir)
    try:
        return run_scenario(scenario, scenario.parse_config(values), 42, out, generator)
    finally:
        generator.close()  # type: ignore[attr-defined]


def text_values(records: pl.DataFrame, fields: list[str]) -> list[str]:
    """Every piece of text the model wrote, list fields flattened."""
    values: list[str] = []
    for field in fields:
        for value in records[field].to_list():
            values += value if isinstance(value, list) else [value]
    return values


@pytest.mark.parametrize("provider", ["openai", "google"])
@pytest.mark.parametrize("name", BUILTINS)
def test_each_builtin_end_to_end_then_a_warm_cache_rerun_makes_zero_requests_and_the_same_bytes(
    llm_stub: LLMStub, data_dir: Path, tmp_path: Path, name: str, provider: str
) -> None:
    scenario = get_scenario(name)
    cfg = scenario.parse_config({"count": 8})
    run = generate(name, {"count": 8}, stub_settings(llm_stub, provider), data_dir, tmp_path / "first")
    made = run.generated
    assert made.records.height == 8 and made.failures == [] and made.source == provider
    assert dataset_problems(scenario, cfg, made.records, run.entities) == []
    # Facts come from the seed (equal to the offline run's), the language from the model.
    offline = run_scenario(scenario, cfg, 42, tmp_path / "offline")
    planned = list(scenario.planned_fields)
    assert made.records.select(planned).equals(offline.generated.records.select(planned))
    written = text_values(made.records, list(scenario.text_model().model_fields))
    assert written and all("from the stub" in text for text in written)
    # One request per record, through the provider's own wire format, carrying its record's facts.
    assert made.stats.requests == llm_stub.requests == 8
    assert made.stats.input_tokens > 0 and made.stats.output_tokens > 0
    route = "/chat/completions" if provider == "openai" else ":generateContent"
    assert all(route in entry.path for entry in llm_stub.log)
    bodies = [json.dumps(entry.body) for entry in llm_stub.log]
    assert all(any(rid in body for body in bodies) for rid in made.records[planned[0]])
    # The seed each record's request carries reached the provider on the wire: the seeds the domain asked
    # with (recorded above the model by a fake generator) are the ones in the requests the stub received.
    asked = FakeGenerator()
    generate_records(scenario, cfg, 42, run.entities, generator=asked)
    wire = [e.body.get("seed", e.body.get("generationConfig", {}).get("seed")) for e in llm_stub.log]
    assert sorted(wire) == sorted(r.seed for r in asked.requests) and len(set(wire)) == 8
    table = read_table(run.files[scenario.record_name], cfg.output_format, scenario.record_schema())  # type: ignore[attr-defined]
    assert table.equals(made.records)

    # Another output folder, timeout and retry count: the cache answers everything.
    rerun_settings = stub_settings(llm_stub, provider, timeout_s=9.0, max_retries=0)
    rerun = generate(name, {"count": 8}, rerun_settings, data_dir, tmp_path / "second")
    assert llm_stub.requests == 8
    assert rerun.generated.stats.requests == 0 and rerun.generated.stats.cache_hits == 8
    assert rerun.files.keys() == run.files.keys()
    for table_name, path in run.files.items():
        assert rerun.files[table_name].read_bytes() == path.read_bytes(), table_name


def test_injected_faults_are_retried_and_every_record_is_made(
    llm_stub: LLMStub, data_dir: Path, tmp_path: Path
) -> None:
    llm_stub.inject(
        Fault(status=429), Fault(status=500), Fault(invalid=True), Fault(content="{broken"),
        Fault(empty=True), Fault(finish_reason="length"), Fault(delay=1.0), Fault(status=503),
    )  # fmt: skip
    settings = stub_settings(llm_stub, timeout_s=0.5, max_retries=8, max_concurrency=2)
    run = generate("financial", {"count": 10}, settings, data_dir, tmp_path / "out")
    stats = run.generated.stats
    assert run.generated.records.height == 10 and run.generated.failures == []
    assert stats.retries == 8 and stats.failures == 0
    assert stats.requests == llm_stub.requests == 18
    assert run.generated.metadata()["llm_retries"] == 8


@pytest.fixture
def synth(data_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``synth`` with the scenario subcommand; the stub's key in the environment, as users keep it."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return lambda *argv: cli.main([str(a) for a in argv])


def stub_args(stub: LLMStub, name: str, count: int, *extra: object) -> list[object]:
    return [
        "scenario", "--scenario", name, "--count", count, "--provider", "openai",
        "--base-url", stub.openai_url, "--model", "stub-model", *extra,
    ]  # fmt: skip


def test_the_cli_runs_a_scenario_through_the_stub_and_a_rerun_is_served_from_the_cache(
    synth, llm_stub: LLMStub, data_dir: Path, tmp_path: Path, capsys, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    llm_stub.inject(Fault(status=500, echo_key=True))  # an error text that repeats the key it got
    args = stub_args(llm_stub, "healthcare", 8, "--speciality", "cardiology", "--output-format", "csv")
    assert synth(*args, "--out-dir", tmp_path / "first") == 0
    err = capsys.readouterr().err
    assert "healthcare: 8 of 8 records generated (openai), none failed" in err
    assert "openai/stub-model: requests 9, cache hits 0" in err and "retries 1, failed requests 0" in err
    assert llm_stub.requests == 9
    assert synth(*args, "--out-dir", tmp_path / "second", "--timeout", "7", "--max-retries", "0") == 0
    captured = capsys.readouterr()
    assert llm_stub.requests == 9 and "requests 0, cache hits 8" in captured.err
    first = sorted((tmp_path / "first").iterdir())
    assert [p.name for p in first] == ["healthcare_encounters.csv", "healthcare_patients.csv"]
    for path in first:
        assert (tmp_path / "second" / path.name).read_bytes() == path.read_bytes()
    encounters = pl.read_csv(first[0])
    assert encounters.height == 8 and (encounters["speciality"] == "cardiology").all()
    assert (data_dir / "llm_cache.sqlite").exists()
    # The key reached the provider, and nothing else: not the logs, the outputs or the cache.
    assert {entry.credential for entry in llm_stub.log} == {KEY}
    assert "Incorrect API key provided: [REDACTED]" in caplog.text
    text = err + captured.out + captured.err + caplog.text
    for piece in (KEY, KEY[:12], KEY[-12:]):
        assert piece not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "llm_cache.sqlite" for p in files)
    for path in files:
        assert KEY[:12].encode() not in path.read_bytes(), path


def test_a_record_that_keeps_failing_is_logged_and_skipped_and_the_run_ends_with_a_summary(
    synth, llm_stub: LLMStub, tmp_path: Path, capsys, caplog
) -> None:  # type: ignore[no-untyped-def]
    scenario = get_scenario("tech-support")
    doomed = scenario.draw_plan(scenario.parse_config({"count": 6}), 7, {})["ticket_id"][2]

    def answer(schema: dict[str, Any], prompt: str, counter: int) -> Any:
        if doomed in prompt:
            return {"subject": "", "agent_replies": []}  # breaks the schema on every attempt
        return instance_of(schema, schema, counter, "", llm_stub)

    llm_stub.responder = answer
    out = tmp_path / "ts"
    args = stub_args(llm_stub, "tech-support", 6, "--seed", 7, "--max-retries", 2, "--output-format", "jsonl")
    assert synth(*args, "--out-dir", out) == scenario_cli.SHORT_OF_COUNT
    err = capsys.readouterr().err
    assert "5 of 6 records generated (openai), 1 failed and were skipped: invalid_output x1" in err
    assert "requests 8, cache hits 0" in err and "retries 2, failed requests 1" in err
    assert "tech-support record #2 skipped: invalid_output" in caplog.text
    rows = [json.loads(line) for line in (out / "tech_support_tickets.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and doomed not in {r["ticket_id"] for r in rows}


def test_when_every_record_fails_nothing_is_written(synth, llm_stub: LLMStub, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    llm_stub.responder = lambda schema, prompt, counter: {"unexpected": counter}
    out = tmp_path / "ts"
    assert synth(*stub_args(llm_stub, "tech-support", 3, "--max-retries", 0), "--out-dir", out) == 1
    err = capsys.readouterr().err
    assert "0 of 3 records generated (openai), 3 failed and were skipped: invalid_output x3" in err
    assert "every record failed; nothing was written" in err
    assert not out.exists()  # nothing written, and the folder the run created is gone again


@pytest.mark.parametrize(
    ("fault", "flags", "message"),
    [
        (Fault(status=401, echo_key=True), [], "openai rejected the request credentials (auth_rejected)"),
        (Fault(status=500), ["--failure-budget", 0, "--max-retries", 0], "more than the failure budget of 0"),
    ],
)
def test_bad_credentials_and_a_spent_failure_budget_stop_the_run_and_write_nothing(
    synth, llm_stub: LLMStub, tmp_path: Path, capsys, fault: Fault, flags: list[object], message: str
) -> None:  # type: ignore[no-untyped-def]
    llm_stub.inject(fault)
    out = tmp_path / "fin"
    args = stub_args(llm_stub, "financial", 5, "--concurrency", 1, *flags)
    assert synth(*args, "--out-dir", out) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the logged attempts (--log-level WARNING)
    assert err.startswith("synth: error: scenario financial: ") and message in err
    assert KEY[:12] not in err
    assert not out.exists()  # nothing written, and the folder the run created is gone again


def test_a_missing_key_fails_at_start_naming_the_variable(
    synth, llm_stub: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPENAI_API_KEY")
    out = tmp_path / "never"
    assert synth(*stub_args(llm_stub, "tech-support", 3), "--out-dir", out) == 1
    assert "provider 'openai' needs an API key: set OPENAI_API_KEY" in capsys.readouterr().err
    assert llm_stub.requests == 0 and not out.exists()


def test_the_token_budget_stops_the_run_cleanly_and_what_was_made_is_written(
    synth, llm_stub: LLMStub, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "ts"
    args = stub_args(llm_stub, "tech-support", 10, "--token-budget", 500, "--concurrency", 1)
    assert synth(*args, "--out-dir", out, "--output-format", "jsonl") == scenario_cli.SHORT_OF_COUNT
    err = capsys.readouterr().err
    made = len((out / "tech_support_tickets.jsonl").read_text().splitlines())
    assert 0 < made < 10 and llm_stub.requests == made
    assert f"{made} of 10 records generated (openai), {10 - made} failed and were skipped: " in err
    assert f"token budget spent x{10 - made}" in err and err.rstrip().endswith("token budget spent")
