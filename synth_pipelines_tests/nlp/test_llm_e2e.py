"""The NLP domain through the REAL ChatOpenAI / ChatGoogleGenerativeAI clients and the loopback stub."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.core.domain import RunContext, run_domain
from synth_pipelines.domains.nlp.domain import NLPConfig, NLPDomain
from synth_pipelines.domains.nlp.formats import BUILTIN_FORMATS, check_sample, load_custom_format
from synth_pipelines.llm.session import LLMSession
from synth_pipelines.llm.settings import LLMSettings
from synth_pipelines_tests.llm_stub import Fault, LLMStub, instance_of
from synth_pipelines_tests.nlp.helpers import qa_responder, run_cli

KEY = "sk-nlp-test-KEY-9f8e7d6c5b4a3210"


def stub_settings(stub: LLMStub, provider: str = "openai", **extra: object) -> LLMSettings:
    url = stub.openai_url if provider == "openai" else stub.url
    base = {"provider": provider, "model": "stub-model", "base_url": url, "api_key": KEY, "timeout_s": 2.0}
    return LLMSettings.model_validate(base | {"backoff_s": 0.0, "batch_size": 4} | extra)


def generate(stub: LLMStub, cfg: NLPConfig, data_dir: Path, out: Path, **extra: object):
    with LLMSession(stub_settings(stub, **extra), data_dir) as session:
        ctx = RunContext(data_dir=data_dir, llm=session)
        return run_domain(NLPDomain(), cfg, 42, out, ctx), ctx.metadata


@pytest.mark.parametrize("fmt", list(BUILTIN_FORMATS))
def test_each_format_end_to_end_through_the_stub(
    llm_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path, fmt: str
):
    if fmt == "qa":
        llm_stub.responder = qa_responder
    cfg = NLPConfig(documents=str(doc_folder), format=fmt, samples=12, samples_per_request=3)
    run, meta = generate(llm_stub, cfg, data_dir, tmp_path / "out")
    clean = run.tables["samples"]
    assert clean.height == 12
    assert clean.select(BUILTIN_FORMATS[fmt].field_names).is_unique().all()
    assert (clean["source"] == "llm").all() and (clean["method"] == "llm").all()
    assert all(check_sample(BUILTIN_FORMATS[fmt], r) is None for r in clean.drop("source", "method").to_dicts())
    assert meta["llm_requests"] == llm_stub.requests > 0 and meta["llm_input_tokens"] > 0
    assert run.files["jsonl"].name == f"nlp_{fmt}_llm.jsonl"
    if fmt == "pair-class":
        counts = clean["label"].value_counts()["count"].to_list()
        assert max(counts) - min(counts) <= 1 and meta["class_balance_ok"]
    # The source passage reached the model in the prompt.
    assert "Source text:" in llm_stub.log[0].body["messages"][1]["content"]


def test_google_provider_and_a_custom_format(llm_stub: LLMStub, data_dir: Path, tmp_path: Path):
    spec = tmp_path / "intent.json"
    spec.write_text(json.dumps({
        "name": "intent", "description": "Customer messages and their intent.",
        "fields": [
            {"name": "message", "type": "string", "description": "the message"},
            {"name": "intent", "type": "string", "description": "intent label"},
            {"name": "urgent", "type": "boolean", "description": "needs a fast answer"},
            {"name": "priority", "type": "integer", "description": "1-5", "required": False},
        ],
    }))  # fmt: skip
    cfg = NLPConfig(query="parcel delivery problems", custom_format=str(spec), samples=10, samples_per_request=3)
    run, meta = generate(llm_stub, cfg, data_dir, tmp_path / "out", provider="google")
    samples = run.tables["samples"]
    assert samples.height == 10 and samples.columns[:4] == ["message", "intent", "urgent", "priority"]
    assert samples.schema["urgent"] == pl.Boolean and samples.schema["priority"] == pl.Int64
    fmt = load_custom_format(spec)
    assert all(check_sample(fmt, r) is None for r in samples.drop("source", "method").to_dicts())
    assert meta["query_refinement"] == "on" and meta["refined_query"]
    assert all(":generateContent" in entry.path for entry in llm_stub.log)
    assert sorted(p.name for p in run.files.values()) == [
        "nlp_intent_llm_from_query.csv",
        "nlp_intent_llm_from_query.jsonl",
        "nlp_intent_llm_from_query.parquet",
    ]


def test_injected_faults_still_yield_n_valid_samples(
    llm_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path
):
    llm_stub.inject(
        Fault(status=429), Fault(status=500), Fault(delay=0.8), Fault(content="{broken"),
        Fault(invalid=True), Fault(empty=True), Fault(finish_reason="length"), Fault(status=503),
    )  # fmt: skip
    cfg = NLPConfig(documents=str(doc_folder), format="triplet", samples=15, samples_per_request=3)
    run, meta = generate(llm_stub, cfg, data_dir, tmp_path / "out", timeout_s=0.4, max_concurrency=2, max_retries=8)
    samples = run.tables["samples"]
    assert samples.height == 15 and samples.select("anchor", "positive", "negative").is_unique().all()
    assert meta["llm_retries"] == 8 and meta["llm_failures"] == 0
    assert meta["llm_requests"] == llm_stub.requests


def cli_args(doc_folder: Path, prefix: Path, *extra: str) -> list[str]:
    return [
        "nlp", "--documents", str(doc_folder), "--format", "pair", "--samples", "12", "--seed", "5",
        "--provider", "openai", "--model", "stub-model", "--output-prefix", str(prefix), *extra,
    ]  # fmt: skip


def test_warm_cache_rerun_makes_zero_requests_and_identical_bytes(
    llm_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    base = ["--base-url", llm_stub.openai_url]
    assert run_cli(cli_args(doc_folder, tmp_path / "first" / "train", *base), monkeypatch) == 0
    cold = llm_stub.requests
    assert cold > 0
    # Another output path, another timeout and retry count: the cache still answers everything.
    extra = [*base, "--timeout", "7", "--max-retries", "0"]
    assert run_cli(cli_args(doc_folder, tmp_path / "second" / "train", *extra), monkeypatch) == 0
    assert llm_stub.requests == cold
    for ext in ("jsonl", "csv", "parquet"):
        first = (tmp_path / "first" / f"train_pair_llm.{ext}").read_bytes()
        assert first == (tmp_path / "second" / f"train_pair_llm.{ext}").read_bytes()
    assert (data_dir / "llm_cache.sqlite").exists()


def test_token_budget_stops_the_run_cleanly(
    llm_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    args = cli_args(doc_folder, tmp_path / "out" / "train", "--base-url", llm_stub.openai_url)
    code = run_cli([*args, "--token-budget", "600", "--batch-size", "1", "--concurrency", "1"], monkeypatch)
    err = capsys.readouterr().err
    assert code == 3
    assert "token budget spent" in err
    made = pl.read_ndjson(tmp_path / "out" / "train_pair_llm.jsonl").height
    assert 0 < made < 12
    assert llm_stub.requests < 12


def test_keys_never_reach_logs_outputs_cache_or_errors(
    llm_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
):  # fmt: skip
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    llm_stub.inject(Fault(status=500, echo_key=True))
    args = cli_args(doc_folder, tmp_path / "out" / "train", "--base-url", llm_stub.openai_url)
    assert run_cli(args, monkeypatch) == 0
    llm_stub.inject(Fault(status=401, echo_key=True))
    args2 = cli_args(doc_folder, tmp_path / "out2" / "x", "--base-url", llm_stub.openai_url, "--seed", "6")
    code = run_cli(args2, monkeypatch)
    captured = capsys.readouterr()
    assert code == 1 and "rejected the request credentials" in captured.err
    assert {e.credential for e in llm_stub.log} == {KEY}
    text = captured.out + captured.err + caplog.text
    for piece in (KEY, KEY[:12], KEY[-12:]):
        assert piece not in text
    for path in tmp_path.rglob("*"):
        if path.is_file() and "docs" not in path.parts:
            assert KEY[:12].encode() not in path.read_bytes(), path


def test_a_stopped_run_resumes_from_its_checkpoint(
    llm_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    flags = [
        "--batch-size",
        "1",
        "--concurrency",
        "1",
        "--max-retries",
        "0",
        "--failure-budget",
        "0",
        "--no-cache",
    ]
    args = cli_args(doc_folder, tmp_path / "out" / "train", "--base-url", llm_stub.openai_url, *flags)
    llm_stub.responder = None
    # Two batches succeed, then the provider fails and the failure budget stops the run.
    llm_stub.inject(Fault(), Fault(), Fault(status=500))
    assert run_cli(args, monkeypatch) == 1
    assert "failure budget" in capsys.readouterr().err
    checkpoints = list((data_dir / "nlp" / "checkpoints").glob("*.jsonl"))
    assert len(checkpoints) == 1
    kept = [r for line in checkpoints[0].read_text().splitlines()[1:] for r in json.loads(line)["records"]]
    assert len(kept) == 6 and not (tmp_path / "out" / "train_pair_llm.jsonl").exists()
    before = llm_stub.requests
    assert run_cli(args, monkeypatch) == 0
    final = pl.read_ndjson(tmp_path / "out" / "train_pair_llm.jsonl")
    assert final.height == 12 and final.head(6).drop("source", "method").to_dicts() == [
        {k: r[k] for k in ("anchor", "positive")} for r in kept
    ]
    assert llm_stub.requests - before == 2  # only the missing batches were asked for
    assert not checkpoints[0].exists()


def test_answers_echoing_the_key_reach_neither_outputs_nor_cache(
    llm_stub: LLMStub, doc_folder: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """#15 item 11: the model repeats the key, whole and in part, in every string it writes."""
    pieces = [KEY, KEY[2:12], KEY[-9:]]

    def echoing(schema: dict, prompt: str, counter: int) -> object:
        answer = instance_of(schema, schema, counter, "", llm_stub)

        def salt(value: object, depth: int = 0) -> object:
            if isinstance(value, str):
                return f"{value} {pieces[(counter + depth) % len(pieces)]}"
            if isinstance(value, dict):
                return {k: salt(v, depth + i) for i, (k, v) in enumerate(value.items())}
            if isinstance(value, list):
                return [salt(v, depth + i) for i, v in enumerate(value)]
            return value

        return salt(answer)

    llm_stub.responder = echoing
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert run_cli(cli_args(doc_folder, tmp_path / "out" / "train", "--base-url", llm_stub.openai_url)) == 0
    written = [p for p in (tmp_path / "out").iterdir()] + list(data_dir.glob("llm_cache.sqlite*"))
    assert len(written) >= 4
    windows = [KEY[i : i + 8].encode() for i in range(len(KEY) - 7)]
    for path in written:
        data = path.read_bytes()
        assert not [w for w in windows if w in data], path
    assert b"[REDACTED]" in (tmp_path / "out" / "train_pair_llm.jsonl").read_bytes()
