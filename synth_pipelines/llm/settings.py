"""LLM settings: one pydantic model, filled from explicit config > environment > ``.env``.

The same ``LLMSettings`` comes out of the Dagster resource (``resource.py``) and the CLI flags
(``add_provider_args`` / ``settings_from_args``), so both paths build the same generator and hit
the same cache. The API key is a ``SecretStr``: its repr is ``'**********'`` and it is only unwrapped
where a provider client is constructed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

Provider = Literal["offline", "openai", "google"]
StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]

# Our own variables, one per setting (SYNTH_LLM_<FIELD>); read from the environment, then `.env`.
ENV_PREFIX = "SYNTH_LLM_"
# Where each provider's key is conventionally kept; SYNTH_LLM_API_KEY overrides them.
KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"),
    "google": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
}
BASE_URL_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_API_BASE"),
    "google": ("GOOGLE_GEMINI_BASE_URL",),
}
DEFAULT_MODELS: dict[str, str] = {"offline": "offline", "openai": "gpt-4o-mini", "google": "gemini-2.5-flash"}


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable or flag to fix."""


class LLMSettings(BaseModel):
    """Everything the provider layer needs; nothing here is domain-specific."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Provider = "offline"
    model: str = ""  # empty: the provider's default (DEFAULT_MODELS)
    base_url: str | None = None  # any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp) or a Gemini endpoint
    api_key: SecretStr | None = None
    # Azure OpenAI: set the API version; base_url is then the Azure endpoint and model the deployment.
    azure_api_version: str | None = None
    # Vertex AI instead of the Gemini Developer API (credentials from ADC).
    vertexai: bool = False
    gcp_project: str | None = None
    gcp_location: str | None = None

    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1)
    max_tokens: int = Field(2048, ge=1)
    structured_method: StructuredMethod = "json_schema"

    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0, le=20)  # per request, on top of the first attempt
    backoff_s: float = Field(0.5, ge=0)  # first retry waits backoff_s, then doubles (capped at max_backoff_s)
    max_backoff_s: float = Field(20.0, ge=0)
    max_concurrency: int = Field(8, ge=1, le=256)  # requests in flight per run
    batch_size: int = Field(8, ge=1)  # requests per batch; domains checkpoint after each batch
    token_budget: int | None = Field(None, ge=1)  # input+output tokens per run; None = no limit
    failure_budget: int = Field(20, ge=0)  # failed requests (after retries) a run tolerates before it stops
    cache: bool = True

    @model_validator(mode="after")
    def _provider_default_model(self) -> LLMSettings:
        if not self.model:
            object.__setattr__(self, "model", DEFAULT_MODELS[self.provider])
        return self

    @property
    def is_offline(self) -> bool:
        return self.provider == "offline"

    def require_key(self) -> SecretStr:
        """The API key, or one clear error naming the variable to set (Vertex AI uses ADC instead)."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key
        names = " or ".join((*KEY_VARIABLES.get(self.provider, ()), f"{ENV_PREFIX}API_KEY"))
        raise SettingsError(
            f"provider {self.provider!r} needs an API key: set {names} (environment or .env), "
            "or pass api_key in the llm resource config"
        )

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to show in logs and metadata: the key is reduced to whether it is set."""
        data = self.model_dump(exclude={"api_key"})
        data["api_key_set"] = self.api_key is not None
        return data

    @classmethod
    def resolve(
        cls,
        explicit: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        dotenv_path: str | os.PathLike[str] | None = ".env",
    ) -> LLMSettings:
        """Merge sources with the precedence explicit config > environment > ``.env`` file.

        ``explicit`` values of ``None`` count as unset. Environment names are ``SYNTH_LLM_<FIELD>``
        (e.g. ``SYNTH_LLM_PROVIDER``); the key and base URL also fall back to the provider's own
        variables (``OPENAI_API_KEY``, ``GOOGLE_API_KEY``, ``OPENAI_BASE_URL``...).
        """
        environ = os.environ if environ is None else environ
        dotenv: Mapping[str, str | None] = {}
        if dotenv_path is not None and Path(dotenv_path).is_file():
            dotenv = dotenv_values(dotenv_path)
        explicit = {k: v for k, v in (explicit or {}).items() if v is not None}

        def lookup(field: str | None, *env_names: str) -> Any:
            if field is not None and field in explicit:
                return explicit[field]
            for layer in (environ, dotenv):
                for name in env_names:
                    value = layer.get(name)
                    if value not in (None, ""):
                        return value
            return None

        values: dict[str, Any] = {}
        for name in cls.model_fields:
            if name == "api_key":
                continue
            value = lookup(name, ENV_PREFIX + name.upper())
            if value is not None:
                values[name] = value
        provider = str(values.get("provider", "offline"))
        key = lookup("api_key", ENV_PREFIX + "API_KEY", *KEY_VARIABLES.get(provider, ()))
        if key is not None:
            values["api_key"] = key.get_secret_value() if isinstance(key, SecretStr) else key
        if "base_url" not in values:
            url = lookup(None, *BASE_URL_VARIABLES.get(provider, ()))
            if url is not None:
                values["base_url"] = url
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'settings'} "
                f"({ENV_PREFIX}{str(err['loc'][0]).upper() if err['loc'] else ''}): {err['msg']}"
                for err in exc.errors(include_input=False)
            )
            raise SettingsError(f"invalid LLM settings: {problems}") from None


def add_provider_args(parser: argparse.ArgumentParser) -> None:
    """The LLM flags every LLM-backed subcommand shares (unset flags fall back to env / .env)."""
    group = parser.add_argument_group("LLM provider (flags > environment SYNTH_LLM_* > .env)")
    group.add_argument(
        "--provider",
        choices=["offline", "openai", "google"],
        default=None,
        help="offline makes data with no network (default: SYNTH_LLM_PROVIDER or offline)",
    )
    group.add_argument("--model", default=None, help="model name (Azure: deployment name)")
    group.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, Azure) or Gemini endpoint",
    )
    group.add_argument("--temperature", type=float, default=None, help="sampling temperature (default 0)")
    group.add_argument("--top-p", type=float, default=None, help="nucleus sampling")
    group.add_argument("--top-k", type=int, default=None, help="top-k sampling (Gemini; ignored by OpenAI)")
    group.add_argument("--max-tokens", type=int, default=None, help="max output tokens per request (default 2048)")
    group.add_argument("--max-retries", type=int, default=None, help="retries per request (default 3)")
    group.add_argument("--timeout", dest="timeout_s", type=float, default=None, help="request timeout, seconds")
    group.add_argument(
        "--concurrency", dest="max_concurrency", type=int, default=None, help="requests in flight (default 8)"
    )
    group.add_argument("--batch-size", type=int, default=None, help="requests per checkpointed batch (default 8)")
    group.add_argument("--token-budget", type=int, default=None, help="stop cleanly after this many tokens")
    group.add_argument(
        "--failure-budget",
        type=int,
        default=None,
        help="failed requests tolerated before the run stops (default 20)",
    )
    group.add_argument(
        "--no-cache",
        dest="cache",
        action="store_const",
        const=False,
        default=None,
        help="do not read or write the response cache",
    )


_ARG_FIELDS = (
    "provider", "model", "base_url", "temperature", "top_p", "top_k", "max_tokens", "max_retries",
    "timeout_s", "max_concurrency", "batch_size", "token_budget", "failure_budget", "cache",
)  # fmt: skip


def settings_from_args(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
) -> LLMSettings:
    """Flags given on the command line win; the rest come from the environment, then ``.env``."""
    explicit = {name: getattr(args, name, None) for name in _ARG_FIELDS}
    return LLMSettings.resolve(explicit, environ=environ, dotenv_path=dotenv_path)
