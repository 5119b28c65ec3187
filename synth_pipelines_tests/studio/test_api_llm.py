"""The studio API with a provider: feedback edits, questions in words and the AI hybrid through the real
ChatOpenAI client against the loopback OpenAI-compatible stub; the provider choice a request may make; the
concurrent-job limit. The server runs as a subprocess; the stub answers from this process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from synth_pipelines.store.catalog import DatasetStore
from synth_pipelines_tests.llm_stub import LLMStub
from synth_pipelines_tests.studio.conftest import (
    BIOS,
    BY_TIER,
    EDIT_SQL,
    ROOT,
    SECRET_KEY,
    Server,
    start_server,
    stop_server,
    studio_model,
)

DDL = (ROOT / "data" / "schemas" / "library.sql").read_text(encoding="utf-8")
SEEN: list[str] = []  # every response body, checked for the provider key


def call(server: Server, method: str, path: str, **kwargs: Any) -> requests.Response:
    response = requests.request(method, server.url + path, timeout=120, **kwargs)
    SEEN.append(response.content.decode("utf-8", "replace"))
    return response


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory, _llm_stub_server: LLMStub) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("studio-llm"),
        {
            "SYNTH_LLM_PROVIDER": "openai",
            "SYNTH_LLM_MODEL": "stub-model",
            "SYNTH_LLM_BASE_URL": _llm_stub_server.openai_url,
            "SYNTH_LLM_MAX_RETRIES": "0",
            "SYNTH_STUDIO_MAX_CONCURRENT_JOBS": "2",
        },
    )
    yield server
    stop_server(server)


@pytest.fixture
def model(llm_stub: LLMStub) -> LLMStub:
    llm_stub.responder = studio_model
    return llm_stub


def wait_job(server: Server, job_id: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = call(server, "GET", f"/api/jobs/{job_id}").json()
        if body["status"] in ("complete", "error"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def generate(server: Server, **body: Any) -> dict[str, Any]:
    started = call(server, "POST", "/api/generate", json={"ddl": DDL, "filename": "library.sql"} | body)
    assert started.status_code == 202, started.text
    job = wait_job(server, started.json()["jobId"])
    assert job["status"] == "complete", job
    return job["result"]


@pytest.fixture(scope="module")
def dataset_id(llm_server: Server) -> str:
    return generate(llm_server, rows=30, seed=7)["datasetId"]


def direct(server: Server, dataset: str, sql: str) -> list[tuple[Any, ...]]:
    """The SQL straight on the current version's Parquet files (outside the studio): the expected answer."""
    store = DatasetStore(server.data_dir)
    con = duckdb.connect()
    for table, path in store.table_files(store.get(dataset)).items():
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
    return con.execute(sql).fetchall()


def test_config_reports_the_provider_never_the_key(llm_server: Server) -> None:
    config = call(llm_server, "GET", "/api/config").json()
    assert config["provider"] == "openai" and config["model"] == "stub-model"
    assert config["aiEnabled"] is True and config["apiKeySet"] is True


def test_feedback_edit_through_the_model_shows_the_diff_and_undoes(
    llm_server: Server, dataset_id: str, model: LLMStub
) -> None:
    path = f"/api/datasets/{dataset_id}"
    before = call(llm_server, "GET", path).json()["currentVersion"]
    to_change = "SELECT count(*) FROM members WHERE member_id % 10 < 3 AND tier <> 'premium'"
    expected = direct(llm_server, dataset_id, to_change)
    edited = call(llm_server, "POST", f"{path}/modify", json={"feedback": "make 30% of members premium"})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["version"] == before + 1 and body["explanation"] == "about 30% of members become premium"
    assert body["edit"]["statements"] == [EDIT_SQL]
    assert body["diff"]["tables"]["members"]["changed"] == expected[0][0] > 0
    assert "Feedback: make 30% of members premium" in json.dumps(model.log[-1].body)
    assert model.log[-1].authorization == f"Bearer {SECRET_KEY}"  # the server's key, sent to the stub only
    undone = call(llm_server, "POST", f"{path}/undo", json={}).json()
    assert undone["plan"]["restores"] == before
    assert (
        call(llm_server, "GET", f"{path}/export").content
        == call(llm_server, "GET", f"{path}/export?version={before}").content
    )


def test_question_in_words_answers_with_sql_rows_and_a_chart(
    llm_server: Server, dataset_id: str, model: LLMStub
) -> None:
    path = f"/api/datasets/{dataset_id}/ask"
    answer = call(llm_server, "POST", path, json={"question": "how many members per tier?"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "answered" and body["sql"].lower() == BY_TIER.lower()  # as the gate rendered it
    assert body["columns"] == ["tier", "members"]
    assert [tuple(r) for r in body["rows"]] == direct(llm_server, dataset_id, BY_TIER)
    chart = body["chart"]
    assert chart["mark"]["type"] == "bar" and chart["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert {v["x"] for v in chart["data"]["values"]} == {r[0] for r in body["rows"]}
    assert "how many members per tier?" in json.dumps(model.log[-1].body)
    follow = call(llm_server, "POST", path,
                  json={"question": "and per tier again?", "conversation": body["conversation"]})  # fmt: skip
    assert follow.json()["conversation"] == body["conversation"]
    assert "how many members per tier?" in json.dumps(model.log[-1].body)  # the follow-up sees the first turn


def test_a_model_query_the_gate_refuses_is_not_run(llm_server: Server, dataset_id: str, model: LLMStub) -> None:
    body = call(llm_server, "POST", f"/api/datasets/{dataset_id}/ask", json={"question": "drop the members"}).json()
    assert body["outcome"] == "refused" and "DROP" in body["reason"] and body["rows"] == []
    assert direct(llm_server, dataset_id, "SELECT count(*) FROM members")[0][0] == 30


def test_sql_answers_carry_a_chart_when_their_shape_has_one(llm_server: Server, dataset_id: str) -> None:
    path = f"/api/datasets/{dataset_id}/ask"
    assert call(llm_server, "POST", path, json={"sql": BY_TIER}).json()["chart"]["mark"]["type"] == "bar"
    assert call(llm_server, "POST", path, json={"sql": "SELECT email FROM members"}).json()["chart"] is None


def test_ai_generation_applies_the_model_patch_and_stays_valid(llm_server: Server, model: LLMStub) -> None:
    from synth_pipelines_tests.studio.test_api import EventLog

    log = EventLog(llm_server)
    try:
        result = generate(llm_server, rows=20, seed=11, ai=True, instructions="authors with short coastal bios")
        assert log.done.wait(30)
    finally:
        log.client.disconnect()
    complete = [d for n, d in log.events if n == "generation:complete"]
    assert complete[-1]["datasetId"] == result["datasetId"] and complete[-1]["ai"] == result["ai"]
    assert SECRET_KEY not in repr(log.events)
    assert result["validation"]["ok"] is True
    ai = result["ai"]
    assert ai["model"] == "stub-model" and set(ai["tables"]) == set(result["meta"]["tables"])
    assert ai["tables"]["authors"] == {"status": "applied", "reason": None, "columns": ["bio"], "rules": []}
    assert model.requests == len(result["meta"]["tables"])  # one request per table
    assert "authors with short coastal bios" in json.dumps(model.log[0].body)
    bios = direct(llm_server, result["datasetId"], "SELECT DISTINCT bio FROM authors WHERE bio IS NOT NULL")
    assert bios and {b for (b,) in bios} <= set(BIOS)


@pytest.mark.parametrize(
    ("llm", "says"),
    [
        ({"provider": "google"}, "not configured on this server"),
        ({"base_url": "http://203.0.113.9/v1"}, "not one this server allows"),
        ({"provider": "offline"}, "needs an LLM provider"),
        ({"temperature": 7}, "temperature"),
    ],
)
def test_a_request_may_only_choose_what_the_server_allows(
    llm_server: Server, dataset_id: str, model: LLMStub, llm: dict[str, Any], says: str
) -> None:
    for path, body in (
        (f"/api/datasets/{dataset_id}/modify", {"feedback": "more premium members", "llm": llm}),
        (f"/api/datasets/{dataset_id}/ask", {"question": "how many loans?", "llm": llm}),
        ("/api/generate", {"sample": "library", "ai": True, "llm": llm}),
    ):
        response = call(llm_server, "POST", path, json=body)
        assert response.status_code in (400, 422) and says in response.json()["error"], response.text
    assert model.requests == 0  # nothing reached the model


def test_a_job_over_the_concurrency_limit_gets_409(llm_server: Server, model: LLMStub) -> None:
    """Two AI jobs hold the model (it answers only when released); a third is refused, then both finish."""
    release = threading.Event()

    def held(schema: dict[str, Any], prompt: str, counter: int) -> dict[str, Any]:
        release.wait(120)
        return studio_model(schema, prompt, counter)

    model.responder = held
    try:
        jobs = []
        for seed in (101, 102):  # seeds no earlier test used: the response cache cannot answer
            started = call(llm_server, "POST", "/api/generate", json={"sample": "company", "rows": 5, "seed": seed,
                                                                       "ai": True})  # fmt: skip
            assert started.status_code == 202, started.text
            jobs.append(started.json()["jobId"])
        third = call(llm_server, "POST", "/api/generate", json={"sample": "company", "rows": 5, "seed": 103})
        assert third.status_code == 409 and "limit" in third.json()["error"]
    finally:
        release.set()
    assert [wait_job(llm_server, j)["status"] for j in jobs] == ["complete", "complete"]
    assert call(llm_server, "POST", "/api/generate", json={"sample": "company", "rows": 5}).status_code == 202


def test_a_provider_that_rejects_the_key_is_a_502_without_the_key(
    llm_server: Server, dataset_id: str, model: LLMStub
) -> None:
    from synth_pipelines_tests.llm_stub import Fault

    before = call(llm_server, "GET", f"/api/datasets/{dataset_id}").json()["currentVersion"]
    model.inject(Fault(status=401, echo_key=True))  # the error body repeats the key, as some providers do
    response = call(llm_server, "POST", f"/api/datasets/{dataset_id}/modify", json={"feedback": "fewer staff members"})
    assert response.status_code == 502 and response.json()["error"].startswith("the LLM provider failed")
    assert SECRET_KEY not in response.text and model.requests == 1
    assert call(llm_server, "GET", f"/api/datasets/{dataset_id}").json()["currentVersion"] == before


def test_no_response_contains_the_provider_key(llm_server: Server) -> None:
    call(llm_server, "GET", "/api/config")
    call(llm_server, "GET", "/openapi.json")
    assert len(SEEN) > 10
    assert not [b for b in SEEN if SECRET_KEY in b]
    assert SECRET_KEY not in Path(llm_server.data_dir / "serve.log").read_text(errors="replace")
