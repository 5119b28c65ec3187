"""The invalid raw mirror: every clean record broken on purpose, each defect labelled.

For a block of clean records, each record gets one defect class and (where the class concerns a
field) one field, chosen at random among the fields the class can break in that record. The
manifest row says which line, which record, which class, which field and what was done, so a
validator can be scored line by line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import polars as pl

from synth_pipelines.domains.logs.fields import FieldSpec, Inventory
from synth_pipelines.domains.logs.lines import fragment, quoted, render, to_lines

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


def key_repeats(spec: FieldSpec, inv: Inventory) -> bool:
    """Whether the line has another key of this field's name (``model.name`` and ``dataset.name``,
    or an object of that name)."""
    leaf = spec.path.split(".")[-1]
    keys = [f.path.split(".")[-1] for f in inv.fields] + sorted(
        {f.path.split(".")[0] for f in inv.fields if "." in f.path}
    )
    return keys.count(leaf) > 1


def spliceable(spec: FieldSpec, inv: Inventory) -> bool:
    """Whether a member of this field can be found in a canonical line by its key alone.

    A nested field whose key name repeats is looked up after its parent's ``"parent":{`` (key names
    within one object are unique), any other field by its key from the start of the line.
    """
    depth = spec.path.count(".")
    return depth == 1 or (depth == 0 and not key_repeats(spec, inv))


@dataclass(frozen=True)
class Member:
    """Where a field sits in a canonical line: its key, its object's opener, how to find it."""

    key: str  # '"name":'
    opener: str | None  # '"model":{' for a nested field
    after_opener: bool  # the key name repeats in the line: search it after the opener

    @classmethod
    def of(cls, spec: FieldSpec, inv: Inventory) -> Member:
        *parents, leaf = spec.path.split(".")
        opener = f'"{parents[0]}":{{' if parents else None
        return cls(f'"{leaf}":', opener, key_repeats(spec, inv))


def splice_members(
    lines: pl.Series, own: pl.Series, new: pl.Series, groups: list[tuple[Member, int]]
) -> pl.Series | None:
    """Canonical ``lines`` with one member each changed: ``groups`` say which member, for runs of
    consecutive rows. The member, holding the literal ``own``, gets the literal ``new`` instead, or
    is left out where ``new`` is null (a member alone in its object takes the object with it). The
    result is exactly what ``render`` writes for the changed records.

    A JSON string value cannot hold ``"key":`` (its quotes are escaped), so the first match of the
    key is the member (searched after the opener where the key name repeats); every match is checked
    against ``own`` anyway (None if one is not). Offsets are bytes: the lines are cut as binary,
    always next to an ASCII delimiter.
    """
    members = [member for member, _ in groups]
    which = np.repeat(np.arange(len(groups)), [size for _, size in groups])
    keys = pl.Series([m.key for m in members], dtype=pl.String).gather(which)
    openers = pl.Series([m.opener for m in members], dtype=pl.String).gather(which)
    frame = pl.DataFrame({"line": lines, "key": keys, "opener": openers, "own": own, "new": new})
    key, raw = pl.col("key"), pl.col("line").cast(pl.Binary)

    def text(expr: pl.Expr) -> pl.Expr:
        return expr.cast(pl.String)

    # One fixed needle per run of rows (a per-row needle costs a searcher per row).
    starts, offset = [], 0
    for member, size in groups:
        rows = lines.slice(offset, size)
        if member.after_opener and member.opener is not None:
            inner = rows.str.find(member.opener, literal=True) + len(member.opener)
            within = rows.to_frame("line").select(text(raw.bin.slice(inner)).str.find(member.key, literal=True))
            starts.append(inner + within.to_series())
        else:
            starts.append(rows.str.find(member.key, literal=True))
        offset += size
    start = pl.concat(starts) if starts else pl.Series(dtype=pl.UInt32)
    frame = frame.with_columns(start=start.cast(pl.UInt32)).with_columns(
        end=pl.col("start") + key.str.len_bytes() + pl.col("own").str.len_bytes(),
        # A member first in its object comes right after the opener.
        object_start=pl.col("start") - pl.col("opener").str.len_bytes(),
    )
    start, end = pl.col("start"), pl.col("end")
    member = text(raw.bin.slice(start, end - start))
    if not frame.select((member == pl.concat_str([key, pl.col("own")])).fill_null(False).all()).item():
        return None
    before, after = text(raw.bin.slice(start - 1, 1)), text(raw.bin.slice(end, 1))
    # Left out: take the comma before the member, else the one after it; a member alone in its
    # object takes the object with it, and the comma before or after the object.
    alone = (before == "{") & (after == "}") & pl.col("object_start").is_not_null()
    object_start, object_end = pl.col("object_start"), end + 1
    before_object = text(raw.bin.slice(object_start - 1, 1))
    after_object = text(raw.bin.slice(object_end, 1))
    replaced = pl.col("new").is_not_null()
    cut_start = (
        pl.when(replaced)
        .then(start + key.str.len_bytes())
        .when(alone & (before_object == ","))
        .then(object_start - 1)
        .when(alone)
        .then(object_start)
        .when(before == ",")
        .then(start - 1)
        .otherwise(start)
    )
    cut_end = (
        pl.when(replaced)
        .then(end)
        .when(alone & (before_object != ",") & (after_object == ","))
        .then(object_end + 1)
        .when(alone)
        .then(object_end)
        .when((before != ",") & (after == ","))
        .then(end + 1)
        .otherwise(end)
    )
    pieces = [text(raw.bin.head(cut_start)), pl.col("new").fill_null(""), text(raw.bin.slice(cut_end))]
    return frame.select(pl.concat_str(pieces, separator="")).to_series()


def make_invalid(
    clean: pl.DataFrame,
    inv: Inventory,
    rng: np.random.Generator,
    first_line: int = 1,
    clean_lines: pl.Series | None = None,
) -> tuple[pl.Series, pl.DataFrame]:
    """Broken raw lines for ``clean`` (same order) and their manifest.

    ``clean_lines``: ``to_lines(clean, inv)`` when the caller has it already (the mirror starts from it).
    """
    n = clean.height
    if n == 0:
        return pl.Series("line", [], dtype=pl.String), pl.DataFrame(schema=MANIFEST_SCHEMA)
    defect = rng.integers(0, len(DEFECT_CLASSES), size=n)
    # Manifest labels as codes into small tables of (field, detail) pairs: no Python string per row.
    labels: dict[tuple[str, str], int] = {(LINE_FIELD, ""): 0}
    label_of = np.zeros(n, dtype=np.int64)

    def label(rows: np.ndarray, field: str, text: str) -> None:
        label_of[rows] = labels.setdefault((field, text), len(labels))

    not_null = {f.column: clean[f.column].is_not_null().to_numpy() for f in inv.fields}

    # 1. Rule violations change values, so they are applied to the flat records first.
    # Every draw call below is made whatever the data (also for no rows): the generator numbers its
    # calls (``core.rng.record_rng``), so a skipped call would shift the numbers of later records.
    flat = clean
    rule_rows = np.flatnonzero(defect == DEFECT_CLASSES.index(INCONSISTENT))
    if inv.rules:
        applies = np.column_stack(
            [clean.with_columns(r.applies.fill_null(False).alias("_a"))["_a"].to_numpy() for r in inv.rules]
        )
        pick, has = _choose(applies[rule_rows], rng)
        defect[rule_rows[~has]] = DEFECT_CLASSES.index(MALFORMED_JSON)
        for r_idx, rule in enumerate(inv.rules):
            rows = rule_rows[has & (pick == r_idx)]
            before = clean[rows]
            broken = rule.violate(before, rng)
            if rows.size == 0:
                continue
            changed = [c for c in broken.columns if c in flat.columns and not broken[c].equals(before[c])]
            flat = flat.with_columns(flat[c].scatter(rows, broken[c].cast(flat.schema[c])) for c in changed)
            label(rows, rule.field, rule.description)
    else:
        defect[rule_rows] = DEFECT_CLASSES.index(MALFORMED_JSON)

    replacements: dict[str, list[tuple[np.ndarray, pl.Series | None]]] = {}

    def field_defect(cls: str, candidates: list[FieldSpec], make) -> None:  # type: ignore[no-untyped-def]
        rows = np.flatnonzero(defect == DEFECT_CLASSES.index(cls))
        if not candidates:
            defect[rows] = DEFECT_CLASSES.index(MALFORMED_JSON)
            return
        eligible = np.column_stack([not_null[f.column][rows] for f in candidates])
        pick, has = _choose(eligible, rng)
        defect[rows[~has]] = DEFECT_CLASSES.index(MALFORMED_JSON)
        for f_idx, spec in enumerate(candidates):
            sel = rows[has & (pick == f_idx)]
            new, text = make(spec, sel)  # drawn for no rows too (see above)
            if sel.size == 0:
                continue
            replacements.setdefault(spec.column, []).append((sel, new))
            label(sel, spec.path, text)

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

    # Each record has at most one replaced field. Its line is the clean line with that one member
    # spliced (value swapped, or member left out); records whose values a rule changed are rendered
    # again; malformed records start from their clean line too.
    # (``scatter`` writes in place: the caller's clean lines are copied first)
    lines = to_lines(clean, inv) if clean_lines is None else clean_lines.clone()
    if rule_rows.size and inv.rules:
        changed = np.flatnonzero(defect[rule_rows] == DEFECT_CLASSES.index(INCONSISTENT))
        if changed.size:
            lines = lines.scatter(rule_rows[changed], render(flat[rule_rows[changed]], inv))
    spliced: list[tuple[np.ndarray, pl.Series, FieldSpec, pl.Series]] = []
    rendered: list[tuple[np.ndarray, pl.Series, FieldSpec]] = []
    for column, changes in replacements.items():
        rows = np.concatenate([r for r, _new in changes])
        new = pl.concat(
            [pl.Series([None] * r.size, dtype=pl.String) if v is None else v.cast(pl.String) for r, v in changes]
        )
        spec = inv.by_column[column]
        if spliceable(spec, inv):
            own = clean[column].gather(rows).to_frame().select(fragment(spec)).to_series()
            spliced.append((rows, new, spec, own))
        else:
            rendered.append((rows, new, spec))
    if spliced:
        rows = np.concatenate([r for r, *_ in spliced])
        result = splice_members(
            lines.gather(rows),
            pl.concat([own for *_, own in spliced]),
            pl.concat([new for _, new, *_ in spliced]),
            [(Member.of(spec, inv), r.size) for r, _new, spec, _own in spliced],
        )
        if result is None:  # a member not where it should be (never seen): render those records instead
            rendered += [(r, new, spec) for r, new, spec, _own in spliced]
        else:
            lines = lines.scatter(rows, result)
    for rows, new, spec in rendered:
        lines = lines.scatter(rows, render(flat[rows], inv, {spec.column: new}))

    malformed = np.flatnonzero(defect == DEFECT_CLASSES.index(MALFORMED_JSON))
    cut_at = rng.random(malformed.size)  # drawn for no rows too (see above)
    if malformed.size:
        lengths = lines.gather(malformed).str.len_chars().to_numpy()
        cut = 1 + (cut_at * (lengths - 2)).astype(np.int64)
        truncated = lines.gather(malformed).to_frame("l").select(pl.col("l").str.slice(0, pl.Series(cut))).to_series()
        lines = lines.scatter(malformed, truncated)
        label(malformed, LINE_FIELD, "line cut short: not valid JSON")

    manifest = pl.DataFrame(
        {
            "line": np.arange(first_line, first_line + n, dtype=np.int64),
            "record_id": clean[inv.by_path[inv.id_field].column].cast(pl.String),
            "defect": pl.Series(DEFECT_CLASSES)[defect],
            "field": pl.Series([field for field, _ in labels], dtype=pl.String).gather(label_of),
            "detail": pl.Series([text for _, text in labels], dtype=pl.String).gather(label_of),
        },
        schema=MANIFEST_SCHEMA,
    )
    return lines.alias("line"), manifest
