"""docs/scenarios.md: "A run that stopped half-way resumes from it" (the response cache).

A scenario run is stopped after some records twice over: by the failure budget (the provider fails mid-way,
nothing is written) and by the token budget (what was made is written, short of the count). Rerun with the same
seed and arguments, it asks the provider only for the records it does not have yet and writes the bytes an
uninterrupted run writes. The stub answers from the request seed alone, so answers do not depend on order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import synth_pipelines.cli as cli
from synth_pipelines.domains.scenarios import cli as scenario_cli
from synth_pipelines_tests.dagster_helpers import files_under
from synth_pipelines_tests.llm_stub import Fault, LLMStub, instance_of
from synth_pipelines_tests.scenarios.conftest import KEY

COUNT = 10


def synth(out: Path, stub: LLMStub, *extra: object) -> int:
    argv = ["scenario", "--scenario", "tech-support", "--count", COUNT, "--provider", "openai", "--base-url",
            stub.openai_url, "--model", "stub-model", "--concurrency", 1, "--output-format", "jsonl",
            "--out-dir", out, *extra]  # fmt: skip
    return cli.main([str(a) for a in argv])


@pytest.fixture
def seeded_stub(llm_stub: LLMStub, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> LLMStub:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    llm_stub.seed_responder = lambda schema, _prompt, seed: instance_of(schema, schema, seed or 0, "", llm_stub)
    return llm_stub


def uninterrupted(stub: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The files of a run that was never stopped, with its own (empty) cache."""
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "fresh_data"))
    before = stub.requests
    assert synth(tmp_path / "fresh", stub) == 0
    assert stub.requests - before == COUNT
    return files_under(tmp_path / "fresh")


def test_a_run_stopped_by_the_failure_budget_resumes_where_it_stopped(
    seeded_stub: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    answered = 4
    seeded_stub.inject(*[Fault()] * answered, Fault(status=500))  # four answers, then the provider fails
    assert synth(out, seeded_stub, "--failure-budget", 0, "--max-retries", 0) == 1
    assert "more than the failure budget of 0" in capsys.readouterr().err
    assert seeded_stub.requests == answered + 1 and not out.exists()
    assert synth(out, seeded_stub) == 0
    assert seeded_stub.requests == answered + 1 + (COUNT - answered)  # only the missing records were asked for
    assert "cache hits 4" in capsys.readouterr().err
    assert files_under(out) == uninterrupted(seeded_stub, tmp_path, monkeypatch)


def test_a_run_stopped_by_the_token_budget_resumes_and_completes(
    seeded_stub: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert synth(out, seeded_stub, "--token-budget", 500) == scenario_cli.SHORT_OF_COUNT
    made = len((out / "tech_support_tickets.jsonl").read_text().splitlines())
    assert 0 < made < COUNT and seeded_stub.requests == made
    capsys.readouterr()
    assert synth(out, seeded_stub) == 0
    assert seeded_stub.requests == COUNT  # the rerun asked for the records the budget left out, no more
    assert f"cache hits {made}" in capsys.readouterr().err
    assert files_under(out) == uninterrupted(seeded_stub, tmp_path, monkeypatch)
