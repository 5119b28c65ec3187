"""The response cache on its own: the key is a stable on-disk format made of everything that decides an
answer, and the sqlite store gives back exactly what was put, for any number of keys, across reopenings."""

from __future__ import annotations

from pathlib import Path

from synth_pipelines.llm.cache import CachedResponse, ResponseCache, key_prefix, request_key
from synth_pipelines.llm.contract import LLMRequest

SAMPLING = {"temperature": 0.0, "top_p": None}
SCHEMA = {"title": "T", "type": "object"}
REQUEST = LLMRequest((("system", "s"), ("user", "u ü")), 7)


def key(provider="openai", model="gpt-x", sampling=SAMPLING, schema=SCHEMA, method="json_schema", request=REQUEST):  # type: ignore[no-untyped-def]
    return request_key(key_prefix(provider, model, sampling, schema, method), request)


def test_the_key_format_is_pinned_so_an_existing_cache_file_keeps_hitting() -> None:
    # Recorded once: a change of field names, separators, ordering or hashing would orphan every cache on
    # disk (a "rerun makes zero requests" would silently ask again). Change it only with KEY_VERSION.
    assert key() == "fbad75ee30882c3e67dc843618072eb9b0a3b1807df0de14488505c405c424b0"


def test_the_key_holds_everything_that_decides_the_answer_and_nothing_else() -> None:
    variants = [
        key(provider="google"),
        key(model="gpt-y"),
        key(sampling={"temperature": 0.5, "top_p": None}),
        key(schema={"title": "T", "type": "object", "required": ["a"]}),
        key(method="function_calling"),
        key(request=LLMRequest((("system", "s"), ("user", "u")), 7)),
        key(request=LLMRequest((("user", "s"), ("user", "u ü")), 7)),
        key(request=LLMRequest(REQUEST.messages, 8)),
    ]
    assert len({key(), *variants}) == 1 + len(variants)
    # Dict order and the request's tag do not decide the answer: same key.
    assert key(sampling={"top_p": None, "temperature": 0.0}) == key()
    assert key(schema={"type": "object", "title": "T"}) == key()
    assert key(request=LLMRequest(REQUEST.messages, 7, tag="ticket#3")) == key()


def test_the_store_returns_exactly_what_was_put_for_many_keys_and_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nested" / "llm_cache.sqlite"  # folders that do not exist yet
    cache = ResponseCache(path)
    stored = {f"k{i:05d}": CachedResponse(f'{{"n": {i}}}', i, 2 * i + 1) for i in range(1_200)}
    for k, response in stored.items():
        cache.put(k, response, "openai", "gpt-x")
    cache.put("k00003", CachedResponse('{"n": "replaced"}', 9, 9), "openai", "gpt-x")
    stored["k00003"] = CachedResponse('{"n": "replaced"}', 9, 9)
    asked = [*stored, "k00007", "missing"]  # more keys than one query may bind; a duplicate; an unknown key
    assert cache.get_many(asked) == stored
    cache.close()
    reopened = ResponseCache(path)
    assert reopened.get_many(["k01199", "k00000"]) == {"k01199": stored["k01199"], "k00000": stored["k00000"]}
    assert reopened.get_many([]) == {}
    reopened.close()
