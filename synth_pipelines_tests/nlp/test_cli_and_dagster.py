"""`synth nlp` argument errors, and the Dagster asset group `nlp` (offline default, and the llm resource)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from synth_pipelines.domains.nlp.domain import NLPDomain
from synth_pipelines.llm.resource import LLMResource
from synth_pipelines.orchestration.factory import build_domain_assets
from synth_pipelines_tests.dagster_helpers import materialize_group
from synth_pipelines_tests.llm_stub import LLMStub
from synth_pipelines_tests.nlp.helpers import run_cli


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--query", "x", "--documents", "d", "--format", "qa", "--samples", "3"],
            "not allowed with argument",
        ),
        (["--query", "x", "--format", "poem", "--samples", "3"], "invalid choice: 'poem'"),
        (["--query", "x", "--format", "qa", "--samples", "0"], "must be >= 1"),
        (
            ["--query", "x", "--format", "qa", "--samples", "3", "--output-format", "xml"],
            "invalid choice: 'xml'",
        ),
    ],
)
def test_bad_arguments_fail_with_usage_errors(argv, message, monkeypatch, capsys, data_dir):
    with pytest.raises(SystemExit) as info:
        run_cli(["nlp", *argv], monkeypatch)
    assert info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--documents", "missing-folder", "--format", "qa"],
            "documents path 'missing-folder' does not exist",
        ),
        (["--query", "x", "--custom-format", "bad.json"], "bad.json: not valid JSON (line 1"),
        (["--query", "x", "--format", "qa", "--provider", "openai"], "set OPENAI_API_KEY"),
        (["--query", "x", "--format", "qa", "--provider", "google"], "set GOOGLE_API_KEY"),
        (["--query", "x", "--format", "qa", "--temperature", "9"], "temperature"),
    ],
)
def test_bad_inputs_fail_with_one_clear_line(extra, message, monkeypatch, capsys, data_dir, tmp_path):
    (tmp_path / "bad.json").write_text("{oops")
    code = run_cli(["nlp", *extra, "--samples", "3", "--output-prefix", str(tmp_path / "o" / "p")], monkeypatch)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("synth: error: ") and message in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_version(monkeypatch, capsys):
    with pytest.raises(SystemExit) as info:
        run_cli(["nlp", "--version"], monkeypatch)
    assert info.value.code == 0 and "synth nlp 2" in capsys.readouterr().out


def test_offline_cli_writes_named_outputs(monkeypatch, capsys, data_dir, doc_folder, tmp_path):
    argv = ["nlp", "--documents", str(doc_folder), "--format", "qa", "--samples", "6",
            "--output-prefix", str(tmp_path / "sets" / "t"), "--output-format", "jsonl", "csv"]  # fmt: skip
    assert run_cli(argv, monkeypatch) == 0
    assert sorted(p.name for p in (tmp_path / "sets").iterdir()) == ["t_qa_offline.csv", "t_qa_offline.jsonl"]
    assert "requests 0" in capsys.readouterr().err


def materialize(data_dir: Path, run_config: dict | None = None, llm: LLMResource | None = None):
    """The project's ``nlp`` group for seed 42 into ``data_dir`` (default resources, or this ``llm``)."""
    with dg.instance_for_test() as instance:
        return materialize_group("nlp", 42, data_dir, instance, run_config, resources={"llm": llm} if llm else None)


def test_dagster_default_config_runs_offline_with_no_key(data_dir: Path):
    result = materialize(data_dir)
    assert result.success
    raw = result.asset_materializations_for_node("nlp__raw")[0].metadata
    assert raw["samples_made"].value == 50 and raw["llm_requests"].value == 0  # NLPConfig's default
    assert raw["llm_provider"].value == "offline" and "records_per_second" in raw
    export = data_dir / "exports" / "nlp" / "seed=42"
    assert sorted(p.name for p in export.iterdir()) == [f"nlp_qa_offline.{e}" for e in ("csv", "jsonl", "parquet")]
    assert [a.key.path[-1] for a in build_domain_assets(NLPDomain()) if a.op.pool == "llm"] == ["raw"]


def test_dagster_with_the_llm_resource_against_the_stub(data_dir: Path, llm_stub: LLMStub, monkeypatch):
    key = "sk-dagster-SECRET-abcdef0123456789"
    monkeypatch.setenv("STUB_KEY", key)
    llm = LLMResource(
        provider="openai",
        model="stub",
        base_url=llm_stub.openai_url,
        api_key=dg.EnvVar("STUB_KEY"),
        timeout_s=2,
        dotenv_path=None,
    )
    config = {"ops": {"nlp__config": {"config": {"format": "pair-score", "samples": 8, "samples_per_request": 4}}}}
    result = materialize(data_dir, config, llm)
    assert result.success
    raw = result.asset_materializations_for_node("nlp__raw")[0].metadata
    assert raw["llm_requests"].value == llm_stub.requests > 0 and raw["samples_made"].value == 8
    assert raw["llm_cache_hits"].value == 0 and raw["llm_input_tokens"].value > 0
    every = json.dumps([str(e) for e in result.all_events])
    assert key not in every and key[:12] not in every
    # Rematerializing with a warm cache: zero requests, same bytes.
    export = data_dir / "exports" / "nlp" / "seed=42" / "nlp_pair-score_llm.parquet"
    before, requests = export.read_bytes(), llm_stub.requests
    again = materialize(data_dir, config, llm)
    assert again.success and llm_stub.requests == requests and export.read_bytes() == before
    assert again.asset_materializations_for_node("nlp__raw")[0].metadata["llm_cache_hits"].value > 0
