"""Offline samples by index: sample ``i`` is a function of ``(seed, config, i)`` only.

The offline generator's possible samples form a *slot space*, enumerated without being built:
from documents, a slot is ``(sentence u, option v)`` (``u`` a unique sentence of the documents, ``v``
which answer span / positive / partner / negative goes with it; ``radix(u)`` options per sentence);
from a bare query, a slot is a template number. Sample ``i`` takes slot ``permute(i)`` of that space
(a keyed bijection, ``relational.values.permute``), so distinct indexes get distinct slots, and each
format builds its texts so that distinct slots give distinct samples (the first text is the sentence,
unique after sentences are deduplicated; the second differs per option). Uniqueness is therefore by
construction, not by dropping duplicates, and it is still counted: per shard by the schema check,
over all shards at the commit (``NLPDomain.check_shard_parts``). A request for more samples than the
space holds is refused in one line.

pair-class labels come from a fixed schedule: every triple of indexes ``3t, 3t+1, 3t+2`` holds the
three labels once, in an order drawn per triple (``record_rng``), so any prefix of ``N`` samples has
``floor(N/3)`` or ``ceil(N/3)`` of each class. The ``j``-th sample of label ``L`` is sample ``i`` with
``j = i // 3``; it takes slot ``permute_L(j)`` of label ``L``'s own space.

Cost: every shard indexes the documents' sentences (linear in the documents, independent of the
sample count) and builds only its own samples (``SampleBuilder.built`` counts them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from synth_pipelines.core.rng import BLOCK_ROWS, record_rng, stream_key
from synth_pipelines.domains.nlp.formats import Format, check_sample, normalize_text
from synth_pipelines.domains.nlp.offline import (
    ASPECTS,
    COPULA,
    NUMBER,
    QUESTION_TEMPLATES,
    as_reported,
    first_clause,
    jaccard,
    negate,
)
from synth_pipelines.domains.nlp.plan import DOMAIN
from synth_pipelines.domains.nlp.sources import Passage
from synth_pipelines.domains.relational.values import permute

# Template numbers of a bare query: NLPConfig.samples' upper bound, so a query run is never refused.
TEMPLATE_SPACE = 1_000_000
# The three labels of a pair-class triple, in each of the 3! orders.
LABEL_ORDERS = np.array([(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)], dtype=np.int64)


class SampleSpaceError(ValueError):
    """More samples were asked for than the offline generator can make unique; one line says how many it can."""


def _sentence_key(sentence: str) -> str:
    # Case-folded, whitespace-collapsed, trailing punctuation dropped: two sentences that differ only
    # there would give the same qa question and answer.
    return normalize_text(sentence).rstrip(".!?")


@dataclass(frozen=True)
class Corpus:
    """Unique passages and sentences of the documents, in document order, with their neighbourhoods."""

    passages: list[Passage]
    sentences: list[str]
    passage_of: np.ndarray  # passage position of each sentence
    passage_start: np.ndarray  # first sentence of each passage
    passage_stop: np.ndarray
    neighbour: np.ndarray  # neighbour passage position of each passage (itself when it has none)
    doc_passages: np.ndarray  # (start, stop) passage positions of each passage's document
    doc_sentences: np.ndarray  # (start, stop) sentence positions of each passage's document
    documents: int

    @classmethod
    def of(cls, passages: list[Passage]) -> Corpus:
        kept: list[Passage] = []
        seen_passages: set[str] = set()
        for passage in passages:  # a passage repeated in another document is one passage
            key = normalize_text(passage.text)
            if key not in seen_passages:
                seen_passages.add(key)
                kept.append(passage)
        sentences: list[str] = []
        passage_of: list[int] = []
        start, stop = np.zeros(len(kept), np.int64), np.zeros(len(kept), np.int64)
        seen: set[str] = set()
        for p, passage in enumerate(kept):
            start[p] = len(sentences)
            for sentence in passage.sentences or [passage.text]:
                key = _sentence_key(sentence)
                if key and key not in seen:
                    seen.add(key)
                    sentences.append(sentence)
                    passage_of.append(p)
            stop[p] = len(sentences)
        docs = np.array([p.doc for p in kept], dtype=np.int64)
        neighbour = np.arange(len(kept), dtype=np.int64)
        for p in range(len(kept)):
            if p + 1 < len(kept) and docs[p + 1] == docs[p]:
                neighbour[p] = p + 1
            elif p > 0 and docs[p - 1] == docs[p]:
                neighbour[p] = p - 1
        doc_passages = np.zeros((len(kept), 2), np.int64)
        doc_sentences = np.zeros((len(kept), 2), np.int64)
        for doc in np.unique(docs):
            where = np.flatnonzero(docs == doc)
            doc_passages[where] = (where[0], where[-1] + 1)
            doc_sentences[where] = (start[where[0]], stop[where[-1]])
        return cls(
            kept,
            sentences,
            np.array(passage_of, dtype=np.int64),
            start,
            stop,
            neighbour,
            doc_passages,
            doc_sentences,
            len(np.unique(docs)),
        )

    # -- neighbourhoods of each sentence (vectorized over all sentences) --------------------------

    @cached_property
    def near_sentences(self) -> tuple[np.ndarray, np.ndarray]:
        """Sentence range of a sentence's passage and its neighbour passage (contiguous: they are adjacent)."""
        p = self.passage_of
        nb = self.neighbour[p]
        return self.passage_start[np.minimum(p, nb)], self.passage_stop[np.maximum(p, nb)]

    @cached_property
    def far_sentences(self) -> tuple[np.ndarray, np.ndarray]:
        """The excluded range: other documents are far; with a single document, all but the near range."""
        if self.documents > 1:
            d = self.doc_sentences[self.passage_of]
            return d[:, 0], d[:, 1]
        return self.near_sentences

    @cached_property
    def far_passages(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.passage_of
        if self.documents > 1:
            d = self.doc_passages[p]
            return d[:, 0], d[:, 1]
        nb = self.neighbour[p]
        return np.minimum(p, nb), np.maximum(p, nb) + 1

    @cached_property
    def qa_answers(self) -> list[list[tuple[str, str]]]:
        return [qa_candidates(s) for s in self.sentences]

    @cached_property
    def positives(self) -> list[list[str]]:
        """pair / triplet positives of each sentence: its neighbour passage, the rest of its own passage."""
        out: list[list[str]] = []
        for u, sentence in enumerate(self.sentences):
            p = int(self.passage_of[u])
            own, nb = self.passages[p], int(self.neighbour[p])
            texts = [self.passages[nb].text] if nb != p else []
            rest = own.text.replace(sentence, "").strip()
            if rest:
                texts.append(rest)
            keys = {normalize_text(sentence)}
            kept = []
            for text in texts:
                if normalize_text(text) not in keys:
                    keys.add(normalize_text(text))
                    kept.append(text)
            out.append(kept)
        return out


def outside(j: int, lo: int, hi: int) -> int:
    """The ``j``-th position of ``[0, total)`` that is not in ``[lo, hi)``."""
    return j if j < lo else j + (hi - lo)


def qa_candidates(sentence: str) -> list[tuple[str, str]]:
    """(question, answer) pairs of one sentence: "What is X?" for a copula sentence, else one blank per span."""
    match = COPULA.match(sentence)
    if match:
        subject = match["subject"]
        subject = subject if subject.split()[0].isupper() else subject[0].lower() + subject[1:]
        return [(f"What {match['verb']} {subject}?", match["rest"])]
    spans = [m.group(0).strip() for m in NUMBER.finditer(sentence)]
    if not spans:
        spans = re.findall(r"[A-Za-z][A-Za-z-]{6,}", sentence)
    distinct: dict[str, str] = {}
    for span in spans:
        if span and "_____" not in sentence:
            distinct.setdefault(normalize_text(span), span)
    blank = "Fill in the blank from the passage: "
    return [(blank + sentence.replace(span, "_____", 1), span) for span in distinct.values()]


class SampleBuilder:
    """Builds samples ``start .. stop`` of one (seed, format, source); ``built`` counts what it built."""

    def __init__(self, fmt: Format, seed: int, corpus: Corpus | None, topic: str | None) -> None:
        self.fmt, self.seed, self.corpus, self.topic = fmt, seed, corpus, topic
        self.kind = fmt.name if fmt.builtin else "custom"
        self.built = 0
        self._radix: dict[int | None, np.ndarray] = {}

    # -- the slot space ---------------------------------------------------------------------------

    def radix(self, label: int | None = None) -> np.ndarray:
        """Options per sentence (for pair-class, of one label)."""
        if label in self._radix:
            return self._radix[label]
        c = self.corpus
        assert c is not None
        n = len(c.sentences)
        near_lo, near_hi = c.near_sentences
        far_lo, far_hi = c.far_sentences
        far = n - (far_hi - far_lo)
        if self.kind == "qa":
            out = np.array([len(a) for a in c.qa_answers], dtype=np.int64)
        elif self.kind == "pair":
            out = np.array([len(p) for p in c.positives], dtype=np.int64)
        elif self.kind == "triplet":
            plo, phi = c.far_passages
            out = np.array([len(p) for p in c.positives], dtype=np.int64) * (len(c.passages) - (phi - plo))
        elif self.kind == "pair-class":
            out = far.astype(np.int64) if label == 1 else np.ones(n, dtype=np.int64)
        elif self.kind == "pair-score":
            near = near_hi - near_lo - 1
            out = near + np.minimum(np.maximum(near, 1), far)
        else:  # custom: the first string field is the sentence, the second any other sentence
            strings = sum(f.type == "string" for f in self.fmt.fields)
            out = np.full(n, max(n - 1, 0) if strings > 1 else 1, dtype=np.int64)
        self._radix[label] = out
        return out

    def space(self, label: int | None = None) -> int:
        return TEMPLATE_SPACE if self.corpus is None else int(self.radix(label).sum())

    def capacity(self) -> int:
        """Unique samples the space holds (pair-class: of its scarcest label)."""
        return min(self.space(label) for label in (0, 1, 2)) if self.kind == "pair-class" else self.space()

    def check_target(self, samples: int, where: str) -> None:
        """Refuse (one line) a target the slot space cannot hold."""
        if self.kind == "pair-class":
            need = -(-samples // 3)
            if need > self.capacity():
                raise SampleSpaceError(
                    f"nlp: --samples {samples} needs {need} unique pair-class samples of each label; the offline "
                    f"generator can make {self.capacity()} of the scarcest from {where} "
                    "(use fewer samples or more documents)"
                )
            return
        space = self.space()
        if samples > space:
            raise SampleSpaceError(
                f"nlp: --samples {samples} is more than the {space} unique {self.fmt.name} samples the offline "
                f"generator can make from {where} (use fewer samples or more documents)"
            )

    def _slots(self, j: np.ndarray, label: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(sentence, option) of slot ``permute(j)`` (template runs: (template number, 0))."""
        space = self.space(label)
        key = stream_key(self.seed, DOMAIN, f"slots/{self.kind}/{label}") & ((1 << 62) - 1)
        slot = permute(j, space, key)
        if self.corpus is None:
            return slot, np.zeros_like(slot)
        radix = self.radix(label)
        ends = np.cumsum(radix)
        u = np.searchsorted(ends, slot, side="right")
        return u, slot - (ends[u] - radix[u])

    # -- building --------------------------------------------------------------------------------

    def build(self, start: int, stop: int) -> list[dict[str, Any]]:
        """Samples ``start .. stop`` (the format's fields only)."""
        index = np.arange(start, stop, dtype=np.int64)
        labels = pair_class_labels(self.seed, start, stop) if self.kind == "pair-class" else None
        u = np.zeros(index.size, np.int64)
        v = np.zeros(index.size, np.int64)
        if labels is not None:
            for label in (0, 1, 2):
                mine = labels == label
                u[mine], v[mine] = self._slots(index[mine] // 3, label)
        else:
            u, v = self._slots(index, None)
        numbers = custom_numbers(self.seed, self.fmt, start, stop) if self.kind == "custom" else {}
        out = []
        for k in range(index.size):
            label = None if labels is None else int(labels[k])
            if self.corpus is None:
                sample = self._template(int(u[k]), label)
            else:
                sample = self._extractive(int(u[k]), int(v[k]), label)
            for name, values in numbers.items():
                sample[name] = values[k]
            reason = check_sample(self.fmt, sample)
            if reason is not None:  # counted, never assumed: a slot the documents make invalid stops the run
                raise SampleSpaceError(f"nlp: offline {self.fmt.name} sample {int(index[k])} is not valid: {reason}")
            out.append(sample)
            self.built += 1
        return out

    def _extractive(self, u: int, v: int, label: int | None) -> dict[str, Any]:
        c = self.corpus
        assert c is not None
        sentence, n = c.sentences[u], len(c.sentences)
        far_lo, far_hi = (int(x[u]) for x in c.far_sentences)
        if self.kind == "qa":
            question, answer = c.qa_answers[u][v]
            return {"context": c.passages[int(c.passage_of[u])].text, "question": question, "answer": answer}
        if self.kind == "pair":
            return {"anchor": sentence, "positive": c.positives[u][v]}
        if self.kind == "triplet":
            positives = c.positives[u]
            plo, phi = (int(x[u]) for x in c.far_passages)
            negative = c.passages[outside(v // len(positives), plo, phi)].text
            return {"anchor": sentence, "positive": positives[v % len(positives)], "negative": negative}
        if self.kind == "pair-class":
            if label == 1:
                hypothesis = c.sentences[outside(v, far_lo, far_hi)]
            else:
                hypothesis = (first_clause(sentence) or as_reported(sentence)) if label == 0 else negate(sentence)
            return {"premise": sentence, "hypothesis": hypothesis, "label": label}
        if self.kind == "pair-score":
            near_lo, near_hi = (int(x[u]) for x in c.near_sentences)
            near = near_hi - near_lo - 1
            if v < near:  # a sentence of the same or the neighbour passage
                partner = c.sentences[outside(near_lo + v, u, u + 1)]
            else:  # a far sentence, spread by the sentence's position
                far = n - (far_hi - far_lo)
                partner = c.sentences[outside((u * 7919 + v - near) % far, far_lo, far_hi)]
            return {"sentence1": sentence, "sentence2": partner, "score": jaccard(sentence, partner)}
        other = v if v < u else v + 1  # custom: the second string field is any other sentence
        texts = [sentence] + [c.sentences[(other + i) % n] for i in range(len(self.fmt.fields))]
        strings = iter(texts)
        return {f.name: next(strings) for f in self.fmt.fields if f.type == "string"}

    def _template(self, number: int, label: int | None) -> dict[str, Any]:
        topic = self.topic or "the topic"
        size = len(ASPECTS)
        aspect, other = ASPECTS[number % size], ASPECTS[(number + 1 + (number // size) % (size - 1)) % size]
        question = QUESTION_TEMPLATES[(number // size) % len(QUESTION_TEMPLATES)].format(aspect=aspect, topic=topic)
        # The template number makes every template sample distinct (uniqueness by construction).
        statement = f"This template note {number} about {topic} covers {aspect}."
        if self.kind == "qa":
            return {"context": statement, "question": question, "answer": aspect}
        if self.kind == "pair":
            return {"anchor": question, "positive": statement}
        if self.kind == "triplet":
            return {
                "anchor": question,
                "positive": statement,
                "negative": f"This template note about {topic} covers {other}.",
            }
        if self.kind == "pair-class":
            hypothesis = (
                f"The note is about {topic}.",
                f"The note about {topic} covers {other} in detail.",
                f"This template note {number} about {topic} does not cover {aspect}.",
            )[label or 0]
            return {"premise": statement, "hypothesis": hypothesis, "label": label}
        if self.kind == "pair-score":
            partner = f"This template note about {topic} covers {other}." if number % 2 else f"{topic}: {aspect}."
            return {"sentence1": statement, "sentence2": partner, "score": jaccard(statement, partner)}
        # Each field its own text: a field's template names that field, never another's.
        return {
            f.name: f"Template text {number} about {topic}: {aspect} ({f.name})."
            for f in self.fmt.fields
            if f.type == "string"
        }


def _block_draws(start: int, stop: int) -> list[tuple[int, int, int]]:
    """``(block, offset, size)`` per block touched by records ``start .. stop``: draw ``size`` from the
    block's start (prefix-stable), keep from ``offset``."""
    out = []
    for block in range(start // BLOCK_ROWS, (stop - 1) // BLOCK_ROWS + 1 if stop > start else start // BLOCK_ROWS):
        first = block * BLOCK_ROWS
        out.append((block, max(start, first) - first, min(stop, first + BLOCK_ROWS) - first))
    return out


def pair_class_labels(seed: int, start: int, stop: int) -> np.ndarray:
    """Labels of samples ``start .. stop``: each triple ``3t .. 3t+2`` holds 0, 1, 2 in a drawn order."""
    if stop <= start:
        return np.zeros(0, dtype=np.int64)
    first_triple, last_triple = start // 3, (stop - 1) // 3 + 1
    orders = []
    for block, offset, size in _block_draws(first_triple, last_triple):
        rng = record_rng(seed, DOMAIN, "pair-class-labels", block)
        orders.append(rng.integers(0, len(LABEL_ORDERS), size=size)[offset:])
    order = np.concatenate(orders)
    index = np.arange(start, stop)
    return LABEL_ORDERS[order[index // 3 - first_triple], index % 3]


def custom_numbers(seed: int, fmt: Format, start: int, stop: int) -> dict[str, list[Any]]:
    """The non-string fields of a custom format for samples ``start .. stop`` (one draw call per field, in order)."""
    columns: dict[str, list[Any]] = {f.name: [] for f in fmt.fields if f.type != "string"}
    for block, offset, size in _block_draws(start, stop):
        rng = record_rng(seed, DOMAIN, f"custom/{fmt.name}", block)
        for spec in fmt.fields:
            if spec.type == "integer":
                columns[spec.name] += [int(x) for x in rng.integers(0, 100, size=size)[offset:]]
            elif spec.type == "float":
                columns[spec.name] += [round(float(x), 3) for x in rng.random(size=size)[offset:]]
            elif spec.type == "boolean":
                columns[spec.name] += [bool(x) for x in rng.integers(0, 2, size=size)[offset:]]
    return columns
