"""Evaluation of ``synth ask``: questions in words with gold SQL (bench/ask_eval.yaml), scored by execution accuracy.

Each dataset of the file is generated and kept in a fresh data dir (``synth relational --save``); each
question goes through ``synth_pipelines.ask.question.ask`` (the gate, the sandbox, self-correction, the
conversation for follow-ups) and its result set is compared with the gold SQL's, run through the same
gate: rows as a multiset (column names ignored, numbers rounded to 2 decimals, dates as ISO text), in order
where the item says ``ordered: true``. Reports execution accuracy overall and per kind, refused and failed
counts, self-corrections, latency and tokens.

    python bench/ask_eval.py --provider openai --model gpt-4o-mini     # a real model (needs its key)
    python bench/ask_eval.py --stub                                    # plumbing: the stub answers the gold SQL

With ``--stub`` the loopback stub answers each question with its gold SQL, so accuracy must be 100%:
that checks the plumbing (prompting, gate, sandbox, conversations, scoring), not a model.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from synth_pipelines.ask.engine import ask_sql  # noqa: E402
from synth_pipelines.ask.question import ask  # noqa: E402
from synth_pipelines.llm.contract import StructuredGenerator  # noqa: E402
from synth_pipelines.store.catalog import DatasetStore  # noqa: E402

EVAL_FILE = ROOT / "bench" / "ask_eval.yaml"
GOLD_ROW_CAP = 100_000


def load_eval(path: Path = EVAL_FILE, ids: Sequence[str] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data["questions"]
    seen = {i["id"] for i in items}
    for item in items:
        if item.get("follows") and item["follows"] not in seen:
            raise ValueError(f"{path}: {item['id']} follows unknown item {item['follows']}")
    if ids:
        wanted = set(ids)
        for item in reversed(items):  # a follow-up needs the questions it follows (which come before it)
            if item["id"] in wanted and item.get("follows"):
                wanted.add(item["follows"])
        items = [i for i in items if i["id"] in wanted]
    used = {i["dataset"] for i in items}
    return {k: v for k, v in data["datasets"].items() if k in used}, items


def keep_datasets(datasets: dict[str, Any], data_dir: Path, rows: int | None = None) -> None:
    """Generate and keep each dataset (named as in the file) in ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTH_LLM_", "DAGSTER_HOME"))}
    env |= {"SYNTH_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    for name, spec in datasets.items():
        argv = [sys.executable, "-m", "synth_pipelines.cli", "relational", "--ddl", str(ROOT / spec["ddl"]),
                "--rows", str(rows or spec["rows"]), "--seed", str(spec["seed"]), "--save", "--name", name]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"generating {name} failed: {done.stderr.strip()}")


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return round(float(value), 2)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def same_result(got: Sequence[Sequence[Any]], gold: Sequence[Sequence[Any]], ordered: bool) -> bool:
    a = [tuple(_norm(v) for v in row) for row in got]
    b = [tuple(_norm(v) for v in row) for row in gold]
    if ordered:
        return a == b
    return sorted(a, key=repr) == sorted(b, key=repr)


def gold_responder(items: Sequence[dict[str, Any]]) -> Callable[[dict[str, Any], str, int], dict[str, str]]:
    """For the loopback stub: answer each question (the last ``Question:`` of the prompt) with its gold SQL."""
    gold = {i["question"]: i["gold"] for i in items}

    def respond(schema: dict[str, Any], prompt: str, counter: int) -> dict[str, str]:
        asked = re.findall(r"Question: (.*)", prompt)
        sql = gold.get(asked[-1].strip(), "") if asked else ""
        return {"sql": sql, "explanation": "the gold SQL"}

    return respond


def run_eval(store: DatasetStore, items: Sequence[dict[str, Any]], generator: StructuredGenerator,
             model: str | None = None) -> dict[str, Any]:  # fmt: skip
    conversations: dict[str, str] = {}
    results = []
    for item in items:
        conversation = conversations.get(item["follows"]) if item.get("follows") else None
        answer = ask(store, item["dataset"], item["question"], generator, conversation=conversation,
                     row_cap=GOLD_ROW_CAP, model=model)  # fmt: skip
        conversations[item["id"]] = answer.conversation_id or ""
        gold = ask_sql(store, item["dataset"], item["gold"], row_cap=GOLD_ROW_CAP)
        correct = answer.outcome == "answered" and same_result(answer.rows, gold.rows, bool(item.get("ordered")))
        results.append({
            "id": item["id"], "kind": item["kind"], "outcome": answer.outcome, "correct": correct,
            "attempts": len(answer.trace), "latency_ms": answer.latency_ms,
            "tokens": answer.input_tokens + answer.output_tokens, "sql": answer.sql, "reason": answer.reason,
        })  # fmt: skip
    return summarise(results)


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [r["latency_ms"] for r in results] or [0.0]
    kinds: dict[str, list[bool]] = {}
    for r in results:
        kinds.setdefault(r["kind"], []).append(r["correct"])
    return {
        "questions": len(results),
        "correct": sum(r["correct"] for r in results),
        "execution_accuracy": round(sum(r["correct"] for r in results) / max(len(results), 1), 4),
        "refused": sum(r["outcome"] == "refused" for r in results),
        "failed": sum(r["outcome"] == "failed" for r in results),
        "self_corrected": sum(r["attempts"] > 1 for r in results),
        "latency_ms": {
            "mean": round(statistics.fmean(latencies), 1),
            "median": round(statistics.median(latencies), 1),
            "max": round(max(latencies), 1),
        },
        "tokens": {
            "total": sum(r["tokens"] for r in results),
            "mean_per_question": round(sum(r["tokens"] for r in results) / max(len(results), 1), 1),
        },
        "by_kind": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(kinds.items())},
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    from synth_pipelines.llm.session import LLMSession
    from synth_pipelines.llm.settings import LLMSettings, add_provider_args, settings_from_args

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stub", action="store_true", help="the loopback stub answers the gold SQL (plumbing)")
    parser.add_argument("--ids", default=None, help="comma-separated item ids (with what they follow)")
    parser.add_argument("--rows", type=int, default=None, help="rows per generated dataset (default: the file's)")
    parser.add_argument("--json", type=Path, default=None, help="write the full report here")
    add_provider_args(parser)
    args = parser.parse_args(argv)
    datasets, items = load_eval(ids=args.ids.split(",") if args.ids else None)
    stub = None
    if args.stub:
        from synth_pipelines_tests.llm_stub import LLMStub

        stub = LLMStub()
        stub.responder = gold_responder(items)
        settings = LLMSettings(provider="openai", model="stub-model", base_url=stub.openai_url,
                               api_key="stub-key-not-secret", max_retries=0, cache=False)  # fmt: skip
    else:
        settings = settings_from_args(args)
        if settings.is_offline:
            parser.error("choose a provider (--provider openai|google, with its key), or --stub for the plumbing")
    try:
        with tempfile.TemporaryDirectory(prefix="ask-eval-") as tmp:
            data_dir = Path(tmp) / "data"
            keep_datasets(datasets, data_dir, args.rows)
            store = DatasetStore(data_dir)
            with LLMSession(settings, data_dir) as session:
                report = run_eval(store, items, session.generator(), model=settings.model)
    finally:
        if stub is not None:
            stub.close()
    report["provider"] = "loopback stub answering the gold SQL" if args.stub else settings.provider
    report["model"] = settings.model
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"provider: {report['provider']} (model {report['model']})")
    print(f"questions: {report['questions']}; execution accuracy: {report['execution_accuracy']:.1%} "
          f"({report['correct']}/{report['questions']}); refused {report['refused']}; failed {report['failed']}; "
          f"self-corrected {report['self_corrected']}")  # fmt: skip
    print(f"by kind: {', '.join(f'{k} {v}' for k, v in report['by_kind'].items())}")
    lat, tok = report["latency_ms"], report["tokens"]
    print(f"latency ms: mean {lat['mean']}, median {lat['median']}, max {lat['max']}; "
          f"tokens: {tok['total']} ({tok['mean_per_question']} per question)")  # fmt: skip
    for r in report["results"]:
        if not r["correct"]:
            print(f"  wrong: {r['id']} ({r['outcome']}): {r['sql']} {r['reason'] or ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
