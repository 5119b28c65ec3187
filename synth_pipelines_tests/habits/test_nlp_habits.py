"""Habits of the Gemini NLP generator's users: its flag spellings, defaults, custom formats and files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import synth_pipelines.cli as cli
from synth_pipelines.domains.nlp.domain import NLPConfig
from synth_pipelines.llm.settings import settings_from_args
from synth_pipelines_tests.llm_stub import LLMStub, instance_of

KEY = "sk-nlp-habits-KEY-0123456789abcdef"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNTH_LLM_BACKOFF_S", "0")
    return tmp_path


def test_the_gemini_generators_command_line_runs_as_written(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Its custom format files may have neither name nor description: the file name names the format.
    (project / "characters.json").write_text(
        json.dumps(
            {
                "fields": [
                    {"name": "character_name", "type": "string", "description": "a name", "required": True},
                    {"name": "occupation", "type": "string", "description": "a job", "required": True},
                ]
            }
        )
    )
    argv = [
        "nlp", "--query", "a fantasy novel", "--custom_format_file", "characters.json", "--output_prefix", "out/",
        "--output_format", "all", "--batch_size", "4", "--max_retries", "1", "--top_p", "0.9", "--top_k", "20",
        "--log_level", "INFO", "--incremental_save",
    ]  # fmt: skip
    assert cli.main(argv) == 0
    files = sorted(p.name for p in (project / "out").iterdir())
    stem = "nlp_characters_offline_from_query"
    assert files == [f"{stem}.csv", f"{stem}.jsonl", f"{stem}.parquet"]  # inside out/, every format
    records = pl.read_parquet(project / "out" / f"{stem}.parquet")
    assert records.height == 50 == NLPConfig().samples  # the default, in the CLI and in Dagster alike
    # Offline template text: each field's text under its own field, on every record.
    assert records["character_name"].str.contains(r"\(character_name\)").all()
    assert records["occupation"].str.contains(r"\(occupation\)").all()
    assert "nlp: 50 of 50 characters samples" in capsys.readouterr().err
    parser = cli.build_parser(only=("nlp",))
    nlp = parser._subparsers._group_actions[0].choices["nlp"]  # type: ignore[union-attr]
    args = parser.parse_args([argv[0], "--query", "x", "--format", "qa", "--batch_size", "4"])
    assert args.config_of(args).samples_per_request == 4
    assert "--batch_size means" in " ".join(nlp.format_help().split())
    # Its sampling and retry spellings reach the provider settings, not just the parser.
    sampling = ["--max_retries", "1", "--top_p", "0.9", "--top_k", "20"]
    args = parser.parse_args(["nlp", "--query", "x", "--format", "qa", *sampling])
    settings = settings_from_args(args, environ={}, dotenv_path=None)
    assert (settings.max_retries, settings.top_p, settings.top_k) == (1, 0.9, 20)


def test_query_and_document_runs_with_one_prefix_keep_both_sets(project: Path) -> None:
    common = ["--format", "qa", "--samples", "6", "--output-prefix", "sets/train"]
    assert cli.main(["nlp", "--documents", "synth_pipelines_docs_missing", *common]) == 1  # a bad path: one line
    docs = Path(__file__).resolve().parents[2] / "synth_pipelines" / "domains" / "nlp" / "sample_docs"
    assert cli.main(["nlp", "--documents", str(docs), *common]) == 0
    assert cli.main(["nlp", "--query", "tides", *common]) == 0
    names = sorted(p.name for p in (project / "sets").iterdir() if p.suffix == ".jsonl")
    assert names == ["train_qa_offline.jsonl", "train_qa_offline_from_query.jsonl"]


def test_incremental_save_makes_accepted_records_readable_during_the_run(
    llm_stub: LLMStub, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    live = project / "out" / "run_pair_llm_from_query.jsonl"
    seen_during_run: list[int] = []

    def answer(schema: dict[str, Any], prompt: str, counter: int) -> Any:
        if "subtopics" not in json.dumps(schema):  # not the query-refinement request
            seen_during_run.append(len(live.read_text().splitlines()) if live.exists() else 0)
        return instance_of(schema, schema, counter, "", llm_stub)

    llm_stub.responder = answer
    argv = [
        "nlp", "--query", "tides", "--format", "pair", "--samples", "6", "--samples-per-request", "2",
        "--batch-size", "1", "--concurrency", "1", "--provider", "openai", "--base-url", llm_stub.openai_url,
        "--model", "stub", "--output-prefix", str(project / "out" / "run"), "--incremental-save",
    ]  # fmt: skip
    assert cli.main(argv) == 0
    assert seen_during_run[:3] == [0, 2, 4]  # each answered batch was on disk before the next request
    final = [json.loads(line) for line in live.read_text().splitlines()]
    assert len(final) == 6 and {"source", "method"} <= set(final[0])  # the finished file replaced it
    assert not [p for p in live.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_a_gemini_key_in_the_environment_chooses_google_and_says_so(
    llm_stub: LLMStub, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for other in ("SYNTH_LLM_PROVIDER", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)  # the Gemini generator's variable, nothing else
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", llm_stub.url)
    argv = ["nlp", "--query", "tides", "--format", "pair", "--samples", "4", "--output_prefix", "out/"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "using provider" in line]
    assert notes == ["synth: using provider google because GEMINI_API_KEY is set (--provider offline to stay offline)"]
    assert llm_stub.requests >= 1 and all(":generateContent" in e.path for e in llm_stub.log)
    assert {e.credential for e in llm_stub.log} == {KEY} and KEY not in err
    assert [p.name for p in (project / "out").iterdir() if p.suffix == ".jsonl"]
