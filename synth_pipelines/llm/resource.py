"""The Dagster resource ``llm``: ``LLMSettings`` as run config, secrets through ``dg.EnvVar``, one session per run.

The resource's config fields are derived from ``LLMSettings`` (every setting, optional, same description),
so a new setting appears here without a second list to keep in step. Every field left unset (``None``)
falls back to the environment (``SYNTH_LLM_*``, ``OPENAI_API_KEY``, ``GOOGLE_API_KEY``...) and then to
``.env``; so the default resource is the offline provider and needs no key. Configure a real provider in
``definitions.py`` or the launchpad, e.g.::

    LLMResource(provider="openai", model="gpt-4o-mini", api_key=dg.EnvVar("OPENAI_API_KEY"))

Dagster shows an ``EnvVar`` by name, never its value. An asset opens the run's clients with
``llm.open_session(data_dir, log)``; the resource closes every session it opened in
``teardown_after_execution``, after the step, whether it failed or not. LLM-backed assets run in the
Dagster concurrency pool ``llm`` (``dagster instance concurrency set llm 2``), so parallel runs share
the provider's rate limit.
"""

import logging
import threading
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import dagster as dg
from pydantic import Field, PrivateAttr, SecretStr, create_model

from synth_pipelines.llm.contract import OfflineFn, StructuredGenerator
from synth_pipelines.llm.session import LLMSession
from synth_pipelines.llm.settings import LLMSettings

RESOURCE_KEY = "llm"
POOL = "llm"


def _config_type(annotation: Any) -> Any:
    """The Dagster-config type of a setting: Optional stripped, Literal -> str, SecretStr -> str."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"LLMSettings field type {annotation} has no Dagster config equivalent")
        annotation = members[0]
    if get_origin(annotation) is Literal:
        return str  # Dagster config has no Optional[Literal]; LLMSettings validates the choice
    if annotation is SecretStr:
        return str  # dg.EnvVar is a str
    return annotation


def _settings_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in LLMSettings.model_fields.items():
        description = info.description or name
        if get_origin(info.annotation) is Literal:
            description += f" (one of {', '.join(map(str, get_args(info.annotation)))})"
        fields[name] = (_config_type(info.annotation) | None, Field(None, description=description))
    return fields


# One optional config field per LLMSettings field, derived rather than copied.
_LLMSettingsConfig = create_model(  # type: ignore[call-overload]
    "_LLMSettingsConfig", __base__=dg.ConfigurableResource, __module__=__name__, **_settings_fields()
)


class LLMResource(_LLMSettingsConfig):  # type: ignore[misc, valid-type]
    """Provider, model and sampling for LLM-backed assets (unset fields: environment, then .env)."""

    dotenv_path: str | None = Field(".env", description="a .env file read last (missing file: ignored)")

    _sessions: list[LLMSession] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def settings(self) -> LLMSettings:
        """The resolved settings: this config > environment > ``.env`` (raises ``SettingsError``)."""
        explicit: dict[str, Any] = {}
        for name in LLMSettings.model_fields:
            value = getattr(self, name)
            if callable(getattr(value, "get_value", None)):  # dg.EnvVar / EnvVar.int, unresolved outside a run
                value = value.get_value()
            explicit[name] = value
        return LLMSettings.resolve(explicit, dotenv_path=self.dotenv_path)

    def open_session(self, data_dir: Path, log: logging.Logger | None = None) -> LLMSession:
        """The provider clients for this run; closed by the resource after the step (do not close them)."""
        session = LLMSession(self.settings(), Path(data_dir), log)
        with self._lock:
            self._sessions.append(session)
        return session

    def generator(self, data_dir: Path, offline: OfflineFn | None = None) -> StructuredGenerator:
        """A generator in a session of this resource (closed with it); prefer ``open_session``."""
        return self.open_session(data_dir).generator(offline=offline)

    def close_sessions(self) -> None:
        """Close every session opened so far (each closes its generators); idempotent."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        errors: list[Exception] = []
        for session in sessions:
            try:
                session.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close_sessions()


def settings_of(resource: object | None) -> LLMSettings:
    """What a domain got as its LLM: the Dagster resource, an ``LLMSession``, settings from the CLI, or None."""
    if resource is None:
        return LLMSettings.resolve()
    if isinstance(resource, LLMSettings):
        return resource
    if isinstance(resource, LLMSession):
        return resource.settings
    if isinstance(resource, LLMResource):
        return resource.settings()
    raise TypeError(f"the llm resource must be LLMResource, LLMSession or LLMSettings, got {type(resource).__name__}")
