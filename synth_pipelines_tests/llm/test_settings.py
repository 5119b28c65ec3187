"""Settings precedence (explicit > environment > .env), clear key errors, secrets kept secret."""

from __future__ import annotations

import argparse
from pathlib import Path

import dagster as dg
import pytest

from synth_pipelines.llm.generate import build_generator
from synth_pipelines.llm.resource import LLMResource, settings_of
from synth_pipelines.llm.settings import LLMSettings, SettingsError, add_provider_args, settings_from_args


def test_precedence_is_explicit_then_environment_then_dotenv(tmp_path: Path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "SYNTH_LLM_PROVIDER=openai\nSYNTH_LLM_MODEL=from-dotenv\nSYNTH_LLM_TEMPERATURE=0.3\nOPENAI_API_KEY=sk-dotenv\n"
    )
    only_dotenv = LLMSettings.resolve({}, environ={}, dotenv_path=dotenv)
    assert (only_dotenv.provider, only_dotenv.model, only_dotenv.temperature) == (
        "openai",
        "from-dotenv",
        0.3,
    )
    assert only_dotenv.api_key.get_secret_value() == "sk-dotenv"
    env = {"SYNTH_LLM_MODEL": "from-env", "OPENAI_API_KEY": "sk-env"}
    with_env = LLMSettings.resolve({}, environ=env, dotenv_path=dotenv)
    assert (with_env.model, with_env.temperature, with_env.api_key.get_secret_value()) == (
        "from-env",
        0.3,
        "sk-env",
    )
    explicit = LLMSettings.resolve({"model": "explicit", "temperature": None}, environ=env, dotenv_path=dotenv)
    assert explicit.model == "explicit" and explicit.temperature == 0.3  # None means "not given"


def test_defaults_are_offline_and_need_no_key():
    settings = LLMSettings.resolve({}, environ={}, dotenv_path=None)
    assert settings.provider == "offline" and settings.api_key is None


@pytest.mark.parametrize(("provider", "variable"), [("openai", "OPENAI_API_KEY"), ("google", "GOOGLE_API_KEY")])
def test_missing_key_fails_at_start_naming_the_variable(tmp_path: Path, provider: str, variable: str):
    settings = LLMSettings.resolve({"provider": provider}, environ={}, dotenv_path=None)
    with pytest.raises(SettingsError, match=variable):
        build_generator(settings, tmp_path)


def test_invalid_values_name_the_variable():
    with pytest.raises(SettingsError, match="SYNTH_LLM_TEMPERATURE"):
        LLMSettings.resolve({}, environ={"SYNTH_LLM_TEMPERATURE": "hot"}, dotenv_path=None)
    with pytest.raises(SettingsError, match="provider"):
        LLMSettings.resolve({"provider": "anthropic"}, environ={}, dotenv_path=None)


def test_the_key_is_hidden_in_repr_and_public_dict():
    settings = LLMSettings(provider="openai", api_key="sk-very-secret-value")
    assert "sk-very-secret-value" not in repr(settings) + str(settings) + str(settings.public_dict())
    assert settings.public_dict()["api_key_set"] is True


def test_cli_flags_override_environment():
    parser = argparse.ArgumentParser()
    add_provider_args(parser)
    args = parser.parse_args(["--provider", "google", "--top-k", "5", "--batch-size", "3", "--max-retries", "1"])
    env = {"SYNTH_LLM_MODEL": "gemini-x", "SYNTH_LLM_TOP_K": "9", "GOOGLE_API_KEY": "g-key"}
    settings = settings_from_args(args, environ=env, dotenv_path=None)
    assert (settings.provider, settings.model, settings.top_k, settings.batch_size, settings.max_retries) == (
        "google",
        "gemini-x",
        5,
        3,
        1,
    )
    assert settings.api_key.get_secret_value() == "g-key"


def test_resource_reads_secrets_through_envvar(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MY_OPENAI_KEY", "sk-from-envvar")
    resource = LLMResource(provider="openai", api_key=dg.EnvVar("MY_OPENAI_KEY"), dotenv_path=None)

    @dg.asset(required_resource_keys={"llm"})
    def probe(context):
        settings = settings_of(context.resources.llm)
        assert settings.api_key.get_secret_value() == "sk-from-envvar"
        return dg.MaterializeResult(metadata={"settings": dg.MetadataValue.json(settings.public_dict())})

    result = dg.materialize([probe], resources={"llm": resource})
    assert result.success
    meta = result.asset_materializations_for_node("probe")[0].metadata
    assert "sk-from-envvar" not in str(meta)


def test_provider_variables_follow_the_chosen_provider_and_layer(tmp_path: Path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("SYNTH_LLM_API_KEY=sk-dotenv\nOPENAI_BASE_URL=http://dotenv/v1\nUNRELATED=1\nSYNTH_LLM_TYPO=2\n")
    # The provider comes from .env, the key from the environment: OPENAI_API_KEY (env) beats SYNTH_LLM_API_KEY (.env).
    env = {"SYNTH_LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-env", "GOOGLE_API_KEY": "g-env"}
    settings = LLMSettings.resolve({}, environ=env, dotenv_path=dotenv)
    assert (settings.api_key.get_secret_value(), settings.base_url) == ("sk-env", "http://dotenv/v1")
    # Another provider's variables are never used: Google does not get the OpenAI key or URL.
    google = LLMSettings.resolve({"provider": "google"}, environ={"OPENAI_API_KEY": "sk-env"}, dotenv_path=None)
    assert google.api_key is None and google.base_url is None
    # SYNTH_LLM_BASE_URL anywhere beats the provider's URL variable; empty values count as unset.
    env = {"SYNTH_LLM_PROVIDER": "openai", "SYNTH_LLM_BASE_URL": "", "OPENAI_BASE_URL": "http://env/v1"}
    assert LLMSettings.resolve({}, environ=env, dotenv_path=dotenv).base_url == "http://env/v1"
    dotenv.write_text("SYNTH_LLM_BASE_URL=http://synth-dotenv/v1\n")
    assert LLMSettings.resolve({}, environ=env, dotenv_path=dotenv).base_url == "http://synth-dotenv/v1"


def test_direct_construction_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("SYNTH_LLM_PROVIDER", "google")
    monkeypatch.setenv("GEMINI_API_KEY", "g-key")
    monkeypatch.setenv("synth_llm_max_tokens", "99")  # names are case-insensitive
    settings = LLMSettings(temperature=0.5)
    assert (settings.provider, settings.model, settings.max_tokens, settings.temperature) == (
        "google",
        "gemini-2.5-flash",
        99,
        0.5,
    )
    assert settings.api_key.get_secret_value() == "g-key"
    assert LLMSettings.resolve({}, environ={}, dotenv_path=None).provider == "offline"  # environ= replaces os.environ


def test_cli_errors_name_the_flag_and_the_variable():
    parser = argparse.ArgumentParser()
    add_provider_args(parser)
    with pytest.raises(SettingsError, match=r"temperature \(--temperature or SYNTH_LLM_TEMPERATURE\)"):
        settings_from_args(parser.parse_args(["--temperature", "5"]), environ={}, dotenv_path=None)
    with pytest.raises(SettingsError, match=r"max_concurrency \(--concurrency or SYNTH_LLM_MAX_CONCURRENCY\)"):
        settings_from_args(parser.parse_args([]), environ={"SYNTH_LLM_MAX_CONCURRENCY": "0"}, dotenv_path=None)
