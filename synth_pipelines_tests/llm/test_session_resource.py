"""LLMSession closes what it built; the Dagster resource ``llm`` derives its config and closes its sessions."""
# No `from __future__ import annotations`: Dagster reads the assets' real parameter annotations.

import os
from pathlib import Path

import dagster as dg
import pytest

from synth_pipelines.llm import resource as resource_module
from synth_pipelines.llm.cache import ResponseCache
from synth_pipelines.llm.contract import LLMError
from synth_pipelines.llm.generate import LangChainGenerator, OfflineGenerator
from synth_pipelines.llm.resource import RESOURCE_KEY, LLMResource, settings_of
from synth_pipelines.llm.session import LLMSession
from synth_pipelines.llm.settings import LLMSettings
from synth_pipelines_tests.llm.test_provider_layer import KEY, Shelf, requests, settings_for
from synth_pipelines_tests.llm_stub import LLMStub


@pytest.fixture
def cache_closes(monkeypatch: pytest.MonkeyPatch) -> list[ResponseCache]:
    """Every ResponseCache.close() call, in order (the cache is what a generator holds open)."""
    closed: list[ResponseCache] = []
    original = ResponseCache.close

    def spy(self: ResponseCache) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(ResponseCache, "close", spy)
    return closed


def test_session_closes_every_generator_once(llm_stub: LLMStub, tmp_path: Path, cache_closes: list[ResponseCache]):
    with LLMSession(settings_for(llm_stub, "openai"), tmp_path) as session:
        first, second = session.generator(), session.generator()
        assert isinstance(first, LangChainGenerator) and isinstance(second, LangChainGenerator)
        assert [r.source for r in first.generate(requests(2), Shelf)] == ["llm", "llm"]
        assert [r.source for r in second.generate(requests(2), Shelf)] == ["cache", "cache"]  # same cache file
        assert cache_closes == []
        first.close()  # a domain that still closes its generator: harmless
        assert len(cache_closes) == 1
    assert session.closed
    assert len(cache_closes) == 2  # each cache closed once: first's was not closed again
    session.close()  # idempotent
    assert len(cache_closes) == 2
    with pytest.raises(LLMError, match="closed"):
        session.generator()


def test_session_passes_offline_function_and_settings(tmp_path: Path):
    settings = LLMSettings.resolve({}, environ={}, dotenv_path=None)
    session = LLMSession(settings, tmp_path)
    generator = session.generator(offline=lambda req, schema: schema(movies=[]))
    assert isinstance(generator, OfflineGenerator)
    assert generator.generate(requests(1), Shelf)[0].source == "offline"
    assert settings_of(session) is settings
    session.close()


def test_resource_fields_are_derived_from_settings():
    assert set(LLMResource.model_fields) == set(LLMSettings.model_fields) | {"dotenv_path"}
    for name, info in LLMSettings.model_fields.items():
        assert LLMResource.model_fields[name].default is None, name
        assert LLMResource.model_fields[name].description.startswith(info.description), name
    dg.Definitions.validate_loadable(dg.Definitions(resources={RESOURCE_KEY: LLMResource()}))


def test_asset_session_is_closed_by_the_resource_after_the_run(
    llm_stub: LLMStub, tmp_path: Path, cache_closes: list[ResponseCache], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("STUB_LLM_KEY", KEY)
    seen: dict[str, object] = {}

    @dg.asset
    def shelves(context: dg.AssetExecutionContext, llm: LLMResource) -> dg.MaterializeResult:
        session = llm.open_session(tmp_path, context.log)
        generator = session.generator()
        results = generator.generate(requests(3), Shelf)
        seen.update(session=session, settings=session.settings, during=session.closed)
        return dg.MaterializeResult(metadata={"ok": sum(r.value is not None for r in results)})

    run_config = {
        "resources": {
            "llm": {
                "config": {
                    "provider": "openai",
                    "model": "stub-model",
                    "base_url": llm_stub.openai_url,
                    "api_key": {"env": "STUB_LLM_KEY"},
                    "max_retries": 0,
                    "timeout_s": 2.0,
                    "dotenv_path": None,
                }
            }
        }
    }
    result = dg.materialize([shelves], resources={"llm": LLMResource()}, run_config=run_config)
    assert result.success
    assert result.asset_materializations_for_node("shelves")[0].metadata["ok"].value == 3
    settings = seen["settings"]
    assert isinstance(settings, LLMSettings)
    assert (settings.provider, settings.model, settings.max_retries) == ("openai", "stub-model", 0)
    assert settings.api_key.get_secret_value() == KEY and llm_stub.requests == 3
    assert seen["during"] is False
    assert seen["session"].closed and len(cache_closes) == 1  # closed once, by teardown_after_execution


def test_session_is_closed_when_the_asset_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    closed: list[LLMSession] = []
    original = LLMSession.close

    def spy(self: LLMSession) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(LLMSession, "close", spy)
    for name in [n for n in os.environ if n.startswith("SYNTH_LLM_")]:
        monkeypatch.delenv(name)

    @dg.asset
    def broken(llm: LLMResource) -> None:
        llm.open_session(tmp_path).generator()
        raise RuntimeError("domain failed")

    result = dg.materialize([broken], resources={"llm": LLMResource(dotenv_path=None)}, raise_on_error=False)
    assert not result.success
    assert len(closed) == 1 and closed[0].closed


def test_settings_of_accepts_every_form(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("SYNTH_LLM_MODEL", "from-env")
    resource = LLMResource(provider="google", api_key=dg.EnvVar("NOT_SET_ANYWHERE"), dotenv_path=None)
    from_resource = settings_of(resource)
    assert (from_resource.provider, from_resource.model, from_resource.api_key) == ("google", "from-env", None)
    settings = LLMSettings.resolve({}, environ={}, dotenv_path=None)
    assert settings_of(settings) is settings
    assert settings_of(LLMSession(settings, tmp_path)) is settings
    assert settings_of(None).model == "from-env"
    with pytest.raises(TypeError, match="LLMSession"):
        settings_of("openai")
    assert resource_module.POOL == "llm" and RESOURCE_KEY == "llm"
