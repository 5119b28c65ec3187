"""The contract between LLM-backed domains and the provider layer.

Domains (NLP sets, scenarios) build ``LLMRequest``s and hand them to a ``StructuredGenerator``
with a pydantic output model; they never touch LangChain directly. The Dagster resource ``llm``
(``synth_pipelines.llm.resource.LLMResource``) and the CLI both produce a generator, so the two
paths share one cache and write the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel

Source = Literal["llm", "cache", "offline"]


@dataclass(frozen=True)
class LLMRequest:
    """One structured-output request. ``seed`` is passed to the provider and is part of the cache key."""

    messages: tuple[tuple[str, str], ...]  # (role, content), role in system/user/assistant
    seed: int
    tag: str = ""  # what the request is for (e.g. "ticket#17"), for logs and failure reports


@dataclass
class LLMResult:
    value: BaseModel | None  # None when every attempt failed
    source: Source
    error: str | None = None
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class GenerationStats:
    requests: int = 0  # requests sent to a provider (cache hits excluded)
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0
    failures: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)


class StructuredGenerator(Protocol):
    provider: str  # "offline" | "openai" | "google"

    def generate(self, requests: Sequence[LLMRequest], schema: type[BaseModel]) -> list[LLMResult]:
        """Results in request order; a failed request gives ``value=None`` and an ``error``."""
        ...

    @property
    def stats(self) -> GenerationStats: ...
