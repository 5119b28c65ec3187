"""CHECKs satisfied by construction rather than by redrawing: LIKE/ILIKE, regexes, modulo, ``a <> b``.

``shape_columns`` reads a table's CHECKs and records on each column's ``ColumnSpec.extra``:
- ``affix``: ``code LIKE 'BK-%'``, ``email ILIKE '%@uni.example.org'`` (one ``%``): the column's usual
  value (its meaning's draw, shortened to leave room) between the literal prefix and suffix; an e-mail
  address keeps its local part before a suffix that starts with ``@``;
- ``shape``: ``ref ~ '^[A-Z]{3}-[0-9]{4}$'`` (``REGEXP``, ``RLIKE``, ``~*``) and LIKE patterns with
  several ``%`` or ``_``: strings drawn from the pattern (``regex_gen``), fitted to the column's length
  (exactly ``n`` characters for CHAR(n));
- ``modulo``: ``pct % 5 = 0`` (``MOD(pct, 5) = 0``) on an integer column: values snapped to the
  multiples inside the column's bounds.

A regex outside the supported subset is refused with one line naming the table, column and pattern.
``distinct_pairs`` lists the ``a <> b`` CHECKs between two columns, which the key planner uses to
draw a self-referencing junction's pairs without the diagonal (a course is not its own prerequisite).

Every CHECK is still evaluated exactly afterwards (``constraints.CheckEvaluator``) and counted by the
report; this module only makes the drawn values satisfy it in the first place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from sqlglot import exp

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.domains.relational.ddl import Schema, Table, column_of, conjuncts, literal_value, null_guard
from synth_pipelines.domains.relational.regex_gen import (
    LIKE_FILL,
    UNBOUNDED_EXTRA,
    Atom,
    PatternError,
    Shape,
    draw_shape,
    enumerate_shape,
    fit_shape,
    parse_like,
    parse_regex,
    shape_domain,
)

if TYPE_CHECKING:
    from synth_pipelines.domains.relational.values import ColumnSpec

SHAPED = ("affix", "shape", "modulo")


@dataclass(frozen=True)
class Affix:
    prefix: Shape
    suffix: Shape


@dataclass(frozen=True)
class Modulo:
    modulus: int
    first: int  # the smallest and largest allowed values within the column's bounds
    last: int


@dataclass(frozen=True)
class Need:
    """What one CHECK conjunct asks of one column."""

    column: str
    kind: str  # like | regex | modulo
    pattern: str = ""
    escape: str = "\\"
    modulus: int = 0
    remainder: int = 0
    line: int = 0
    sql: str = ""


def _needs(table: Table) -> list[Need]:
    found: list[Need] = []

    def visit(node: exp.Expression, line: int, sql: str) -> None:
        guarded = null_guard(node)
        if guarded is not None:
            for part in conjuncts(guarded):
                visit(part, line, sql)
            return
        if isinstance(node, exp.Paren):
            visit(node.this, line, sql)
            return
        escape = "\\"
        if isinstance(node, exp.Escape) and isinstance(node.this, exp.Like | exp.ILike):
            try:
                escape = str(literal_value(node.expression))
            except ValueError:
                return
            node = node.this
        if isinstance(node, exp.Like | exp.ILike | exp.RegexpLike | exp.RegexpILike) and not node.args.get("negate"):
            col = column_of(node.this)
            try:
                pattern = literal_value(node.expression)
            except ValueError:
                return
            if col and isinstance(pattern, str):
                kind = "like" if isinstance(node, exp.Like | exp.ILike) else "regex"
                found.append(Need(col, kind, pattern=pattern, escape=escape, line=line, sql=sql))
            return
        if isinstance(node, exp.EQ):
            for mod_side, value_side in ((node.left, node.right), (node.right, node.left)):
                if isinstance(mod_side, exp.Mod) and column_of(mod_side.this):
                    try:
                        modulus, remainder = literal_value(mod_side.expression), literal_value(value_side)
                    except ValueError:
                        return
                    if isinstance(modulus, int) and isinstance(remainder, int) and modulus > 0:
                        col = column_of(mod_side.this) or ""
                        found.append(Need(col, "modulo", modulus=modulus, remainder=remainder, line=line, sql=sql))
                    return

    for check in table.checks:
        for part in conjuncts(check.expr):
            visit(part, check.line, check.sql)
    return found


def distinct_pairs(table: Table) -> set[frozenset[str]]:
    """Column pairs a CHECK says must differ (``course_id <> prereq_id``, ``NOT a = b``)."""
    pairs: set[frozenset[str]] = set()
    for check in table.checks:
        for part in conjuncts(check.expr):
            node = part.this if isinstance(part, exp.Paren) else part
            if isinstance(node, exp.Not) and isinstance(node.this, exp.EQ | exp.Paren):
                inner = node.this.this if isinstance(node.this, exp.Paren) else node.this
                node = exp.NEQ(this=inner.left, expression=inner.right) if isinstance(inner, exp.EQ) else node
            if isinstance(node, exp.NEQ):
                a, b = column_of(node.left), column_of(node.right)
                if a and b and a != b:
                    pairs.add(frozenset((a, b)))
    return pairs


def shape_columns(schema: Schema, table: Table, specs: dict[str, ColumnSpec]) -> None:
    """Record on the specs how each CHECK-shaped column is drawn (see the module docstring)."""
    done: set[str] = set()
    for need in _needs(table):
        spec = specs.get(need.column)
        if spec is None or need.column in done or spec.choices is not None or "by_row" in spec.extra:
            continue
        where = f"{schema.source}:{need.line}: table {table.name}: column {need.column}"
        kind = spec.type.kind
        if need.kind == "modulo":
            if kind == "int":
                spec.extra["modulo"] = _modulo(spec, need, where)
                done.add(need.column)
            continue
        if kind != "string":
            continue
        fixed = spec.max_len if spec.type.fixed else None
        try:
            if need.kind == "regex":
                spec.extra["shape"] = fit_shape(parse_regex(need.pattern), spec.max_len, fixed)
            else:
                _like(spec, parse_like(need.pattern, need.escape), fixed)
        except PatternError as exc:
            raise ConstraintViolation(
                f"{where}: CHECK ({need.sql}): cannot generate values for the pattern {need.pattern!r}: {exc} "
                "(supported: literals, [..] classes, . \\d \\w \\s, {n} {n,m} ? + *, ^ $; LIKE % and _)"
            ) from None
        done.add(need.column)


def _like(spec: ColumnSpec, parts: list[Atom | None], fixed: int | None) -> None:
    wildcards = [i for i, p in enumerate(parts) if p is None]
    if len(wildcards) == 1 and fixed is None:
        # One %: the usual value goes there, between the literal (or _) prefix and suffix.
        k = wildcards[0]
        prefix = Shape(tuple(p for p in parts[:k] if p is not None))
        suffix = Shape(tuple(p for p in parts[k + 1 :] if p is not None))
        room = prefix.min_len + suffix.min_len
        if spec.max_len is not None:
            if room > spec.max_len:
                raise PatternError(f"its fixed part has {room} characters, more than the column's {spec.max_len}")
            spec.max_len -= room
        spec.min_len = max(0, spec.min_len - room)
        spec.extra["affix"] = Affix(prefix, suffix)
        return
    atoms = tuple(Atom(LIKE_FILL, 0, UNBOUNDED_EXTRA + 4) if p is None else p for p in parts)
    spec.extra["shape"] = fit_shape(Shape(atoms), spec.max_len, fixed)


def _modulo(spec: ColumnSpec, need: Need, where: str) -> Modulo:
    m, r = need.modulus, need.remainder
    lo, hi = int(spec.lo), int(spec.hi)
    # SQL's % keeps the dividend's sign: a positive remainder needs non-negative values, and vice versa.
    if r > 0:
        lo = max(lo, 0)
    elif r < 0:
        hi = min(hi, 0)
    first = lo + (r - lo) % m
    last = hi - (hi - r) % m
    if abs(r) >= m or first > hi or last < lo or first > last:
        raise ConstraintViolation(
            f"{where}: CHECK ({need.sql}): no value in {spec.lo}..{spec.hi} leaves remainder {r} modulo {m}"
        )
    spec.lo, spec.hi = first, last
    return Modulo(m, first, last)


def is_shaped(spec: ColumnSpec) -> bool:
    return any(k in spec.extra for k in SHAPED)


def draw_shaped(
    spec: ColumnSpec, rng: np.random.Generator, n: int, usual: Callable[[ColumnSpec, Any, int], pl.Series]
) -> pl.Series:
    """``n`` values of a column, satisfying its CHECK shape; ``usual`` draws the column's ordinary values."""
    if "shape" in spec.extra:
        return draw_shape(spec.extra["shape"], rng, n)
    values = usual(spec, rng, n)
    if "affix" in spec.extra:
        return with_affix(spec, values, rng)
    if "modulo" in spec.extra:
        mod: Modulo = spec.extra["modulo"]
        x = values.cast(pl.Int64).to_numpy()
        snapped = np.clip(mod.first + (x - mod.first) // mod.modulus * mod.modulus, mod.first, mod.last)
        return pl.Series(snapped).cast(values.dtype)
    return values


def with_affix(spec: ColumnSpec, values: pl.Series, rng: np.random.Generator | None) -> pl.Series:
    """``prefix + value + suffix``; with no ``rng`` (keys, a row's person) the ``_`` wildcards take a
    fixed character so distinct values stay distinct."""
    affix: Affix | None = spec.extra.get("affix")
    if affix is None:
        return values
    n = values.len()
    base = values
    prefix_text, suffix_text = _literal(affix.prefix), _literal(affix.suffix)
    # Cosmetic fixes only for drawn values: on keys they could make two distinct values equal.
    if prefix_text and rng is not None:  # a URL's usual value already starts with https://
        base = base.str.strip_prefix(prefix_text)
    if suffix_text.startswith("@"):
        base = base.str.split("@").list.first()  # an address keeps its local part before the given domain
    elif suffix_text.startswith(".") and len(suffix_text) > 1 and rng is not None:
        # A file name's extension: https://www.x.example.com/ + syllabus + .pdf
        stem = spec.name.split("_")[0] if "_" in spec.name else "file"
        base = pl.select(
            pl.when(pl.lit(base).str.ends_with("/")).then(pl.lit(base) + stem).otherwise(pl.lit(base)).alias("s")
        ).to_series()
    parts: list[Any] = []
    for shape in (affix.prefix, affix.suffix):
        if rng is not None:
            parts.append(draw_shape(shape, rng, n))
        else:
            parts.append(enumerate_shape(Shape(tuple(Atom(a.chars[:1], a.lo, a.lo) for a in shape.atoms)), np.zeros(n)))
    out = pl.select(pl.concat_str([pl.lit(parts[0]), pl.lit(base), pl.lit(parts[1])]).alias(spec.name)).to_series()
    return out


def _literal(shape: Shape) -> str:
    """The text of a shape made only of single literal characters ('' otherwise)."""
    if all(len(a.chars) == 1 and a.lo == a.hi == 1 for a in shape.atoms):
        return b"".join(a.chars for a in shape.atoms).decode()
    return ""


def shaped_domain_size(spec: ColumnSpec, usual: Callable[[ColumnSpec], int]) -> int:
    if "shape" in spec.extra:
        return min(shape_domain(spec.extra["shape"]), 2**62)
    if "modulo" in spec.extra:
        mod: Modulo = spec.extra["modulo"]
        first = mod.first
        if first < 1 <= mod.last:  # keys count from the first positive multiple, as plain keys count from 1
            first += (1 - first + mod.modulus - 1) // mod.modulus * mod.modulus
        return (mod.last - first) // mod.modulus + 1
    return usual(spec)


def enumerate_shaped(
    spec: ColumnSpec,
    j: np.ndarray,
    usual: Callable[[ColumnSpec, np.ndarray], pl.Series],
    scramble: Callable[[np.ndarray, int], np.ndarray],
) -> pl.Series:
    """The ``j``-th distinct values of a shaped column (``shaped_domain_size`` of them). ``usual`` enumerates
    the column's ordinary values; ``scramble(j, size)`` is a bijection of ``[0, size)`` (values.permute)."""
    j = np.asarray(j, dtype=np.int64)
    if "shape" in spec.extra:
        shape = spec.extra["shape"]
        return enumerate_shape(shape, scramble(j, min(shape_domain(shape), 2**62))).alias(spec.name)
    if "modulo" in spec.extra:
        mod: Modulo = spec.extra["modulo"]
        first = mod.first
        if first < 1 <= mod.last:
            first += (1 - first + mod.modulus - 1) // mod.modulus * mod.modulus
        dtype = usual(spec, j[:0]).dtype  # the column's integer type, from an empty enumeration
        return pl.Series(first + j * mod.modulus).cast(dtype).alias(spec.name)
    return with_affix(spec, usual(spec, j), None).alias(spec.name)
