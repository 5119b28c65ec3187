"""Samples made without a network, for the ``offline`` provider.

From documents they are *extractive*: contexts are real passages and answers are spans of them,
positives are neighbouring passages, negatives and neutral hypotheses come from other documents,
contradictions are rule-negated sentences, similarity scores are the measured word overlap (Jaccard)
of the two sentences. From a bare query there is nothing to extract from, so samples are *templates*
(``method = "template"``): useful to test a pipeline end to end, not to train a model.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pydantic import BaseModel

from synth_pipelines.core.rng import block_rng
from synth_pipelines.domains.nlp.formats import Format
from synth_pipelines.domains.nlp.plan import DOMAIN, Job

ASPECTS = (
    "its definition", "its history", "a common misconception", "a practical example", "how it is measured",
    "its main benefit", "its main risk", "how beginners learn it", "a typical mistake", "its cost",
    "its future", "how experts describe it", "a related field", "a key term", "how it changed over time",
    "a real-world use", "a safety rule", "a simple experiment", "its limits", "the tools involved",
)  # fmt: skip
QUESTION_TEMPLATES = (
    "What does this passage say about {aspect} of {topic}?",
    "Which aspect of {topic} is described here?",
    "What is covered about {topic} in this text?",
    "Which part of {topic} does the note explain?",
)
AUXILIARIES = re.compile(r"\b(is|are|was|were|can|will|has|have|does|do|should|must)\b")
COPULA = re.compile(r"^(?P<subject>[A-Z][^,;:]{2,60}?) (?P<verb>is|are|was|were) (?P<rest>.{3,160}?)[.!?]?$")
NUMBER = re.compile(r"\b\d[\d.,]*(?:\s+(?:[a-z]+))?")


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


def jaccard(a: str, b: str) -> float:
    wa, wb = words(a), words(b)
    return round(len(wa & wb) / len(wa | wb), 3) if wa | wb else 0.0


def negate(sentence: str) -> str:
    match = AUXILIARIES.search(sentence)
    if match:
        return f"{sentence[: match.end()]} not{sentence[match.end() :]}"
    return f"It is not true that {sentence[0].lower()}{sentence[1:]}"


def first_clause(sentence: str) -> str:
    for sep in (", which ", ", and ", "; ", ", so ", ", but ", " because ", ", "):
        head = sentence.split(sep, 1)[0]
        if head != sentence and len(head.split()) >= 4:
            return head.rstrip(".,;: ") + "."
    return ""


def qa_from_sentence(context: str, sentence: str, rng: np.random.Generator) -> dict[str, str] | None:
    match = COPULA.match(sentence)
    if match:
        subject = match["subject"]
        subject = subject if subject.split()[0].isupper() else subject[0].lower() + subject[1:]
        return {"context": context, "question": f"What {match['verb']} {subject}?", "answer": match["rest"]}
    spans = [m.group(0).strip() for m in NUMBER.finditer(sentence)]
    if not spans:
        spans = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{6,}", sentence)]
    if not spans:
        return None
    answer = spans[int(rng.integers(0, len(spans)))]
    question = "Fill in the blank from the passage: " + sentence.replace(answer, "_____", 1)
    return {"context": context, "question": question, "answer": answer}


def extractive_samples(fmt: Format, job: Job, seed: int) -> list[dict[str, Any]]:
    rng = block_rng(seed, DOMAIN, f"offline/{job.tag}")
    source, near, far = job.passages
    sentences = source.sentences or [source.text]
    start = job.variant % len(sentences)
    picks = [sentences[(start + k) % len(sentences)] for k in range(job.count)]
    far_sentences = far.sentences or [far.text]
    near_sentences = near.sentences or [near.text]
    out: list[dict[str, Any]] = []
    for k, sentence in enumerate(picks):
        other = far_sentences[(job.variant + k) % len(far_sentences)]
        if fmt.builtin and fmt.name == "qa":
            sample = qa_from_sentence(source.text, sentence, rng)
        elif fmt.builtin and fmt.name == "pair":
            sample = {
                "anchor": sentence,
                "positive": near.text if near is not source else _rest(source, sentence),
            }
        elif fmt.builtin and fmt.name == "triplet":
            positive = near.text if near is not source else _rest(source, sentence)
            sample = {"anchor": sentence, "positive": positive, "negative": far.text}
        elif fmt.builtin and fmt.name == "pair-class":
            label = job.label if job.label is not None else k % 3
            hypothesis = {0: first_clause(sentence) or _as_reported(sentence), 1: other, 2: negate(sentence)}[label]
            sample = {"premise": sentence, "hypothesis": hypothesis, "label": label}
        elif fmt.builtin and fmt.name == "pair-score":
            partner = (
                sentences[(start + k + 1) % len(sentences)],
                near_sentences[k % len(near_sentences)],
                other,
            )[k % 3]
            sample = {"sentence1": sentence, "sentence2": partner, "score": jaccard(sentence, partner)}
        else:
            texts = [sentence, *near_sentences, *far_sentences]
            sample = _custom(fmt, texts, k, rng)
        if sample is not None:
            out.append(sample)
    return out


def template_samples(fmt: Format, job: Job, seed: int) -> list[dict[str, Any]]:
    rng = block_rng(seed, DOMAIN, f"offline/{job.tag}")
    topic = job.topic or "the topic"
    out: list[dict[str, Any]] = []
    for k in range(job.count):
        n = job.variant + k * 7
        size = len(ASPECTS)
        aspect, other = ASPECTS[n % size], ASPECTS[(n + 1 + (n // size) % (size - 1)) % size]
        question = QUESTION_TEMPLATES[(n // size) % len(QUESTION_TEMPLATES)].format(aspect=aspect, topic=topic)
        statement = f"This template note about {topic} covers {aspect}."
        if fmt.builtin and fmt.name == "qa":
            sample = {"context": statement, "question": question, "answer": aspect}
        elif fmt.builtin and fmt.name in ("pair", "triplet"):
            sample = {"anchor": question, "positive": statement}
            if fmt.name == "triplet":
                sample["negative"] = f"This template note about {topic} covers {other}."
        elif fmt.builtin and fmt.name == "pair-class":
            label = job.label if job.label is not None else k % 3
            hypothesis = (
                f"The note is about {topic}.",
                f"The note about {topic} covers {other} in detail.",
                f"This template note about {topic} does not cover {aspect}.",
            )[label]
            sample = {"premise": statement, "hypothesis": hypothesis, "label": label}
        elif fmt.builtin and fmt.name == "pair-score":
            partner = f"This template note about {topic} covers {other}." if k % 2 else f"{topic}: {aspect}."
            sample = {"sentence1": statement, "sentence2": partner, "score": jaccard(statement, partner)}
        else:
            # Each field its own text: a field's template names that field, never another's.
            # The template number keeps samples distinct past the number of aspects (samples are deduplicated).
            own = [f"Template text {n} about {topic}: {aspect} ({f.name})." for f in fmt.fields]
            sample = _custom(fmt, own, k, rng, by_field=True)
        out.append(sample)
    return out


def _rest(source: Any, sentence: str) -> str:
    rest = source.text.replace(sentence, "").strip()
    return rest or source.text


def _as_reported(sentence: str) -> str:
    return f"The text states that {sentence[0].lower()}{sentence[1:]}"


def _custom(fmt: Format, texts: list[str], k: int, rng: np.random.Generator, by_field: bool = False) -> dict[str, Any]:
    """A custom-format sample: string field i gets ``texts[i]`` (``by_field``) or rotates through ``texts``."""
    sample: dict[str, Any] = {}
    for i, spec in enumerate(fmt.fields):
        if spec.type == "string":
            sample[spec.name] = texts[i] if by_field else texts[(k + i) % len(texts)]
        elif spec.type == "integer":
            sample[spec.name] = int(rng.integers(0, 100))
        elif spec.type == "float":
            sample[spec.name] = round(float(rng.random()), 3)
        else:
            sample[spec.name] = bool(rng.integers(0, 2))
    return sample


def offline_batch(fmt: Format, job: Job, seed: int, batch: type[BaseModel]) -> BaseModel:
    samples = extractive_samples(fmt, job, seed) if job.passages else template_samples(fmt, job, seed)
    return batch.model_validate({"samples": samples})
