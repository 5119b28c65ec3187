"""The labelled invalid mirror of the log domains, line by line against lines written by hand.

A toy record type small enough to know every clean line; for each manifest row the broken line is rebuilt
here from the clean record with ``json.dumps`` (what the defect class promises), not with the mirror's code.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import polars as pl

from synth_pipelines.domains.logs.fields import FieldSpec, Inventory, Rule, set_values
from synth_pipelines.domains.logs.lines import to_lines
from synth_pipelines.domains.logs.mirror import DEFECT_CLASSES, MANIFEST_SCHEMA, UNKNOWN_TERMS, make_invalid

AT = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
AT_TEXT = "2026-01-02T03:04:05.678Z"
AT_EPOCH_MS = 1767323045678  # 2026-01-02T03:04:05.678Z: 20455 days * 86400000 + 3h4m5.678s

LEVEL_RULE = Rule(
    "high_needs_n",
    "level",
    "a high level needs n of 5 or more",
    holds=(pl.col("level") != "high") | (pl.col("n") >= 5),
    applies=pl.col("n") < 5,
    violate=lambda df, rng: set_values(df, level="high"),
)

FIELDS = [
    FieldSpec("id", "string", "record id"),
    FieldSpec("name", "string", "a key whose name repeats (model.name): not spliceable, rendered again"),
    FieldSpec("n", "int", "bounded both ways", ge=0, le=10),
    FieldSpec("level", "string", "vocabulary", vocabulary=("low", "high")),
    FieldSpec("at", "timestamp", "when"),
    FieldSpec("ratio", "float", "optional, bounded below only", required=False, ge=0.0),
    FieldSpec("model.name", "string", "nested, its key repeats: found after its opener"),
    FieldSpec("model.ok", "bool", "nested, optional", required=False),
]
INVENTORY = Inventory("toy_mirror", FIELDS, [LEVEL_RULE], id_field="id")


def _clean(count: int) -> pl.DataFrame:
    rows = []
    for i in range(count):
        rows.append(
            {
                "id": f"r{i}",
                "name": "Zoë" if i % 2 else "Al",
                "n": i % 11,
                "level": "low" if i % 3 else "high",
                "at": AT,
                "ratio": None if i % 4 == 0 else 0.25,
                "model_name": "m-é",
                "model_ok": None if i % 5 == 0 else bool(i % 2),
            }
        )
    # a high level with n < 5 would already break the rule in the clean data: those become low
    frame = pl.DataFrame(rows, schema=INVENTORY.polars_schema)
    frame = frame.with_columns(level=pl.when(pl.col("n") < 5).then(pl.lit("low")).otherwise(pl.col("level")))
    return INVENTORY.conform(frame)


def _record(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON object of a clean flat row, in field order, null fields and empty objects left out."""
    record: dict[str, Any] = {}
    for spec in FIELDS:
        value = row[spec.column]
        if value is None:
            continue
        if spec.kind == "timestamp":
            value = AT_TEXT
        node = record
        *parents, leaf = spec.path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return record


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def _set(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``record`` with ``path`` set (or left out, with its object if it empties, for ``...``)."""
    out = json.loads(json.dumps(record))
    *parents, leaf = path.split(".")
    node = out
    for part in parents:
        node = node[part]
    if value is ...:
        del node[leaf]
        if parents and not node:
            del out[parents[0]]
    else:
        node[leaf] = value
    return out


def _get(record: dict[str, Any], path: str) -> Any:
    node = record
    for part in path.split("."):
        node = node[part]
    return node


def test_every_defect_class_breaks_its_one_field_as_the_manifest_says() -> None:
    clean = _clean(240)
    lines, manifest = make_invalid(clean, INVENTORY, np.random.default_rng(11), first_line=101)
    assert manifest.schema == MANIFEST_SCHEMA
    assert manifest["line"].to_list() == list(range(101, 341))
    assert manifest["record_id"].to_list() == [f"r{i}" for i in range(240)]
    assert set(manifest["defect"]) == set(DEFECT_CLASSES)
    chosen: dict[str, set[str]] = {}
    for row, line, label in zip(clean.iter_rows(named=True), lines, manifest.iter_rows(named=True), strict=True):
        record, defect, field, detail = _record(row), label["defect"], label["field"], label["detail"]
        chosen.setdefault(defect, set()).add(field)
        if defect == "malformed_json":
            whole = _dumps(record)
            assert (field, detail) == ("(line)", "line cut short: not valid JSON")
            # cut to 1 .. len - 2 characters: never empty, never the whole line less its closing brace
            assert whole.startswith(line) and 1 <= len(line) <= len(whole) - 2, (line, whole)
            continue
        got = json.loads(line)
        if defect == "missing_required_field":
            assert FIELDS[[f.path for f in FIELDS].index(field)].required
            assert detail == f"required field {field} left out"
            assert line == _dumps(_set(record, field, ...))
        elif defect == "wrong_type":
            kind = INVENTORY.by_path[field].kind
            value = _get(record, field)
            if kind == "timestamp":
                assert detail == f"timestamp {field} written as epoch milliseconds"
                assert line == _dumps(_set(record, field, AT_EPOCH_MS))
            elif kind == "string":
                assert detail == f"string {field} written as a number"
                assert line == _dumps(_set(record, field, len(value)))  # characters, not bytes ("Zoë": 3)
            else:
                assert detail == f"{kind} {field} written as a string"
                assert line == _dumps(_set(record, field, json.dumps(value)))
        elif defect == "out_of_range":
            value = _get(got, field)
            assert got == _set(record, field, value)
            if field == "n":
                # span 10, step 1..10 past a bound, then one more whole step outward
                assert detail == "n outside [0, 10]"
                assert isinstance(value, int) and (12 <= value <= 21 or -11 <= value <= -2), value
            else:
                # only a lower bound: a span of 100 assumed, always below it, to 3 decimals
                assert (field, detail) == ("ratio", "ratio outside [0, inf]")
                assert isinstance(value, float) and -100 <= value <= -10 and round(value, 3) == value, value
        elif defect == "unknown_vocabulary":
            assert (field, detail) == ("level", "level not in its vocabulary")
            assert got == _set(record, "level", got["level"]) and got["level"] in UNKNOWN_TERMS
        else:
            assert defect == "inconsistent_fields"
            assert (field, detail) == ("level", "a high level needs n of 5 or more")
            assert row["n"] < 5 and line == _dumps(_set(record, "level", "high"))
    # the field is drawn among all eligible ones, not always the first
    assert chosen["missing_required_field"] == {"id", "name", "n", "level", "at", "model.name"}
    assert chosen["wrong_type"] == {f.path for f in FIELDS}
    assert chosen["out_of_range"] == {"n", "ratio"}
    # and both sides of a two-sided range are used
    n_values = [
        json.loads(line)["n"]
        for line, d, f in zip(lines, manifest["defect"], manifest["field"], strict=True)
        if (d, f) == ("out_of_range", "n")
    ]
    assert min(n_values) < 0 < 10 < max(n_values)


def test_a_class_with_nothing_to_break_in_a_record_cuts_its_line_instead() -> None:
    # no rules; the range and vocabulary fields exist but are null in every record (a), or do not exist (b)
    with_nulls = Inventory(
        "toy_nulls",
        [
            FieldSpec("id", "string", "record id"),
            FieldSpec("score", "int", "optional", required=False, ge=0, le=1),
            FieldSpec("tag", "string", "optional", required=False, vocabulary=("a",)),
        ],
        [],
        id_field="id",
    )
    bare = Inventory("toy_bare", [FieldSpec("id", "string", "record id")], [], id_field="id")
    for inv in (with_nulls, bare):
        ids = pl.Series("id", [f"id{i:02d}" for i in range(60)])
        clean = inv.conform(pl.DataFrame(ids).with_columns(pl.lit(None).alias(c) for c in inv.by_column if c != "id"))
        lines, manifest = make_invalid(clean, inv, np.random.default_rng(3))
        assert set(manifest["defect"]) == {"missing_required_field", "wrong_type", "malformed_json"}, inv.name
        assert set(manifest["field"]) == {"id", "(line)"}
        for i, (line, defect) in enumerate(zip(lines, manifest["defect"], strict=True)):
            whole = f'{{"id":"id{i:02d}"}}'
            expected = {"missing_required_field": ["{}"], "wrong_type": ['{"id":4}']}.get(defect)
            if expected is None:
                assert whole.startswith(line) and 1 <= len(line) <= len(whole) - 2
            else:
                assert [line] == expected
    # no records: no lines, an empty manifest of the same schema
    lines, manifest = make_invalid(
        bare.conform(pl.DataFrame(schema=bare.polars_schema)), bare, np.random.default_rng(3)
    )
    assert lines.len() == 0 and lines.name == "line" and lines.dtype == pl.String
    assert manifest.height == 0 and manifest.schema == MANIFEST_SCHEMA


def test_the_callers_clean_lines_are_used_as_given_and_left_unchanged() -> None:
    clean = _clean(30)
    given = to_lines(clean, INVENTORY).str.replace(
        '"id":', '"id" :', literal=True
    )  # spacing the mirror would not write
    before = given.clone()
    lines, manifest = make_invalid(clean, INVENTORY, np.random.default_rng(5), clean_lines=given)
    assert given.equals(before)
    # a line cut short is cut from the caller's line
    for line, defect, whole in zip(lines, manifest["defect"], given, strict=True):
        if defect == "malformed_json":
            assert whole.startswith(line)
