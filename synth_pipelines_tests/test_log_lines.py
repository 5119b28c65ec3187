"""JSON lines of the log domains: escaping and the placement of absent fields, against ``json.dumps``."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import numpy as np
import polars as pl
import pytest

from synth_pipelines.domains.logs.fields import FieldSpec, Inventory
from synth_pipelines.domains.logs.lines import fragment, json_string, render
from synth_pipelines.domains.logs.mirror import Member, key_repeats, splice_members, spliceable

CONTROL_AND_QUOTES = "".join(chr(c) for c in range(0x20)) + 'a"b\\c\x7fé'

INVENTORY = Inventory(
    "toy",
    [
        FieldSpec("first", "string", "optional key first in the line", required=False),
        FieldSpec("inner.x", "int", "optional, first of an all-optional object", required=False),
        FieldSpec("inner.y", "float", "optional, second of it", required=False),
        FieldSpec("id", "string", "required"),
        FieldSpec("at", "timestamp", "required"),
        FieldSpec("flags.ok", "bool", "optional", required=False),
        FieldSpec("flags.note", "string", "optional", required=False),
        FieldSpec("last", "int", "optional key last in the line", required=False),
    ],
    [],
    id_field="id",
)


def _expected(row: dict[str, Any]) -> str:
    """The line ``json.dumps`` writes for a flat row, null fields and empty objects left out."""
    record: dict[str, Any] = {}
    for spec in INVENTORY.fields:
        value = row[spec.column]
        if value is None:
            continue
        if spec.kind == "timestamp":
            value = value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        node = record
        *parents, leaf = spec.path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def test_json_string_escapes_every_control_character_as_json_dumps_does() -> None:
    out = pl.DataFrame({"v": [CONTROL_AND_QUOTES, "plain", None]}).select(json_string(pl.col("v"))).to_series()
    assert out.to_list() == [json.dumps(CONTROL_AND_QUOTES, ensure_ascii=False), '"plain"', None]
    assert json.loads(out[0]) == CONTROL_AND_QUOTES


def test_lines_leave_out_absent_fields_and_empty_objects_in_every_combination() -> None:
    optional = [f.column for f in INVENTORY.fields if not f.required]
    values = {
        "first": "f",
        "inner_x": 7,
        "inner_y": 0.25,
        "flags_ok": False,
        "flags_note": CONTROL_AND_QUOTES,
        "last": 3,
    }
    rows = []
    for i, absent in enumerate(itertools.product([False, True], repeat=len(optional))):
        row: dict[str, Any] = {c: None if gone else values[c] for c, gone in zip(optional, absent, strict=True)}
        row |= {"id": f"r{i}", "at": dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)}
        rows.append(row)
    frame = INVENTORY.conform(pl.DataFrame(rows, schema=INVENTORY.polars_schema))
    lines = render(frame, INVENTORY).to_list()
    assert lines == [_expected(row) for row in frame.iter_rows(named=True)]
    # The same rows one at a time: which keys are always present changes, the bytes do not.
    assert [render(frame.slice(i, 1), INVENTORY).item() for i in range(frame.height)] == lines


def _every_combination() -> pl.DataFrame:
    optional = [f.column for f in INVENTORY.fields if not f.required]
    values = {"first": "f", "inner_x": 7, "inner_y": 0.25, "flags_ok": False, "flags_note": 'a"b', "last": 3}
    rows = []
    for i, absent in enumerate(itertools.product([False, True], repeat=len(optional))):
        row: dict[str, Any] = {c: None if gone else values[c] for c, gone in zip(optional, absent, strict=True)}
        row |= {"id": f"r{i}", "at": dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)}
        rows.append(row)
    return INVENTORY.conform(pl.DataFrame(rows, schema=INVENTORY.polars_schema))


@pytest.mark.parametrize("literal", ['"swapped"', None], ids=["replaced", "left-out"])
def test_splicing_a_member_of_a_canonical_line_writes_what_render_writes(literal: str | None) -> None:
    # The invalid mirror edits one member of the clean line instead of rendering the record again:
    # first, middle, last and lone members of objects, nested or not, against render's own output.
    frame = _every_combination()
    lines = render(frame, INVENTORY)
    for spec in INVENTORY.fields:
        assert spliceable(spec, INVENTORY)
        rows = np.flatnonzero(frame[spec.column].is_not_null().to_numpy())
        records = frame[rows]
        new = pl.Series([literal] * rows.size, dtype=pl.String)
        *parents, leaf = spec.path.split(".")
        expected = render(records, INVENTORY, {spec.column: new}).to_list()
        # a nested key is found from the start of the line, or after its object's opener
        for after_opener in {key_repeats(spec, INVENTORY), bool(parents)}:
            member = Member(f'"{leaf}":', f'"{parents[0]}":{{' if parents else None, after_opener)
            spliced = splice_members(
                lines.gather(rows), records.select(fragment(spec)).to_series(), new, [(member, rows.size)]
            )
            assert spliced is not None, spec.path
            assert spliced.to_list() == expected, (spec.path, after_opener)


def test_literals_replace_a_field_and_a_null_literal_leaves_it_out() -> None:
    frame = INVENTORY.conform(
        pl.DataFrame(
            [{"id": "a", "at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "last": 1, "inner_x": 2}],
            schema=INVENTORY.polars_schema,
        )
    )
    swapped = render(frame, INVENTORY, {"last": pl.Series(['"one"']), "id": pl.Series([None], dtype=pl.String)})
    assert swapped.item() == '{"inner":{"x":2},"at":"2026-01-01T00:00:00.000Z","last":"one"}'
