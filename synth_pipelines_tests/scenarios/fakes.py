"""A structured generator implementing the provider contract, for pipeline logic above the model.

The real provider classes (ChatOpenAI, ChatGoogleGenerativeAI) run against the loopback stub in
``test_llm_e2e.py`` and ``test_dagster.py``; this fake answers from the request itself so a test of the
pipeline logic can tell which answer belongs to which record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from synth_pipelines.llm.contract import GenerationStats, LLMRequest, LLMResult


def _value_for(annotation: Any, text: str) -> Any:
    if annotation is str:
        return text
    if getattr(annotation, "__origin__", None) is list:
        return [text, text + " (follow-up)"]
    raise TypeError(f"fake generator cannot answer {annotation!r}")


class FakeGenerator:
    provider = "fake"

    def __init__(self, fail_every: int = 0) -> None:
        self.fail_every = fail_every  # every n-th request (by record index) fails
        self.requests: list[LLMRequest] = []
        self._stats = GenerationStats()

    @property
    def stats(self) -> GenerationStats:
        return self._stats

    def generate(self, requests: Sequence[LLMRequest], schema: type[BaseModel]) -> list[LLMResult]:
        results = []
        for request in requests:
            self.requests.append(request)
            self._stats.requests += 1
            index = int(request.tag.rsplit("#", 1)[1])
            if self.fail_every and index % self.fail_every == self.fail_every - 1:
                self._stats.failures += 1
                results.append(LLMResult(None, "llm", error="ValidationError: answer did not match the schema"))
                continue
            values = {
                name: _value_for(field.annotation, f"llm text {name} #{index}")
                for name, field in schema.model_fields.items()
            }
            results.append(
                LLMResult(schema.model_validate(values), "llm", attempts=1, input_tokens=10, output_tokens=5)
            )
        return results
