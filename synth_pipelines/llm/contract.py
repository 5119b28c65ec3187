"""The contract between LLM-backed domains and the provider layer.

Domains (NLP sets, scenarios) build ``LLMRequest``s and hand them to a ``StructuredGenerator``
with a pydantic output model; they never touch LangChain directly. The Dagster resource ``llm``
(``synth_pipelines.llm.resource.LLMResource``) and the CLI both produce a generator, so the two
paths share one cache and write the same bytes.

The ``offline`` provider is not a pretend LLM. ``build_generator(settings, data_dir, offline=fn)``
returns an ``OfflineGenerator`` that answers each request by calling the *domain's* ``fn(request,
schema)`` (records made without a network, e.g. extractive samples from documents), and marks every
result ``source="offline"``. A domain that has no such function gets ``OfflineUnsupported`` with a
clear message instead of fabricated data.

Failures of single requests come back as results with ``value=None`` and an ``error`` (the run goes
on); a spent token budget makes the remaining requests of the run come back with
``error="token budget spent"`` and ``stats.budget_exhausted`` set, so a domain stops cleanly; more
failed requests than the failure budget allows raise ``FailureBudgetExceeded``. No error text ever
contains an API key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel

Source = Literal["llm", "cache", "offline"]


class LLMError(Exception):
    """Base of the provider layer's errors; messages never contain secrets."""


class FailureBudgetExceeded(LLMError):
    """More requests failed (after their retries) than the run's failure budget allows."""


class OfflineUnsupported(LLMError):
    """The offline provider was chosen for work that has no offline (no-network) implementation."""


class ProviderAuthError(LLMError):
    """The provider rejected the credentials (401/403): every further request would fail the same way."""


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
    offline_results: int = 0  # results made by a domain's offline function
    budget_exhausted: bool = False  # the token budget stopped further requests
    seconds: float = 0.0  # wall time spent inside generate()

    def as_metadata(self) -> dict[str, Any]:
        """Flat numbers for Dagster metadata (plots over time) and CLI summaries."""
        return {
            "llm_requests": self.requests,
            "llm_cache_hits": self.cache_hits,
            "llm_input_tokens": self.input_tokens,
            "llm_output_tokens": self.output_tokens,
            "llm_retries": self.retries,
            "llm_failures": self.failures,
            "llm_failure_reasons": dict(sorted(self.failure_reasons.items())),
            "llm_offline_results": self.offline_results,
            "llm_budget_exhausted": self.budget_exhausted,
            "llm_seconds": round(self.seconds, 4),
        }


# A domain's no-network answer to one request: an instance of ``schema`` built from local data.
OfflineFn = Callable[[LLMRequest, type[BaseModel]], BaseModel]


class StructuredGenerator(Protocol):
    provider: str  # "offline" | "openai" | "google"

    def generate(self, requests: Sequence[LLMRequest], schema: type[BaseModel]) -> list[LLMResult]:
        """Results in request order; a failed request gives ``value=None`` and an ``error``."""

    @property
    def stats(self) -> GenerationStats: ...
