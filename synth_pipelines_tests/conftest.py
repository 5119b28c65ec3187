"""Shared fixtures. The LLM stub is real HTTP on 127.0.0.1 (port 0), started once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import synth_pipelines
from synth_pipelines_tests.llm_stub import LLMStub
from synth_pipelines_tests.s3_server import BUCKET, MotoServer

# A provider's own settings in the developer's environment would make `synth scenario`/`synth nlp` use that
# provider (tests/test_habits.py proves it): no test may depend on what the machine running it has set.
PROVIDER_VARIABLES = (
    "SYNTH_LLM_PROVIDER", "OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_DEPLOYMENT", "OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION", "GOOGLE_API_KEY", "GEMINI_API_KEY",
)  # fmt: skip


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to run when a `synth` subprocess would import another checkout than the tests do.

    The CLI tests start `synth`/`python -m` in subprocesses, which import `synth_pipelines` through the venv's
    editable install; a `pip install -e` from another worktree re-points it, and those tests then pass or fail
    on code that is not under test. mutmut runs the tests on its mutated copy, which subprocesses never see.
    """
    here = Path(synth_pipelines.__file__).resolve()
    if "MUTANT_UNDER_TEST" in os.environ or "mutants" in here.parts:
        return
    probe = subprocess.run(
        [sys.executable, "-c", "import synth_pipelines; print(synth_pipelines.__file__)"],
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )
    there = Path(probe.stdout.strip()).resolve() if probe.returncode == 0 else None
    if there != here:
        pytest.exit(
            f"synth_pipelines imports from {here} in the tests but from {there} in subprocesses: "
            f"`pip install --no-deps -e .` in {here.parent.parent} (or set PYTHONPATH) first",
            returncode=4,
        )


@pytest.fixture(autouse=True)
def _no_provider_settings_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("synth_pipelines.llm.settings.REPO_DOTENV", None)  # nor the checkout's .env
    for name in PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def _llm_stub_server() -> Iterator[LLMStub]:
    stub = LLMStub()
    yield stub
    stub.close()


@pytest.fixture
def llm_stub(_llm_stub_server: LLMStub) -> Iterator[LLMStub]:
    """The loopback OpenAI/Gemini stub, with faults, counters and responder reset for each test."""
    _llm_stub_server.reset()
    yield _llm_stub_server
    _llm_stub_server.reset()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A real S3 endpoint (moto_server on a free loopback port), started once for the tests that use it."""
    server = MotoServer()
    yield server
    server.close()


@pytest.fixture
def s3(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An empty bucket on the server (an ``s3fs.S3FileSystem``); the standard AWS variables point at it."""
    import s3fs  # here: tests that never touch S3 do not import it

    moto_server.reset()
    for name, value in moto_server.environment.items():
        monkeypatch.setenv(name, value)
    fs = s3fs.S3FileSystem()
    fs.invalidate_cache()
    fs.mkdir(BUCKET)
    yield fs
    fs.invalidate_cache()


@pytest.fixture
def write_ddl(tmp_path: Path) -> Callable[..., Path]:
    """Write DDL text to a file in the test's folder and return its path."""

    def write(text: str, name: str = "schema.sql") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
