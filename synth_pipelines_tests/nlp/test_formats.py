"""Formats: built-ins validate what they promise; bad custom-format files fail with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth_pipelines.domains.nlp.formats import (
    BUILTIN_FORMATS,
    FormatError,
    batch_model,
    check_sample,
    dedup_key,
    load_custom_format,
)

GOOD = {
    "name": "support-intent",
    "description": "Customer messages with their intent.",
    "fields": [
        {
            "name": "message",
            "type": "string",
            "description": "what the customer wrote",
            "example": "Where is my order?",
        },
        {"name": "intent", "type": "string", "description": "the intent", "required": True},
        {"name": "urgency", "type": "integer", "description": "1-5", "required": False, "example": 3},
        {"name": "confidence", "type": "float", "description": "0-1"},
        {"name": "needs_human", "type": "boolean", "description": "escalate?"},
    ],
}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "format.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_custom_format_loads_and_builds_a_model(tmp_path: Path):
    fmt = load_custom_format(write(tmp_path, GOOD))
    assert fmt.name == "support-intent" and fmt.field_names[0] == "message"
    schema = batch_model(fmt).model_json_schema()
    assert "samples" in schema["properties"]
    sample = {"message": "hi", "intent": "greet", "urgency": None, "confidence": 0.5, "needs_human": False}
    assert check_sample(fmt, sample) is None
    assert check_sample(fmt, sample | {"intent": "  "}) == "intent: empty"
    assert check_sample(fmt, sample | {"needs_human": 1}) == "needs_human: not a boolean"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", r"not valid JSON \(line 1"),
        ([1, 2], "expected a JSON object"),
        (GOOD | {"name": "qa"}, "built-in format"),
        (GOOD | {"name": "has space"}, "'name' must be"),
        (GOOD | {"fields": []}, "'fields' must be a non-empty list"),
        (GOOD | {"extra": 1}, "unknown keys"),
        (
            GOOD | {"fields": [{"name": "x", "type": "date", "description": "d"}]},
            "field 'x': 'type' must be one of",
        ),
        (GOOD | {"fields": [{"name": "x", "type": "string"}]}, "field 'x': 'description' must be"),
        (GOOD | {"fields": [{"name": "source", "type": "string", "description": "d"}]}, "reserved"),
        (
            GOOD | {"fields": [{"name": "n", "type": "integer", "description": "d", "example": "5"}]},
            "not a integer",
        ),
        (GOOD | {"fields": [{"name": "n", "type": "integer", "description": "d"}]}, "required string field"),
        (GOOD | {"fields": [GOOD["fields"][0], GOOD["fields"][0]]}, "duplicate field names"),
    ],
)
def test_bad_custom_format_files_fail_clearly(tmp_path: Path, data: object, message: str):
    path = write(tmp_path, data)
    with pytest.raises(FormatError, match=message) as info:
        load_custom_format(path)
    assert str(path) in str(info.value)


def test_missing_custom_format_file(tmp_path: Path):
    with pytest.raises(FormatError, match="does not exist"):
        load_custom_format(tmp_path / "nope.json")


def test_builtin_checks():
    qa = BUILTIN_FORMATS["qa"]
    good = {
        "context": "The Rhine flows through six countries.",
        "question": "How many?",
        "answer": "six  countries",
    }
    assert check_sample(qa, good) is None  # whitespace and case are normalized
    assert check_sample(qa, good | {"answer": "seven"}) == "answer: not found in context"
    pc = BUILTIN_FORMATS["pair-class"]
    assert check_sample(pc, {"premise": "a b", "hypothesis": "c d", "label": 3}) == "label: 3 not in 0/1/2"
    ps = BUILTIN_FORMATS["pair-score"]
    assert check_sample(ps, {"sentence1": "a", "sentence2": "b", "score": 1.5}) == "score: 1.5 not in [0, 1]"
    tr = BUILTIN_FORMATS["triplet"]
    assert check_sample(tr, {"anchor": "x", "positive": "y", "negative": "Y"}).startswith("texts")
    assert dedup_key(tr, {"anchor": "A  b", "positive": "c", "negative": "d"}) == dedup_key(
        tr, {"anchor": "a b", "positive": "C", "negative": "d "}
    )
