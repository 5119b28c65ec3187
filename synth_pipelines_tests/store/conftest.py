"""Store fixtures: a dataset saved once per session, copied into each test's own data dir."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synth_pipelines.store.catalog import DatasetStore

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "data" / "schemas" / "library.sql"
KEY = "sk-store-test-KEY-5f6e7d8c9b0a"
LLM_VARIABLES = (
    "SYNTH_LLM_PROVIDER", "SYNTH_LLM_API_KEY", "SYNTH_LLM_MODEL", "SYNTH_LLM_BASE_URL", "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "GOOGLE_API_KEY", "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL", "DAGSTER_HOME",
)  # fmt: skip


def synth(*argv: str, data_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``synth`` in a child process (as a user runs it), on ``data_dir``."""
    import os

    child_env = {k: v for k, v in os.environ.items() if k not in LLM_VARIABLES}
    child_env |= {"SYNTH_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "synth_pipelines.cli", *argv], capture_output=True, text=True, env=child_env, cwd=ROOT
    )


@pytest.fixture(scope="session")
def saved_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data = tmp_path_factory.mktemp("store-template") / "data"
    done = synth("relational", "--ddl", str(LIBRARY), "--rows", "20", "--seed", "42", "--save", "--name", "library",
                 data_dir=data)  # fmt: skip
    assert done.returncode == 0, done.stderr
    dataset_id = done.stdout.split()[2]
    return data, dataset_id


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, saved_template: tuple[Path, str]) -> Path:
    """This test's data dir (SYNTH_DATA_DIR) holding the saved library dataset at version 1; no LLM env."""
    path = tmp_path / "data"
    shutil.copytree(saved_template[0], path)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(path))
    monkeypatch.chdir(tmp_path)
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNTH_LLM_BACKOFF_S", "0")
    return path


@pytest.fixture
def store(data_dir: Path) -> DatasetStore:
    return DatasetStore(data_dir)


@pytest.fixture
def dataset_id(saved_template: tuple[Path, str]) -> str:
    return saved_template[1]
