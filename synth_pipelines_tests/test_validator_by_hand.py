"""``logs.validator``: each defect class found on a small hand-made inventory, with its exact line, field and detail."""

from __future__ import annotations

import json

import polars as pl

from synth_pipelines.domains.logs.fields import FieldSpec, FrameRule, Inventory, Rule
from synth_pipelines.domains.logs.mirror import (
    INCONSISTENT,
    LINE_FIELD,
    MALFORMED_JSON,
    MISSING,
    OUT_OF_RANGE,
    UNKNOWN_VOCABULARY,
    WRONG_TYPE,
)
from synth_pipelines.domains.logs.validator import UNKNOWN_FIELD, WRONG_FORMAT, Defect, validate_lines

INVENTORY = Inventory(
    "hand",
    [
        FieldSpec("id", "string", "record id", pattern=r"r-\d+"),
        FieldSpec("at", "timestamp", "when"),
        FieldSpec("level", "string", "severity", vocabulary=("INFO", "ERROR")),
        FieldSpec("ms", "int", "duration", ge=0, le=1000),
        FieldSpec("cost", "float", "price", required=False, ge=0),
        FieldSpec("ok", "bool", "success", required=False),
        FieldSpec("meta.host", "string", "host", required=False),
    ],
    [
        Rule(
            "error_takes_time",
            "ms",
            "an ERROR takes time",
            holds=(pl.col("level") != "ERROR") | (pl.col("ms") > 0),
            applies=pl.lit(True),
            violate=lambda df, rng: df,
        ),
        Rule(
            "not_seven",
            "(pair)",  # reported on a name that is not a field: no value to show
            "ms is never 7",
            holds=pl.col("ms") != 7,
            applies=pl.lit(True),
            violate=lambda df, rng: df,
        ),
    ],
    "id",
    frame_rules=[FrameRule("ids_rise", "id", "ids rise in file order", holds=pl.col("id") >= pl.col("id").shift(1))],
)
AT = "2024-01-02T03:04:05.006Z"


def line(**fields: object) -> str:
    record: dict[str, object] = {"id": "r-1", "at": AT, "level": "INFO", "ms": 5}
    record.update(fields)
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def found(text: str) -> list[tuple[str, str, str]]:
    (defects,) = validate_lines([text], INVENTORY)
    return [(d.field, d.defect, d.detail) for d in defects]


def test_a_valid_line_and_cosmetic_variations_pass() -> None:
    assert found(line(cost=2, ok=True, meta={"host": "h"})) == []  # an int is a valid float
    assert found(line(level=" info ", at="2024-01-02T04:04:05.006+01:00", cost=None)) == []
    assert found(line(ms=0)) == [] and found(line(ms=1000)) == []  # the bounds are inclusive


def test_lines_that_are_not_records() -> None:
    assert found('{"id":') == [(LINE_FIELD, MALFORMED_JSON, "not valid JSON: Expecting value")]
    assert found("[" * 100_000 + "]" * 100_000) == [(LINE_FIELD, MALFORMED_JSON, "JSON nested too deeply to read")]
    assert found("[1]") == [(LINE_FIELD, MALFORMED_JSON, "line is not a JSON object (got list)")]
    assert found("null") == [(LINE_FIELD, MALFORMED_JSON, "line is not a JSON object (got null)")]


def test_missing_and_wrongly_typed_fields() -> None:
    assert found(line(id=..., level=None)) == [
        ("id", MISSING, "required field id is missing"),
        ("level", MISSING, "required field level is missing"),
    ]
    assert found(line(ms="5", ok=1, at=7)) == [
        ("at", WRONG_TYPE, "expected timestamp, got int"),
        ("ms", WRONG_TYPE, "expected int, got str"),
        ("ok", WRONG_TYPE, "expected bool, got int"),
    ]
    assert found(line(ms=True, cost="1")) == [
        ("ms", WRONG_TYPE, "expected int, got bool"),
        ("cost", WRONG_TYPE, "expected float, got str"),
    ]
    assert found(line(cost=True)) == [("cost", WRONG_TYPE, "expected float, got bool")]
    assert found(line(ms=5.5)) == [("ms", WRONG_TYPE, "expected int, got float")]
    assert found(line(id=5, level=False)) == [
        ("id", WRONG_TYPE, "expected string, got int"),
        ("level", WRONG_TYPE, "expected string, got bool"),
    ]


def test_unknown_fields_at_any_depth() -> None:
    assert found(line(extra=1, meta={"host": "h", "port": 2})) == [
        ("extra", UNKNOWN_FIELD, "not in the field inventory"),
        ("meta.port", UNKNOWN_FIELD, "not in the field inventory"),
    ]
    # "meta" must be an object to hold meta.host: a scalar there is one unknown field, and meta.host is absent.
    assert found(line(meta=5)) == [("meta", UNKNOWN_FIELD, "not in the field inventory")]
    assert found(line(other={"host": "h"})) == [("other", UNKNOWN_FIELD, "not in the field inventory")]


def test_values_outside_the_vocabulary_range_format_and_calendar() -> None:
    # The value is shown as compared: trimmed and case-folded.
    assert found(line(level=" DEBUG")) == [("level", UNKNOWN_VOCABULARY, "not one of INFO, ERROR; value 'debug'")]
    assert found(line(ms=-1, cost=-0.5)) == [
        ("ms", OUT_OF_RANGE, "below 0; value -1"),
        ("cost", OUT_OF_RANGE, "below 0; value -0.5"),
    ]
    assert found(line(ms=1001)) == [("ms", OUT_OF_RANGE, "above 1000; value 1001")]
    assert found(line(id="x-1")) == [("id", WRONG_FORMAT, r"does not match r-\d+")]
    assert found(line(id="r-1x")) == [("id", WRONG_FORMAT, r"does not match r-\d+")]  # the whole string
    assert found(line(at="yesterday")) == [("at", WRONG_TYPE, "not an ISO-8601 timestamp with a zone")]
    assert found(line(at="+10000-01-01T00:00:00.000Z")) == [
        (
            "at",
            OUT_OF_RANGE,
            "after 9999-12-31T23:59:59.999Z in UTC (ISO-8601 years have four digits); "
            "value '+10000-01-01T00:00:00.000Z'",
        )
    ]


def test_rules_apply_to_structurally_sound_lines_only_and_number_lines_from_one() -> None:
    lines = [
        line(id="r-1"),
        line(id="r-2", level="ERROR", ms=0),  # breaks the rule
        line(id="r-0"),  # breaks the frame rule (ids rise)
        line(id=..., level="ERROR", ms=0),  # breaks the rule too, but the missing id is its defect
    ]
    report = validate_lines(lines, INVENTORY)
    assert report == [
        [],
        [Defect(2, "ms", INCONSISTENT, "an ERROR takes time")],
        [Defect(3, "id", INCONSISTENT, "ids rise in file order")],
        [Defect(4, "id", MISSING, "required field id is missing")],
    ]
    assert str(report[1][0]) == "ms: inconsistent_fields (an ERROR takes time)"
    assert validate_lines([], INVENTORY) == []


def test_every_defect_carries_its_line_number() -> None:
    lines = [line(), "{", "[" * 100_000 + "]" * 100_000, line(ms="x"), line(extra=1), line(ms=7), line(ms=-1)]
    report = validate_lines(lines, INVENTORY)
    assert [[(d.line, d.field, d.defect) for d in defects] for defects in report] == [
        [],
        [(2, LINE_FIELD, MALFORMED_JSON)],
        [(3, LINE_FIELD, MALFORMED_JSON)],
        [(4, "ms", WRONG_TYPE)],
        [(5, "extra", UNKNOWN_FIELD)],
        [(6, "(pair)", INCONSISTENT)],
        [(7, "ms", OUT_OF_RANGE)],
    ]
    assert report[5][0].detail == "ms is never 7"
