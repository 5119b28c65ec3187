"""Validate any JSONL file of a log domain, line by line, with the reason for every defect.

The checks come from the domain's inventory, the same one the pandera schema is built from:
1. each line must be a JSON object (``malformed_json``; ``null``, a number, a string, an array or a
   boolean is valid JSON but not a record);
2. each field must be present when required and of its JSON type (``missing_required_field``,
   ``wrong_type``); keys the inventory does not know are ``unknown_field``;
3. after the same normalisation the pipeline applies, values must be in their vocabulary, range or
   pattern (``unknown_vocabulary``, ``out_of_range``, ``wrong_format``), timestamps must parse
   (``wrong_type``) and fall on or before 9999-12-31T23:59:59.999Z in UTC (``out_of_range``: ISO-8601
   has four-digit years), and cross-field rules must hold (``inconsistent_fields``), including rules
   across the lines of the file (``FrameRule``, e.g. the steps of a run in order).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from synth_pipelines.domains.logs.fields import FieldSpec, Inventory
from synth_pipelines.domains.logs.lines import normalize_values
from synth_pipelines.domains.logs.mirror import (
    INCONSISTENT,
    LINE_FIELD,
    MALFORMED_JSON,
    MISSING,
    OUT_OF_RANGE,
    UNKNOWN_VOCABULARY,
    WRONG_TYPE,
)

UNKNOWN_FIELD = "unknown_field"
WRONG_FORMAT = "wrong_format"
_MISSING = object()
_NOT_A_RECORD = object()  # the line did not decode to a JSON object
LATEST_TIMESTAMP = dt.datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Defect:
    line: int
    field: str
    defect: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.defect} ({self.detail})"


def _type_ok(spec: FieldSpec, value: Any) -> bool:
    if spec.kind in ("string", "timestamp"):
        return isinstance(value, str)
    if spec.kind == "bool":
        return isinstance(value, bool)
    if spec.kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _get(record: dict[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _unknown_keys(record: dict[str, Any], known: set[str], prefix: str = "") -> list[str]:
    out = []
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and any(k.startswith(path + ".") for k in known):
            out += _unknown_keys(value, known, path + ".")
        elif path not in known:
            out.append(path)
    return out


def validate_lines(lines: Iterable[str], inv: Inventory) -> list[list[Defect]]:
    """Defects per line (an empty list for a valid line), in line order; lines are numbered from 1."""
    known = set(inv.by_path)
    report: list[list[Defect]] = []
    columns: dict[str, list[Any]] = {f.column: [] for f in inv.fields}
    for number, text in enumerate(lines, start=1):
        defects: list[Defect] = []
        record: Any = _NOT_A_RECORD
        try:
            record = json.loads(text)
        except ValueError as exc:
            defects.append(Defect(number, LINE_FIELD, MALFORMED_JSON, f"not valid JSON: {exc.msg}"))
        except RecursionError:  # the decoder recurses per level: a bounded depth, reported as one bad line
            defects.append(Defect(number, LINE_FIELD, MALFORMED_JSON, "JSON nested too deeply to read"))
        else:
            if not isinstance(record, dict):
                got = "null" if record is None else type(record).__name__
                defects.append(Defect(number, LINE_FIELD, MALFORMED_JSON, f"line is not a JSON object (got {got})"))
                record = _NOT_A_RECORD
        is_record = record is not _NOT_A_RECORD
        for spec in inv.fields:
            value = _get(record, spec.path) if is_record else _MISSING
            if is_record and (value is _MISSING or value is None):
                if spec.required:
                    defects.append(Defect(number, spec.path, MISSING, f"required field {spec.path} is missing"))
                value = None
            elif is_record and not _type_ok(spec, value):
                got = type(value).__name__
                defects.append(Defect(number, spec.path, WRONG_TYPE, f"expected {spec.kind}, got {got}"))
                value = None
            columns[spec.column].append(None if value is _MISSING else value)
        if is_record:
            defects += [
                Defect(number, k, UNKNOWN_FIELD, "not in the field inventory") for k in _unknown_keys(record, known)
            ]
        report.append(defects)
    if not report:
        return report

    schema = {f.column: (pl.String() if f.kind == "timestamp" else f.dtype) for f in inv.fields}
    frame = normalize_values(pl.DataFrame(columns, schema=schema, strict=False), inv)
    structural_ok = pl.Series([not any(d.defect in (MISSING, WRONG_TYPE, MALFORMED_JSON) for d in ds) for ds in report])
    checks: list[tuple[pl.Expr, str, str, str]] = []  # (bad-row expr, field, defect, detail)
    raw = pl.DataFrame(columns, schema=schema, strict=False)
    for spec in inv.fields:
        col = pl.col(spec.column)
        if spec.kind == "timestamp":
            bad = raw[spec.column].is_not_null() & frame[spec.column].is_null()
            checks.append((pl.lit(bad), spec.path, WRONG_TYPE, "not an ISO-8601 timestamp with a zone"))
            checks.append(
                (
                    col > pl.lit(LATEST_TIMESTAMP, dtype=frame.schema[spec.column]),
                    spec.path,
                    OUT_OF_RANGE,
                    "after 9999-12-31T23:59:59.999Z in UTC (ISO-8601 years have four digits)",
                )
            )
        if spec.vocabulary:
            checks.append(
                (
                    col.is_not_null() & ~col.is_in(list(spec.vocabulary)),
                    spec.path,
                    UNKNOWN_VOCABULARY,
                    f"not one of {spec.allowed}",
                )
            )
        if spec.ge is not None:
            checks.append((col < spec.ge, spec.path, OUT_OF_RANGE, f"below {spec.ge:g}"))
        if spec.le is not None:
            checks.append((col > spec.le, spec.path, OUT_OF_RANGE, f"above {spec.le:g}"))
        if spec.pattern:
            checks.append(
                (
                    col.is_not_null() & ~col.str.contains(f"^(?:{spec.pattern})$"),
                    spec.path,
                    WRONG_FORMAT,
                    f"does not match {spec.pattern}",
                )
            )
    for rule in [*inv.rules, *inv.frame_rules]:
        bad = ~rule.holds.fill_null(True) & pl.lit(structural_ok)
        checks.append((bad, rule.field, INCONSISTENT, rule.description))
    if checks:
        flags = frame.select(expr.fill_null(False).alias(f"c{i}") for i, (expr, *_rest) in enumerate(checks))
        for i, (_expr, field, defect, detail) in enumerate(checks):
            for row in flags[f"c{i}"].arg_true().to_list():
                shown_spec = inv.by_path.get(field)
                # A timestamp is shown as written: a year past 9999 has no Python datetime.
                source = raw if shown_spec is not None and shown_spec.kind == "timestamp" else frame
                value = source[shown_spec.column][row] if shown_spec is not None else None
                shown = f"{detail}; value {value!r}" if defect in (UNKNOWN_VOCABULARY, OUT_OF_RANGE) else detail
                report[row].append(Defect(row + 1, field, defect, shown))
    return report
