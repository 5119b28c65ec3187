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
from synth_pipelines.domains.logs.mirror import (
    DEFECT_CLASSES,
    MANIFEST_SCHEMA,
    UNKNOWN_TERMS,
    Member,
    _out_of_range_literal,
    key_repeats,
    make_invalid,
    splice_members,
    spliceable,
)

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

RATIO_RULE = Rule(
    "ratio_small",
    "ratio",
    "ratio is at most 0.5",
    holds=pl.col("ratio") <= 0.5,
    applies=pl.col("ratio") <= 0.5,  # null where ratio is: such a record cannot break it
    violate=lambda df, rng: df.with_columns(ratio=pl.Series(np.round(rng.uniform(0.75, 1.0, df.height), 2))),
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
INVENTORY = Inventory("toy_mirror", FIELDS, [LEVEL_RULE, RATIO_RULE], id_field="id")


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
    assert manifest.schema == MANIFEST_SCHEMA and lines.name == "line"
    assert manifest["line"].to_list() == list(range(101, 341))
    assert manifest["record_id"].to_list() == [f"r{i}" for i in range(240)]
    assert set(manifest["defect"]) == set(DEFECT_CLASSES)
    chosen: dict[str, set[str]] = {}
    terms: set[str] = set()
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
            terms.add(got["level"])
        else:
            assert defect == "inconsistent_fields"
            if field == "level":
                assert detail == "a high level needs n of 5 or more"
                assert row["n"] < 5 and line == _dumps(_set(record, "level", "high"))
            else:
                assert (field, detail) == ("ratio", "ratio is at most 0.5")
                assert row["ratio"] is not None and 0.75 <= got["ratio"] <= 1.0
                assert got == _set(record, "ratio", got["ratio"])
    # the field is drawn among all eligible ones, not always the first
    assert chosen["missing_required_field"] == {"id", "name", "n", "level", "at", "model.name"}
    assert chosen["wrong_type"] == {f.path for f in FIELDS}
    assert chosen["out_of_range"] == {"n", "ratio"}
    assert chosen["inconsistent_fields"] == {"level", "ratio"}
    assert terms == set(UNKNOWN_TERMS)  # every unknown term is drawn, the first too
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
            # null everywhere, and first: a class's first candidate with no rows is followed by one with rows
            FieldSpec("score", "int", "optional", required=False, ge=0, le=1),
            FieldSpec("tag", "string", "optional", required=False, vocabulary=("a",)),
            FieldSpec("id", "string", "record id"),
        ],
        [],
        id_field="id",
    )
    bare = Inventory("toy_bare", [FieldSpec("id", "string", "record id")], [], id_field="id")
    for inv in (with_nulls, bare):
        ids = pl.Series("id", [f"id{i:03d}" for i in range(240)])
        clean = inv.conform(pl.DataFrame(ids).with_columns(pl.lit(None).alias(c) for c in inv.by_column if c != "id"))
        lines, manifest = make_invalid(clean, inv, np.random.default_rng(3))
        assert manifest["line"].to_list() == list(range(1, 241))  # numbered from 1 by default
        assert set(manifest["defect"]) == {"missing_required_field", "wrong_type", "malformed_json"}, inv.name
        assert set(manifest["field"]) == {"id", "(line)"}
        cut_lengths = set()
        for i, (line, defect) in enumerate(zip(lines, manifest["defect"], strict=True)):
            whole = f'{{"id":"id{i:03d}"}}'  # 14 characters
            expected = {"missing_required_field": ["{}"], "wrong_type": ['{"id":5}']}.get(defect)
            if expected is None:
                assert whole.startswith(line)
                cut_lengths.add(len(line))
            else:
                assert [line] == expected
        # each line cut at its own uniform point: 1 + floor(U * (14 - 2)) = 1 .. 12 characters, every one drawn
        assert cut_lengths == set(range(1, 13))
    # no records: no lines, an empty manifest of the same schema
    lines, manifest = make_invalid(
        bare.conform(pl.DataFrame(schema=bare.polars_schema)), bare, np.random.default_rng(3)
    )
    assert lines.len() == 0 and lines.name == "line" and lines.dtype == pl.String
    assert manifest.height == 0 and manifest.schema == MANIFEST_SCHEMA


def test_the_callers_clean_lines_are_used_as_given_and_left_unchanged() -> None:
    clean = _clean(60)
    # spacing the mirror would not write: no member of "id" can be spliced, so those records are rendered again
    given = to_lines(clean, INVENTORY).str.replace('"id":', '"id" :', literal=True)
    before = given.clone()
    lines, manifest = make_invalid(clean, INVENTORY, np.random.default_rng(5), clean_lines=given)
    assert given.equals(before)
    assert set(manifest["field"]) >= {"id", "name", "n"}  # spliced and rendered fields were both broken
    for line, defect, whole, row in zip(lines, manifest["defect"], given, clean.iter_rows(named=True), strict=True):
        if defect == "malformed_json":
            assert whole.startswith(line)  # a line cut short is cut from the caller's line
        else:
            # every other record is broken: as JSON it differs from its clean record
            assert json.loads(line) != _record(row)


def _out_of_range(spec: FieldSpec, count: int = 3000) -> list[Any]:
    values = _out_of_range_literal(spec, count, np.random.default_rng(17)).to_list()
    assert len(values) == count
    return [json.loads(v) for v in values]


def test_out_of_range_values_land_where_worked_out_by_hand() -> None:
    # int in [100, 110]: a step of span 10 * U(0.1, 1) = (1, 10) past either bound, then one more whole number
    # outward: above, ceil(110 + (1, 10)) + 1 = 113 .. 121; below, floor(100 - (1, 10)) - 1 = 89 .. 97
    ints = _out_of_range(FieldSpec("i", "int", "", ge=100, le=110))
    assert all(isinstance(v, int) for v in ints)
    assert set(ints) == set(range(113, 122)) | set(range(89, 98))
    # float in [-1, 0]: a span under 1 steps by 1 * U(0.1, 1): above 0 + (0.1, 1), below -1 - (0.1, 1)
    floats = _out_of_range(FieldSpec("f", "float", "", ge=-1.0, le=0.0))
    above, below = [v for v in floats if v > 0], [v for v in floats if v < -1]
    assert len(above) + len(below) == len(floats) and len(above) > 1000 and len(below) > 1000
    assert 0.1 <= min(above) < 0.11 and 0.99 < max(above) <= 1.0
    assert -1.1 >= max(below) > -1.11 and -1.99 > min(below) >= -2.0
    # rounded to 3 decimals, not to whole numbers
    assert all(round(v, 3) == v for v in floats) and len({round(v, 1) for v in floats}) > 15
    # a span under 1 other than 1: [0, 0.5] steps by 1 * U(0.1, 1) too, above to at most 1.5
    halves = _out_of_range(FieldSpec("h", "float", "", ge=0.0, le=0.5))
    assert 1.49 < max(halves) <= 1.5 and -1.0 <= min(halves) < -0.99
    # one bound only: a span of 100 assumed, always on the open side: (10, 100) below 0, (10, 100) above 5
    lower_only = _out_of_range(FieldSpec("g", "float", "", ge=0.0))
    assert -100.0 <= min(lower_only) < -99.9 and -10.1 < max(lower_only) <= -10.0
    upper_only = _out_of_range(FieldSpec("u", "int", "", le=5))
    # above 5: ceil(5 + (10, 100)) + 1 = 17 .. 106
    assert min(upper_only) == 17 and max(upper_only) == 106


def test_a_rule_that_applies_to_one_record_only_breaks_that_record() -> None:
    never = Rule("never", "id", "applies to no record", pl.lit(True), pl.lit(False), lambda df, rng: df)
    only_seven = Rule(
        "seven",
        "id",
        "id07 must not be renamed",
        pl.col("id") != "renamed",
        pl.col("id") == "id07",
        # a scratch column the rule's frame has and the records do not
        lambda df, rng: df.with_columns(id=pl.lit("renamed"), _why=pl.lit("scratch")),
    )
    inv = Inventory("toy_rules", [FieldSpec("id", "string", "record id")], [never, only_seven], id_field="id")
    clean = inv.conform(pl.DataFrame({"id": [f"id{i:02d}" for i in range(12)]}))
    broken_seven = 0
    for seed in range(40):
        lines, manifest = make_invalid(clean, inv, np.random.default_rng(seed))
        for i, (line, label) in enumerate(zip(lines, manifest.iter_rows(named=True), strict=True)):
            if label["defect"] == "inconsistent_fields":
                assert i == 7 and (label["field"], label["detail"]) == ("id", "id07 must not be renamed")
                assert line == '{"id":"renamed"}'
                broken_seven += 1
    assert broken_seven > 0
    # one record alone is broken too
    one = inv.conform(pl.DataFrame({"id": ["id00"]}))
    lines, manifest = make_invalid(one, inv, np.random.default_rng(0))
    assert lines.len() == 1 and manifest["line"].to_list() == [1] and manifest["record_id"].to_list() == ["id00"]
    assert lines[0] != '{"id":"id00"}'


def test_a_member_is_found_by_its_key_after_its_objects_opener_where_the_key_name_repeats() -> None:
    assert Member.of(INVENTORY.by_path["model.name"], INVENTORY) == Member('"name":', '"model":{', True)
    assert Member.of(INVENTORY.by_path["model.ok"], INVENTORY) == Member('"ok":', '"model":{', False)
    assert Member.of(INVENTORY.by_path["name"], INVENTORY) == Member('"name":', None, True)
    assert Member.of(INVENTORY.by_path["at"], INVENTORY) == Member('"at":', None, False)


def test_which_keys_repeat_and_which_members_can_be_spliced() -> None:
    # "name" and "model.name" share a key name; "model" is also an object's key
    inv = Inventory(
        "toy_keys",
        [
            FieldSpec("id", "string", ""),
            FieldSpec("name", "string", ""),
            FieldSpec("model", "string", ""),
            FieldSpec("model.name", "string", ""),
            FieldSpec("model.ok", "bool", ""),
            FieldSpec("a.b.c", "int", ""),
        ],
        [],
        id_field="id",
    )
    repeats = {path: key_repeats(inv.by_path[path], inv) for path in inv.by_path}
    assert repeats == {
        "id": False,
        "name": True,
        "model": True,
        "model.name": True,
        "model.ok": False,
        "a.b.c": False,
    }
    # top level: only keys that do not repeat; one level down: always (searched after the opener); deeper: never
    splice = {path: spliceable(inv.by_path[path], inv) for path in inv.by_path}
    assert splice == {
        "id": True,
        "name": False,
        "model": False,
        "model.name": True,
        "model.ok": True,
        "a.b.c": False,
    }


def test_a_nested_member_whose_key_repeats_is_spliced_after_its_objects_opener() -> None:
    head = '{"id":"a","name":"Al","n":3,"at":"2026-01-02T03:04:05.678Z"'
    lines = pl.Series("l", [head + ',"model":{"name":"m","ok":true}}', head + ',"model":{"name":"q"}}'])
    own, new = pl.Series(['"m"', '"q"']), pl.Series(['"X"', None], dtype=pl.String)
    spliced = splice_members(lines, own, new, [(Member('"name":', '"model":{', True), 2)])
    assert spliced is not None
    # replaced in place; left out with the object it was alone in, and the comma before that object
    assert spliced.to_list() == [head + ',"model":{"name":"X","ok":true}}', head + "}"]
    # no members to change: no lines
    nothing = pl.Series("l", [], dtype=pl.String)
    assert splice_members(nothing, nothing, nothing, []).to_list() == []  # type: ignore[union-attr]
    # a member not where it is looked for (a key missing, or holding another value): None, the caller renders
    odd = pl.Series("l", [head + "}", head + ',"model":{"name":"m"}}'])
    assert splice_members(odd, pl.Series(['"m"', '"m"']), new, [(Member('"name":', '"model":{', True), 2)]) is None
    assert (
        splice_members(odd.slice(1), pl.Series(['"z"']), new.slice(0, 1), [(Member('"name":', '"model":{', True), 1)])
        is None
    )
