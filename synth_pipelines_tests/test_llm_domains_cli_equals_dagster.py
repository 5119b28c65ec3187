"""The LLM-backed domains (nlp and every scenario) write the same bytes through the full `synth` CLI and through
Dagster, offline and through the loopback stub; and however the work is split (concurrency, batch size) the
bytes and the seeds the provider received are the same.

The stub answers from the request's seed alone (``seed_responder``), as a seeded provider does, so the bytes
depend on what was asked, not on the order the requests arrived in. The CLI and Dagster runs use separate data
dirs, so neither replays the other's cached answers: both really ask the stub.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from synth_pipelines import cli
from synth_pipelines.domains.scenarios.registry import builtin_scenarios, get_scenario
from synth_pipelines.llm.resource import LLMResource
from synth_pipelines_tests.dagster_helpers import files_under, materialize_group
from synth_pipelines_tests.llm_stub import LLMStub, instance_of

KEY = "sk-cli-dagster-KEY-00112233445566"
SEED = 42
ENVIRONMENT = (
    "SYNTH_LLM_PROVIDER", "SYNTH_LLM_API_KEY", "SYNTH_LLM_MODEL", "SYNTH_LLM_BASE_URL", "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "GOOGLE_API_KEY", "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL", "SYNTH_LLM_MAX_CONCURRENCY", "SYNTH_LLM_BATCH_SIZE",
)  # fmt: skip
DOCS = Path(__file__).resolve().parents[1] / "synth_pipelines" / "domains" / "nlp" / "sample_docs"


@dataclass(frozen=True)
class Case:
    group: str
    argv: tuple[str, ...]  # the command, without output folder and provider flags
    config: dict[str, Any]  # the same run as the group's run config

    def cli_argv(self, out: Path) -> list[str]:
        where = ["--output-prefix", str(out / "nlp")] if self.group == "nlp" else ["--out-dir", str(out)]
        return [*self.argv, "--seed", str(SEED), *where]


NLP = Case(
    "nlp",
    ("nlp", "--documents", str(DOCS), "--format", "pair-score", "--samples", "8", "--samples-per-request", "4"),
    {"documents": str(DOCS), "format": "pair-score", "samples": 8, "samples_per_request": 4},
)
SCENARIOS = [
    Case(get_scenario(name).group_name, ("scenario", "--scenario", name, "--count", "12"), {"count": 12})
    for name in sorted(builtin_scenarios())
]
CASES = [NLP, *SCENARIOS]


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No provider settings leak in from the environment or a .env; retries do not wait."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTH_LLM_BACKOFF_S", "0")
    return tmp_path


def seeded(stub: LLMStub) -> LLMStub:
    stub.seed_responder = lambda schema, _prompt, seed: instance_of(schema, schema, seed or 0, "", stub)
    return stub


def request_seeds(stub: LLMStub) -> Counter[int]:
    return Counter(int(entry.body["seed"]) for entry in stub.log)


def run_cli(case: Case, out: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, *flags: str) -> dict[str, bytes]:
    monkeypatch.setenv("SYNTH_DATA_DIR", str(data_dir))
    assert cli.main([*case.cli_argv(out), *flags]) == 0
    return files_under(out)


def run_dagster(case: Case, data_dir: Path, llm: LLMResource) -> dict[str, bytes]:
    with dg.instance_for_test() as instance:
        run_config = {"ops": {f"{case.group}__config": {"config": case.config}}}
        result = materialize_group(case.group, SEED, data_dir, instance, run_config, resources={"llm": llm})
    assert result.success
    return files_under(data_dir / "exports" / case.group / f"seed={SEED}")


def stub_flags(stub: LLMStub, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # the CLI takes keys from the environment only, never a flag
    return ["--provider", "openai", "--model", "stub-model", "--base-url", stub.openai_url]


def stub_resource(stub: LLMStub) -> LLMResource:
    return LLMResource(provider="openai", model="stub-model", base_url=stub.openai_url, api_key=KEY, dotenv_path=None)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.group)
def test_offline_cli_and_dagster_write_the_same_bytes(case: Case, isolated: Path, monkeypatch: pytest.MonkeyPatch):
    by_cli = run_cli(case, isolated / "cli", isolated / "cli_data", monkeypatch)
    by_dagster = run_dagster(case, isolated / "dagster_data", LLMResource(dotenv_path=None))
    assert by_cli and sorted(by_cli) == sorted(by_dagster)
    assert all(name.rsplit(".", 1)[0].endswith("offline") for name in by_cli) or case.group != "nlp"
    for name, data in by_cli.items():
        assert by_dagster[name] == data, name


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.group)
def test_cli_and_dagster_through_the_stub_write_the_same_bytes_from_the_same_requests(
    case: Case, isolated: Path, monkeypatch: pytest.MonkeyPatch, llm_stub: LLMStub
):
    stub = seeded(llm_stub)
    by_cli = run_cli(case, isolated / "cli", isolated / "cli_data", monkeypatch, *stub_flags(stub, monkeypatch))
    cli_seeds, cli_requests = request_seeds(stub), stub.requests
    stub.reset()
    stub = seeded(stub)
    by_dagster = run_dagster(case, isolated / "dagster_data", stub_resource(stub))
    assert cli_requests > 0 and stub.requests == cli_requests
    assert request_seeds(stub) == cli_seeds
    assert by_cli and sorted(by_cli) == sorted(by_dagster)
    assert b"from the stub" in b"".join(by_cli.values())  # the text came from the provider, not offline
    for name, data in by_cli.items():
        assert by_dagster[name] == data, name


@pytest.mark.parametrize("case", [NLP, SCENARIOS[-1]], ids=lambda c: c.group)
def test_however_the_work_is_split_the_bytes_and_request_seeds_are_the_same(
    case: Case, isolated: Path, monkeypatch: pytest.MonkeyPatch, llm_stub: LLMStub
):
    runs: dict[tuple[str, str], tuple[dict[str, bytes], Counter[int]]] = {}
    for concurrency, batch in (("1", "1"), ("4", "4"), ("4", "1"), ("1", "4")):
        llm_stub.reset()
        stub = seeded(llm_stub)
        where = isolated / f"c{concurrency}b{batch}"
        flags = [*stub_flags(stub, monkeypatch), "--concurrency", concurrency, "--batch-size", batch]
        files = run_cli(case, where / "out", where / "data", monkeypatch, *flags)
        assert stub.requests > 0
        if concurrency == "1":
            assert stub.peak_in_flight == 1
        runs[(concurrency, batch)] = (files, request_seeds(stub))
    (first_files, first_seeds), *others = runs.values()
    assert first_files and sum(first_seeds.values()) > 1
    for files, seeds in others:
        assert seeds == first_seeds
        assert files == first_files
