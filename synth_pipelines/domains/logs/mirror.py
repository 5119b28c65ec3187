"""The invalid raw mirror: every clean record broken on purpose, each defect labelled.

For a block of clean records, each record gets one defect class and (where the class concerns a
field) one field, chosen at random among the fields the class can break in that record. The
manifest row says which line, which record, which class, which field and what was done, so a
validator can be scored line by line.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from synth_pipelines.domains.logs.fields import FieldSpec, Inventory
from synth_pipelines.domains.logs.lines import columns_needing_escape, fragment, quoted, render

MISSING = "missing_required_field"
WRONG_TYPE = "wrong_type"
OUT_OF_RANGE = "out_of_range"
UNKNOWN_VOCABULARY = "unknown_vocabulary"
MALFORMED_JSON = "malformed_json"
INCONSISTENT = "inconsistent_fields"
DEFECT_CLASSES = (MISSING, WRONG_TYPE, OUT_OF_RANGE, UNKNOWN_VOCABULARY, MALFORMED_JSON, INCONSISTENT)
LINE_FIELD = "(line)"  # the field named for defects of the whole line

UNKNOWN_TERMS = ("quantum", "legacy_v0", "experimental", "misc", "n/a", "tbd")
UNKNOWN_TERM_LITERALS = pl.Series([json.dumps(t) for t in UNKNOWN_TERMS], dtype=pl.String)

MANIFEST_SCHEMA = pl.Schema(
    {"line": pl.Int64(), "record_id": pl.String(), "defect": pl.String(), "field": pl.String(), "detail": pl.String()}
)


def _choose(eligible: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per row, a random eligible column index; and whether the row had any."""
    scores = rng.random(eligible.shape)
    scores[~eligible] = -1.0
    return scores.argmax(axis=1), eligible.any(axis=1)


def _out_of_range_literal(spec: FieldSpec, n: int, rng: np.random.Generator) -> pl.Series:
    span = (spec.le - spec.ge) if spec.ge is not None and spec.le is not None else 100.0
    step = max(span, 1.0) * rng.uniform(0.1, 1.0, n)
    above = rng.random(n) < 0.5 if spec.ge is not None and spec.le is not None else np.full(n, spec.le is not None)
    values = np.where(above, (spec.le or 0.0) + step, (spec.ge or 0.0) - step)
    if spec.kind == "int":
        values = np.where(above, np.ceil(values) + 1, np.floor(values) - 1).astype(np.int64)
        return pl.Series(values).cast(pl.String)
    return pl.Series(np.round(values, 3)).cast(pl.String)


def make_invalid(
    clean: pl.DataFrame, inv: Inventory, rng: np.random.Generator, first_line: int = 1
) -> tuple[pl.Series, pl.DataFrame]:
    """Broken raw lines for ``clean`` (same order) and their manifest."""
    n = clean.height
    if n == 0:
        return pl.Series("line", [], dtype=pl.String), pl.DataFrame(schema=MANIFEST_SCHEMA)
    defect = rng.integers(0, len(DEFECT_CLASSES), size=n)
    field_of = np.full(n, LINE_FIELD, dtype=object)
    detail = np.full(n, "", dtype=object)
    not_null = {f.column: clean[f.column].is_not_null().to_numpy() for f in inv.fields}

    # 1. Rule violations change values, so they are applied to the flat records first.
    flat = clean
    rule_rows = np.flatnonzero(defect == DEFECT_CLASSES.index(INCONSISTENT))
    if inv.rules and rule_rows.size:
        applies = np.column_stack(
            [clean.with_columns(r.applies.fill_null(False).alias("_a"))["_a"].to_numpy() for r in inv.rules]
        )
        pick, has = _choose(applies[rule_rows], rng)
        defect[rule_rows[~has]] = DEFECT_CLASSES.index(MALFORMED_JSON)
        for r_idx, rule in enumerate(inv.rules):
            rows = rule_rows[has & (pick == r_idx)]
            if rows.size == 0:
                continue
            before = clean[rows]
            broken = rule.violate(before, rng)
            changed = [c for c in broken.columns if c in flat.columns and not broken[c].equals(before[c])]
            flat = flat.with_columns(flat[c].scatter(rows, broken[c].cast(flat.schema[c])) for c in changed)
            field_of[rows] = rule.field
            detail[rows] = rule.description
    else:
        defect[rule_rows] = DEFECT_CLASSES.index(MALFORMED_JSON)

    replacements: dict[str, list[tuple[np.ndarray, pl.Series | None]]] = {}

    def field_defect(cls: str, candidates: list[FieldSpec], make) -> None:  # type: ignore[no-untyped-def]
        rows = np.flatnonzero(defect == DEFECT_CLASSES.index(cls))
        if rows.size == 0:
            return
        if not candidates:
            defect[rows] = DEFECT_CLASSES.index(MALFORMED_JSON)
            return
        eligible = np.column_stack([not_null[f.column][rows] for f in candidates])
        pick, has = _choose(eligible, rng)
        defect[rows[~has]] = DEFECT_CLASSES.index(MALFORMED_JSON)
        for f_idx, spec in enumerate(candidates):
            sel = rows[has & (pick == f_idx)]
            if sel.size == 0:
                continue
            new, text = make(spec, sel)
            replacements.setdefault(spec.column, []).append((sel, new))
            field_of[sel] = spec.path
            detail[sel] = text

    def missing(spec: FieldSpec, rows: np.ndarray) -> tuple[None, str]:
        return None, f"required field {spec.path} left out"

    def wrong_type(spec: FieldSpec, rows: np.ndarray) -> tuple[pl.Series, str]:
        if spec.kind in ("int", "float", "bool"):
            # Number and boolean literals hold nothing JSON escapes: quoting them is enough.
            current = flat[spec.column].gather(rows).to_frame().select(quoted(fragment(spec))).to_series()
            return current, f"{spec.kind} {spec.path} written as a string"
        if spec.kind == "timestamp":
            epoch = flat[spec.column].gather(rows).dt.epoch("ms").cast(pl.String)
            return epoch, f"timestamp {spec.path} written as epoch milliseconds"
        return flat[spec.column].gather(rows).str.len_chars().cast(pl.String), f"string {spec.path} written as a number"

    def out_of_range(spec: FieldSpec, rows: np.ndarray) -> tuple[pl.Series, str]:
        return _out_of_range_literal(spec, rows.size, rng), f"{spec.path} outside {spec.allowed}"

    def unknown_term(spec: FieldSpec, rows: np.ndarray) -> tuple[pl.Series, str]:
        terms = UNKNOWN_TERM_LITERALS[rng.integers(0, len(UNKNOWN_TERMS), rows.size)]
        return terms, f"{spec.path} not in its vocabulary"

    field_defect(MISSING, [f for f in inv.fields if f.required], missing)
    field_defect(WRONG_TYPE, list(inv.fields), wrong_type)
    field_defect(OUT_OF_RANGE, [f for f in inv.fields if f.ge is not None or f.le is not None], out_of_range)
    field_defect(UNKNOWN_VOCABULARY, [f for f in inv.fields if f.vocabulary], unknown_term)

    # Each record has at most one replaced field: render the records grouped by that field, each
    # group with its literals swapped in, then put the lines back in record order.
    pieces, order = [], []
    escape = columns_needing_escape(flat, inv)
    untouched = np.ones(n, dtype=bool)
    for column, changes in replacements.items():
        rows = np.concatenate([r for r, _new in changes])
        new = pl.concat(
            [pl.Series([None] * r.size, dtype=pl.String) if v is None else v.cast(pl.String) for r, v in changes]
        )
        pieces.append(render(flat[rows], inv, {column: new}, escape))
        order.append(rows)
        untouched[rows] = False
    rest = np.flatnonzero(untouched)
    pieces.append(render(flat[rest], inv, escape=escape))
    order.append(rest)
    lines = pl.concat(pieces).gather(np.argsort(np.concatenate(order), kind="stable"))

    malformed = np.flatnonzero(defect == DEFECT_CLASSES.index(MALFORMED_JSON))
    if malformed.size:
        lengths = lines.gather(malformed).str.len_chars().to_numpy()
        cut = 1 + (rng.random(malformed.size) * (lengths - 2)).astype(np.int64)
        truncated = lines.gather(malformed).to_frame("l").select(pl.col("l").str.slice(0, pl.Series(cut))).to_series()
        lines = lines.scatter(malformed, truncated)
        field_of[malformed] = LINE_FIELD
        detail[malformed] = "line cut short: not valid JSON"

    manifest = pl.DataFrame(
        {
            "line": np.arange(first_line, first_line + n, dtype=np.int64),
            "record_id": clean[inv.by_path[inv.id_field].column].cast(pl.String),
            "defect": pl.Series(DEFECT_CLASSES)[defect],
            "field": pl.Series(field_of.tolist(), dtype=pl.String),
            "detail": pl.Series(detail.tolist(), dtype=pl.String),
        },
        schema=MANIFEST_SCHEMA,
    )
    return lines.alias("line"), manifest
