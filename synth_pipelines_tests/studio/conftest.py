"""A real ``synth serve`` subprocess on a free loopback port, with its own data dir and small limits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
# A provider key in the server's environment: no response or event may ever contain it.
SECRET_KEY = "sk-studio-test-secret-5d1e0a9c"
# What the loopback model answers in the studio's tests (``studio_model``).
EDIT_SQL = "UPDATE members SET tier = 'premium' WHERE member_id % 10 < 3"
BY_TIER = "SELECT tier, count(*) AS members FROM members GROUP BY tier ORDER BY tier"
BIOS = ["Writes quiet novels about harbours.", "Poet of the northern coast."]


def studio_model(schema: dict[str, Any], prompt: str, counter: int) -> dict[str, Any]:
    """What the model answers, by the structured output asked for: an edit plan, a SQL answer, or an AI patch."""
    fields = set(schema.get("properties", {}))
    if "statements" in fields:  # EditPlan (feedback)
        return {"kind": "row_edits", "explanation": "about 30% of members become premium", "statements": [EDIT_SQL]}
    if "sql" in fields:  # SqlAnswer (a question in words)
        if "drop the members" in prompt:
            return {"sql": "DROP TABLE members", "explanation": "drops the table"}
        return {"sql": BY_TIER, "explanation": "members per tier"}
    if "Table: authors" in prompt:  # AITablePatch: a vocabulary for one text column
        return {"columns": [{"column": "bio", "generator": "vocabulary", "values": BIOS}], "rules": []}
    return {"columns": [], "rules": []}


def free_port() -> int:
    """uvicorn's CLI cannot bind port 0 and report it: take a free port from the kernel first."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    token: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    env = (
        os.environ
        | {
            "PYTHONPATH": str(ROOT),
            "SYNTH_DATA_DIR": str(data_dir),
            "SYNTH_STUDIO_MAX_UPLOAD_BYTES": "20000",
            "SYNTH_STUDIO_MAX_ROWS_PER_TABLE": "400",
            "SYNTH_STUDIO_DEFAULT_NUM_RECORDS": "20",
            "SYNTH_LLM_API_KEY": SECRET_KEY,
            "OPENAI_API_KEY": SECRET_KEY,
        }
        | (extra_env or {})
    )
    if "SYNTH_API_TOKEN" not in (extra_env or {}):  # a token in the test runner's env would lock us out
        env.pop("SYNTH_API_TOKEN", None)
    log = open(data_dir / "serve.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "synth_pipelines.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    server = Server(f"http://127.0.0.1:{port}", data_dir, process, (extra_env or {}).get("SYNTH_API_TOKEN"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"synth serve exited: {(data_dir / 'serve.log').read_text()}")
        try:
            requests.get(f"{server.url}/api/health", headers=server.headers(), timeout=2)
            return server
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("synth serve did not answer within 60 s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="package")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("studio-api"))
    yield server
    stop_server(server)
