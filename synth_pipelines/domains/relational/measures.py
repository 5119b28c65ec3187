"""Values that follow another table's row, and numbers that keep to what they measure, each counted as a rule.

- **Copies across a foreign key**: a line's ``unit_price`` is its product's or track's price (the one parent
  with a price column), and an address's city/country (``invoices.billing_country``) is its customer's,
  when the parent has the same kind of column. The child reads the parent's value by the parent row number
  its foreign key drew (parents are drawn first; the generator keeps only the copied columns). Counted as
  ``unit_price = tracks.unit_price`` through a join on the foreign key.
- **Ages and years**: ``age`` of people who work or buy is an adult's (18..100); years that name something
  that happened (founded, published, release, built...) lie in the past (<= the reference year, the end of
  the event range); a person's ``birth_year`` is an adult's.
- **Percentages** lie in 0..100, or 0..1 when the type or a CHECK says the column holds fractions
  (``NUMERIC(3, 2)``, ``CHECK (pct <= 1)``).
- **Ratings** lie in their declared range with most rows in its upper half (people rate what they chose).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from synth_pipelines.domains.relational.ddl import ForeignKey, Schema, Table
from synth_pipelines.domains.relational.places import place_field
from synth_pipelines.domains.relational.values import (
    _PERSON_TABLES,
    BIRTH_END,
    BIRTH_START,
    EVENT_END,
    type_bounds,
)

REFERENCE_YEAR = EVENT_END.year
ADULT_AGE = (18, 100)
# People who work or buy: their ages are adults'. (Patients, students, players and guests may be children.)
_ADULT_TABLES = re.compile(r"patient|student|pupil|player|guest|child|kid")
PRICE_SEMANTICS = ("price", "media_price")
_EVENT_YEAR = re.compile(r"found|establish|publish|releas|built|launch|incorporat|opened|started|since|year")


@dataclass(frozen=True)
class Copy:
    """``column`` of the child is ``parent_column`` of the row its foreign key ``fk`` points at."""

    column: str
    fk: ForeignKey
    parent_column: str

    @property
    def text(self) -> str:
        return f"{self.column} = {self.fk.ref_table}.{self.parent_column}"


def _holds(child: Any, parent: Any) -> bool:
    """Whether every value of the parent column fits the child column as it is."""
    ct, pt = child.type, parent.type
    if ct.kind != pt.kind:
        return False
    if ct.kind == "string":
        return ct.length is None or (pt.length is not None and pt.length <= ct.length and not ct.fixed)
    if ct.kind == "decimal":
        c_int, p_int = (ct.precision or 18) - (ct.scale or 0), (pt.precision or 18) - (pt.scale or 0)
        if (ct.scale or 0) < (pt.scale or 0) or c_int < p_int:
            return False
    return float(child.lo) <= float(parent.lo) and float(parent.hi) <= float(child.hi)


def plan_copies(
    schema: Schema,
    table: Table,
    specs: dict[str, Any],
    generators: dict[str, str],
    parent_specs: dict[str, dict[str, Any]],
    deferred: set[tuple[str, tuple[str, ...]]],
) -> dict[str, Copy]:
    """The columns of ``table`` copied from a parent row (see the module docstring)."""
    locked = {c for k in [table.primary_key, *table.uniques] for c in (k or ())}
    locked |= {c for fk in table.foreign_keys for c in fk.columns}
    fks = [
        fk
        for fk in table.foreign_keys
        if fk.ref_table != table.name
        and (fk.table, fk.columns) not in deferred
        and sum(f.ref_table == fk.ref_table for f in table.foreign_keys) == 1
        and fk.ref_table in parent_specs
    ]
    copies: dict[str, Copy] = {}
    for col, spec in specs.items():
        if col in locked or generators.get(col) != "inferred" or spec.choices is not None:
            continue
        candidates: list[tuple[ForeignKey, str]] = []
        if spec.semantic in PRICE_SEMANTICS:
            for fk in fks:
                prices = [c for c, s in parent_specs[fk.ref_table].items() if s.semantic in PRICE_SEMANTICS]
                if len(prices) == 1:
                    candidates.append((fk, prices[0]))
        else:
            hit = place_field(col)
            if hit is None or hit[0] == "":
                continue  # an address of its own (billing_, shipping_) that can be its customer's
            for fk in fks:
                same = [c for c in parent_specs[fk.ref_table] if place_field(c) == ("", hit[1])]
                if len(same) == 1:
                    candidates.append((fk, same[0]))
        if len(candidates) == 1:
            fk, parent_col = candidates[0]
            if _holds(spec, parent_specs[fk.ref_table][parent_col]):
                copies[col] = Copy(col, fk, parent_col)
    # An address is copied whole or not at all: a copied billing_city beside a drawn billing_postal_code would
    # disagree.
    by_prefix: dict[str, list[str]] = {}
    for col in specs:
        hit = place_field(col)
        if hit is not None and hit[0]:
            by_prefix.setdefault(hit[0], []).append(col)
    for cols in by_prefix.values():
        if any(c not in copies for c in cols):
            for c in cols:
                copies.pop(c, None)
    return copies


def adjust_specs(table: Table, specs: dict[str, Any]) -> None:
    """Ranges by what a number measures that the name-based meanings do not know on their own."""
    person = bool(_PERSON_TABLES.search(table.name.lower()))
    for spec in specs.values():
        if "range" in spec.extra or spec.type.kind not in ("int", "decimal", "float"):
            continue
        fractional = spec.type.kind in ("decimal", "float") and float(spec.hi) < 10
        if spec.semantic == "percent" and fractional:
            spec.extra["range"] = (0.0, min(1.0, float(spec.hi)), "uniform")  # a fraction: 0.35, not 3.5
        elif spec.semantic == "year" and person and re.search(r"birth|born", spec.name.lower()):
            spec.extra["range"] = (float(BIRTH_START.year), float(BIRTH_END.year), "uniform")
        elif spec.semantic == "year":
            spec.extra["range"] = (1950.0, float(REFERENCE_YEAR), "uniform")
        elif spec.semantic == "rating":
            spec.extra["range"] = (*rating_range(spec), "skew_up")


def rating_range(spec: Any) -> tuple[float, float]:
    """The declared range of a rating: its CHECK's bounds (1..10, 0..5), else the usual 1..5 stars."""
    lo, hi = float(spec.lo), float(spec.hi)
    type_lo, type_hi = type_bounds(spec.type)
    declared_lo = lo if 0 <= lo <= 1 and lo > type_lo else 1.0
    declared_hi = hi if declared_lo < hi <= 100 and hi < type_hi else 5.0
    return declared_lo, declared_hi


def plan_age_from_birth(specs: dict[str, Any], locked: set[str]) -> dict[str, str]:
    """``age`` column -> the birth column of the same row it follows (a birth date or ``birth_year``), when the
    age's type and CHECKs hold every age a birth range gives (so it never needs a redraw)."""
    births = [
        c
        for c, s in specs.items()
        if s.semantic == "birth" or (s.semantic == "year" and re.search(r"birth|born", c.lower()))
    ]
    out: dict[str, str] = {}
    for col, spec in specs.items():
        if spec.semantic != "age" or col in locked or len(births) != 1 or spec.choices is not None:
            continue
        if "range" in spec.extra or spec.type.kind != "int":
            continue
        if float(spec.lo) <= REFERENCE_YEAR - BIRTH_END.year and float(spec.hi) >= REFERENCE_YEAR - BIRTH_START.year:
            out[col] = births[0]
    return out


def age_from_birth(drawn: Any, birth: Any, spec: Any) -> Any:
    """The age at the end of the reference year (``2025 - birth year``); rows without a birth keep theirs."""
    import polars as pl

    year = birth.dt.year() if birth.dtype == pl.Date or isinstance(birth.dtype, pl.Datetime) else birth
    age = (pl.lit(REFERENCE_YEAR) - year.cast(pl.Int64)).cast(drawn.dtype)
    keep = year.is_null() | drawn.is_null()  # the age's own NULL share stays
    return pl.select(pl.when(keep).then(drawn).otherwise(age).alias(drawn.name)).to_series()


def _adult_table(name: str) -> bool:
    return bool(_PERSON_TABLES.search(name.lower())) and not _ADULT_TABLES.search(name.lower())


def measure_rules(
    table: Table, specs: dict[str, Any], ages: dict[str, str] | None = None
) -> list[tuple[str, str, str, str, str, float]]:
    """(column, rule, kind, rows-checked SQL, violations SQL, rating midpoint) for each numeric column whose
    meaning implies a rule."""
    out: list[tuple[str, str, str, str, str, float]] = []
    for col, spec in specs.items():
        if spec.type.kind not in ("int", "decimal", "float") or spec.choices is not None:
            continue
        v = '"' + col.replace('"', '""') + '"'
        sem = spec.semantic
        if sem == "age" and col in (ages or {}):
            birth = '"' + ages[col].replace('"', '""') + '"'
            dated = specs[ages[col]].type.kind in ("date", "timestamp", "timestamptz")
            year = f"year({birth})" if dated else birth
            rule = f"{col} = {REFERENCE_YEAR} - {f'year({ages[col]})' if dated else ages[col]}"
            both = f"{v} IS NOT NULL AND {birth} IS NOT NULL"
            out.append((col, rule, "age", both, f"{v} <> {REFERENCE_YEAR} - {year}", 0.0))
        if sem == "age" and _adult_table(table.name):
            lo, hi = ADULT_AGE
            rule = f"{col} between {lo} and {hi}"
            out.append((col, rule, "age", f"{v} IS NOT NULL", f"{v} NOT BETWEEN {lo} AND {hi}", 0.0))
        elif sem == "year" and _adult_table(table.name) and re.search(r"birth|born", col.lower()):
            top = REFERENCE_YEAR - ADULT_AGE[0]
            out.append((col, f"{col} <= {top} (an adult)", "year", f"{v} IS NOT NULL", f"{v} > {top}", 0.0))
        elif sem == "year" and _EVENT_YEAR.search(col.lower()):
            rule = f"{col} <= {REFERENCE_YEAR}"
            out.append((col, rule, "year", f"{v} IS NOT NULL", f"{v} > {REFERENCE_YEAR}", 0.0))
        elif sem == "percent":
            hi = 1 if ("range" in spec.extra and spec.extra["range"][1] <= 1) else 100
            rule = f"{col} between 0 and {hi}"
            out.append((col, rule, "percent", f"{v} IS NOT NULL", f"{v} NOT BETWEEN 0 AND {hi}", 0.0))
        elif sem == "rating":
            lo, hi = spec.extra["range"][:2] if "range" in spec.extra else rating_range(spec)
            mid = (lo + hi) / 2
            out.append(
                (
                    col,
                    f"{col} in {lo:g}..{hi:g}, most in the upper half (>= {mid:g})",
                    "rating",
                    f"{v} IS NOT NULL",
                    # a row outside the range is a violation; so is every lower-half row when they are the most
                    f"{v} NOT BETWEEN {lo} AND {hi} OR ({v} < {mid} AND __lower_share_{len(out)} > 0.5)",
                    mid,
                )
            )
    return out


def measure_rules_report(
    con: Any, tables: list[tuple[str, Table, dict[str, Any], dict[str, Copy], dict[str, str]]]
) -> list[dict]:
    """Each copy and measure rule counted over the written tables (one query per table and kind)."""

    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    out: list[dict[str, Any]] = []
    for name, table, specs, copies, ages in tables:
        for copy in copies.values():
            fk = copy.fk
            keys = ", ".join(f"{q(k)} AS {q(f'__k{i}')}" for i, k in enumerate(fk.ref_columns))
            on = " AND ".join(f"p.{q(f'__k{i}')} = c.{q(c)}" for i, c in enumerate(fk.columns))
            both = f"c.{q(copy.column)} IS NOT NULL AND p.__v IS NOT NULL"
            row = con.execute(
                f"SELECT count(*) FILTER (WHERE {both}), count(*) FILTER (WHERE {both} AND c.{q(copy.column)} <> "
                f"p.__v) FROM {q(name)} AS c LEFT JOIN (SELECT {keys}, {q(copy.parent_column)} AS __v FROM "
                f"{q(fk.ref_table)}) AS p ON {on}"
            ).fetchone()
            out.append(_entry(name, copy.text, "copy", row))
        rules = measure_rules(table, specs, ages)
        if not rules:
            continue
        shares = [
            f"(SELECT coalesce(avg(CASE WHEN {q(col)} < {mid} THEN 1.0 ELSE 0.0 END), 0) FROM {q(name)} "
            f"WHERE {q(col)} IS NOT NULL) AS __lower_share_{i}"
            for i, (col, _, kind, _, _, mid) in enumerate(rules)
            if kind == "rating"
        ]
        exprs = ", ".join(
            f"count(*) FILTER (WHERE {checked}), count(*) FILTER (WHERE {checked} AND ({bad}))"
            for _, _, _, checked, bad, _ in rules
        )
        source = f"{q(name)}" + (f", (SELECT {', '.join(shares)}) AS s" if shares else "")
        values = con.execute(f"SELECT {exprs} FROM {source}").fetchone()
        for i, (_, text, kind, _, _, _) in enumerate(rules):
            out.append(_entry(name, text, kind, (values[2 * i], values[2 * i + 1])))
    return out


def _entry(table: str, rule: str, kind: str, row: Any) -> dict[str, Any]:
    return {
        "table": table,
        "rule": rule,
        "kind": kind,
        "origin": "inferred",
        "rows_checked": int(row[0]),
        "violations": int(row[1]),
    }
