"""Habits of the Azure scenario generator's users: its variables, flags, keyless credential, one-line errors.

Every run goes through the real ``AzureChatOpenAI`` client against the loopback stub.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from pydantic import BaseModel

import synth_pipelines.cli as cli
from synth_pipelines.llm.contract import LLMRequest
from synth_pipelines.llm.resource import settings_of
from synth_pipelines.llm.session import LLMSession
from synth_pipelines.llm.settings import (
    DEFAULT_AZURE_API_VERSION,
    LLMSettings,
    SettingsError,
    add_provider_args,
    settings_from_args,
)
from synth_pipelines.orchestration.resources import default_resources
from synth_pipelines_tests.llm_stub import LLMStub

AZURE_KEY = "azure-key-0123456789abcdef0123456789"
TOKEN = "entra-token-abcdef0123456789"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_provider_args(parser)
    return parser.parse_args(list(argv))


def test_azure_variables_are_read_flags_beat_environment_beat_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "AZURE_OPENAI_ENDPOINT=https://dotenv.openai.azure.com\nAZURE_OPENAI_DEPLOYMENT=dep-dotenv\n"
        "AZURE_OPENAI_API_KEY=key-dotenv\nOPENAI_API_VERSION=2024-06-01\n"
    )
    from_dotenv = settings_from_args(parse("--provider", "azure"), environ={}, dotenv_path=dotenv)
    assert (from_dotenv.base_url, from_dotenv.model, from_dotenv.azure_api_version) == (
        "https://dotenv.openai.azure.com",
        "dep-dotenv",
        "2024-06-01",
    )
    assert from_dotenv.api_key is not None and from_dotenv.api_key.get_secret_value() == "key-dotenv"
    environ = {"AZURE_OPENAI_ENDPOINT": "https://env.openai.azure.com", "AZURE_OPENAI_API_KEY": "key-env"}
    from_env = settings_from_args(parse("--provider", "azure"), environ=environ, dotenv_path=dotenv)
    assert (from_env.base_url, from_env.model) == ("https://env.openai.azure.com", "dep-dotenv")
    assert from_env.api_key is not None and from_env.api_key.get_secret_value() == "key-env"
    # The seed's flags (both spellings) beat both; an endpoint flag alone chooses Azure.
    flagged = settings_from_args(
        parse("--openai-endpoint", "https://flag.openai.azure.com", "--azure-openai-deployment", "dep-flag"),
        environ=environ,
        dotenv_path=dotenv,
    )
    assert (flagged.provider, flagged.base_url, flagged.model) == ("azure", "https://flag.openai.azure.com", "dep-flag")
    # Without OPENAI_API_VERSION, the documented default.
    bare = settings_from_args(parse("--azure-openai-endpoint", "https://x", "--openai-deployment", "d"), environ={})
    assert bare.azure_api_version == DEFAULT_AZURE_API_VERSION


def test_azure_chosen_without_endpoint_or_deployment_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    code = cli.main(["scenario", "--scenario", "tech-support", "--count", "2", "--provider", "azure"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "AZURE_OPENAI_ENDPOINT" in err[0] and "AZURE_OPENAI_DEPLOYMENT" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "data" / "scenarios").exists()  # nothing written


def test_azure_settings_present_and_no_provider_chosen_use_azure_and_say_so(
    llm_stub: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNTH_LLM_BACKOFF_S", "0")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", llm_stub.url)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "scenario-gpt")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-08-01-preview")
    out = tmp_path / "out"
    assert cli.main(["scenario", "--scenario", "tech-support", "--count", "3", "--out-dir", str(out)]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "using provider" in line]
    assert notes == [
        "synth: using provider azure because AZURE_OPENAI_ENDPOINT is set (--provider offline to stay offline)"
    ]
    assert llm_stub.requests >= 3
    assert all(e.path.startswith("/openai/deployments/scenario-gpt/chat/completions") for e in llm_stub.log)
    assert all("api-version=2024-08-01-preview" in e.path for e in llm_stub.log)
    assert {e.credential for e in llm_stub.log} == {AZURE_KEY}
    assert AZURE_KEY not in err and any(out.iterdir())
    # The Dagster default resource stays offline with the same environment.
    assert settings_of(default_resources(str(tmp_path / "data"))["llm"]).provider == "offline"


class Answer(BaseModel):
    text: str


class EntraCredential:
    """An azure-identity ``TokenCredential`` (the protocol ``DefaultAzureCredential`` implements)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        if self.fail:
            raise RuntimeError("DefaultAzureCredential failed to retrieve a token from the included credentials.")
        return AccessToken(TOKEN, int(time.time()) + 3600)


def azure_settings(stub: LLMStub, **extra: Any) -> LLMSettings:
    values = {"provider": "azure", "base_url": stub.url, "model": "dep", "backoff_s": 0.0, "timeout_s": 5.0}
    return LLMSettings.resolve(values | extra, environ={}, dotenv_path=None)


def ask(session: LLMSession, n: int = 2) -> list[Any]:
    generator = session.generator()
    requests = [LLMRequest(messages=(("user", f"say {i}"),), seed=i) for i in range(n)]
    return generator.generate(requests, Answer)


def test_keyless_azure_sends_the_credentials_bearer_token(llm_stub: LLMStub, tmp_path: Path) -> None:
    credential = EntraCredential()
    with LLMSession(azure_settings(llm_stub, cache=False), tmp_path, azure_credential=credential) as session:
        results = ask(session)
    assert all(r.value is not None for r in results)
    assert [e.authorization for e in llm_stub.log] == [f"Bearer {TOKEN}"] * 2
    assert credential.scopes and credential.scopes[0] == ("https://cognitiveservices.azure.com/.default",)


def test_keyless_azure_without_any_credential_fails_at_start_in_one_line(llm_stub: LLMStub, tmp_path: Path) -> None:
    with (
        LLMSession(azure_settings(llm_stub), tmp_path, azure_credential=EntraCredential(fail=True)) as session,
        pytest.raises(SettingsError, match=r"^provider 'azure' has no credential: set AZURE_OPENAI_API_KEY") as info,
    ):
        session.generator()
    assert "\n" not in str(info.value) and llm_stub.requests == 0


def test_a_legacy_deployment_name_warns_neither_once_nor_twice(llm_stub: LLMStub, tmp_path: Path) -> None:
    settings = azure_settings(llm_stub, model="gpt-35-turbo", api_key=AZURE_KEY, cache=False)
    with warnings.catch_warnings(record=True) as caught, LLMSession(settings, tmp_path) as session:
        warnings.simplefilter("always")
        results = ask(session, 3)
    assert all(r.value is not None for r in results)
    assert [str(w.message) for w in caught if "json_schema" in str(w.message)] == []
    # The method LangChain would have fallen back to, chosen up front: a tool call, not response_format.
    assert all("tools" in e.body and "response_format" not in e.body for e in llm_stub.log)


def test_a_dotenv_at_the_repo_root_is_read_below_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root_env, cwd = tmp_path / "repo" / ".env", tmp_path / "elsewhere"
    root_env.parent.mkdir()
    cwd.mkdir()
    root_env.write_text("AZURE_OPENAI_ENDPOINT=https://root.openai.azure.com\nAZURE_OPENAI_DEPLOYMENT=dep-root\n")
    monkeypatch.setattr("synth_pipelines.llm.settings.REPO_DOTENV", root_env)
    monkeypatch.chdir(cwd)
    notes: list[str] = []
    settings = settings_from_args(parse(), environ={}, auto_provider=True, notify=notes.append)
    assert (settings.provider, settings.base_url, settings.model) == (
        "azure",
        "https://root.openai.azure.com",
        "dep-root",
    )
    (cwd / ".env").write_text("AZURE_OPENAI_DEPLOYMENT=dep-cwd\n")
    assert settings_from_args(parse("--provider", "azure"), environ={}).model == "dep-cwd"
    assert len(notes) == 1


def test_the_scenario_generators_command_line_reaches_its_deployment(
    llm_stub: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNTH_LLM_BACKOFF_S", "0")
    for other in ("SYNTH_LLM_PROVIDER", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "OPENAI_API_KEY"):
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    argv = ["scenario", "--scenario", "financial", "--count", "2", "--output-format", "csv", "--openai-endpoint",
            llm_stub.url, "--openai-deployment", "fin-gpt", "--out-dir", str(tmp_path / "out")]  # fmt: skip
    assert cli.main(argv) == 0
    assert llm_stub.requests >= 2
    assert all(e.path.startswith("/openai/deployments/fin-gpt/chat/completions") for e in llm_stub.log)
    assert {e.credential for e in llm_stub.log} == {AZURE_KEY}
    assert AZURE_KEY not in capsys.readouterr().err and list((tmp_path / "out").rglob("*.csv"))
