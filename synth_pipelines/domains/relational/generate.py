"""The generator: every table drawn block by block, keys and foreign keys by construction.

How each constraint holds:
- PRIMARY KEY / UNIQUE: a key's columns are a pure function of the row number: row ``i`` takes the
  ``permute(i)``-th combination of the columns' enumerable domains (``values.enumerate_column``),
  and a permutation never repeats. Any block can be drawn alone, and a parent's key at row ``j`` can
  be recomputed anywhere, so foreign keys never need the parent table in memory.
- FOREIGN KEY: a child row draws a parent row number and takes that row's key (composite keys
  too). Self-references point at earlier rows. A foreign key inside a child's key is one component
  of that key's combination (junction tables: distinct parent pairs).
- NOT NULL: NULLs are only drawn into nullable columns.
- CHECK: the common forms become bounds, allowed values and column orderings; then every CHECK is
  evaluated exactly in DuckDB and violating rows are redrawn, up to ``MAX_REDRAWS`` rounds, after
  which generation stops with the CHECK named. Nothing violating is ever returned.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.core.rng import BLOCK_ROWS, block_rng, block_spans, stream_key
from synth_pipelines.domains.relational.check_values import distinct_pairs, shape_columns, with_affix
from synth_pipelines.domains.relational.constraints import (
    CheckEvaluator,
    ColumnRule,
    OrderRule,
    analyze_checks,
    check_label,
)
from synth_pipelines.domains.relational.ddl import Column, ForeignKey, Schema, Table
from synth_pipelines.domains.relational.measures import (
    Copy,
    adjust_specs,
    age_from_birth,
    plan_age_from_birth,
    plan_copies,
)
from synth_pipelines.domains.relational.places import draw_places, plan_places
from synth_pipelines.domains.relational.plan import Plan
from synth_pipelines.domains.relational.realism import Derivation, Resolved, fk_for_ref, infer_spec, resolve
from synth_pipelines.domains.relational.spec import ColumnGen, Ref
from synth_pipelines.domains.relational.values import (
    EPOCH,
    US_PER_DAY,
    ColumnSpec,
    _date_bounds,
    domain_size,
    draw_column,
    enumerate_column,
    fit_length,
    infer_semantic,
    mix62,
    number_step,
    numbers_to_series,
    permute,
    polars_dtype,
    type_bounds,
    typical_range,
)
from synth_pipelines.domains.relational.vocab import vocab

DOMAIN = "relational"
MAX_REDRAWS = 40
LIMIT_62 = 2**62
ORG_ROOT_EVERY = 500  # self-referencing hierarchies: one root per this many rows (at least one)
ORG_SPAN = (2, 7)  # reports per manager: each row picks one earlier row among the span-th ones


@dataclass
class Component:
    """One factor of a key's combination space: a whole FK, or one plain column."""

    columns: tuple[str, ...]
    size: int
    fk: ForeignKey | None = None
    spec: ColumnSpec | None = None
    stride: int = 1
    # Another component of the same key that this FK must differ from (CHECK (course_id <> prereq_id), both
    # to one parent): this one draws from the parent's other rows, ``size`` = parent rows - 1.
    distinct_from: int | None = None


@dataclass
class KeyGroup:
    label: str
    columns: tuple[str, ...]
    components: list[Component]
    space: int
    # (earlier group, its plain component): this group's one component is offset from that "slot"
    # per parent, so e.g. UNIQUE (order_id, sku) holds beside PRIMARY KEY (order_id, line_no).
    link: tuple[int, int] | None = None

    @property
    def sequential(self) -> bool:
        """A single integer column: rows take 1, 2, 3... (or the CHECK's lower bound onward)."""
        c = self.components
        return len(c) == 1 and c[0].spec is not None and c[0].spec.type.kind == "int"


class TableModel:
    """Everything needed to draw one table: specs, key groups, FK plan, CHECK rules."""

    def __init__(self, schema: Schema, table: Table, plan: Plan, resolved: Resolved) -> None:
        self.table = table
        self.rows = plan.rows[table.name]
        rules, self.orders = analyze_checks(table)
        gens = resolved.spec.tables[table.name].columns
        self.specs = {c.name: _spec(schema, table, c, rules.get(c.name), gens[c.name]) for c in table.columns.values()}
        adjust_specs(table, self.specs)  # fractions in 0..1, years in the past, adults' birth years
        shape_columns(schema, table, self.specs)  # LIKE, regex and modulo CHECKs shape the draws
        # Columns a CHECK says differ (course_id <> prereq_id): two foreign keys to one parent never pick one row.
        self.distinct = distinct_pairs(table)
        self.derivations: dict[str, Derivation] = resolved.derivations.get(table.name, {})
        self.derived_order: list[str] = resolved.order.get(table.name, [])
        # A regex CHECK decides the whole value; a person column with one is drawn from the pattern.
        self.person = {c for c, g in gens.items() if g.generator == "person" and "shape" not in self.specs[c].extra}
        self.sums = resolved.sums.get(table.name, {})
        # City, region, country, codes, postal code, phone, currency, timezone, coordinates: one place per row.
        self.places = plan_places(table, self.specs, {c: g.generator for c, g in gens.items()})
        self.generators = {c: g.generator for c, g in gens.items()}
        self.copies: dict[str, Copy] = {}  # set by the generator, which sees the parents' models
        key_cols = {c for k in [table.primary_key, *table.uniques] for c in (k or ())}
        # A foreign key's value is its parent's key, never recomputed from the row (an age referencing a table
        # of ages would point at no row).
        fk_cols = {c for fk in table.foreign_keys for c in fk.columns}
        # An age that is 2025 - the row's birth year.
        self.age_from = plan_age_from_birth(self.specs, key_cols | fk_cols)
        # A size in bytes follows the row's duration (a track's bytes = its length x a bit rate).
        durations = [c for c, s in self.specs.items() if s.semantic in ("duration_ms", "duration_s")]
        self.bytes_from = {
            c: durations[0]
            for c, s in self.specs.items()
            if s.semantic == "bytes" and durations and c not in self.sums and c not in fk_cols
        }
        self.email_domains = next((g.domains for g in gens.values() if g.part == "email" and g.domains), None)
        # The foreign key through which a derivation reads a parent's column, by parent reference (the parent
        # table and, with several foreign keys to it, the one named).
        self.parent_fk = {
            (ref.table, ref.via): fk_for_ref(table, ref)
            for d in self.derivations.values()
            for ref in (*d.anchors, *d.uppers)
            if ref.table is not None
        }
        self.groups: list[KeyGroup] = []
        self.key_columns: set[str] = set()
        self.not_by_construction: list[str] = []
        self.fk_draws: list[ForeignKey] = []
        self.plain: list[str] = []


def _spec(schema: Schema, table: Table, column: Column, rule: ColumnRule | None, gen: ColumnGen) -> ColumnSpec:
    t = column.type
    spec = ColumnSpec(table.name, column, gen.meaning or infer_semantic(table.name, column))
    _apply_gen(spec, gen)
    spec.default = column.default_literal
    if isinstance(spec.default, str) and t.kind in ("int", "decimal", "float"):
        try:
            spec.default = float(spec.default)
        except ValueError:
            spec.default = None
    if t.kind == "bool" and isinstance(spec.default, float):
        spec.default = bool(spec.default)
    rule = rule or ColumnRule()
    spec.max_len = t.length
    if rule.max_len is not None:
        spec.max_len = rule.max_len if spec.max_len is None else min(spec.max_len, rule.max_len)
    spec.min_len = rule.min_len
    if t.kind in ("int", "decimal", "float"):
        lo, hi = type_bounds(t)
        step = number_step(t) or 1e-6
        lo_bound, hi_bound = _number(rule.lo), _number(rule.hi)
        if lo_bound is not None:
            lo = max(lo, lo_bound + (_strict_step(lo_bound, step, t.kind) if rule.lo_strict else 0))
        if hi_bound is not None:
            hi = min(hi, hi_bound - (_strict_step(hi_bound, step, t.kind) if rule.hi_strict else 0))
        if t.kind == "int":
            lo, hi = math.ceil(lo), math.floor(hi)
        if "range" in spec.extra:
            lo, hi = max(lo, spec.extra["range"][0]), min(hi, spec.extra["range"][1])
        spec.lo, spec.hi = lo, hi
        if lo > hi:
            raise ConstraintViolation(
                f"{schema.source}:{column.line}: column {table.name}.{column.name} {t.sql}: its CHECKs and type "
                f"leave no possible value (needs >= {lo} and <= {hi})"
            )
    elif t.kind in ("date", "timestamp", "timestamptz"):
        spec.lo = _as_temporal(rule.lo, t.kind, rule.lo_strict, +1)
        spec.hi = _as_temporal(rule.hi, t.kind, rule.hi_strict, -1)
        if spec.lo is not None and spec.hi is not None and _gt_temporal(spec.lo, spec.hi):
            raise ConstraintViolation(
                f"{schema.source}:{column.line}: column {table.name}.{column.name} {t.sql}: its CHECKs leave no "
                f"possible value (needs >= {spec.lo} and <= {spec.hi})"
            )
    if spec.choices is not None:  # a spec's vocabulary (validated against ENUMs and IN lists)
        pass
    elif rule.choices is not None:
        choices = [c for c in rule.choices if c not in rule.excluded]
        if t.kind == "enum":
            choices = [c for c in choices if c in t.enum_values]
        if t.kind == "string" and spec.max_len is not None:
            choices = [c for c in choices if isinstance(c, str) and len(c) <= spec.max_len]
        if not choices:
            raise ConstraintViolation(
                f"{schema.source}:{column.line}: column {table.name}.{column.name}: no value of its IN list fits "
                f"its type {t.sql} and CHECKs"
            )
        spec.choices = choices
    elif t.kind == "enum" and rule.excluded:
        spec.choices = [v for v in t.enum_values if v not in rule.excluded]
    # The spec's NULL share (inferred: realism.null_share_for; validated against NOT NULL).
    spec.null_share = gen.null_share or 0.0 if column.nullable else 0.0
    return spec


def _number(bound: object) -> float | None:
    """A CHECK's bound on a number column as a number, a quoted one too (``n > '5'``: PostgreSQL and MySQL cast
    it to the column's type; left unread, the draws ignored it and the redraws could not find ``6 .. 7``)."""
    if isinstance(bound, int | float):
        return float(bound)
    if isinstance(bound, str):
        try:
            return float(bound)
        except ValueError:
            return None
    return None


def _strict_step(bound: float, step: float, kind: str) -> float:
    """How far a strict CHECK bound moves inward: one step of the type's grid when the bound is on it
    (``n > 3`` is ``n >= 4``), none between two values of the grid, which are all on the right side already
    (``n > 2.5`` is ``n >= 3``; stepping there refused ``n > 2.5 AND n < 3.5`` as leaving no value)."""
    if kind in ("int", "decimal"):
        units = bound / step
        if abs(units - round(units)) > 1e-9 * max(1.0, abs(units)):
            return 0.0
    return step


def _apply_gen(spec: ColumnSpec, gen: ColumnGen) -> None:
    """What a spec's column generator says, in the terms ``values.draw_column`` draws from."""
    g = gen.generator
    if g == "vocabulary" and gen.by_row:
        spec.extra["by_row"] = list(gen.values or [])
    elif g == "vocabulary":
        spec.choices = list(gen.values or [])
        if gen.weights is not None:
            spec.extra["weights"] = list(gen.weights)
    elif g == "faker":
        spec.extra["faker"] = gen.provider
    elif g == "pattern":
        spec.extra["pattern"] = gen.pattern
    elif g == "number":
        spec.extra["range"] = (float(gen.min), float(gen.max), gen.distribution or "uniform")  # type: ignore[arg-type]
    elif g == "person":
        spec.extra["person"] = gen.part
    if g in ("date_range", "after", "before") and (gen.start or gen.end):
        default = _date_bounds(spec)
        start = dt.date.fromisoformat(gen.start) if gen.start else default[0]
        end = dt.date.fromisoformat(gen.end) if gen.end else default[1]
        spec.extra["dates"] = (start, end)


def _gt_temporal(a: object, b: object) -> bool:
    """``a > b`` for dates and datetimes mixed (a date is its midnight)."""

    def as_dt(v: object) -> dt.datetime:
        if isinstance(v, dt.datetime):
            return v.replace(tzinfo=None) if v.tzinfo is None else v.astimezone(dt.UTC).replace(tzinfo=None)
        return dt.datetime(v.year, v.month, v.day)  # type: ignore[attr-defined]

    return as_dt(a) > as_dt(b)


def _as_temporal(value: object, kind: str, strict: bool, direction: int) -> object:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value) if kind != "date" else dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    if kind == "date" and isinstance(value, dt.date):
        return value + dt.timedelta(days=direction) if strict else value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.datetime) and strict:
        value = value + dt.timedelta(seconds=direction)
    return value


class RelationalGenerator:
    """Draws the tables of one schema for one seed and plan."""

    def __init__(self, schema: Schema, plan: Plan, seed: int, resolved: Resolved | None = None) -> None:
        self.schema = schema
        self.plan = plan
        self.seed = seed
        self.resolved = resolved if resolved is not None else resolve(schema, plan, infer_spec(schema, plan))
        self.models = {name: TableModel(schema, t, plan, self.resolved) for name, t in schema.tables.items()}
        # Columns children derive from (members.joined_at for loans.loaned_at), kept per finished table as
        # int64 microseconds and a set-mask: parents are drawn first, so a child gathers them by row number.
        self._anchors: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        for model in self.models.values():
            self._plan_keys(model)
        # Columns copied from the parent row (a line's price from its track, an invoice's billing address from
        # its customer); the generator keeps those parent columns, by row number, once the parent is drawn.
        deferred = {(fk.table, fk.columns) for fk in plan.deferred}
        parent_specs = {name: m.specs for name, m in self.models.items()}
        for model in self.models.values():
            model.copies = plan_copies(schema, model.table, model.specs, model.generators, parent_specs, deferred)
        self.copy_sources: dict[str, set[str]] = {}
        for model in self.models.values():
            for c in model.copies.values():
                self.copy_sources.setdefault(c.fk.ref_table, set()).add(c.parent_column)
        self._kept: dict[str, dict[str, pl.Series]] = {}
        self._key_cache_depth = 0
        self._check_con: duckdb.DuckDBPyConnection | None = None
        # Totals of parents that are the sum of their lines, per parent row (drawn from the lines' blocks).
        self._line_sums: dict[tuple[str, str], np.ndarray] = {}
        self._summing: set[str] = set()
        # Foreign keys of line tables summed into a parent: the first rows cover every parent once, so every
        # invoice has at least one line (when there are as many lines as invoices).
        self.cover = {(s.child, s.fk.columns) for sums in self.resolved.sums.values() for s in sums.values()}
        # Rows drawn per table (``block`` calls), including the whole parents a child's anchors, copies or
        # sums make it draw: the cost of a shard (docs/scale-out.md "Relational"). Never reaches a byte.
        self.rows_drawn: dict[str, int] = dict.fromkeys(schema.tables, 0)

    # planning -----------------------------------------------------------------------------------
    def _plan_keys(self, m: TableModel) -> None:
        t = m.table
        assigned: set[str] = set()
        groups_done: list[set[str]] = []
        for cols in [t.primary_key, *t.uniques]:
            if not cols:
                continue
            label = f"{'PRIMARY KEY' if cols == t.primary_key else 'UNIQUE'} ({', '.join(cols)})"
            free = [c for c in cols if c not in assigned]
            if not free:
                if not any(g <= set(cols) for g in groups_done):
                    m.not_by_construction.append(label)
                groups_done.append(set(cols))
                continue
            components: list[Component] = []
            taken: set[str] = set()
            for col in free:
                if col in taken:
                    continue
                fk = next((f for f in t.foreign_keys if col in f.columns), None)
                if fk is not None and any(c in assigned for c in fk.columns):
                    m.not_by_construction.append(label)
                    fk = None
                if fk is not None:
                    size = self.plan.rows[fk.ref_table]
                    components.append(Component(fk.columns, size, fk=fk))
                    taken.update(fk.columns)
                else:
                    spec = m.specs[col]
                    components.append(Component((col,), domain_size(spec), spec=spec))
                    taken.add(col)
            self._shrink(m, components)
            _exclude_diagonal(m, components)
            overlap = {c for c in cols if c in assigned}
            link = self._link(m, label, overlap, components) if overlap else None
            if link is not None:
                m.groups.append(KeyGroup(label, tuple(taken), components, components[0].size, link))
                assigned |= taken
                groups_done.append(set(cols))
                continue
            if overlap:
                m.not_by_construction.append(label)
            space = math.prod(c.size for c in components)
            if m.rows > space:
                raise ConstraintViolation(
                    f"{self.schema.source}:{t.line}: table {t.name}: {m.rows:,} rows requested but {label} allows "
                    f"only {space:,} distinct values ({_explain(components)}); lower the row count for {t.name}"
                )
            m.groups.append(KeyGroup(label, tuple(sorted(taken, key=list(t.columns).index)), components, space))
            assigned |= taken
            groups_done.append(set(cols))
        m.key_columns = assigned
        for fk in t.foreign_keys:
            if any(c in assigned for c in fk.columns):
                continue
            if any(c in {c2 for f in m.fk_draws for c2 in f.columns} for c in fk.columns):
                m.not_by_construction.append(f"FOREIGN KEY ({', '.join(fk.columns)})")
                continue
            m.fk_draws.append(fk)
        fk_cols = {c for f in m.fk_draws for c in f.columns}
        m.plain = _order_plain([c for c in t.columns if c not in assigned and c not in fk_cols], m.orders)

    def _link(
        self, m: TableModel, label: str, overlap: set[str], components: list[Component]
    ) -> tuple[int, int] | None:
        """Find the earlier key whose non-overlapping part is one plain "slot" column (line_no)."""
        if len(components) != 1:
            return None
        for g_no, group in enumerate(m.groups):
            rest = [i for i, c in enumerate(group.components) if not set(c.columns) <= overlap]
            covered = {col for c in group.components for col in c.columns if set(c.columns) <= overlap}
            if len(rest) != 1 or covered != overlap or group.components[rest[0]].spec is None or group.link:
                continue
            slot = group.components[rest[0]]
            if slot.size > components[0].size:
                slot.size = components[0].size
                group.space = math.prod(c.size for c in group.components)
                if m.rows > group.space:
                    # No way round it: the key's space is the overlap's parents x the new column's values.
                    t = m.table
                    parents = [c for i, c in enumerate(group.components) if i != rest[0]]
                    raise ConstraintViolation(
                        f"{self.schema.source}:{t.line}: table {t.name}: {m.rows:,} rows requested but {label} "
                        f"allows only {group.space:,} distinct values ({_explain([*parents, *components])}); "
                        f"lower the row count for {t.name}"
                    )
            return g_no, rest[0]
        return None

    def _shrink(self, m: TableModel, components: list[Component]) -> None:
        """Plain columns beside a foreign key in a composite key (item_no in (restaurant_id, item_no))
        get a small domain, so values look like per-parent numbering rather than random huge numbers."""
        fk_space = math.prod(c.size for c in components if c.fk is not None)
        if not fk_space or len(components) == 1:
            return
        for c in components:
            if c.spec is None or c.spec.type.kind not in ("int", "date", "timestamp", "timestamptz"):
                continue
            want = max(10, math.ceil(m.rows / max(fk_space, 1)) * 3)
            if c.size > want:
                if c.spec.type.kind != "int":
                    c.stride = c.size // want
                c.size = want

    # keys ---------------------------------------------------------------------------------------
    def key_frame(
        self,
        table: str,
        idx: np.ndarray,
        only: set[str] | None = None,
        parent_rows: dict[tuple[str, ...], np.ndarray] | None = None,
    ) -> dict[str, pl.Series]:
        """The key columns of ``table`` at rows ``idx`` (a pure function of the row numbers);
        with ``only``, just the key groups holding those columns (and the groups they derive from).
        ``parent_rows`` receives the parent row numbers of foreign keys inside keys."""
        self._key_cache_depth += 1
        try:
            if self._key_cache_depth > 32:
                # A key read through a key through a key...: a loop, or a chain deeper than any schema needs.
                raise ConstraintViolation(
                    f"{self.schema.source}: keys of {table} reference each other in a loop or through more than 32 "
                    "tables"
                )
            m = self.models[table]
            out: dict[str, pl.Series] = {}
            parts: dict[int, list[np.ndarray]] = {}
            needed = set(range(len(m.groups)))
            if only is not None:
                needed = {g for g, grp in enumerate(m.groups) if set(grp.columns) & only}
                needed |= {m.groups[g].link[0] for g in needed if m.groups[g].link is not None}
            for g_no, group in enumerate(m.groups):
                if g_no in needed:
                    out.update(self._group_values(m, g_no, group, idx, parts, parent_rows))
            return out
        finally:
            self._key_cache_depth -= 1

    def _group_values(
        self,
        m: TableModel,
        g_no: int,
        group: KeyGroup,
        idx: np.ndarray,
        done: dict[int, list[np.ndarray]],
        parent_rows: dict[tuple[str, ...], np.ndarray] | None = None,
    ) -> dict[str, pl.Series]:
        key = stream_key(self.seed, DOMAIN, f"{self.schema.sha256[:16]}/{m.table.name}/key{g_no}") >> 66
        if group.link is not None:
            base_no, slot_no = group.link
            base = m.groups[base_no]
            parent_index = np.zeros(idx.size, dtype=np.int64)
            for i, (c, j) in enumerate(zip(base.components, done[base_no], strict=True)):
                if i != slot_no:
                    parent_index = parent_index * c.size + j
            size = group.components[0].size
            # Distinct slots of one parent map to distinct values: (slot + per-parent offset) mod size.
            j = (done[base_no][slot_no] + mix62(parent_index, key) % size) % size
            done[g_no] = [j]
            return self._component_values(m, group.components, [j], parent_rows)
        if group.sequential:
            comp = group.components[0]
            done[g_no] = [idx]
            return {comp.columns[0]: enumerate_column(comp.spec, idx)}  # type: ignore[arg-type]
        comps = group.components
        if len(comps) == 1 and comps[0].fk is None:
            # One plain column: its enumeration scrambles itself where order would look artificial.
            parts = [idx]
        elif group.space < LIMIT_62:
            combo = permute(idx, group.space, key)
            parts = []
            for c in comps:
                parts.append(combo % c.size)
                combo = combo // c.size
        else:
            big = max(range(len(comps)), key=lambda i: comps[i].size)
            parts = [
                permute(idx, min(c.size, LIMIT_62 - 1), key + i) if i == big else mix62(idx, key + 7 * i + 1) % c.size
                for i, c in enumerate(comps)
            ]
        for i, c in enumerate(comps):
            if c.distinct_from is not None:
                # Skip the other FK's parent row: j -> j + (j >= other), a bijection onto the rows != other.
                parts[i] = parts[i] + (parts[i] >= parts[c.distinct_from])
        done[g_no] = parts
        return self._component_values(m, comps, parts, parent_rows)

    def _component_values(
        self,
        m: TableModel,
        comps: list[Component],
        parts: list[np.ndarray],
        parent_rows: dict[tuple[str, ...], np.ndarray] | None = None,
    ) -> dict[str, pl.Series]:
        out: dict[str, pl.Series] = {}
        for c, j in zip(comps, parts, strict=True):
            if c.fk is not None:
                out.update(self.fk_values(m, c.fk, j))
                if parent_rows is not None:
                    parent_rows[c.fk.columns] = j
            elif c.columns[0] in m.person:
                # A UNIQUE email or name: the row's person, injective in the row number (here j is the row).
                out[c.columns[0]] = self.person_values(m, j)[c.columns[0]]
            else:
                out[c.columns[0]] = enumerate_column(c.spec, j * c.stride)  # type: ignore[arg-type]
        return out

    def fk_values(self, m: TableModel, fk: ForeignKey, parent_rows: np.ndarray) -> dict[str, pl.Series]:
        parent = self.key_frame(fk.ref_table, parent_rows, set(fk.ref_columns))
        out = {}
        for col, ref in zip(fk.columns, fk.ref_columns, strict=True):
            dtype = polars_dtype(m.table.columns[col].type)
            try:
                out[col] = parent[ref].cast(dtype, strict=True).alias(col)
            except pl.exceptions.InvalidOperationError as exc:
                raise ConstraintViolation(
                    f"{self.schema.source}:{fk.line}: {m.table.name}.{col} ({m.table.columns[col].type.sql}) cannot "
                    f"hold the values of {fk.ref_table}.{ref}; widen the column or lower the row count"
                ) from exc
        return out

    # rows ---------------------------------------------------------------------------------------
    def rng(self, table: str, stream: str, block: int) -> np.random.Generator:
        return block_rng(self.seed, DOMAIN, f"{self.schema.sha256[:16]}/{table}/{stream}", block)

    def draw_rest(
        self,
        m: TableModel,
        idx: np.ndarray,
        block: int,
        tag: str,
        known: dict[str, pl.Series],
        parents: dict[tuple[str, ...], np.ndarray],
    ) -> dict[str, pl.Series]:
        """The non-key columns at rows ``idx``: foreign keys, plain columns in CHECK order, then the
        columns derived from others (anchors first). ``parents`` holds the parent row numbers of the
        keys' foreign keys and receives those of the drawn ones."""
        n = idx.size
        out: dict[str, pl.Series] = {}
        for fk in m.fk_draws:
            values, rows = self._draw_fk(m, fk, idx, block, tag, _distinct_from(m, fk, parents))
            out.update(values)
            parents[fk.columns] = rows
        person: dict[str, pl.Series] | None = None
        placed = draw_places(m.places, m.specs, lambda s: self.rng(m.table.name, f"{s}{tag}", block), n)
        for col in m.plain:
            if col in m.derivations:
                continue
            spec = m.specs[col]
            rng = self.rng(m.table.name, f"{col}{tag}", block)
            if col in placed:
                out[col] = _with_nulls(placed[col], spec.null_share, rng)
                continue
            if col in m.person:
                person = person if person is not None else self.person_values(m, idx)
                out[col] = _with_nulls(person[col], spec.null_share, rng)
                continue
            if "by_row" in spec.extra:
                out[col] = _with_nulls(enumerate_column(spec, idx), spec.null_share, rng)
                continue
            values = draw_column(spec, rng, n)
            for order in m.orders:
                if order.hi_col == col:
                    lower = out.get(order.lo_col, known.get(order.lo_col))
                    if lower is not None:
                        values = _above(values, lower, spec, order, rng)
            out[col] = values
        for col in m.derived_order:
            rng = self.rng(m.table.name, f"{col}{tag}", block)
            out[col] = self._derive(m, m.derivations[col], rng, n, out, known, parents)
        for col, duration in m.bytes_from.items():
            if col in out and duration in out:
                out[col] = self._bytes_for(m, col, duration, out, self.rng(m.table.name, f"{col}{tag}:bytes", block))
        for col, birth in m.age_from.items():
            source = out.get(birth, known.get(birth))
            if col in out and source is not None:
                out[col] = age_from_birth(out[col], source, m.specs[col])
        for col, copy in m.copies.items():
            if col in out:
                out[col] = self._copied(m, copy, parents[copy.fk.columns]).alias(col)
        for col in m.sums:
            if col in out:
                out[col] = numbers_to_series(self.line_sums(m, col)[idx], m.specs[col].type).alias(col)
        return out

    def _copied(self, m: TableModel, copy: Copy, rows: np.ndarray) -> pl.Series:
        """The parent row's value of ``copy.parent_column`` (NULL where the foreign key is NULL)."""
        if copy.fk.ref_table not in self._kept:
            for _ in self.iter_blocks(copy.fk.ref_table):
                pass
        source = self._kept[copy.fk.ref_table][copy.parent_column]
        linked = rows >= 0
        if not source.len():
            return pl.Series([None] * rows.size, dtype=polars_dtype(m.specs[copy.column].type))
        values = source.gather(pl.Series(np.where(linked, rows, 0)))
        values = pl.select(pl.when(pl.Series(linked)).then(values).otherwise(None).alias("v")).to_series()
        return values.cast(polars_dtype(m.specs[copy.column].type))

    def _bytes_for(
        self, m: TableModel, col: str, duration: str, out: dict[str, pl.Series], rng: np.random.Generator
    ) -> pl.Series:
        """Bytes = duration x a bit rate of 128-320 kbit/s (16-40 bytes per millisecond), within bounds;
        rows without a duration keep their drawn size."""
        spec = m.specs[col]
        ms = out[duration].cast(pl.Float64).to_numpy() * (1000.0 if m.specs[duration].semantic == "duration_s" else 1)
        size = np.round(np.nan_to_num(ms, nan=0.0) * rng.uniform(16.0, 40.0, ms.size))
        size = np.clip(size, float(spec.lo), float(spec.hi))
        derived = numbers_to_series(size, spec.type)
        use = pl.Series(~np.isnan(ms)) & out[col].is_not_null()
        return pl.select(pl.when(use).then(derived).otherwise(out[col]).alias(col)).to_series()

    def line_sums(self, m: TableModel, col: str) -> np.ndarray:
        """Per row of ``m``'s table, the sum of its lines' price x quantity (0 without lines), exact in the
        total's decimal units: the line table is drawn block by block (the same blocks it is written from)."""
        key = (m.table.name, col)
        if key in self._line_sums:
            return self._line_sums[key]
        s = m.sums[col]
        if s.child in self._summing:
            raise ConstraintViolation(
                f"{self.schema.source}: {m.table.name}.{col} sums {s.child}, whose rows need {m.table.name} first"
            )
        self._summing.add(s.child)
        scale = 10 ** (m.specs[col].type.scale or 0) if m.specs[col].type.kind == "decimal" else 1
        fk_cols = list(s.fk.columns)
        units = pl.col(s.price).cast(pl.Float64) * scale
        line = units.round(0).cast(pl.Int64) * (pl.col(s.quantity).cast(pl.Int64) if s.quantity else 1)
        parts = []
        try:
            for frame in self.iter_blocks(s.child):
                parts.append(frame.group_by(fk_cols).agg(line.fill_null(0).sum().alias("__units")))
        finally:
            self._summing.discard(s.child)
        rows = self.plan.rows[m.table.name]
        keys = self.key_frame(m.table.name, np.arange(rows, dtype=np.int64), set(s.fk.ref_columns))
        parent = pl.DataFrame({c: keys[r] for c, r in zip(fk_cols, s.fk.ref_columns, strict=True)}).with_row_index(
            "__row"
        )
        if parts:
            totals = pl.concat(parts).drop_nulls(fk_cols).group_by(fk_cols).agg(pl.col("__units").sum())
            totals = totals.with_columns([pl.col(c).cast(parent.schema[c]) for c in fk_cols])
            parent = parent.join(totals, on=fk_cols, how="left").sort("__row")
        else:
            parent = parent.with_columns(pl.lit(None, dtype=pl.Int64).alias("__units"))
        result = parent["__units"].fill_null(0).to_numpy().astype(np.float64) / scale
        self._line_sums[key] = result
        return result

    # realism ------------------------------------------------------------------------------------
    def person_values(self, m: TableModel, idx: np.ndarray) -> dict[str, pl.Series]:
        """The person of each row (a pure function of the row number): every person column of the row
        (first, last and full name, email, username) comes from the same first and last name, so an
        address belongs to its row's name. Distinct rows get distinct (first, last) pairs until the
        pairs run out, then a number: emails and usernames are unique by construction."""
        first, last = vocab("person_first"), vocab("person_last")
        first_f, last_f = vocab("person_first_folded"), vocab("person_last_folded")
        nf, nl = first.len(), last.len()
        cap = nf * nl
        key = stream_key(self.seed, DOMAIN, f"{self.schema.sha256[:16]}/{m.table.name}/person") >> 66
        idx = np.asarray(idx, dtype=np.int64)
        pair = permute(idx % cap, cap, key)
        fi, li = pl.Series(pair % nf), pl.Series(pair // nf)
        rank = idx // cap
        suffix = pl.Series(np.where(rank > 0, (rank + 1).astype(str), ""), dtype=pl.String)
        local_first, local_last = first_f.gather(fi), last_f.gather(li)
        domains = pl.Series(m.email_domains or ["example.com"], dtype=pl.String)
        domain = domains.gather(pl.Series(mix62(idx, key + 1) % domains.len()))
        display_suffix = pl.select(
            pl.when(suffix == "").then(pl.lit("")).otherwise(pl.lit(" ") + suffix).alias("s")
        ).to_series()
        parts = {
            "first_name": first.gather(fi),
            "last_name": last.gather(li),
            "full_name": _concat_str([first.gather(fi), " ", last.gather(li), display_suffix]),
            "email": _concat_str([local_first, ".", local_last, suffix, "@", domain]),
            "username": _concat_str([local_first, "_", local_last, suffix]),
        }
        return {
            col: with_affix(m.specs[col], fit_length(parts[m.specs[col].extra["person"]], m.specs[col]), None).alias(
                col
            )
            for col in m.person
        }

    def anchor(self, table: str, column: str) -> tuple[np.ndarray, np.ndarray]:
        """A finished table's column as (int64 microseconds, is-set mask), drawing the table if needed."""
        if table not in self._anchors:
            for _ in self.iter_blocks(table):
                pass
        return self._anchors[table][column]

    def _derive(
        self,
        m: TableModel,
        d: Derivation,
        rng: np.random.Generator,
        n: int,
        out: dict[str, pl.Series],
        known: dict[str, pl.Series],
        parents: dict[tuple[str, ...], np.ndarray],
    ) -> pl.Series:
        """A column drawn from its anchors: the latest plus a positive offset (``after``) or the earliest
        minus one (``before``), so every rule it carries holds by construction. Rows without any set
        anchor draw from the column's date range."""
        spec = m.specs[d.column]
        sentinel = np.iinfo(np.int64).min if d.direction > 0 else np.iinfo(np.int64).max
        base = np.full(n, sentinel, dtype=np.int64)
        for ref in d.anchors:
            values, is_set = self._anchor_values(m, ref, out, known, parents)
            candidate = np.where(is_set, values, sentinel)
            base = np.maximum(base, candidate) if d.direction > 0 else np.minimum(base, candidate)
        has_anchor = base != sentinel
        free = draw_column(spec, rng, n)  # the date-range draw, for rows with no anchor (and a NULL mask)
        free_us, free_set = _to_us(free)
        unit = US_PER_DAY if spec.type.kind == "date" else 1_000_000
        safe_base = np.where(has_anchor, base, 0)
        lo_day, hi_day = _date_bounds(spec)
        if d.direction > 0:  # up to the range's last value: its last day (DATE) or that day's 23:59:59
            room = (hi_day - EPOCH).days * US_PER_DAY + US_PER_DAY - unit - safe_base
        else:
            room = safe_base - (lo_day - EPOCH).days * US_PER_DAY
        hi = np.full(n, d.hi_us, dtype=np.int64) if d.hi_us is not None else np.where(has_anchor, room, 0)
        top = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        for ref in d.uppers:  # a window: also at or before the earliest upper anchor (minus its gap)
            values, is_set = self._anchor_values(m, ref, out, known, parents)
            top = np.minimum(top, np.where(is_set, values - d.upper_gap_us, top))
        capped = top != np.iinfo(np.int64).max
        top_unit = np.where(capped, (top // unit) * unit, top)  # rounded down: a DATE by that midnight
        if capped.any():
            hi = np.where(capped & has_anchor, np.minimum(hi, top_unit - safe_base), hi)
        hi = np.maximum(hi, d.lo_us)
        # Drawn among the whole units (days for a DATE, seconds otherwise) between the anchor plus the smallest
        # and plus the largest offset, the nearest first: rounding a value drawn in microseconds instead lost
        # the offset's lower end (14d..28d after a DATE gave 15..28 days) and passed the range's last day.
        if d.direction > 0:
            near = -(-(safe_base + d.lo_us) // unit) * unit
            far = np.maximum((safe_base + hi) // unit * unit, near)
        else:
            near = (safe_base - d.lo_us) // unit * unit
            far = np.minimum(-(-(safe_base - hi) // unit) * unit, near)
        steps = np.floor(rng.random(n) * (np.abs(far - near) // unit + 1)).astype(np.int64)
        value = near + steps * unit if d.direction > 0 else near - steps * unit
        result = np.where(has_anchor, value, free_us)
        # Never past the upper anchor (only an empty window, which resolve's inference never makes, stays late).
        result = np.where(capped & (result > top_unit) & (~has_anchor | (top_unit >= safe_base)), top_unit, result)
        is_null = ~free_set if spec.null_share > 0 else np.zeros(n, dtype=bool)
        return _from_us(result, is_null, spec).alias(d.column)

    def _anchor_values(
        self,
        m: TableModel,
        ref: Ref,
        out: dict[str, pl.Series],
        known: dict[str, pl.Series],
        parents: dict[tuple[str, ...], np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        if ref.table is None:
            series = out[ref.column] if ref.column in out else known[ref.column]
            return _to_us(series)
        fk = m.parent_fk[(ref.table, ref.via)]
        assert fk is not None  # resolve() refused references without exactly one foreign key
        rows = parents[fk.columns]
        values, is_set = self.anchor(ref.table, ref.column)
        linked = rows >= 0
        at = np.where(linked, rows, 0)
        if values.size == 0:
            return np.zeros(rows.size, dtype=np.int64), np.zeros(rows.size, dtype=bool)
        return values[at], linked & is_set[at]

    def _draw_fk(
        self, m: TableModel, fk: ForeignKey, idx: np.ndarray, block: int, tag: str, avoid: np.ndarray | None = None
    ) -> tuple[dict[str, pl.Series], np.ndarray]:
        """Parent row numbers for ``fk`` and their key values; ``avoid``: per row, a parent row this FK must
        not pick (another FK's, under CHECK (referrer_id <> referred_id); -1 = none)."""
        n = idx.size
        rng = self.rng(m.table.name, f"fk:{','.join(fk.columns)}{tag}", block)
        parent_rows = self.plan.rows[fk.ref_table]
        nullable = all(m.table.columns[c].nullable for c in fk.columns)
        u = rng.random(n)
        if fk.ref_table == m.table.name:
            # Self-reference: an organisation, never a cycle. A few roots (the first rows, one per
            # ORG_ROOT_EVERY rows; without NULLs, the one root points at itself), then every row reports to
            # an earlier one: row i to (i - roots) // span with a span of 2..7 per row, so each manager has a
            # handful of reports and the depth grows like log(rows) (8 levels for 100k rows).
            roots = 1 if not nullable else max(1, m.rows // ORG_ROOT_EVERY)
            span = rng.integers(ORG_SPAN[0], ORG_SPAN[1] + 1, n)
            # Roots take row 0: without NULLs the one root is row 0 itself; with NULLs the roots are masked below.
            j = np.where(idx < roots, 0, (idx - roots) // span).astype(np.int64)
            null = (idx < roots) if nullable else np.zeros(n, dtype=bool)
        else:
            if parent_rows == 0:
                if not nullable:
                    raise ConstraintViolation(
                        f"{self.schema.source}:{fk.line}: {m.table.name}({', '.join(fk.columns)}) is NOT NULL "
                        f"and references {fk.ref_table}, which has 0 rows"
                    )
                null = np.ones(n, dtype=bool)
                j = np.zeros(n, dtype=np.int64)
            else:
                # Mild popularity skew: a few parents get many children, as in real data.
                j = np.minimum((parent_rows * u**1.4).astype(np.int64), parent_rows - 1)
                j = _scatter(j, parent_rows)
                if (m.table.name, fk.columns) in self.cover:
                    j = np.where(idx < parent_rows, _scatter(idx % parent_rows, parent_rows), j)
                if avoid is not None and parent_rows > 1:
                    # Among the other parent rows: j -> j + (j >= avoid) maps 0..rows-2 onto the rows != avoid.
                    k = np.minimum(j, parent_rows - 2)
                    j = np.where(avoid >= 0, k + (k >= avoid), j)
                null = (rng.random(n) < 0.1) if nullable else np.zeros(n, dtype=bool)
        values = self.fk_values(m, fk, j)
        if null.any():
            mask = pl.Series(null)
            values = {
                c: pl.select(pl.when(mask).then(None).otherwise(s).alias(c)).to_series() for c, s in values.items()
            }
        return values, np.where(null, -1, j)

    def block(
        self, table: str, block: int, start: int, n: int, evaluator: CheckEvaluator | None = None
    ) -> pl.DataFrame:
        m = self.models[table]
        self.rows_drawn[table] += n
        idx = np.arange(start, start + n, dtype=np.int64)
        parents: dict[tuple[str, ...], np.ndarray] = {}
        cols = self.key_frame(table, idx, parent_rows=parents)
        key_parents = dict(parents)
        cols.update(self.draw_rest(m, idx, block, "", cols, parents))
        frame = pl.DataFrame([cols[c] for c in m.table.columns])
        if evaluator is None or not evaluator.checks:
            return frame
        for round_no in range(MAX_REDRAWS + 1):
            failing = evaluator.failures(frame)
            bad = failing.any(axis=1)
            if not bad.any():
                return frame
            if round_no == MAX_REDRAWS:
                break
            rows = np.flatnonzero(bad)
            keys = {c: frame[c].gather(rows) for c in m.key_columns}
            redrawn = self.draw_rest(
                m, idx[rows], block, f"#redraw{round_no}", keys, {k: v[rows] for k, v in key_parents.items()}
            )
            positions = pl.Series(rows)
            frame = frame.with_columns([frame[c].scatter(positions, redrawn[c].cast(frame.schema[c])) for c in redrawn])
        worst = int(failing.sum(axis=0).argmax())
        check = evaluator.checks[worst].check
        raise ConstraintViolation(
            f"{self.schema.source}:{check.line}: table {table}: {check_label(check)} still fails for "
            f"{int(failing[:, worst].sum())} of {n} rows after {MAX_REDRAWS} redraws; it looks unsatisfiable with "
            "the column types, other CHECKs or keys (CHECKs on key columns cannot be redrawn). Nothing was written."
        )

    def check_connection(self) -> duckdb.DuckDBPyConnection:
        """One in-memory DuckDB for every table's CHECK evaluation (opening one per table costs more
        than evaluating a small table's CHECKs)."""
        if self._check_con is None:
            self._check_con = duckdb.connect(":memory:", config={"threads": 1})
            self._check_con.execute("SET enable_external_access = false")
            self._check_con.execute("SET lock_configuration = true")
        return self._check_con

    def close(self) -> None:
        if self._check_con is not None:
            self._check_con.close()
            self._check_con = None

    def iter_blocks(self, table: str, block_rows: int = BLOCK_ROWS) -> Iterator[pl.DataFrame]:
        evaluator = CheckEvaluator(self.schema, self.schema.tables[table], self.check_connection())
        wanted = sorted(self.resolved.anchor_columns.get(table, ()))
        kept: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in wanted}
        copied = sorted(self.copy_sources.get(table, ()))
        copied_parts: list[pl.DataFrame] = []
        try:
            for block, start, n in block_spans(self.plan.rows[table], block_rows):
                frame = self.block(table, block, start, n, evaluator)
                for c in wanted:
                    kept[c].append(_to_us(frame[c]))
                if copied:
                    copied_parts.append(frame.select(copied))
                yield frame
        finally:
            evaluator.close()
        if copied:
            whole = pl.concat(copied_parts) if copied_parts else self.empty_frame(table).select(copied)
            self._kept[table] = {c: whole[c] for c in copied}
        if wanted:
            self._anchors[table] = {
                c: (
                    np.concatenate([v for v, _ in parts]) if parts else np.zeros(0, dtype=np.int64),
                    np.concatenate([s for _, s in parts]) if parts else np.zeros(0, dtype=bool),
                )
                for c, parts in kept.items()
            }

    def iter_range(self, table: str, start: int, stop: int) -> Iterator[pl.DataFrame]:
        """Rows ``start .. stop`` of ``table``, equal to those rows of ``iter_blocks`` (a shard's range).

        A table whose columns children read (anchors, copies) is drawn whole through ``iter_blocks``, which
        keeps those columns for them, and only the range is yielded; any other table draws only the blocks
        its range overlaps (a range starting inside a block draws that block and drops the rows before it).
        """
        if table in self.resolved.anchor_columns or table in self.copy_sources:
            blocks: Iterator[tuple[int, pl.DataFrame]] = (
                (block_start, frame)
                for (_, block_start, _), frame in zip(
                    block_spans(self.plan.rows[table], BLOCK_ROWS), self.iter_blocks(table), strict=True
                )
            )
            for block_start, frame in blocks:
                part = _clip(frame, block_start, start, stop)
                if part is not None:
                    yield part
            return
        evaluator = CheckEvaluator(self.schema, self.schema.tables[table], self.check_connection())
        try:
            for block, block_start, n in block_spans(self.plan.rows[table], BLOCK_ROWS):
                if block_start + n <= start or block_start >= stop:
                    continue
                part = _clip(self.block(table, block, block_start, n, evaluator), block_start, start, stop)
                if part is not None:
                    yield part
        finally:
            evaluator.close()

    def table_frame(self, table: str) -> pl.DataFrame:
        blocks = list(self.iter_blocks(table))
        if not blocks:
            return self.empty_frame(table)
        return pl.concat(blocks) if len(blocks) > 1 else blocks[0]

    def empty_frame(self, table: str) -> pl.DataFrame:
        t = self.schema.tables[table]
        return pl.DataFrame(schema={c.name: polars_dtype(c.type) for c in t.columns.values()})


def _clip(frame: pl.DataFrame, frame_start: int, start: int, stop: int) -> pl.DataFrame | None:
    """The rows of ``frame`` (rows ``frame_start ..`` of its table) inside ``start .. stop``; None if none."""
    lo, hi = max(start, frame_start) - frame_start, min(stop, frame_start + frame.height) - frame_start
    return frame.slice(lo, hi - lo) if hi > lo else None


def _above(
    values: pl.Series, lower: pl.Series, spec: ColumnSpec, order: OrderRule, rng: np.random.Generator
) -> pl.Series:
    """``values`` moved at or above ``lower`` (strictly when the CHECK says so), by a realistic gap."""
    n = values.len()
    kind = spec.type.kind
    strict = 1 if order.strict else 0
    if kind == "date":
        gap = pl.Series(rng.integers(strict, 400, n)).cast(pl.Duration("us")) * 86_400_000_000
        moved = lower.cast(pl.Date) + gap.cast(pl.Duration("ms"))
    elif kind in ("timestamp", "timestamptz"):
        gap = pl.Series(rng.integers(max(strict, 3600), 30 * 86_400, n) * 1_000_000).cast(pl.Duration("us"))
        base = (
            lower.cast(pl.Datetime("us", "UTC" if kind == "timestamptz" else None))
            if lower.dtype != pl.Date
            else lower.cast(pl.Datetime("us"))
        )
        moved = base + gap
    elif kind in ("int", "decimal", "float"):
        step = number_step(spec.type) or 0.01
        a, b, _ = typical_range(spec)
        width = max(step, (b - a) / 4)
        gap = np.round(rng.uniform(0, width, n) / step) * step + strict * step
        # A lower value near the type's largest plus a gap would not fit: a DECIMAL cast fails and an INTEGER
        # one gives NULL. Cut at the largest value (a strict CHECK then redraws the row; a DOUBLE's is the
        # generator's own bound, 1e15).
        moved = (lower.cast(pl.Float64) + pl.Series(gap)).clip(upper_bound=type_bounds(spec.type)[1])
    else:
        return values
    moved = moved.cast(values.dtype, strict=False)
    return pl.select(
        pl.when(lower.is_null() | values.is_null()).then(values).otherwise(moved).alias(values.name)
    ).to_series()


def _to_us(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """A date or timestamp column as (int64 microseconds since the epoch, UTC for TIMESTAMPTZ; is-set mask)."""
    is_set = series.is_not_null().to_numpy()
    if series.dtype == pl.Date:
        values = series.cast(pl.Int32).cast(pl.Int64).fill_null(0).to_numpy() * US_PER_DAY
    else:
        values = series.cast(pl.Datetime("us", series.dtype.time_zone)).cast(pl.Int64).fill_null(0).to_numpy()  # type: ignore[union-attr]
    return values.astype(np.int64, copy=False), is_set


def _from_us(values: np.ndarray, is_null: np.ndarray, spec: ColumnSpec) -> pl.Series:
    if spec.type.kind == "date":
        series = pl.Series((values // US_PER_DAY).astype(np.int32)).cast(pl.Date)
    else:
        series = pl.Series(values).cast(polars_dtype(spec.type))
    if is_null.any():
        series = pl.select(pl.when(pl.Series(is_null)).then(None).otherwise(series).alias("s")).to_series()
    return series


def _with_nulls(values: pl.Series, share: float, rng: np.random.Generator) -> pl.Series:
    if share <= 0 or values.len() == 0:
        return values
    nulls = rng.random(values.len()) < share
    if not nulls.any():
        return values
    return pl.select(pl.when(pl.Series(nulls)).then(None).otherwise(values).alias(values.name)).to_series()


def _concat_str(parts: list[pl.Series | str]) -> pl.Series:
    return pl.select(pl.concat_str([pl.lit(p) for p in parts], separator="").alias("s")).to_series()


def _scatter(j: np.ndarray, n: int) -> np.ndarray:
    """A cheap bijection of ``[0, n)`` (multiply by a unit mod n): popular parents spread out."""
    a = 0x9E3779B1
    while math.gcd(a, n) != 1:
        a += 2
    unit = a % n or 1
    ju, nu = j.astype(np.uint64), np.uint64(n)
    if n <= 1 << 32:
        return (ju * np.uint64(unit) % nu).astype(np.int64)
    # j * unit can pass 2^64 here: multiply by the unit's 16-bit halves, each product below 2^64 for n < 2^48.
    high, low = np.uint64(unit >> 16), np.uint64(unit & 0xFFFF)
    return ((ju * high % nu * np.uint64(1 << 16) % nu + ju * low % nu) % nu).astype(np.int64)


def _order_plain(columns: list[str], orders: list[OrderRule]) -> list[str]:
    """Plain columns with every ``lo`` of an ordering CHECK before its ``hi``."""
    remaining = list(columns)
    result: list[str] = []
    while remaining:
        for col in remaining:
            if not any(o.hi_col == col and o.lo_col in remaining for o in orders):
                result.append(col)
                remaining.remove(col)
                break
        else:  # contradictory orderings (a < b < a): keep DDL order, the exact check decides
            result.extend(remaining)
            break
    return result


def _distinct_from(m: TableModel, fk: ForeignKey, parents: dict[tuple[str, ...], np.ndarray]) -> np.ndarray | None:
    """The parent rows an earlier-drawn FK to the same parent picked, when a CHECK says the two differ."""
    if len(fk.columns) != 1:
        return None
    for cols, rows in parents.items():
        other = next((f for f in m.table.foreign_keys if f.columns == cols), None)
        if other is None or other is fk or (other.ref_table, other.ref_columns) != (fk.ref_table, fk.ref_columns):
            continue
        if len(cols) == 1 and frozenset((cols[0], fk.columns[0])) in m.distinct:
            return rows
    return None


def _exclude_diagonal(m: TableModel, components: list[Component]) -> None:
    """A key of two foreign keys to the same parent key with a CHECK that they differ (a course and its
    prerequisite): the second draws among the parent's other rows, so no pair is (x, x)."""
    for i, a in enumerate(components):
        for b in components[i + 1 :]:
            if a.fk is None or b.fk is None or b.distinct_from is not None or len(a.columns) + len(b.columns) != 2:
                continue
            same_parent = (a.fk.ref_table, a.fk.ref_columns) == (b.fk.ref_table, b.fk.ref_columns)
            if same_parent and frozenset((a.columns[0], b.columns[0])) in m.distinct and a.size > 1:
                b.distinct_from = i
                b.size = a.size - 1


def _explain(components: list[Component]) -> str:
    parts = []
    for c in components:
        if c.fk is not None:
            parts.append(f"{', '.join(c.columns)} -> {c.fk.ref_table}: {c.size:,} rows")
        else:
            parts.append(f"{c.columns[0]}: {c.size:,} values")
    return " x ".join(parts)
