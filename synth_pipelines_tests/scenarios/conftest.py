"""Scenario test fixtures: an isolated project data dir and LLM environment for each test."""

from __future__ import annotations

from pathlib import Path

import pytest

KEY = "sk-scenario-test-KEY-0a1b2c3d4e5f6789"
LLM_VARIABLES = (
    "SYNTH_LLM_PROVIDER",
    "SYNTH_LLM_API_KEY",
    "SYNTH_LLM_MODEL",
    "SYNTH_LLM_BASE_URL",
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project data dir of this test (CLI: SYNTH_DATA_DIR); no key or .env leaks in from outside.

    Retries back off for 0 s (``SYNTH_LLM_BACKOFF_S``) so fault-injection tests stay fast.
    """
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("SYNTH_DATA_DIR", str(path))
    monkeypatch.chdir(tmp_path)  # the provider layer reads ./.env last; there is none here
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNTH_LLM_BACKOFF_S", "0")
    return path
