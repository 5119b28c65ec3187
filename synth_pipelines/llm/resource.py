"""The Dagster resource ``llm``: LLM settings as run config, secrets through ``dg.EnvVar``.

Every field left unset (``None``) falls back to the environment (``SYNTH_LLM_*``, ``OPENAI_API_KEY``,
``GOOGLE_API_KEY``...) and then to ``.env``; so the default resource is the offline provider and
needs no key. Configure a real provider in ``definitions.py`` or the launchpad, e.g.::

    LLMResource(provider="openai", model="gpt-4o-mini", api_key=dg.EnvVar("OPENAI_API_KEY"))

Dagster shows an ``EnvVar`` by name, never its value. LLM-backed assets run in the Dagster
concurrency pool ``llm`` (``dagster instance concurrency set llm 2``), so parallel runs share
the provider's rate limit.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from synth_pipelines.llm.contract import OfflineFn, StructuredGenerator
from synth_pipelines.llm.generate import build_generator
from synth_pipelines.llm.settings import LLMSettings

RESOURCE_KEY = "llm"
POOL = "llm"


class LLMResource(dg.ConfigurableResource):
    """Provider, model and sampling for LLM-backed assets (unset fields: environment, then .env)."""

    provider: str | None = Field(None, description="offline | openai | google (default: offline)")
    model: str | None = None
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (vLLM, Ollama...) or Gemini endpoint")
    api_key: str | None = Field(None, description="use dg.EnvVar('OPENAI_API_KEY'); never a literal")
    azure_api_version: str | None = None
    vertexai: bool | None = None
    gcp_project: str | None = None
    gcp_location: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    max_concurrency: int | None = None
    batch_size: int | None = None
    token_budget: int | None = None
    failure_budget: int | None = None
    cache: bool | None = None
    dotenv_path: str | None = Field(".env", description="a .env file read last (missing file: ignored)")

    def settings(self) -> LLMSettings:
        explicit = self.model_dump(exclude={"dotenv_path"})
        return LLMSettings.resolve(explicit, dotenv_path=self.dotenv_path)

    def generator(self, data_dir: Path, offline: OfflineFn | None = None) -> StructuredGenerator:
        return build_generator(self.settings(), Path(data_dir), offline=offline)


def settings_of(resource: object | None) -> LLMSettings:
    """What a domain got in ``ctx.resources['llm']``: the Dagster resource, or settings from the CLI."""
    if resource is None:
        return LLMSettings.resolve()
    if isinstance(resource, LLMSettings):
        return resource
    if isinstance(resource, LLMResource):
        return resource.settings()
    raise TypeError(f"ctx.resources['llm'] must be LLMResource or LLMSettings, got {type(resource).__name__}")
