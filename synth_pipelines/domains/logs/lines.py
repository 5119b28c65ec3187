"""Records <-> JSON lines, vectorized.

Clean records are flat polars frames (``model_name``); JSON lines nest them by path
(``{"model": {"name": ...}}``). Serialization builds each line with one polars ``concat_str`` of
constant pieces (keys, braces, commas) and per-field values; a field that is null is left out. The
invalid mirror and the raw source swap in ready JSON literals for some fields (a value of the wrong
JSON type, a field left out, a source's spelling). polars' own `json_encode` writes absent fields
as `null`, and removing them again costs more than it saves. Parsing uses polars' JSON decoder
with the inventory's dtype.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import polars as pl
import pyarrow.json as pa_json

from synth_pipelines.domains.logs.fields import FieldSpec, Inventory

ISO_MS = "%Y-%m-%dT%H:%M:%S%.3f"
TIME_ZONE_OFFSETS = ("+01:00", "+02:00", "-05:00", "+05:30", "-08:00", "+09:00")


# What a JSON string literal must escape: quote, backslash and every control character; the short
# forms where JSON has one (\b and \f too, as ``json.dumps`` writes them), ``\u00XX`` for the rest.
_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPES = _SHORT_ESCAPES | {chr(c): f"\\u{c:04x}" for c in range(0x20) if chr(c) not in _SHORT_ESCAPES}


def json_string(expr: pl.Expr) -> pl.Expr:
    """A string expression as a JSON string literal (quotes and escapes included)."""
    # One pass: every pattern is one character, so no replacement is ever escaped twice.
    escaped = expr.str.replace_many(list(_ESCAPES), list(_ESCAPES.values()))
    return pl.concat_str([pl.lit('"'), escaped, pl.lit('"')])


def quoted(expr: pl.Expr) -> pl.Expr:
    """A string expression known to need no escaping, as a JSON string literal."""
    return pl.concat_str([pl.lit('"'), expr, pl.lit('"')])


# Characters a JSON string literal must escape (quote, backslash, control characters).
NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def fragment(spec: FieldSpec, escape: bool = True) -> pl.Expr:
    """The JSON literal of one field's value (null where the value is null)."""
    col = pl.col(spec.column)
    if spec.kind == "string":
        out = json_string(col) if escape else quoted(col)
    elif spec.kind == "timestamp":
        out = col.dt.strftime(f'"{ISO_MS}Z"')
    elif spec.kind == "bool":
        out = pl.when(col).then(pl.lit("true")).when(col.not_()).then(pl.lit("false"))
    else:
        out = col.cast(pl.String)
    return out.alias(spec.column)


def _plain_terms(spec: FieldSpec) -> bool:
    """A vocabulary none of whose terms JSON escapes (its column is not scanned: a value outside the
    vocabulary fails validation, and nothing lands then)."""
    return bool(spec.vocabulary) and not any(re.search(NEEDS_ESCAPE, term) for term in spec.vocabulary or ())


def columns_needing_escape(df: pl.DataFrame, inv: Inventory, skip: Iterable[str] = ()) -> set[str]:
    """String columns of ``df`` holding a character JSON must escape (usually none: one cheap scan)."""
    names = [f.column for f in inv.fields if f.kind == "string" and f.column not in set(skip) and not _plain_terms(f)]
    if not names or df.height == 0:
        return set()
    found = df.select(pl.col(c).str.contains(NEEDS_ESCAPE).any() for c in names).row(0)
    return {c for c, hit in zip(names, found, strict=True) if hit}


def _tree(inv: Inventory) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for spec in inv.fields:
        node = tree
        *parents, leaf = spec.path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = spec
    return tree


Part = pl.Expr | str  # a piece of a line; plain strings are constant for every row


def value_parts(spec: FieldSpec, escape: bool) -> list[Part]:
    """The JSON literal of a column that has no nulls, as pieces (no per-field string column)."""
    col = pl.col(spec.column)
    if spec.kind == "string":
        return [json_string(col)] if escape else ['"', col, '"']
    return [fragment(spec)]


class _Node:
    """One key of an object as line pieces: present in every row (``always``) or where ``present``."""

    def __init__(self, key: str, opens: bool, body: list[Part], always: bool, present: pl.Expr) -> None:
        self.key, self.opens, self.body, self.always, self.present = key, opens, body, always, present


def _object_parts(node: dict[str, Any], value: Any, always: set[str]) -> _Node:
    children: list[_Node] = []
    for key, child in node.items():
        if isinstance(child, FieldSpec):
            here = child.column in always
            children.append(_Node(key, False, value(child, here), here, pl.col(child.column).is_not_null()))
        else:
            sub = _object_parts(child, value, always)
            children.append(_Node(key, True, sub.body, sub.always, sub.present))
    parts: list[Part] = []
    earlier: list[pl.Expr] = []  # presence of the earlier keys, when none of them is always there
    comma_always = False
    for child in children:
        opener = f'"{child.key}":' + ("{" if child.opens else "")
        if comma_always or not earlier:
            head = ("," if comma_always else "") + opener
            parts.append(head if child.always else pl.when(child.present).then(pl.lit(head)))
        else:
            # Whether a comma is needed depends on whether an earlier optional key is there.
            before = pl.any_horizontal(earlier)
            present = pl.lit(True) if child.always else child.present
            parts.append(pl.when(present & before).then(pl.lit("," + opener)).when(present).then(pl.lit(opener)))
        parts += child.body
        if child.opens:
            parts.append("}" if child.always else pl.when(child.present).then(pl.lit("}")))
        if child.always:
            comma_always = True
        else:
            earlier.append(child.present)
    always_here = any(c.always for c in children)
    present = pl.lit(True) if always_here else pl.any_horizontal([c.present for c in children])
    return _Node("", True, parts, always_here, present)


@functools.lru_cache(maxsize=512)
def _line_expr(inv: Inventory, always: frozenset[str], literals: frozenset[str], escape: frozenset[str]) -> pl.Expr:
    """The line expression for one combination of always-present, literal and escaped columns."""

    def value(spec: FieldSpec, here: bool) -> list[Part]:
        if spec.column in literals:
            return [pl.col(spec.column)]
        return value_parts(spec, spec.column in escape) if here else [fragment(spec, spec.column in escape)]

    top = _object_parts(_tree(inv), value, set(always))
    merged: list[pl.Expr] = []
    text = ""
    for part in ["{", *top.body, "}"]:
        if isinstance(part, str):
            text += part
            continue
        if text:
            merged.append(pl.lit(text))
            text = ""
        merged.append(part)
    merged.append(pl.lit(text))
    return pl.concat_str(merged, separator="", ignore_nulls=True).alias("line")


def render(
    df: pl.DataFrame,
    inv: Inventory,
    literals: dict[str, pl.Series] | None = None,
    escape: set[str] | None = None,
) -> pl.Series:
    """JSON lines of flat records, keys in inventory order; null values are left out of their object.

    An object whose fields are all absent is left out, as a logger would. ``literals`` replaces
    columns by ready JSON literals (null: leave the field out), e.g. a source's spellings or a
    defect of the invalid mirror. The whole line is one ``concat_str`` whose pieces are skipped
    where null, so no per-field or per-object string column is built. ``escape``: the string
    columns that may need JSON escapes, if the caller already knows (else one scan finds them).
    """
    literals = literals or {}
    if literals:
        df = df.with_columns(v.alias(k) for k, v in literals.items())
    if escape is None:
        escape = columns_needing_escape(df, inv, skip=literals)
    always = frozenset(c for c, nulls in zip(df.columns, df.null_count().row(0), strict=True) if nulls == 0)
    return df.select(_line_expr(inv, always, frozenset(literals), frozenset(escape - set(literals)))).to_series()


def to_lines(df: pl.DataFrame, inv: Inventory) -> pl.Series:
    """Canonical JSON lines: keys in inventory order, UTC timestamps, canonical vocabulary."""
    return render(df, inv)


def to_raw_lines(df: pl.DataFrame, inv: Inventory, rng: np.random.Generator) -> pl.Series:
    """Lines as a real source emits them: vocabulary in varying case and padding, local-time offsets.

    Every variation is undone by ``normalize``; nothing here loses information.
    """
    n = df.height
    edits = []
    for spec in inv.fields:
        col = pl.col(spec.column)
        if spec.vocabulary:
            # Each term's four spellings as JSON literals, picked by (term index, style) with one gather.
            table = pl.Series([json.dumps(v) for term in spec.vocabulary for v in _styles(term)], dtype=pl.String)
            style = rng.choice(4, size=n, p=[0.7, 0.15, 0.1, 0.05]).astype(np.uint32)
            term = col.cast(pl.Enum(list(spec.vocabulary)), strict=False).to_physical().cast(pl.UInt32)
            edits.append(pl.lit(table).gather(term * 4 + pl.lit(pl.Series(style))).alias(spec.column))
        elif spec.kind == "timestamp":
            offsets = rng.integers(-1, len(TIME_ZONE_OFFSETS), size=n)  # -1: keep UTC "Z"
            zone = pl.Series([*TIME_ZONE_OFFSETS, "Z"], dtype=pl.String)[offsets]
            minutes = pl.Series(np.array([_minutes(z) for z in TIME_ZONE_OFFSETS] + [0])[offsets])
            local = col + pl.duration(minutes=minutes)
            edits.append(quoted(pl.concat_str([local.dt.strftime(ISO_MS), pl.lit(zone)])).alias(spec.column))
    if not edits:
        return render(df, inv)
    return render(df, inv, df.select(edits).to_dict())


def _styles(term: str) -> tuple[str, str, str, str]:
    """How sources spell a vocabulary term: as is, upper case, title case, padded."""
    return term, term.upper(), term.title(), f" {term} "


def _minutes(offset: str) -> int:
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = offset[1:].split(":")
    return sign * (int(hours) * 60 + int(minutes))


def decode_dtype(inv: Inventory) -> pl.Struct:
    """The nested struct dtype of a line; timestamps stay strings until ``normalize``."""

    def build(node: dict[str, Any]) -> pl.Struct:
        fields = []
        for key, child in node.items():
            if isinstance(child, FieldSpec):
                fields.append(pl.Field(key, pl.String() if child.kind == "timestamp" else child.dtype))
            else:
                fields.append(pl.Field(key, build(child)))
        return pl.Struct(fields)

    return build(_tree(inv))


def parse_lines(lines: pl.Series, inv: Inventory) -> pl.DataFrame:
    """Decode well-formed lines into flat columns (raises on a line that is not valid JSON)."""
    dtype = decode_dtype(inv)
    empty = pl.DataFrame(schema={f.name: f.dtype for f in dtype.fields})
    if lines.len() == 0:
        decoded = empty
    else:
        # pyarrow's JSON reader decodes the nested records about twice as fast as polars' decoder
        # (in 4 MiB chunks on all cores) and hands over Arrow columns; fields it does not know are
        # ignored, as polars would.
        options = pa_json.ParseOptions(explicit_schema=empty.to_arrow().schema, unexpected_field_behavior="ignore")
        text = io.BytesIO()
        lines.to_frame("line").write_csv(text, include_header=False, quote_style="never")  # the lines as they are
        text.seek(0)
        table = pa_json.read_json(text, read_options=pa_json.ReadOptions(block_size=4 << 20), parse_options=options)
        if table.num_rows != lines.len():
            raise ValueError(f"{lines.len()} lines decoded into {table.num_rows} records: a line is empty or null")
        decoded = pl.from_arrow(table)  # type: ignore[assignment]
    exprs = []
    for spec in inv.fields:
        *parents, leaf = spec.path.split(".")
        expr = pl.col(parents[0] if parents else leaf)
        for part in [*parents[1:], leaf] if parents else []:
            expr = expr.struct.field(part)
        exprs.append(expr.alias(spec.column))
    return decoded.select(exprs)


TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"


def parse_timestamp(expr: pl.Expr) -> pl.Expr:
    """ISO-8601 with ``Z`` or a ``+hh:mm`` offset -> UTC milliseconds (null if unparsable)."""
    return expr.str.replace(r"Z$", "+00:00").str.strptime(pl.Datetime("ms", "UTC"), TIMESTAMP_FORMAT, strict=False)


def normalize_values(df: pl.DataFrame, inv: Inventory) -> pl.DataFrame:
    """Undo a source's cosmetic variations: trim and case-fold vocabulary, timestamps to UTC."""
    exprs = []
    for spec in inv.fields:
        col = pl.col(spec.column)
        if spec.vocabulary:
            canonical = {term.lower(): term for term in spec.vocabulary}
            exprs.append(col.str.strip_chars().str.to_lowercase().replace(canonical).alias(spec.column))
        elif spec.kind == "timestamp":
            exprs.append(parse_timestamp(col).alias(spec.column) if df.schema[spec.column] == pl.String else col)
    return df.with_columns(exprs) if exprs else df
