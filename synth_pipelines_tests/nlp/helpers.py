"""Shared helpers for the NLP tests: a CLI runner and a stub responder for extractive qa."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from synth_pipelines import cli


def run_cli(argv: Sequence[str], monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    """The real ``synth`` main (it imports only the command's own CLI module, here the nlp one)."""
    return cli.main(list(argv))


def qa_responder(schema: dict[str, Any], prompt: str, counter: int) -> dict[str, Any]:
    """Answers like a careful model: contexts copied from the source text, answers are spans of them."""
    found = re.search(r"Source text:\n<<<\n(.*?)\n>>>", prompt, re.S)
    text = found.group(1) if found else f"Topic note {counter}: the stub explains item {counter} in detail."
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4] or [text]
    samples = []
    for i in range(3):
        sentence = sentences[(counter + i) % len(sentences)]
        words = [w.strip(".,;:") for w in sentence.split() if len(w.strip(".,;:")) > 3]
        answer = words[(counter + i) % len(words)] if words else sentence.split()[0]
        question = f"Which word of note {counter}-{i} completes: {sentence.replace(answer, '___', 1)}"
        samples.append({"context": sentence, "question": question, "answer": answer})
    return {"samples": samples}
