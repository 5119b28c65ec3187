"""Training-set formats: the built-in five and custom ones from JSON, with per-sample validation.

A format is a list of typed fields. From it come the pydantic output model the LLM must fill
(``batch_model``), the check every sample passes before it is kept (``check_sample``), and the key
exact dedup uses (``dedup_key``: a hash of the case-folded, whitespace-collapsed field texts).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, Field, create_model

FieldType = Literal["string", "integer", "float", "boolean"]
FIELD_TYPES: dict[str, type] = {"string": str, "integer": int, "float": float, "boolean": bool}
POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int64(),
    "float": pl.Float64(),
    "boolean": pl.Boolean(),
}
RESERVED = {"source", "method", "seed"}
LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class FormatError(ValueError):
    """A custom format file is not usable; the message names the file and the field."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    description: str
    required: bool = True
    example: Any = None
    minimum: float | None = None  # built-in bounds, sent in the JSON schema and checked again
    maximum: float | None = None


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    fields: tuple[FieldSpec, ...]
    builtin: bool = True

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def polars_schema(self) -> dict[str, pl.DataType]:
        return {f.name: POLARS_TYPES[f.type] for f in self.fields}

    def spec_json(self) -> str:
        return json.dumps(
            {"name": self.name, "description": self.description, "fields": [f.__dict__ for f in self.fields]},
            sort_keys=True,
        )


def _s(name: str, description: str, example: str) -> FieldSpec:
    return FieldSpec(name, "string", description, True, example)


BUILTIN_FORMATS: dict[str, Format] = {
    "qa": Format(
        "qa",
        "Extractive question answering: the answer is a span copied exactly from the context.",
        (
            _s("context", "a passage of text", "The Rhine flows through six countries."),
            _s(
                "question",
                "a question the context answers",
                "How many countries does the Rhine flow through?",
            ),
            _s("answer", "the shortest exact span of the context that answers the question", "six"),
        ),
    ),
    "pair": Format(
        "pair",
        "Anchor and positive: two texts a retrieval model should place close together.",
        (
            _s("anchor", "a query or sentence", "how do glaciers move"),
            _s(
                "positive",
                "a passage that answers or matches the anchor",
                "Glaciers move by internal flow...",
            ),
        ),
    ),
    "triplet": Format(
        "triplet",
        "Anchor, positive and a hard negative that must be placed further away than the positive.",
        (
            _s("anchor", "a query or sentence", "how do glaciers move"),
            _s(
                "positive",
                "a passage that answers or matches the anchor",
                "Glaciers move by internal flow...",
            ),
            _s(
                "negative",
                "a related-looking passage that does not match the anchor",
                "Sea ice forms when...",
            ),
        ),
    ),
    "pair-class": Format(
        "pair-class",
        "Natural language inference: label 0 = entailment, 1 = neutral, 2 = contradiction.",
        (
            _s("premise", "a statement", "A cyclist rides across the bridge at dawn."),
            _s("hypothesis", "a statement to judge against the premise", "Someone is on a bridge."),
            FieldSpec("label", "integer", "0 entailment, 1 neutral, 2 contradiction", True, 0, 0, 2),
        ),
    ),
    "pair-score": Format(
        "pair-score",
        "Semantic similarity: score from 0.0 (unrelated) to 1.0 (same meaning).",
        (
            _s("sentence1", "a sentence", "The meeting was moved to Friday."),
            _s("sentence2", "a sentence compared with sentence1", "The meeting now takes place on Friday."),
            FieldSpec("score", "float", "similarity from 0.0 to 1.0", True, 0.9, 0.0, 1.0),
        ),
    ),
}


def load_custom_format(path: str | Path) -> Format:
    """Read and check a custom format file; every problem names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"custom format file {str(path)!r} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise FormatError(f"{path}: expected a JSON object with name, description and fields")
    unknown = set(data) - {"name", "description", "fields"}
    if unknown:
        raise FormatError(f"{path}: unknown keys {sorted(unknown)} (allowed: name, description, fields)")
    # The Gemini generator's format files may leave out name and description: the file's stem names it.
    name = data.get("name", re.sub(r"[^A-Za-z0-9_-]", "_", path.stem).lstrip("_-0123456789") or "custom")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise FormatError(f"{path}: 'name' must be 1-64 letters, digits, '-' or '_' starting with a letter")
    if name in BUILTIN_FORMATS:
        raise FormatError(f"{path}: name {name!r} is a built-in format; choose another name")
    description = data.get("description", f"records of the custom format {name}")
    if not isinstance(description, str) or not description.strip():
        raise FormatError(f"{path}: 'description' must be a non-empty string")
    raw_fields = data.get("fields")
    if isinstance(raw_fields, dict):
        raw_fields = [{"name": k, **v} if isinstance(v, dict) else {"name": k, "bad": v} for k, v in raw_fields.items()]
    if not isinstance(raw_fields, list) or not raw_fields:
        raise FormatError(f"{path}: 'fields' must be a non-empty list (or object) of field definitions")
    fields: list[FieldSpec] = []
    for i, raw in enumerate(raw_fields):
        fields.append(_parse_field(path, i, raw))
    names = [f.name for f in fields]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FormatError(f"{path}: duplicate field names {dupes}")
    if not any(f.required and f.type == "string" for f in fields):
        raise FormatError(f"{path}: at least one required string field is needed (samples are deduplicated by text)")
    return Format(name, description.strip(), tuple(fields), builtin=False)


def _parse_field(path: Path, i: int, raw: Any) -> FieldSpec:
    where = f"{path}: fields[{i}]"
    if not isinstance(raw, dict) or "bad" in raw:
        raise FormatError(f"{where}: expected an object with name, type, description, required, example")
    name = raw.get("name")
    if not isinstance(name, str) or not FIELD_RE.match(name):
        raise FormatError(f"{where}: 'name' must be an identifier (letters, digits, '_'), got {name!r}")
    where = f"{path}: field {name!r}"
    if name in RESERVED:
        raise FormatError(f"{where}: the name is reserved (reserved: {', '.join(sorted(RESERVED))})")
    unknown = set(raw) - {"name", "type", "description", "required", "example"}
    if unknown:
        raise FormatError(f"{where}: unknown keys {sorted(unknown)}")
    kind = raw.get("type")
    if kind not in FIELD_TYPES:
        raise FormatError(f"{where}: 'type' must be one of string, integer, float, boolean, got {kind!r}")
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise FormatError(f"{where}: 'description' must be a non-empty string (the model reads it)")
    required = raw.get("required", True)
    if not isinstance(required, bool):
        raise FormatError(f"{where}: 'required' must be true or false, got {required!r}")
    example = raw.get("example")
    if example is not None and _type_problem(kind, example):
        raise FormatError(f"{where}: 'example' {example!r} is not a {kind}")
    return FieldSpec(name, kind, description.strip(), required, example)


def resolve_format(name: str | None, custom_path: str | None) -> Format:
    if custom_path:
        return load_custom_format(custom_path)
    if name not in BUILTIN_FORMATS:
        raise FormatError(f"unknown format {name!r}; built-in formats: {', '.join(BUILTIN_FORMATS)}")
    return BUILTIN_FORMATS[name]


@cache
def _models(spec_json: str) -> tuple[type[BaseModel], type[BaseModel]]:
    spec = json.loads(spec_json)
    base = re.sub(r"[^A-Za-z0-9]", "", spec["name"].title()) or "Custom"
    fields: dict[str, Any] = {}
    for f in spec["fields"]:
        py = FIELD_TYPES[f["type"]]
        # Strict structured output wants every key present; optional fields are nullable instead.
        annotation = py if f["required"] else py | None
        bounds = {"ge": f["minimum"], "le": f["maximum"]} if f["minimum"] is not None else {}
        fields[f["name"]] = (annotation, Field(..., description=f["description"], **bounds))
    sample = create_model(f"{base}Sample", **fields)  # type: ignore[call-overload]
    batch = create_model(
        f"{base}Batch",
        samples=(list[sample], Field(..., description="the generated samples")),  # type: ignore[valid-type]
    )
    return sample, batch


def sample_model(fmt: Format) -> type[BaseModel]:
    return _models(fmt.spec_json())[0]


def batch_model(fmt: Format) -> type[BaseModel]:
    """The structured output of one request: ``{"samples": [...]}``."""
    return _models(fmt.spec_json())[1]


def _type_problem(kind: str, value: Any) -> bool:
    if kind == "string":
        return not isinstance(value, str)
    if kind == "integer":
        return isinstance(value, bool) or not isinstance(value, int)
    if kind == "float":
        return isinstance(value, bool) or not isinstance(value, int | float)
    return not isinstance(value, bool)


def normalize_text(text: str) -> str:
    return " ".join(text.casefold().split())


def check_sample(fmt: Format, sample: dict[str, Any]) -> str | None:
    """Why ``sample`` is not a valid sample of ``fmt`` (None when it is)."""
    for spec in fmt.fields:
        value = sample.get(spec.name)
        if value is None:
            if spec.required:
                return f"{spec.name}: missing"
            continue
        if _type_problem(spec.type, value):
            return f"{spec.name}: not a {spec.type}"
        if spec.type == "string" and not value.strip():
            return f"{spec.name}: empty"
    name = fmt.name if fmt.builtin else ""
    if name == "qa":
        if normalize_text(sample["answer"]) not in normalize_text(sample["context"]):
            return "answer: not found in context"
        if normalize_text(sample["answer"]) == normalize_text(sample["question"]):
            return "answer: same as question"
    elif name == "pair-class" and sample["label"] not in LABELS:
        return f"label: {sample['label']} not in 0/1/2"
    elif name == "pair-score" and not 0.0 <= float(sample["score"]) <= 1.0:
        return f"score: {sample['score']} not in [0, 1]"
    elif name in ("pair", "triplet"):
        texts = [normalize_text(sample[k]) for k in fmt.field_names]
        if len(set(texts)) < len(texts):
            return "texts: anchor, positive and negative must differ"
    return None


def dedup_key(fmt: Format, sample: dict[str, Any]) -> str:
    """Exact-duplicate key: hash over the normalized text of every field."""
    parts = [normalize_text(str(sample.get(name))) for name in fmt.field_names]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
