"""LLM settings on ``pydantic-settings``: explicit config > environment > ``.env``.

``LLMSettings`` is a ``BaseSettings``: ``LLMSettings(**explicit)`` reads its sources in this order, the
library's own merge doing the precedence:

1. init kwargs (Dagster resource config, CLI flags);
2. the environment, ``SYNTH_LLM_<FIELD>`` (case-insensitive, empty values ignored), then the provider's own
   key variable (``OPENAI_API_KEY``, ``AZURE_OPENAI_API_KEY``, ``GOOGLE_API_KEY``, ``GEMINI_API_KEY``);
3. the ``.env`` file, the same names in the same order;
4. the provider's base-URL variable (``OPENAI_BASE_URL``, ``OPENAI_API_BASE``, ``GOOGLE_GEMINI_BASE_URL``),
   from the environment, then ``.env``: only when no source set ``base_url``.

``LLMSettings.resolve()`` wraps that: ``None`` values count as unset, ``environ=`` replaces ``os.environ``
(tests), and a validation error becomes one ``SettingsError`` naming the variable or flag to fix.

The same ``LLMSettings`` comes out of the Dagster resource (``resource.py``) and the CLI flags
(``add_provider_args`` / ``settings_from_args``), so both paths build the same generator and hit
the same cache. The API key is a ``SecretStr``: its repr is ``'**********'`` and it is only unwrapped
where a provider client is constructed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

Provider = Literal["offline", "openai", "azure", "google"]
StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]

# Our own variables, one per setting (SYNTH_LLM_<FIELD>); read from the environment, then `.env`.
ENV_PREFIX = "SYNTH_LLM_"
# Where each provider's key is conventionally kept; SYNTH_LLM_API_KEY overrides them.
KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"),
    "azure": ("AZURE_OPENAI_API_KEY",),
    "google": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
}
BASE_URL_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_API_BASE"),
    "azure": ("AZURE_OPENAI_ENDPOINT",),
    "google": ("GOOGLE_GEMINI_BASE_URL",),
}
# The Azure scenario generator's own variables: the deployment is the model, the API version its own.
MODEL_VARIABLES: dict[str, tuple[str, ...]] = {"azure": ("AZURE_OPENAI_DEPLOYMENT",)}
API_VERSION_VARIABLES: dict[str, tuple[str, ...]] = {"azure": ("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION")}
# The first GA Azure OpenAI API version with structured outputs (json_schema).
DEFAULT_AZURE_API_VERSION = "2024-10-21"
DEFAULT_MODELS: dict[str, str] = {
    "offline": "offline", "openai": "gpt-4o-mini", "azure": "", "google": "gemini-2.5-flash"
}  # fmt: skip
# When no provider is chosen anywhere, a CLI run (``settings_from_args(auto_provider=True)``) takes the
# first provider whose own settings are present, in this order, and says so.
PROVIDER_SIGNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("azure", ("AZURE_OPENAI_ENDPOINT",)),
    ("openai", ("OPENAI_API_KEY",)),
    ("google", ("GOOGLE_API_KEY", "GEMINI_API_KEY")),
)

# Set by ``LLMSettings.resolve(environ=...)`` for the duration of one build: the mapping read instead of
# ``os.environ``. A ContextVar, so concurrent builds in other threads keep reading the real environment.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("synth_llm_environ", default=None)


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable or flag to fix."""


# The checkout's own `.env` (beside pyproject.toml), read after the working directory's: a user who keeps
# theirs at the repo root, as the seed generators document, is found from any folder. None: not a checkout.
_ROOT = Path(__file__).resolve().parents[2]
REPO_DOTENV: Path | None = _ROOT / ".env" if (_ROOT / "pyproject.toml").is_file() else None


def dotenv_files(dotenv_path: str | os.PathLike[str] | None) -> tuple[Path, ...] | None:
    """The ``.env`` files read, lowest precedence first: the default ``.env`` adds the repo root's below it."""
    if dotenv_path is None:
        return None
    own = Path(dotenv_path)
    if str(dotenv_path) != ".env" or REPO_DOTENV is None or own.resolve() == REPO_DOTENV:
        return (own,)
    return (REPO_DOTENV, own)


def env_name(field: str) -> str:
    """The environment variable of a setting, e.g. ``SYNTH_LLM_TEMPERATURE``."""
    return ENV_PREFIX + field.upper()


class LLMSettings(BaseSettings):
    """Everything the provider layer needs; nothing here is domain-specific."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_ignore_empty=True,
        # Only our fields come from `.env`: other variables in it (OPENAI_API_KEY...) are not extras.
        dotenv_filtering="only_existing",
    )

    provider: Provider = Field("offline", description="who answers; offline makes data with no network")
    model: str = Field("", description="model name (Azure: the deployment); empty: the provider's default")
    base_url: str | None = Field(
        None, description="any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, Azure) or a Gemini endpoint"
    )
    api_key: SecretStr | None = Field(None, description="provider API key; in Dagster use dg.EnvVar, never a literal")
    azure_api_version: str | None = Field(
        None, description="Azure OpenAI API version: base_url is then the Azure endpoint and model the deployment"
    )
    vertexai: bool = Field(False, description="Vertex AI instead of the Gemini Developer API (credentials: ADC)")
    gcp_project: str | None = Field(None, description="Vertex AI project")
    gcp_location: str | None = Field(None, description="Vertex AI location")

    temperature: float = Field(0.0, ge=0.0, le=2.0, description="sampling temperature")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="nucleus sampling")
    top_k: int | None = Field(None, ge=1, description="top-k sampling (Gemini, OpenAI-compatible servers)")
    max_tokens: int = Field(2048, ge=1, description="max output tokens per request")
    structured_method: StructuredMethod = Field("json_schema", description="how structured output is requested")

    timeout_s: float = Field(60.0, gt=0, description="request timeout, seconds")
    max_retries: int = Field(3, ge=0, le=20, description="retries per request, on top of the first attempt")
    backoff_s: float = Field(0.5, ge=0, description="first retry waits ~backoff_s, then doubles")
    max_backoff_s: float = Field(20.0, ge=0, description="cap of the exponential backoff, seconds")
    max_concurrency: int = Field(8, ge=1, le=256, description="requests in flight per run")
    batch_size: int = Field(8, ge=1, description="requests per batch; domains checkpoint after each batch")
    token_budget: int | None = Field(None, ge=1, description="input+output tokens per run; unset = no limit")
    failure_budget: int = Field(20, ge=0, description="failed requests (after retries) a run tolerates")
    cache: bool = Field(True, description="read and write the response cache")
    retry_failed: bool = Field(
        False,
        description="send requests that failed after retries in an earlier run again (default: the cache replays"
        " the failure, so a finished run is reproduced exactly)",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = _ENVIRON.get()
        if environ is not None:
            env_settings = _MappingEnvSource(settings_cls, environ)
        provider = _ProviderOf((init_settings, env_settings, dotenv_settings))
        return (
            init_settings,
            env_settings,
            _ProviderVariable(settings_cls, env_settings, provider, "api_key", KEY_VARIABLES),
            dotenv_settings,
            _ProviderVariable(settings_cls, dotenv_settings, provider, "api_key", KEY_VARIABLES),
            _ProviderVariable(settings_cls, env_settings, provider, "base_url", BASE_URL_VARIABLES),
            _ProviderVariable(settings_cls, dotenv_settings, provider, "base_url", BASE_URL_VARIABLES),
            _ProviderVariable(settings_cls, env_settings, provider, "model", MODEL_VARIABLES),
            _ProviderVariable(settings_cls, dotenv_settings, provider, "model", MODEL_VARIABLES),
            _ProviderVariable(settings_cls, env_settings, provider, "azure_api_version", API_VERSION_VARIABLES),
            _ProviderVariable(settings_cls, dotenv_settings, provider, "azure_api_version", API_VERSION_VARIABLES),
        )

    @field_validator("base_url")
    @classmethod
    def _checked_base_url(cls, value: str | None) -> str | None:
        """An http(s) URL with a host and a valid port, checked up front rather than on the first request."""
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value.strip())
            port = parts.port  # raises on a port that is not a number in 0-65535
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"the scheme must be http or https, got {parts.scheme or 'none'!r}")
        if not parts.hostname:
            raise ValueError("the URL names no host")
        if port == 0:
            raise ValueError("port 0 is not a port a server listens on")
        return value.strip()

    @model_validator(mode="after")
    def _provider_default_model(self) -> LLMSettings:
        if not self.model:
            object.__setattr__(self, "model", DEFAULT_MODELS[self.provider])
        if self.provider == "azure" and not self.azure_api_version:
            object.__setattr__(self, "azure_api_version", DEFAULT_AZURE_API_VERSION)
        return self

    def require_azure(self) -> None:
        """Provider ``azure`` needs an endpoint and a deployment: one error naming every missing one."""
        if self.provider != "azure":
            return
        missing = []
        if not self.base_url:
            missing.append("an endpoint (--azure-openai-endpoint or AZURE_OPENAI_ENDPOINT)")
        if not self.model:
            missing.append("a deployment (--azure-openai-deployment or AZURE_OPENAI_DEPLOYMENT)")
        if missing:
            raise SettingsError(f"provider 'azure' needs {' and '.join(missing)} (flags, environment or .env)")

    @property
    def is_offline(self) -> bool:
        return self.provider == "offline"

    def require_key(self) -> SecretStr:
        """The API key, or one clear error naming the variable to set (Vertex AI uses ADC instead)."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key
        names = " or ".join((*KEY_VARIABLES.get(self.provider, ()), env_name("api_key")))
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
        """The settings with the precedence explicit config > environment > ``.env`` file.

        ``explicit`` values of ``None`` count as unset. Environment names are ``SYNTH_LLM_<FIELD>``
        (e.g. ``SYNTH_LLM_PROVIDER``); the key and base URL also fall back to the provider's own
        variables (``OPENAI_API_KEY``, ``GOOGLE_API_KEY``, ``OPENAI_BASE_URL``...). ``environ``
        replaces ``os.environ``; ``dotenv_path=None`` reads no file (a missing file is ignored).
        """
        return _build(cls, explicit, environ, dotenv_path, env_name)


def _build(
    cls: type[LLMSettings],
    explicit: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
    dotenv_path: str | os.PathLike[str] | None,
    label: Callable[[str], str],
) -> LLMSettings:
    values = {k: v for k, v in (explicit or {}).items() if v is not None}
    token = _ENVIRON.set(environ)
    try:
        return cls(_env_file=dotenv_files(dotenv_path), **values)
    except ValidationError as exc:
        problems = "; ".join(_describe(err["loc"], err["msg"], label) for err in exc.errors(include_input=False))
        raise SettingsError(f"invalid LLM settings: {problems}") from None
    finally:
        _ENVIRON.reset(token)


def _describe(loc: tuple[int | str, ...], message: str, label: Callable[[str], str]) -> str:
    """``temperature (SYNTH_LLM_TEMPERATURE): Input should be a valid number...``"""
    if not loc:
        return f"settings: {message}"
    return f"{'.'.join(str(p) for p in loc)} ({label(str(loc[0]))}): {message}"


class _MappingEnvSource(EnvSettingsSource):
    """The environment source reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class _ProviderOf:
    """The provider the higher-precedence sources chose; the provider variables depend on it."""

    def __init__(self, sources: tuple[PydanticBaseSettingsSource, ...]) -> None:
        self._sources = sources
        self._provider: str | None = None

    def __call__(self) -> str:
        if self._provider is None:
            chosen = (source().get("provider") for source in self._sources)
            self._provider = str(next((p for p in chosen if p not in (None, "")), "offline"))
        return self._provider


class _ProviderVariable(PydanticBaseSettingsSource):
    """One field from the chosen provider's own variables (``OPENAI_API_KEY``...) in one layer."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        layer: PydanticBaseSettingsSource,
        provider: _ProviderOf,
        field: str,
        variables: Mapping[str, tuple[str, ...]],
    ) -> None:
        super().__init__(settings_cls)
        self._layer, self._provider, self._field, self._variables = layer, provider, field, variables

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Required by the base class; pydantic-settings only calls it from the base __call__, which this
        # source replaces. Answer "not set" so a direct call can never invent a value.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: Mapping[str, str | None] = getattr(self._layer, "env_vars", {})
        sensitive = bool(getattr(self._layer, "case_sensitive", False))
        for name in self._variables.get(self._provider(), ()):
            value = found.get(name if sensitive else name.lower())
            if value:
                return {self._field: value}
        return {}


def add_provider_args(parser: argparse.ArgumentParser) -> None:
    """The LLM flags every LLM-backed subcommand shares (unset flags fall back to env / .env)."""
    group = parser.add_argument_group("LLM provider (flags > environment SYNTH_LLM_* > .env)")
    group.add_argument(
        "--provider",
        choices=["offline", "openai", "azure", "google"],
        default=None,
        help="offline makes data with no network (default: SYNTH_LLM_PROVIDER; else the provider whose "
        "settings are present: AZURE_OPENAI_ENDPOINT, OPENAI_API_KEY, GOOGLE_API_KEY; else offline)",
    )
    group.add_argument("--model", default=None, help="model name (Azure: deployment name)")
    group.add_argument(
        "--azure-openai-endpoint",
        "--openai-endpoint",
        dest="azure_endpoint",
        default=None,
        help="Azure OpenAI endpoint; implies --provider azure (env AZURE_OPENAI_ENDPOINT)",
    )
    group.add_argument(
        "--azure-openai-deployment",
        "--openai-deployment",
        dest="azure_deployment",
        default=None,
        help="Azure OpenAI deployment (env AZURE_OPENAI_DEPLOYMENT)",
    )
    group.add_argument(
        "--azure-api-version",
        "--openai-api-version",
        dest="azure_api_version",
        default=None,
        help=f"Azure OpenAI API version (env OPENAI_API_VERSION; default {DEFAULT_AZURE_API_VERSION}). "
        "Azure key: AZURE_OPENAI_API_KEY; without one, DefaultAzureCredential (managed identity, az login)",
    )
    group.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, Azure) or Gemini endpoint",
    )
    group.add_argument("--temperature", type=float, default=None, help="sampling temperature (default 0)")
    group.add_argument("--top-p", "--top_p", dest="top_p", type=float, default=None, help="nucleus sampling")
    group.add_argument(
        "--top-k", "--top_k", dest="top_k", type=int, default=None, help="top-k sampling (Gemini; ignored by OpenAI)"
    )
    group.add_argument("--max-tokens", type=int, default=None, help="max output tokens per request (default 2048)")
    group.add_argument(
        "--max-retries",
        "--max_retries",
        dest="max_retries",
        type=int,
        default=None,
        help="retries per request (default 3)",
    )
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
    group.add_argument(
        "--retry-failed",
        dest="retry_failed",
        action="store_const",
        const=True,
        default=None,
        help="send requests that failed after retries in an earlier run again (default: replay the failure)",
    )


# Settings field -> the flag add_provider_args gives it (the dest is the field name).
_FLAGS: dict[str, str] = {
    "provider": "--provider", "model": "--model", "base_url": "--base-url", "temperature": "--temperature",
    "top_p": "--top-p", "top_k": "--top-k", "max_tokens": "--max-tokens", "max_retries": "--max-retries",
    "timeout_s": "--timeout", "max_concurrency": "--concurrency", "batch_size": "--batch-size",
    "token_budget": "--token-budget", "failure_budget": "--failure-budget", "cache": "--no-cache",
    "retry_failed": "--retry-failed",
    "azure_api_version": "--azure-api-version",
}  # fmt: skip


def _dotenv_values(dotenv_path: str | os.PathLike[str] | None) -> dict[str, str]:
    from dotenv import dotenv_values

    found: dict[str, str] = {}
    for path in dotenv_files(dotenv_path) or ():
        if os.path.isfile(path):
            found |= {k: v for k, v in dotenv_values(path).items() if v}
    return found


def detect_provider(
    environ: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] | None = ".env"
) -> tuple[str, str] | None:
    """(provider, the variable that showed it) when no provider is chosen but one's settings are present.

    ``None`` when ``SYNTH_LLM_PROVIDER`` is set (environment or ``.env``): a choice was made.
    """
    layers = (os.environ if environ is None else environ, _dotenv_values(dotenv_path))
    if any(layer.get(env_name("provider")) for layer in layers):
        return None
    for provider, names in PROVIDER_SIGNS:
        for name in names:
            if any(layer.get(name) for layer in layers):
                return provider, name
    return None


def settings_from_args(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
    *,
    auto_provider: bool = False,
    notify: Callable[[str], None] | None = None,
) -> LLMSettings:
    """Flags given on the command line win; the rest come from the environment, then ``.env``.

    The Azure flags (``--azure-openai-endpoint``/``--openai-endpoint``, ``--azure-openai-deployment``/
    ``--openai-deployment``) set ``base_url`` and ``model`` and choose provider ``azure`` unless one is
    given. With ``auto_provider`` and no provider chosen anywhere, the provider whose own settings are
    present (``detect_provider``) is used and ``notify`` (default: stderr) gets one line saying so.
    A chosen ``azure`` without an endpoint or deployment raises one ``SettingsError`` naming both.
    """
    explicit = {name: getattr(args, name, None) for name in _FLAGS}
    for field, dest, flag in (("base_url", "azure_endpoint", "--azure-openai-endpoint"),
                              ("model", "azure_deployment", "--azure-openai-deployment")):  # fmt: skip
        value = getattr(args, dest, None)
        if value is None:
            continue
        if explicit[field] is not None and explicit[field] != value:
            raise SettingsError(f"{_FLAGS[field]} and {flag} disagree: give one of them")
        explicit[field] = value
    if explicit["provider"] is None and getattr(args, "azure_endpoint", None):
        explicit["provider"] = "azure"
    elif explicit["provider"] is None and auto_provider:
        found = detect_provider(environ, dotenv_path)
        if found is not None:
            explicit["provider"] = found[0]
            say = notify or (lambda line: print(line, file=sys.stderr))
            say(f"synth: using provider {found[0]} because {found[1]} is set (--provider offline to stay offline)")

    def label(field: str) -> str:
        flag = _FLAGS.get(field)
        return f"{flag} or {env_name(field)}" if flag else env_name(field)

    settings = _build(LLMSettings, explicit, environ, dotenv_path, label)
    settings.require_azure()
    return settings
