"""Text rules of the ``offline`` provider's samples (built by index in ``indexed.py``).

From documents they are *extractive*: contexts are real passages and answers are spans of them,
positives are neighbouring passages, negatives and neutral hypotheses come from other documents,
contradictions are rule-negated sentences, similarity scores are the measured word overlap (Jaccard)
of the two sentences. From a bare query there is nothing to extract from, so samples are *templates*
(``method = "template"``): useful to test a pipeline end to end, not to train a model.
"""

from __future__ import annotations

import re

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


def as_reported(sentence: str) -> str:
    return f"The text states that {sentence[0].lower()}{sentence[1:]}"
