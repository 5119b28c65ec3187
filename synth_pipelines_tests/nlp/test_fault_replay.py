"""Issue 15 item 4: a run through a faulty provider replays from the cache with zero requests and the same bytes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from synth_pipelines_tests.llm_stub import Fault, LLMStub
from synth_pipelines_tests.nlp.helpers import run_cli

KEY = "sk-nlp-replay-KEY-0a1b2c3d4e5f"
FAULTS = (Fault(status=500), Fault(status=429), Fault(content="{not json"))


def triplet_args(doc_folder: Path, prefix: Path, stub: LLMStub, *extra: str) -> list[str]:
    return [
        "nlp", "--documents", str(doc_folder), "--format", "triplet", "--samples", "40", "--seed", "11",
        "--provider", "openai", "--model", "stub-model", "--base-url", stub.openai_url,
        "--output-prefix", str(prefix), *extra,
    ]  # fmt: skip


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def faulty_stub(llm_stub: LLMStub, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> LLMStub:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # after data_dir, which clears the provider variables
    monkeypatch.setenv("SYNTH_LLM_BACKOFF_S", "0")
    llm_stub.fault_every(5, *FAULTS)
    llm_stub.duplicate_items = 3  # the first of every 3 items is shared by 4 answers: a quarter are duplicates
    return llm_stub


def test_a_run_whose_requests_failed_replays_with_zero_requests_and_identical_bytes(
    faulty_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # No retries: every 5th request fails for good, so the finished run is made of answers AND failures.
    first = ["--max-retries", "0", "--failure-budget", "100"]
    assert run_cli(triplet_args(doc_folder, tmp_path / "first" / "train", faulty_stub, *first)) == 0
    cold = faulty_stub.requests
    assert cold >= 5
    records = [json.loads(line) for line in (tmp_path / "first" / "train_triplet_llm.jsonl").read_text().splitlines()]
    assert len(records) == 40
    with sqlite3.connect(data_dir / "llm_cache.sqlite") as db:
        remembered = db.execute("SELECT count(*) FROM failures").fetchone()[0]
    assert remembered == cold // 5  # each injected fault made one request fail, and each failure is remembered
    capsys.readouterr()

    # The rerun retries by default and the stub still injects faults: neither matters, nothing is sent.
    assert run_cli(triplet_args(doc_folder, tmp_path / "second" / "train", faulty_stub)) == 0
    assert faulty_stub.requests == cold
    assert outputs(tmp_path / "first") == outputs(tmp_path / "second")


def test_retry_failed_sends_only_the_remembered_failures_again(
    faulty_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path
):
    # One request in flight: the stub's answers depend on arrival order, and this test counts which are sent.
    first = ["--max-retries", "0", "--failure-budget", "100", "--concurrency", "1"]
    assert run_cli(triplet_args(doc_folder, tmp_path / "first" / "train", faulty_stub, *first)) == 0
    cold = faulty_stub.requests
    with sqlite3.connect(data_dir / "llm_cache.sqlite") as db:
        failed = db.execute("SELECT count(*) FROM failures").fetchone()[0]
    assert failed > 0
    faulty_stub.fault_every(0)  # the provider recovered
    assert (
        run_cli(
            triplet_args(doc_folder, tmp_path / "second" / "train", faulty_stub, "--retry-failed", "--concurrency", "1")
        )
        == 0
    )
    resent = faulty_stub.requests - cold
    assert resent > 0
    # Every request sent again succeeded and replaced its failure (a refill round the answers made
    # unnecessary is not sent: its failure stays remembered, and harmless).
    sent_again = {entry.body["seed"] for entry in faulty_stub.log[cold:]}
    with sqlite3.connect(data_dir / "llm_cache.sqlite") as db:
        assert db.execute("SELECT count(*) FROM failures").fetchone()[0] == failed - resent
    assert len(sent_again) == resent
    # ... and that run, in turn, replays exactly.
    again = faulty_stub.requests
    assert run_cli(triplet_args(doc_folder, tmp_path / "third" / "train", faulty_stub, "--concurrency", "1")) == 0
    assert faulty_stub.requests == again
    assert outputs(tmp_path / "second") == outputs(tmp_path / "third")


def test_a_run_stopped_by_its_failure_budget_does_not_remember_its_failures(
    faulty_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path
):
    faulty_stub.fault_every(1, Fault(status=500))  # the provider is down
    code = run_cli(triplet_args(doc_folder, tmp_path / "out" / "train", faulty_stub, "--max-retries", "0",
                                "--failure-budget", "2"))  # fmt: skip
    assert code != 0
    with sqlite3.connect(data_dir / "llm_cache.sqlite") as db:
        assert db.execute("SELECT count(*) FROM failures").fetchone()[0] == 0
    # The provider is back: the rerun sends the requests again instead of replaying an outage.
    faulty_stub.fault_every(0)
    before = faulty_stub.requests
    assert run_cli(triplet_args(doc_folder, tmp_path / "out" / "train", faulty_stub)) == 0
    assert faulty_stub.requests > before
