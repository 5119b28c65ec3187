"""bench/ask_eval.py's plumbing on a slice of the evaluation set, against the loopback stub."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from synth_pipelines.llm.session import LLMSession
from synth_pipelines.llm.settings import LLMSettings
from synth_pipelines.store.catalog import DatasetStore
from synth_pipelines_tests.llm_stub import LLMStub
from synth_pipelines_tests.store.conftest import KEY, ROOT

SLICE = ["lib-01", "lib-04", "lib-13", "lib-19", "lib-24", "lib-29"]  # lib-29 brings lib-28 and lib-27


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ask_eval", ROOT / "bench" / "ask_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(store: DatasetStore, data_dir: Path, stub: LLMStub, items: list[dict[str, Any]]) -> dict[str, Any]:
    bench = _bench()
    settings = LLMSettings(provider="openai", model="stub-model", base_url=stub.openai_url, api_key=KEY,
                           max_retries=0, cache=False)  # fmt: skip
    with LLMSession(settings, data_dir) as session:
        return bench.run_eval(store, items, session.generator())


def test_the_evaluation_set_is_large_and_varied_enough() -> None:
    _, items = _bench().load_eval()
    assert len(items) >= 40 and len({i["question"] for i in items}) == len(items)
    kinds = {i["kind"] for i in items}
    assert kinds == {"count", "filter", "aggregate", "join", "group_date", "top_n", "follow_up"}
    assert sum(bool(i.get("follows")) for i in items) >= 4


def test_gold_answers_score_100_percent_and_a_wrong_one_is_caught(
    data_dir: Path, store: DatasetStore, llm_stub: LLMStub
) -> None:
    bench = _bench()
    _, items = bench.load_eval(ids=SLICE)  # the "library" dataset of the store fixture (20 rows, seed 42)
    assert [i["id"] for i in items] == ["lib-01", "lib-04", "lib-13", "lib-19", "lib-24", "lib-27", "lib-28", "lib-29"]
    llm_stub.responder = bench.gold_responder(items)
    report = _run(store, data_dir, llm_stub, items)
    assert report["execution_accuracy"] == 1.0 and report["refused"] == report["failed"] == 0, report["results"]
    assert report["tokens"]["total"] > 0 and report["by_kind"]["follow_up"] == "3/3"
    # The follow-ups ran in one conversation: the third request carried both earlier questions.
    third = str(llm_stub.log[-1].body)
    assert "How many loans are there in total?" in third and "and by tier?" in third
    # Scoring is real: a plausible but wrong answer (no is_active filter) and a refused one are counted.
    gold = bench.gold_responder(items)

    def wrong(schema: dict[str, Any], prompt: str, counter: int) -> dict[str, str]:
        answer = gold(schema, prompt, counter)
        if "only for active members?" in prompt.splitlines()[-1]:
            return answer | {"sql": answer["sql"].replace(" WHERE m.is_active", "")}
        if "How many members are there?" in prompt:
            return answer | {"sql": "DROP TABLE members"}
        return answer

    llm_stub.responder = wrong
    report = _run(store, data_dir, llm_stub, items)
    assert report["correct"] == len(items) - 2 and report["refused"] == 1
    assert {r["id"] for r in report["results"] if not r["correct"]} == {"lib-01", "lib-29"}
