"""Retries on tenacity against the loopback stub: Retry-After honoured and capped, no retry on 400, same request."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import tenacity

from synth_pipelines.llm import generate
from synth_pipelines.llm.generate import _RetryWait, build_generator
from synth_pipelines.llm.providers import retry_after_s
from synth_pipelines_tests.llm.test_provider_layer import PROVIDERS, Shelf, requests, settings_for
from synth_pipelines_tests.llm_stub import Fault, LLMStub


def gaps(stub: LLMStub) -> list[float]:
    times = [entry.received for entry in stub.log]
    return [later - earlier for earlier, later in pairwise(times)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retry_after_ms_is_waited_before_the_retry(llm_stub: LLMStub, tmp_path: Path, provider: str):
    llm_stub.inject(Fault(status=429, headers={"retry-after-ms": "200"}))
    gen = build_generator(settings_for(llm_stub, provider, max_concurrency=1), tmp_path)  # backoff_s=0
    result = gen.generate(requests(1), Shelf)[0]
    assert isinstance(result.value, Shelf) and result.attempts == 2
    assert llm_stub.requests == 2
    assert gaps(llm_stub)[0] >= 0.19  # with backoff_s=0 only the header can account for the wait
    first, retry = llm_stub.log
    assert retry.body == first.body  # the same request again: same messages and seed, so the same output
    stats = gen.stats
    assert (stats.retries, stats.failures, stats.requests) == (1, 0, 2)


def test_huge_retry_after_is_capped(llm_stub: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(generate, "RETRY_AFTER_CAP_S", 0.3)
    llm_stub.inject(
        Fault(status=503, headers={"retry-after": "3600"}), Fault(status=429, headers={"retry-after": "86400"})
    )
    gen = build_generator(settings_for(llm_stub, "openai", max_concurrency=1), tmp_path)
    started = time.monotonic()
    result = gen.generate(requests(1), Shelf)[0]
    assert isinstance(result.value, Shelf) and result.attempts == 3
    assert all(0.29 <= gap < 2.0 for gap in gaps(llm_stub)), gaps(llm_stub)
    assert time.monotonic() - started < 3.0
    assert gen.stats.retries == 2


def test_bad_request_is_not_retried_even_with_retry_after(llm_stub: LLMStub, tmp_path: Path):
    llm_stub.inject(Fault(status=400, headers={"retry-after-ms": "5000"}))
    gen = build_generator(settings_for(llm_stub, "openai", max_concurrency=1), tmp_path)
    started = time.monotonic()
    result = gen.generate(requests(1), Shelf)[0]
    assert result.value is None and result.attempts == 1 and result.error.startswith("rejected_400")
    assert llm_stub.requests == 1 and time.monotonic() - started < 2.0
    assert gen.stats.retries == 0 and gen.stats.failure_reasons == {"rejected_400": 1}


def test_backoff_without_a_hint_is_exponential_capped_and_deterministic(llm_stub: LLMStub):
    settings = settings_for(llm_stub, "openai", backoff_s=0.5, max_backoff_s=3.0)

    def waits(key: str) -> list[float]:
        wait = _RetryWait(settings, key)
        out = []
        for number in range(1, 7):
            state = SimpleNamespace(attempt_number=number, outcome=None)
            out.append(wait(state))  # type: ignore[arg-type]
        return out

    first = waits("request-a")
    assert first == waits("request-a")  # same request, same waits on every run
    assert first != waits("request-b")  # concurrent requests are spread apart
    for number, seconds in enumerate(first, start=1):
        base = min(3.0, 0.5 * 2 ** (number - 1))
        assert 0.5 * base <= seconds < base


def test_the_retry_after_hint_overrides_backoff_and_is_capped(llm_stub: LLMStub, monkeypatch: pytest.MonkeyPatch):
    settings = settings_for(llm_stub, "openai", backoff_s=8.0)
    error = _http_error(429, {"retry-after-ms": "250"})
    state = tenacity.RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.set_exception((type(error), error, None))
    assert _RetryWait(settings, "k")(state) == pytest.approx(0.25)
    monkeypatch.setattr(generate, "RETRY_AFTER_CAP_S", 0.1)
    assert _RetryWait(settings, "k")(state) == pytest.approx(0.1)


class _ProviderError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _http_error(status: int, headers: dict[str, str]) -> Exception:
    return _ProviderError(httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://stub")))


def test_retry_after_header_parsing():
    assert retry_after_s(_http_error(429, {"retry-after-ms": "1500"})) == pytest.approx(1.5)
    assert retry_after_s(_http_error(429, {"Retry-After": "2"})) == pytest.approx(2.0)
    assert retry_after_s(_http_error(429, {"retry-after-ms": "0", "retry-after": "3"})) == pytest.approx(3.0)
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < retry_after_s(_http_error(503, {"retry-after": later})) <= 120
    for headers in ({}, {"retry-after": "0"}, {"retry-after": "soon"}, {"retry-after-ms": "-5"}):
        assert retry_after_s(_http_error(429, headers)) is None
    # LangChain's Google errors are raised `from` the SDK error that carries the response.
    try:
        try:
            raise _http_error(429, {"retry-after": "4"})
        except _ProviderError as sdk_error:
            raise RuntimeError("GoogleRateLimitError") from sdk_error
    except RuntimeError as wrapped:
        assert retry_after_s(wrapped) == pytest.approx(4.0)
    assert retry_after_s(ValueError("no response")) is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_answer_with_no_choices_is_an_empty_answer_and_retried(llm_stub: LLMStub, tmp_path: Path, provider: str):
    # A 200 whose choices (OpenAI) / candidates (Gemini) list is empty: the OpenAI client raised IndexError,
    # which was not retried and was reported as error_IndexError.
    llm_stub.inject(Fault(no_choices=True))
    gen = build_generator(settings_for(llm_stub, provider, max_concurrency=1), tmp_path)
    result = gen.generate(requests(1), Shelf)[0]
    assert isinstance(result.value, Shelf) and result.attempts == 2
    llm_stub.inject(Fault(no_choices=True))
    once = build_generator(settings_for(llm_stub, provider, max_concurrency=1, max_retries=0, cache=False), tmp_path)
    failed = once.generate(requests(1, start=7), Shelf)[0]
    assert failed.value is None
    assert set(once.stats.failure_reasons) <= {"empty_output", "invalid_output"}, once.stats.failure_reasons
