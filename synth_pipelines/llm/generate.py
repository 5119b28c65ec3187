"""Structured generation: cache, bounded concurrency, token and failure budgets, retries, stats.

``build_generator(settings, data_dir)`` is the one way domains get a ``StructuredGenerator``:

- ``offline``: an ``OfflineGenerator`` that answers only through the domain's own offline function;
- ``openai`` / ``google``: a ``LangChainGenerator`` around ``ChatOpenAI`` (any OpenAI-compatible
  base URL, Azure) or ``ChatGoogleGenerativeAI``.

Per ``generate()`` call: cached answers are served first (one sqlite query for the whole batch),
then the misses run on a thread pool of ``max_concurrency`` workers. Inside a worker, i.e. inside
the concurrency limit, each attempt first checks the token budget, then sends the request; the
answer must parse into the output schema, be non-empty and not truncated, or the attempt failed.
Retries run on tenacity: retryable failures (429, 5xx, timeouts, connection errors, invalid output)
wait ``backoff_s * 2^(retry-1)`` (capped at ``max_backoff_s``) scaled by a jitter in [0.5, 1) derived
from the request's cache key, so it is the same on every run; when the provider's error carries
``retry-after-ms`` / ``Retry-After``, that wait is used instead, capped at ``RETRY_AFTER_CAP_S``.
A retry resends the same request (same seed), so retries never change the output. A request that
still fails is remembered in the cache as failed, so a rerun replays the failure rather than getting
an answer the first run did not have (``--retry-failed`` sends it again; see ``cache.py``).
Threads rather than asyncio: they were as fast here and avoid LangChain's per-event-loop clients.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tenacity
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from pydantic import BaseModel

from synth_pipelines.llm.cache import CACHE_FILE, CachedResponse, ResponseCache, key_prefix, request_key
from synth_pipelines.llm.contract import (
    FailureBudgetExceeded,
    GenerationStats,
    LLMRequest,
    LLMResult,
    OfflineFn,
    OfflineUnsupported,
    ProviderAuthError,
    StructuredGenerator,
)
from synth_pipelines.llm.providers import (
    InvalidOutput,
    classify,
    legacy_structured_model,
    make_chat_model,
    redact,
    redact_value,
    retry_after_s,
)
from synth_pipelines.llm.settings import KEY_VARIABLES, LLMSettings

BUDGET_SPENT = "token budget spent"
TRUNCATED = {"length", "max_tokens", "MAX_TOKENS"}
BLOCKED = {"content_filter", "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}
# The longest wait a provider's Retry-After / retry-after-ms may impose before a retry, seconds.
RETRY_AFTER_CAP_S = 30.0


class OfflineGenerator:
    """The ``offline`` provider: no network, no pretend LLM; the domain supplies the records."""

    provider = "offline"

    def __init__(self, offline: OfflineFn | None = None) -> None:
        self._offline = offline
        self._stats = GenerationStats()

    def generate(self, requests: Sequence[LLMRequest], schema: type[BaseModel]) -> list[LLMResult]:
        if self._offline is None:
            raise OfflineUnsupported(
                "provider 'offline' makes no LLM calls and this task has no offline implementation: "
                "choose --provider openai or google (or set SYNTH_LLM_PROVIDER)"
            )
        started = time.perf_counter()
        results = []
        for request in requests:
            value = self._offline(request, schema)
            if not isinstance(value, schema):
                raise TypeError(f"offline function returned {type(value).__name__}, expected {schema.__name__}")
            results.append(LLMResult(value=value, source="offline"))
        self._stats.offline_results += len(results)
        self._stats.seconds += time.perf_counter() - started
        return results

    @property
    def stats(self) -> GenerationStats:
        return copy.deepcopy(self._stats)

    def close(self) -> None:
        pass


@dataclass
class _RunState:
    """Shared by the workers of one generator (one run): budgets are per run, not per call."""

    used_tokens: int = 0
    fatal: str | None = None
    failure_budget_hit: bool = False


@dataclass
class _Attempt:
    """What the tries of one request added up to (filled in by ``_attempt``, read by ``_run_one``)."""

    count: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    error: str = ""


class _Stopped(Exception):
    """The run stopped (token budget spent, failure budget hit, credentials rejected): not retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _retryable(exc: BaseException) -> bool:
    return not isinstance(exc, _Stopped) and classify(exc).retryable


class _RetryWait(tenacity.wait.wait_base):
    """The provider's Retry-After (capped at ``RETRY_AFTER_CAP_S``), else exponential backoff with jitter.

    The jitter spreads the retries of concurrent requests apart; it is a hash of the request's cache key
    and the retry number rather than a random draw, so a rerun waits exactly as long.
    """

    def __init__(self, settings: LLMSettings, key: str) -> None:
        self._backoff_s, self._max_backoff_s, self._key = settings.backoff_s, settings.max_backoff_s, key

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        hinted = retry_after_s(error) if error is not None else None
        if hinted is not None:
            return min(hinted, RETRY_AFTER_CAP_S)
        retry = retry_state.attempt_number  # 1 before the first retry
        base = min(self._max_backoff_s, self._backoff_s * 2 ** (retry - 1))
        digest = hashlib.sha256(f"{self._key}:{retry}".encode()).digest()
        return base * (0.5 + int.from_bytes(digest[:8], "big") / 2**65)


class LangChainGenerator:
    """A ``StructuredGenerator`` over a LangChain chat model, with our cache in front."""

    def __init__(
        self,
        settings: LLMSettings,
        cache: ResponseCache | None,
        model: BaseChatModel | None = None,
        log: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        azure_credential: Any = None,
    ) -> None:
        self.settings = settings
        self.provider = settings.provider
        self._cache = cache
        self._closed = False
        self._model = model if model is not None else make_chat_model(settings, azure_credential)
        self._log = log or logging.getLogger("synth_pipelines.llm")
        # LangChain warns (on every structured call) and falls back to function calling for models without
        # json_schema support (Azure deployments are often named gpt-35-turbo, gpt-4-...): choose it here,
        # once, so the cache key names the method really used and nothing is printed per request.
        self._method = settings.structured_method
        legacy = settings.provider in ("openai", "azure") and legacy_structured_model(settings.model)
        if self._method == "json_schema" and legacy:
            self._method = "function_calling"
            self._log.info("model %s has no json_schema structured output: using function calling", settings.model)
        self._sleep = sleep
        self._secrets = [settings.api_key.get_secret_value()] if settings.api_key else []
        self._lock = threading.Lock()
        self._stats = GenerationStats()
        self._state = _RunState()
        self._recorded_failures: list[str] = []  # keys this run remembered as failed (forgotten if it stops)
        self._sampling = {
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "top_k": settings.top_k,
            "max_tokens": settings.max_tokens,
        }

    @property
    def stats(self) -> GenerationStats:
        with self._lock:
            return copy.deepcopy(self._stats)

    def close(self) -> None:
        """Close the response cache; idempotent (the session and older callers may both close)."""
        if self._cache is not None and not self._closed:
            self._closed = True
            self._cache.close()

    def _runnable(self, schema: type[BaseModel], seed: int) -> Runnable:
        # The seed must be a model field: with include_raw=True, invoke(..., seed=) kwargs are dropped
        # silently (verified for both providers). A shallow copy shares the HTTP clients; ~0.5 ms CPU.
        model = self._model.model_copy(update={"seed": seed})
        return model.with_structured_output(schema, method=self._method, include_raw=True)

    def generate(self, requests: Sequence[LLMRequest], schema: type[BaseModel]) -> list[LLMResult]:
        started = time.perf_counter()
        self._raise_if_stopped()
        prefix = key_prefix(
            self.provider, self.settings.model, self._sampling, schema.model_json_schema(),
            self._method,
        )  # fmt: skip
        keys = [request_key(prefix, r) for r in requests]
        results: list[LLMResult | None] = [None] * len(requests)
        hits = self._cache.get_many(keys) if self._cache is not None else {}
        pending: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            hit = hits.get(key)
            value = _revalidate(schema, hit.value_json) if hit is not None else None
            if value is not None:  # an entry written before answers were redacted is redacted here
                value = _without_secrets(schema, value, self._secrets)
            if value is not None:
                results[i] = LLMResult(value=value, source="cache")
            else:
                pending.setdefault(key, []).append(i)
        if pending and self._cache is not None and not self.settings.retry_failed:
            # A request that failed for good in an earlier run fails the same way now, without being sent:
            # the run that recorded it finished with that failure, and a rerun reproduces that run.
            for key, error in self._cache.get_failures(list(pending)).items():
                for i in pending.pop(key):
                    results[i] = LLMResult(None, "cache", error)
                self._count_failure(error.split(":", 1)[0] or "unknown")
        with self._lock:
            self._stats.cache_hits += len(requests) - sum(len(ix) for ix in pending.values())
        if pending:
            jobs = [(key, requests[ix[0]]) for key, ix in pending.items()]
            workers = min(self.settings.max_concurrency, len(jobs))
            if workers == 1:
                answers = [self._run_one(schema, key, req) for key, req in jobs]
            else:
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm") as pool:
                    answers = list(pool.map(lambda job: self._run_one(schema, *job), jobs))
            for (key, _), answer in zip(jobs, answers, strict=True):
                for i in pending[key]:
                    results[i] = answer
        with self._lock:
            self._stats.seconds += time.perf_counter() - started
        self._raise_if_stopped()
        return [r for r in results if r is not None]

    def _count_failure(self, reason: str) -> None:
        with self._lock:
            self._stats.failures += 1
            self._stats.failure_reasons[reason] = self._stats.failure_reasons.get(reason, 0) + 1
            if self._stats.failures > self.settings.failure_budget:
                self._state.failure_budget_hit = True

    def _raise_if_stopped(self) -> None:
        state = self._state
        if (state.fatal or state.failure_budget_hit) and self._recorded_failures and self._cache is not None:
            # A run stopped by an outage or rejected credentials is no result to replay: its rerun asks again.
            self._cache.forget_failures(self._recorded_failures)
            self._recorded_failures = []
        if state.fatal:
            names = " or ".join(KEY_VARIABLES.get(self.provider, ()))
            raise ProviderAuthError(f"{self.provider} rejected the request credentials ({state.fatal}); check {names}")
        if state.failure_budget_hit:
            stats = self.stats
            reasons = ", ".join(f"{k} x{v}" for k, v in sorted(stats.failure_reasons.items()))
            raise FailureBudgetExceeded(
                f"{stats.failures} requests failed after retries, more than the failure budget of "
                f"{self.settings.failure_budget} ({reasons}); finished batches are kept"
            )

    def _run_one(self, schema: type[BaseModel], key: str, request: LLMRequest) -> LLMResult:
        runnable = self._runnable(schema, request.seed)
        attempt = _Attempt()
        # Every log line about this request carries its task id (``--log-format json``): the tag the
        # domain gave it, else the start of its cache key (a hash: nothing of the prompt or a key).
        task = {"task_id": request.tag or key[:16]}
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.max_retries + 1),
            wait=_RetryWait(self.settings, key),
            retry=tenacity.retry_if_exception(_retryable),
            sleep=self._sleep,
            before_sleep=lambda state: self._log.debug(
                "llm request %s: retry %d in %.3f s",
                request.tag,
                state.attempt_number,
                state.upcoming_sleep,
                extra=task,
            ),
            reraise=True,
        )
        try:
            value, used_in, used_out = retrying(self._attempt, runnable, schema, request, attempt, task)
        except _Stopped as stop:
            self._log.info("llm request %s stopped: %s", request.tag, stop.reason, extra=task)
            return LLMResult(None, "llm", stop.reason, attempt.count, attempt.tokens_in, attempt.tokens_out)
        except Exception:
            reason = attempt.error.split(":", 1)[0] or "unknown"
            self._count_failure(reason)
            if self._cache is not None:
                self._cache.put_failure(key, attempt.error or reason, self.provider, self.settings.model)
                with self._lock:
                    self._recorded_failures.append(key)
            self._log.info(
                "llm request %s failed after %d attempts: %s", request.tag, attempt.count, reason, extra=task
            )
            return LLMResult(None, "llm", attempt.error, attempt.count, attempt.tokens_in, attempt.tokens_out)
        if self._cache is not None:
            self._cache.put(
                key, CachedResponse(value.model_dump_json(), used_in, used_out), self.provider, self.settings.model
            )
        self._log.debug(
            "llm request %s answered: %d attempt(s), tokens %d+%d", request.tag, attempt.count,
            attempt.tokens_in, attempt.tokens_out, extra=task,
        )  # fmt: skip
        return LLMResult(value, "llm", None, attempt.count, attempt.tokens_in, attempt.tokens_out)

    def _attempt(
        self,
        runnable: Runnable,
        schema: type[BaseModel],
        request: LLMRequest,
        attempt: _Attempt,
        task: dict[str, str] | None = None,
    ) -> tuple[BaseModel, int, int]:
        """One try, inside the concurrency limit: budgets first, then the request; raises on failure."""
        settings, state = self.settings, self._state
        with self._lock:
            if state.fatal or state.failure_budget_hit:
                raise _Stopped("run stopped")
            if settings.token_budget is not None and state.used_tokens >= settings.token_budget:
                self._stats.budget_exhausted = True
                raise _Stopped(BUDGET_SPENT)
            self._stats.requests += 1
            if attempt.count:
                self._stats.retries += 1
        attempt.count += 1
        try:
            value, used_in, used_out = self._invoke(runnable, schema, request)
        except Exception as exc:
            used_in, used_out = getattr(exc, "usage", (0, 0))
            self._add_tokens(used_in, used_out)
            attempt.tokens_in, attempt.tokens_out = attempt.tokens_in + used_in, attempt.tokens_out + used_out
            kind = classify(exc)
            detail = str(exc) if isinstance(exc, InvalidOutput) else f"{kind.reason}: {type(exc).__name__}: {exc}"
            attempt.error = redact(" ".join(detail.split())[:400], self._secrets)
            self._log.warning(
                "llm request %s attempt %d failed: %s", request.tag, attempt.count, attempt.error, extra=task
            )
            if kind.fatal:
                with self._lock:
                    state.fatal = kind.reason
            raise
        self._add_tokens(used_in, used_out)
        attempt.tokens_in, attempt.tokens_out = attempt.tokens_in + used_in, attempt.tokens_out + used_out
        return value, used_in, used_out

    def _add_tokens(self, used_in: int, used_out: int) -> None:
        with self._lock:
            self._stats.input_tokens += used_in
            self._stats.output_tokens += used_out
            self._state.used_tokens += used_in + used_out

    def _invoke(self, runnable: Runnable, schema: type[BaseModel], request: LLMRequest) -> tuple[BaseModel, int, int]:
        try:
            out: dict[str, Any] = runnable.invoke(list(request.messages))
        except IndexError as exc:
            # LangChain's OpenAI client indexes choices[0]: a 200 with an empty list (some proxies and
            # compatible servers send one under load) is an empty answer, retried like one.
            raise InvalidOutput("empty_output", "the provider answered with no choices") from exc
        raw = out.get("raw")
        usage = getattr(raw, "usage_metadata", None) or {}
        used = (int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))
        meta = getattr(raw, "response_metadata", None) or {}
        finish = str(meta.get("finish_reason") or "")
        problem: InvalidOutput | None = None
        if finish in TRUNCATED:
            problem = InvalidOutput("truncated", f"finish_reason={finish}")
        elif finish in BLOCKED:
            problem = InvalidOutput("blocked", f"finish_reason={finish}")
        elif out.get("parsing_error") is not None:
            problem = InvalidOutput("invalid_output", str(out["parsing_error"])[:300])
        elif out.get("parsed") is None:
            problem = InvalidOutput("empty_output", "the model returned no structured answer")
        if problem is not None:
            problem.usage = used  # type: ignore[attr-defined]
            raise problem
        parsed = out["parsed"]
        value = parsed if isinstance(parsed, BaseModel) else schema.model_validate(parsed)
        # Round-trip through JSON so a fresh answer and its cached replay are the same object.
        value = schema.model_validate_json(value.model_dump_json())
        # Model output is data that goes into the cache and the outputs: a repeated key must not.
        clean = _without_secrets(schema, value, self._secrets)
        if clean is None:
            problem = InvalidOutput("invalid_output", "the answer repeated the API key and is not valid once redacted")
            problem.usage = used  # type: ignore[attr-defined]
            raise problem
        return clean, *used


def _without_secrets(schema: type[BaseModel], value: BaseModel, secrets: list[str]) -> BaseModel | None:
    """``value`` with every echo of a secret redacted; None when the redacted value breaks the schema."""
    if not secrets:
        return value
    plain = value.model_dump(mode="json")
    clean = redact_value(plain, secrets)
    if clean == plain:
        return value
    try:
        return schema.model_validate(clean)
    except ValueError:
        return None


def _revalidate(schema: type[BaseModel], value_json: str) -> BaseModel | None:
    """A cached value under the current schema, or None (stale entry: treated as a miss)."""
    try:
        return schema.model_validate_json(value_json)
    except ValueError:
        return None


def build_generator(
    settings: LLMSettings,
    data_dir: Path,
    offline: OfflineFn | None = None,
    model: BaseChatModel | None = None,
    log: logging.Logger | None = None,
    azure_credential: Any = None,
) -> StructuredGenerator:
    """The generator for ``settings``; the response cache is ``<data_dir>/llm_cache.sqlite``.

    ``offline`` is the domain's no-network implementation, used only by the offline provider.
    ``model`` replaces the provider's chat model (tests inject a fake one above the transport).
    ``azure_credential``: an azure-identity credential for keyless Azure (default DefaultAzureCredential).
    """
    if settings.is_offline:
        return OfflineGenerator(offline)
    cache = ResponseCache(Path(data_dir) / CACHE_FILE) if settings.cache else None
    return LangChainGenerator(settings, cache, model=model, log=log, azure_credential=azure_credential)
