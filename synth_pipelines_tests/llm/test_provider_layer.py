"""The provider layer against the loopback stub with the REAL ChatOpenAI / ChatGoogleGenerativeAI classes."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest
from pydantic import BaseModel

from synth_pipelines.llm.cache import CACHE_FILE
from synth_pipelines.llm.contract import (
    FailureBudgetExceeded,
    LLMRequest,
    OfflineUnsupported,
    ProviderAuthError,
)
from synth_pipelines.llm.generate import BUDGET_SPENT, LangChainGenerator, build_generator
from synth_pipelines.llm.providers import redact
from synth_pipelines.llm.settings import LLMSettings
from synth_pipelines_tests.llm_stub import Fault, LLMStub, instance_of

KEY = "sk-test-SECRET-0123456789abcdef"


class Movie(BaseModel):
    title: str
    year: int


class Shelf(BaseModel):
    movies: list[Movie]


def settings_for(stub: LLMStub, provider: str, **overrides: object) -> LLMSettings:
    base = {
        "provider": provider,
        "model": "stub-model" if provider == "openai" else "gemini-2.5-flash",
        "base_url": stub.openai_url if provider == "openai" else stub.url,
        "api_key": KEY,
        "timeout_s": 2.0,
        "backoff_s": 0.0,
        "max_retries": 3,
    }
    return LLMSettings.model_validate(base | overrides)


def requests(n: int, start: int = 0) -> list[LLMRequest]:
    return [
        LLMRequest(messages=(("system", "You list movies."), ("user", f"movies, batch {i}")), seed=i, tag=f"b{i}")
        for i in range(start, start + n)
    ]


PROVIDERS = ["openai", "google"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_real_client_returns_schema_instances_and_counts_tokens(llm_stub: LLMStub, tmp_path: Path, provider: str):
    gen = build_generator(settings_for(llm_stub, provider), tmp_path)
    results = gen.generate(requests(4), Shelf)
    assert [r.source for r in results] == ["llm"] * 4
    assert all(isinstance(r.value, Shelf) and len(r.value.movies) == 3 for r in results)
    stats = gen.stats
    assert stats.requests == 4 == llm_stub.requests
    assert stats.input_tokens > 0 and stats.output_tokens > 0
    assert stats.failures == 0
    # The seed of each request reached the provider.
    seeds = sorted(entry.body.get("seed", entry.body.get("generationConfig", {}).get("seed")) for entry in llm_stub.log)
    assert seeds == [0, 1, 2, 3]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_warm_cache_makes_zero_requests_and_ignores_infrastructure(llm_stub: LLMStub, tmp_path: Path, provider: str):
    first = build_generator(settings_for(llm_stub, provider), tmp_path).generate(requests(5), Shelf)
    assert llm_stub.requests == 5
    # Other timeout, retries and even another base URL: still the same answers, from the cache.
    other = settings_for(llm_stub, provider, timeout_s=9.0, max_retries=0, base_url="http://127.0.0.1:9/v1")
    gen = build_generator(other, tmp_path)
    again = gen.generate(requests(5), Shelf)
    assert llm_stub.requests == 5
    assert [r.source for r in again] == ["cache"] * 5
    assert [r.value for r in again] == [r.value for r in first]
    assert gen.stats.cache_hits == 5 and gen.stats.requests == 0 and gen.stats.input_tokens == 0


def test_cache_key_covers_seed_sampling_model_and_schema(llm_stub: LLMStub, tmp_path: Path):
    build_generator(settings_for(llm_stub, "openai"), tmp_path).generate(requests(2), Shelf)
    assert llm_stub.requests == 2
    build_generator(settings_for(llm_stub, "openai"), tmp_path).generate(requests(2, start=10), Shelf)  # seeds
    assert llm_stub.requests == 4
    build_generator(settings_for(llm_stub, "openai", temperature=0.7), tmp_path).generate(requests(2), Shelf)
    assert llm_stub.requests == 6
    build_generator(settings_for(llm_stub, "openai", model="other"), tmp_path).generate(requests(2), Shelf)
    assert llm_stub.requests == 8

    class Shelf2(BaseModel):  # same class name would not matter: the key holds the schema JSON
        movies: list[Movie]
        owner: str

    build_generator(settings_for(llm_stub, "openai"), tmp_path).generate(requests(2), Shelf2)
    assert llm_stub.requests == 10


@pytest.mark.parametrize("provider", PROVIDERS)
def test_same_messages_with_another_seed_is_another_request_and_answer(
    llm_stub: LLMStub, tmp_path: Path, provider: str
):
    # A seeded provider: the answer depends on the request's seed alone, never on a counter.
    llm_stub.seed_responder = lambda schema, _prompt, seed: instance_of(schema, schema, 1000 + seed, "", llm_stub)
    messages = (("system", "You list movies."), ("user", "movies, the same prompt for every seed"))
    gen = build_generator(settings_for(llm_stub, provider), tmp_path)
    seven = gen.generate([LLMRequest(messages=messages, seed=7, tag="a")], Shelf)[0]
    eight = gen.generate([LLMRequest(messages=messages, seed=8, tag="b")], Shelf)[0]
    assert (seven.source, eight.source) == ("llm", "llm")
    assert llm_stub.requests == 2
    assert seven.value != eight.value
    assert seven.value.movies[0].title == "title number 1007000 from the stub"
    # Both answers were cached under their own seed: a new run replays each one, no request.
    again = build_generator(settings_for(llm_stub, provider), tmp_path)
    replayed = again.generate([LLMRequest(messages, 8, "b"), LLMRequest(messages, 7, "a")], Shelf)
    assert [r.source for r in replayed] == ["cache", "cache"]
    assert [r.value for r in replayed] == [eight.value, seven.value]
    assert llm_stub.requests == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_injected_faults_are_retried_and_counted(llm_stub: LLMStub, tmp_path: Path, provider: str):
    truncated = "length" if provider == "openai" else "MAX_TOKENS"
    llm_stub.inject(
        Fault(status=429),
        Fault(status=500),
        Fault(delay=1.0),  # longer than the 0.5 s timeout
        Fault(content="{not json"),
        Fault(invalid=True),
        Fault(empty=True),
        Fault(finish_reason=truncated),
    )
    gen = build_generator(settings_for(llm_stub, provider, timeout_s=0.5, max_retries=8, max_concurrency=1), tmp_path)
    results = gen.generate(requests(3), Shelf)
    assert all(isinstance(r.value, Shelf) for r in results)
    stats = gen.stats
    assert stats.retries == 7 and stats.requests == 10 and stats.failures == 0
    assert sum(r.attempts for r in results) == 10


def test_exhausted_retries_are_recorded_and_the_run_goes_on(llm_stub: LLMStub, tmp_path: Path):
    llm_stub.inject(*[Fault(status=503)] * 3)
    gen = build_generator(settings_for(llm_stub, "openai", max_retries=2, max_concurrency=1), tmp_path)
    results = gen.generate(requests(3), Shelf)
    assert results[0].value is None and results[0].error.startswith("server_error")
    assert results[0].attempts == 3
    assert all(r.value is not None for r in results[1:])
    assert gen.stats.failures == 1 and gen.stats.failure_reasons == {"server_error": 1}


def test_bad_request_is_not_retried(llm_stub: LLMStub, tmp_path: Path):
    llm_stub.inject(Fault(status=400))
    gen = build_generator(settings_for(llm_stub, "openai", max_concurrency=1), tmp_path)
    results = gen.generate(requests(1), Shelf)
    assert results[0].value is None and results[0].attempts == 1 and llm_stub.requests == 1


def test_failure_budget_stops_the_run(llm_stub: LLMStub, tmp_path: Path):
    llm_stub.inject(*[Fault(status=500)] * 40)
    gen = build_generator(
        settings_for(llm_stub, "openai", max_retries=1, failure_budget=2, max_concurrency=1), tmp_path
    )
    with pytest.raises(FailureBudgetExceeded, match=r"3 requests failed.*failure budget of 2"):
        gen.generate(requests(10), Shelf)
    assert llm_stub.requests == 6  # 3 requests x 2 attempts, then the rest were not sent


@pytest.mark.parametrize("concurrency", [1, 4])
def test_token_budget_stops_cleanly_inside_the_concurrency_limit(llm_stub: LLMStub, tmp_path: Path, concurrency: int):
    llm_stub.delay = 0.02
    settings = settings_for(llm_stub, "openai", token_budget=100, max_concurrency=concurrency, max_tokens=64)
    gen = build_generator(settings, tmp_path)
    results = gen.generate(requests(40), Shelf)
    stats = gen.stats
    done = [r for r in results if r.value is not None]
    assert stats.budget_exhausted
    assert 0 < len(done) < 40
    assert all(r.error == BUDGET_SPENT for r in results if r.value is None)
    assert llm_stub.requests == len(done)
    # Overshoot is bounded by the requests in flight when the budget ran out.
    per_request = (stats.input_tokens + stats.output_tokens) / len(done)
    assert stats.input_tokens + stats.output_tokens < 100 + concurrency * per_request + per_request


def test_concurrency_is_bounded(llm_stub: LLMStub, tmp_path: Path):
    llm_stub.delay = 0.05
    gen = build_generator(settings_for(llm_stub, "openai", max_concurrency=3), tmp_path)
    gen.generate(requests(12), Shelf)
    assert 2 <= llm_stub.peak_in_flight <= 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_keys_never_reach_logs_errors_stats_or_cache(
    llm_stub: LLMStub, tmp_path: Path, provider: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    gen = build_generator(settings_for(llm_stub, provider, max_concurrency=1), tmp_path)
    gen.generate(requests(2), Shelf)
    assert {entry.credential for entry in llm_stub.log} == {KEY}  # the key did reach the provider
    llm_stub.inject(Fault(status=500, echo_key=True), Fault(status=401, echo_key=True))
    with pytest.raises(ProviderAuthError) as info:
        gen.generate(requests(2, start=5), Shelf)
    text = str(info.value) + repr(info.value) + caplog.text + repr(gen.stats) + repr(gen.settings)
    assert "Incorrect API key" in caplog.text  # the provider's echo was logged, redacted
    for piece in (KEY, KEY[:12], KEY[-12:]):
        assert piece not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert (tmp_path / CACHE_FILE).exists()


def test_stale_cache_entry_is_a_miss_not_a_crash(llm_stub: LLMStub, tmp_path: Path):
    gen = build_generator(settings_for(llm_stub, "openai"), tmp_path)
    assert isinstance(gen, LangChainGenerator)
    gen.generate(requests(1), Shelf)
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:
        db.execute('UPDATE responses SET value = \'{"movies": "broken"}\'')
    gen2 = build_generator(settings_for(llm_stub, "openai"), tmp_path)
    result = gen2.generate(requests(1), Shelf)[0]
    assert result.source == "llm" and isinstance(result.value, Shelf) and llm_stub.requests == 2


def test_offline_generator_answers_only_through_the_domain(tmp_path: Path):
    settings = LLMSettings()
    with pytest.raises(OfflineUnsupported, match="no offline implementation"):
        build_generator(settings, tmp_path).generate(requests(1), Shelf)
    gen = build_generator(settings, tmp_path, offline=lambda req, schema: schema(movies=[Movie(title=req.tag, year=1)]))
    results = gen.generate(requests(2), Shelf)
    assert [r.source for r in results] == ["offline", "offline"]
    assert results[1].value.movies[0].title == "b1"
    assert gen.stats.offline_results == 2 and gen.stats.requests == 0
    assert not (tmp_path / CACHE_FILE).exists()


# ---- #15 item 11: an answer that repeats the key ------------------------------------------------


def key_grams(secret: str, size: int = 8) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


@pytest.mark.parametrize(
    ("start", "stop"),
    [(0, len(KEY)), (0, 10), (2, 12), (5, 17), (len(KEY) - 9, len(KEY)), (1, len(KEY) - 1)],
    ids=["whole", "first-10", "2-12", "5-17", "last-9", "all-but-ends"],
)
def test_redact_removes_every_echoed_fragment_of_eight_or_more_characters(start: int, stop: int):
    fragment = KEY[start:stop]
    text = redact(f"the key is <{fragment}> ok", [KEY])
    assert text == "the key is <[REDACTED]> ok"


def test_redact_leaves_short_pieces_and_other_text_alone():
    assert redact(f"sk- {KEY[5:11]} plain", [KEY]) == f"sk- {KEY[5:11]} plain"


def echoing_responder(schema: dict, prompt: str, counter: int) -> dict:
    """A model that repeats the credential, whole and in pieces, inside its answers."""
    return {
        "movies": [
            {"title": f"Full {KEY} {counter}", "year": 1990},
            {"title": f"Part {KEY[2:12]} {counter}", "year": 1991},
            {"title": f"Tail {KEY[-9:]}{counter}", "year": 1992},
        ]
    }


def test_an_answer_echoing_the_key_is_redacted_before_it_is_cached_or_returned(llm_stub: LLMStub, tmp_path: Path):
    llm_stub.responder = echoing_responder
    gen = build_generator(settings_for(llm_stub, "openai"), tmp_path)
    results = gen.generate(requests(2), Shelf)
    gen.close()
    titles = [m.title for r in results for m in r.value.movies]
    assert len(titles) == 6
    assert all(re.fullmatch(r"(Full|Part) \[REDACTED\] \d+|Tail \[REDACTED\]\d+", t) for t in titles), titles
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(CACHE_FILE))
    assert b"[REDACTED]" in stored
    for gram in key_grams(KEY):
        assert gram.encode() not in stored
    # replayed from the cache: the same redacted values, no request
    again = build_generator(settings_for(llm_stub, "openai"), tmp_path).generate(requests(2), Shelf)
    assert [m.title for r in again for m in r.value.movies] == titles and llm_stub.requests == 2


def test_an_old_cache_entry_holding_the_key_is_redacted_on_replay(llm_stub: LLMStub, tmp_path: Path):
    build_generator(settings_for(llm_stub, "openai"), tmp_path).generate(requests(1), Shelf)
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:  # as written by a version before the redaction
        db.execute("UPDATE responses SET value = replace(value, 'stub', ?)", (KEY,))
    (result,) = build_generator(settings_for(llm_stub, "openai"), tmp_path).generate(requests(1), Shelf)
    assert result.source == "cache"
    assert KEY not in result.value.model_dump_json() and "[REDACTED]" in result.value.model_dump_json()
