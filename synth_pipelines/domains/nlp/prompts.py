"""What the model is asked: one request per job, the format described field by field.

The structured-output schema is sent as well (json_schema / tool calling), but the prompt also
describes every field, so ``json_mode`` and weaker local models get the same instructions.
"""

from __future__ import annotations

from synth_pipelines.domains.nlp.formats import LABELS, Format
from synth_pipelines.domains.nlp.plan import Job

SYSTEM = (
    "You create training data for NLP models. Every sample must be factual with respect to the source "
    "text (when one is given), self-contained, and different from the other samples. Answer only with "
    'JSON of the form {"samples": [...]} matching the schema.'
)

RULES: dict[str, str] = {
    "qa": "Each context is 1-4 consecutive sentences copied verbatim from the source text; each answer is "
    "the shortest exact span of its context that answers the question (copy it character for character).",
    "pair": "Each positive must match or answer its anchor; anchors read like real search queries or claims.",
    "triplet": "Each negative must look related to the anchor but must not answer or match it.",
    "pair-class": "Labels: 0 = premise entails hypothesis, 1 = neutral, 2 = premise contradicts hypothesis.",
    "pair-score": "Scores: 1.0 = same meaning, 0.5 = related, 0.0 = unrelated; use the whole range.",
}


def field_lines(fmt: Format) -> str:
    lines = []
    for f in fmt.fields:
        example = f" Example: {f.example!r}." if f.example is not None else ""
        need = "required" if f.required else "optional, null when not applicable"
        lines.append(f"- {f.name} ({f.type}, {need}): {f.description}.{example}")
    return "\n".join(lines)


def job_messages(fmt: Format, job: Job) -> tuple[tuple[str, str], ...]:
    parts = [
        f'Create {job.count} distinct samples in the "{fmt.name}" format: {fmt.description}',
        "Fields:\n" + field_lines(fmt),
    ]
    rule = RULES.get(fmt.name) if fmt.builtin else None
    if rule:
        parts.append(rule)
    if job.label is not None:
        parts.append(f"Every sample in this batch must have label {job.label} ({LABELS[job.label]}).")
    if job.passages:
        parts.append(f"Source text:\n<<<\n{job.passages[0].text}\n>>>")
        if len(job.passages) > 1:
            parts.append(f"Neighbouring text (for positives):\n<<<\n{job.passages[1].text}\n>>>")
        if len(job.passages) > 2:
            parts.append(f"Unrelated text (for negatives or neutral hypotheses):\n<<<\n{job.passages[2].text}\n>>>")
    else:
        parts.append(f"Topic: {job.topic}")
    parts.append(f"Return exactly {job.count} samples.")
    return (("system", SYSTEM), ("user", "\n\n".join(parts)))


def refine_messages(query: str) -> tuple[tuple[str, str], ...]:
    return (
        ("system", "You turn rough requests for NLP training data into precise generation briefs."),
        (
            "user",
            "Rewrite this request as one precise topic description, and list 5 to 8 distinct subtopics "
            f"that together cover it.\n\nRequest: {query}",
        ),
    )
