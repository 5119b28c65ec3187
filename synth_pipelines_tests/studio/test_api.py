"""``synth serve`` as a real subprocess: every endpoint, the Socket.IO event sequence, bad inputs, the token."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from synth_pipelines_tests.studio.conftest import ROOT, SECRET_KEY, Server, start_server, stop_server

DDL = (ROOT / "data" / "schemas" / "library.sql").read_text(encoding="utf-8")
SEEN_BODIES: list[str] = []  # every response and event text, checked for the provider key at the end


def call(server: Server, method: str, path: str, **kwargs: Any) -> requests.Response:
    response = requests.request(method, server.url + path, headers=server.headers(), timeout=60, **kwargs)
    SEEN_BODIES.append(response.content.decode("utf-8", "replace"))
    return response


class EventLog:
    """A real python-socketio client recording every studio event in arrival order."""

    def __init__(self, server: Server, auth: dict[str, str] | None = None) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.done = threading.Event()
        self.client = socketio.Client(reconnection=False)
        for name in (
            "generation:start", "schema:parsed", "table:start", "table:progress", "table:complete",
            "generation:validation", "dataset:saved", "generation:complete", "generation:error",
        ):  # fmt: skip
            self.client.on(name, self._recorder(name))
        self.client.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=10)

    def _recorder(self, name: str) -> Any:
        def record(data: dict[str, Any]) -> None:
            SEEN_BODIES.append(repr(data))
            self.events.append((name, data))
            if name in ("generation:complete", "generation:error"):
                self.done.set()

        return record

    def of(self, job_id: str) -> list[tuple[str, dict[str, Any]]]:
        return [(n, d) for n, d in self.events if d.get("jobId") == job_id]


def wait_job(server: Server, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = call(server, "GET", f"/api/jobs/{job_id}").json()
        if body["status"] in ("complete", "error"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def generated(api_server: Server) -> Iterator[dict[str, Any]]:
    """One library dataset generated through POST /api/generate while a Socket.IO client listens."""
    log = EventLog(api_server)
    try:
        started = call(api_server, "POST", "/api/generate", json={"ddl": DDL, "filename": "library.sql", "rows": 30})
        assert started.status_code == 202, started.text
        job_id = started.json()["jobId"]
        job = wait_job(api_server, job_id)
        assert log.done.wait(30)
        yield {"job": job, "jobId": job_id, "events": log.of(job_id)}
    finally:
        log.client.disconnect()


def test_health_and_config(api_server: Server) -> None:
    health = call(api_server, "GET", "/api/health").json()
    assert health["status"] == "ok"
    assert set(health["migrations"]) == {"applied", "pending", "unknown"}
    config = call(api_server, "GET", "/api/config").json()
    assert config["maxRowsPerTable"] == 400 and config["defaultNumRecords"] == 20
    assert {"aiEnabled", "model", "samples"} <= set(config) and "library" in config["samples"]


def test_upload_parses_tables_keys_and_insert_order(api_server: Server) -> None:
    response = call(api_server, "POST", "/api/upload?parse=true", files={"file": ("library.sql", DDL)})
    assert response.status_code == 200, response.text
    body = response.json()
    order = body["insertOrder"]
    assert order.index("authors") < order.index("books") < order.index("loans")
    books = next(t for t in body["tables"] if t["name"] == "books")
    assert books["primaryKey"] == ["book_id"]
    assert {fk["references"] for fk in books["foreignKeys"]} == {"authors", "publishers"}


@pytest.mark.parametrize(
    ("name", "content", "status", "says"),
    [
        ("junk.sql", "this is not ddl at all ;;", 400, "junk.sql"),
        ("empty.sql", "   ", 400, "empty"),
        ("schema.csv", "CREATE TABLE t (id INT PRIMARY KEY);", 400, ".sql, .ddl or .txt"),
        ("huge.sql", "-- " + "x" * 200_000, 413, "limit"),
    ],
)
def test_upload_rejects_bad_files(api_server: Server, name: str, content: str, status: int, says: str) -> None:
    response = call(api_server, "POST", "/api/upload?parse=true", files={"file": (name, content)})
    assert response.status_code == status, response.text
    assert says in response.json()["error"]


def test_generation_events_arrive_in_order(generated: dict[str, Any], api_server: Server) -> None:
    job, events = generated["job"], generated["events"]
    assert job["status"] == "complete", job
    names = [n for n, _ in events]
    assert names[:2] == ["generation:start", "schema:parsed"]
    assert names[-3:] == ["generation:validation", "dataset:saved", "generation:complete"]
    order = events[1][1]["insertOrder"]
    # Per table, in insert order: start, one or more progress, complete.
    table_events = [(n, d["table"]) for n, d in events if n.startswith("table:")]
    for name in order:
        mine = [n for n, t in table_events if t == name]
        assert mine[0] == "table:start" and mine[-1] == "table:complete" and "table:progress" in mine
    assert [t for n, t in table_events if n == "table:start"] == order
    rows = events[1][1]["rows"]
    completes = {d["table"]: d["rows"] for n, d in events if n == "table:complete"}
    assert completes == rows
    validation = dict(events)["generation:validation"]
    assert validation["ok"] is True and validation["failing"] == [] and validation["checked"] > 0
    complete = dict(events)["generation:complete"]
    assert complete["datasetId"] == job["result"]["datasetId"] == dict(events)["dataset:saved"]["datasetId"]


def test_datasets_list_and_paged_rows(generated: dict[str, Any], api_server: Server) -> None:
    dataset_id = generated["job"]["result"]["datasetId"]
    listed = {d["id"]: d for d in call(api_server, "GET", "/api/datasets").json()}
    assert listed[dataset_id]["tables"]["authors"] == 30
    body = call(api_server, "GET", f"/api/datasets/{dataset_id}?includeData=true&page=2&pageSize=7").json()
    authors = body["data"]["authors"]
    assert authors["page"] == 2 and len(authors["rows"]) == 7 and authors["totalRows"] == 30 and authors["pages"] == 5
    assert authors["rows"][0][0] == 8  # author_id of the 8th row: page 2 starts after 7 rows
    assert body["validation"]["ok"] and "tables:" in body["spec"]
    assert "data" not in call(api_server, "GET", f"/api/datasets/{dataset_id}").json()


def test_export_is_a_zip_of_every_table_and_stable(generated: dict[str, Any], api_server: Server) -> None:
    dataset_id = generated["job"]["result"]["datasetId"]
    first = call(api_server, "GET", f"/api/datasets/{dataset_id}/export")
    assert first.status_code == 200 and first.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(first.content)).namelist()
    assert sorted(names) == sorted(f"{t}.csv" for t in generated["job"]["result"]["meta"]["tables"])
    assert call(api_server, "GET", f"/api/datasets/{dataset_id}/export").content == first.content


def test_modify_refuse_and_undo(generated: dict[str, Any], api_server: Server) -> None:
    dataset_id = generated["job"]["result"]["datasetId"]
    path = f"/api/datasets/{dataset_id}"
    before = call(api_server, "GET", path).json()["currentVersion"]
    counted = call(api_server, "POST", f"{path}/ask", json={"sql": "SELECT count(pages) FROM books"}).json()
    with_pages = counted["rows"][0][0]  # NULL + 1 stays NULL: only these rows change
    edited = call(api_server, "POST", f"{path}/modify", json={"sql": ["UPDATE books SET pages = pages + 1"]})
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == before + 1 and edited.json()["diff"]["tables"]["books"]["changed"] == with_pages
    # Invalid rows: a negative price breaks CHECK (price >= 0); nothing changes.
    invalid = call(api_server, "POST", f"{path}/modify", json={"sql": ["UPDATE books SET price = -1"]})
    assert invalid.status_code == 422 and "CHECK" in invalid.json()["error"]
    refused = call(api_server, "POST", f"{path}/modify", json={"sql": ["COPY books TO '/tmp/stolen.csv'"]})
    assert refused.status_code == 400 and "COPY" in refused.json()["error"]
    feedback = call(api_server, "POST", f"{path}/modify", json={"feedback": "more premium members"})
    assert feedback.status_code == 400 and "provider" in feedback.json()["error"]
    assert call(api_server, "GET", path).json()["currentVersion"] == before + 1
    undone = call(api_server, "POST", f"{path}/undo", json={})
    assert undone.status_code == 200 and undone.json()["plan"]["restores"] == before
    export_now = call(api_server, "GET", f"{path}/export").content
    assert export_now == call(api_server, "GET", f"{path}/export?version={before}").content


def test_ask_sql_and_refusals(generated: dict[str, Any], api_server: Server) -> None:
    dataset_id = generated["job"]["result"]["datasetId"]
    path = f"/api/datasets/{dataset_id}/ask"
    answer = call(api_server, "POST", path, json={"sql": "SELECT count(*) AS n FROM loans"}).json()
    assert answer["columns"] == ["n"] and answer["rows"] == [[60]] and "loans" in answer["sql"]
    tables = call(api_server, "POST", path, json={"question": "tables"}).json()
    assert ["authors", 30] in tables["rows"]
    refused = call(api_server, "POST", path, json={"sql": "DELETE FROM loans"})
    assert refused.status_code == 400 and "DELETE" in refused.json()["error"]
    words = call(api_server, "POST", path, json={"question": "how many loans are late?"})
    assert words.status_code == 400 and "provider" in words.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("GET", "/api/datasets/ds-nope", None, 404),
        ("GET", "/api/datasets/ds-nope/export", None, 404),
        ("POST", "/api/datasets/ds-nope/modify", {"sql": ["UPDATE t SET a = 1"]}, 404),
        ("POST", "/api/datasets/ds-nope/ask", {"sql": "SELECT 1"}, 404),
        ("GET", "/api/jobs/job-nope", None, 404),
        ("POST", "/api/generate", {"ddl": "CREATE TABLE", "rows": "many"}, 422),
        ("POST", "/api/generate", {"sample": "library", "rows": 100_000}, 400),
        ("POST", "/api/generate", {"sample": "nope"}, 404),
        ("POST", "/api/generate", {"ddl": "x" * 30_000}, 413),
        ("POST", "/api/generate", {}, 400),
    ],
)
def test_bad_requests_get_json_errors(
    api_server: Server, method: str, path: str, payload: dict[str, Any] | None, status: int
) -> None:
    response = call(api_server, method, path, json=payload)
    assert response.status_code == status, response.text
    assert response.json()["error"]


def test_garbage_ddl_job_reports_generation_error(api_server: Server) -> None:
    log = EventLog(api_server)
    try:
        started = call(api_server, "POST", "/api/generate", json={"ddl": "CREATE TABLE oops (", "rows": 5})
        job = wait_job(api_server, started.json()["jobId"])
        assert job["status"] == "error" and job["error"].startswith("upload.sql:1: ")  # the file, not a temp path
        assert log.done.wait(30)
        assert [n for n, _ in log.of(started.json()["jobId"])][-1] == "generation:error"
    finally:
        log.client.disconnect()


def test_job_survives_client_disconnect(api_server: Server) -> None:
    log = EventLog(api_server)
    started = call(api_server, "POST", "/api/generate", json={"sample": "company", "rows": 25})
    log.client.disconnect()  # the client goes away at once; the job must still finish and be kept
    job = wait_job(api_server, started.json()["jobId"])
    assert job["status"] == "complete"
    assert job["result"]["datasetId"] in {d["id"] for d in call(api_server, "GET", "/api/datasets").json()}


def test_no_response_or_event_contains_the_provider_key(generated: dict[str, Any], api_server: Server) -> None:
    call(api_server, "GET", "/api/config")
    call(api_server, "GET", "/api/health")
    call(api_server, "GET", "/openapi.json")
    assert len(SEEN_BODIES) > 20
    assert not [b for b in SEEN_BODIES if SECRET_KEY in b]


def test_token_guards_every_route_and_the_socket(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"SYNTH_API_TOKEN": "t0ken-for-tests"})
    try:
        for path in ("/api/health", "/api/datasets", "/docs", "/openapi.json"):
            assert requests.get(server.url + path, timeout=10).status_code == 401
            wrong = requests.get(server.url + path, headers={"Authorization": "Bearer nope"}, timeout=10)
            assert wrong.status_code == 401
            assert requests.get(server.url + path, headers=server.headers(), timeout=10).status_code == 200
        with pytest.raises(socketio.exceptions.ConnectionError):
            EventLog(server)
        EventLog(server, auth={"token": "t0ken-for-tests"}).client.disconnect()
    finally:
        stop_server(server)


def test_serve_refuses_another_interface_without_token(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "synth_pipelines.cli", "serve", "--host", "0.0.0.0", "--port", "4999"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SYNTH_DATA_DIR": str(tmp_path)},
    )
    assert done.returncode == 2
    assert "SYNTH_API_TOKEN" in done.stderr and "Traceback" not in done.stderr


def test_generate_from_an_edited_spec(generated: dict[str, Any], api_server: Server) -> None:
    import yaml

    dataset_id = generated["job"]["result"]["datasetId"]
    spec = yaml.safe_load(call(api_server, "GET", f"/api/datasets/{dataset_id}").json()["spec"])
    spec["tables"]["authors"]["rows"] = 12
    body = {"ddl": DDL, "filename": "library.sql", "rows": 30, "spec": yaml.safe_dump(spec)}
    started = call(api_server, "POST", "/api/generate", json=body)
    job = wait_job(api_server, started.json()["jobId"])
    assert job["status"] == "complete", job
    assert job["result"]["meta"]["rows"]["authors"] == 12 and job["result"]["validation"]["ok"]
    # A spec that does not parse, or has the wrong shape, is refused at once; one naming a table the DDL
    # does not have fails its job with a line naming "the spec", never the server's temp folder.
    broken = call(api_server, "POST", "/api/generate", json=body | {"spec": "tables: [unclosed"})
    assert broken.status_code == 400 and "not valid YAML" in broken.json()["error"]
    shape = call(api_server, "POST", "/api/generate", json=body | {"spec": "tables: {authors: {rows: many}}"})
    assert shape.status_code == 400 and "tables.authors.rows" in shape.json()["error"]
    unknown = call(api_server, "POST", "/api/generate", json=body | {"spec": "tables: {nope: {rows: 3}}"})
    failed = wait_job(api_server, unknown.json()["jobId"])
    assert failed["status"] == "error" and "nope" in failed["error"] and "synth-studio-" not in failed["error"]


def test_promote_writes_ddl_and_spec_and_the_group_loads_in_dagster(
    generated: dict[str, Any], api_server: Server
) -> None:
    import json

    dataset_id = generated["job"]["result"]["datasetId"]
    promoted = call(api_server, "POST", f"/api/datasets/{dataset_id}/promote", json={"name": "studio library"})
    assert promoted.status_code == 201, promoted.text
    body = promoted.json()
    assert body["group"] == "studio_library"
    assert body["dagsterUrl"] == "http://127.0.0.1:3000/locations/synth_pipelines/asset-groups/studio_library"
    schemas = api_server.data_dir / "schemas"
    assert (schemas / "studio_library.sql").read_text(encoding="utf-8") == DDL
    assert (schemas / "studio_library.spec.yaml").read_text(encoding="utf-8") == call(
        api_server, "GET", f"/api/datasets/{dataset_id}"
    ).json()["spec"]
    # Never clobbered: the same name again, or the name of an existing group, is refused and writes nothing.
    again = call(api_server, "POST", f"/api/datasets/{dataset_id}/promote", json={"name": "studio library"})
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    taken = call(api_server, "POST", f"/api/datasets/{dataset_id}/promote", json={"name": "library"})
    assert taken.status_code == 409 and "'library' already exists" in taken.json()["error"]
    assert sorted(p.name for p in schemas.iterdir()) == ["studio_library.spec.yaml", "studio_library.sql"]
    assert call(api_server, "POST", "/api/datasets/ds-nope/promote", json={}).status_code == 404
    # The Dagster project (a fresh process, as `make dev` loads it) has the group, seed-partitioned, and its
    # planned rows are the promoted spec's (30 per table here), not the default config's.
    probe = (
        "import json; from synth_pipelines.definitions import defs\n"
        "from synth_pipelines.domains.registry import domain_by_name\n"
        "from synth_pipelines.domains.relational.pipeline import RelationalConfig\n"
        "specs = [s for s in defs.resolve_all_asset_specs() if s.group_name == 'studio_library']\n"
        "rows = domain_by_name('studio_library').describe(RelationalConfig(), 1)['rows_planned']\n"
        "print(json.dumps({'keys': sorted(s.key.to_user_string() for s in specs),\n"
        "  'partitions': sorted({type(s.partitions_def).__name__ for s in specs}), 'rows': rows}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SYNTH_DATA_DIR": str(api_server.data_dir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(key.startswith("studio_library/") for key in found["keys"])
    assert found["partitions"] == ["DynamicPartitionsDefinition"]
    assert found["rows"]["authors"] == 30 and found["rows"] == generated["job"]["result"]["meta"]["rows"]
