"""One run's provider clients: ``LLMSession`` builds generators from one ``LLMSettings`` and closes them together.

Whoever opens the session closes it: the CLI (``with LLMSession(settings, data_dir) as session:``) or the
Dagster resource ``llm`` (``LLMResource.open_session``, closed in ``teardown_after_execution``). Domains
only call ``session.generator(...)`` and never close what they get.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from langchain_core.language_models import BaseChatModel

from synth_pipelines.llm.contract import LLMError, OfflineFn, StructuredGenerator
from synth_pipelines.llm.generate import build_generator
from synth_pipelines.llm.settings import LLMSettings


class LLMSession:
    """The provider clients of one run: generators built on demand from one LLMSettings, closed together."""

    def __init__(
        self,
        settings: LLMSettings,
        data_dir: Path,
        log: logging.Logger | None = None,
        azure_credential: Any = None,
    ) -> None:
        self.settings = settings
        self.azure_credential = azure_credential  # keyless Azure: any azure-identity credential
        self.data_dir = Path(data_dir)
        self.log = log
        self._generators: list[StructuredGenerator] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def generator(self, offline: OfflineFn | None = None, model: BaseChatModel | None = None) -> StructuredGenerator:
        """A generator for this run's settings (``build_generator``); the session closes it.

        ``offline`` is the domain's no-network implementation (offline provider only); ``model`` replaces
        the provider's chat model (tests). A missing API key raises ``SettingsError`` here, at start.
        """
        with self._lock:
            if self._closed:
                raise LLMError("this LLM session is closed: open a new one for another run")
            generator = build_generator(
                self.settings, self.data_dir, offline=offline, model=model, log=self.log,
                azure_credential=self.azure_credential,
            )  # fmt: skip
            self._generators.append(generator)
            return generator

    def close(self) -> None:
        """Close every generator this session built (newest first); a second call does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            generators, self._generators = self._generators[::-1], []
        errors: list[Exception] = []
        for generator in generators:
            close = getattr(generator, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception as exc:  # close the others anyway; report the first failure
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> LLMSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._generators)} generators"
        return f"LLMSession(provider={self.settings.provider!r}, model={self.settings.model!r}, {state})"
