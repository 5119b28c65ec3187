"""The spec a run uses: inferred from the DDL's names (no model), merged with a file, validated, resolved.

Inference (``infer_spec``), from names alone:
- temporal order within a row: created < updated, start < end, departure < arrival, loaned < due and
  returned, booked/ordered < shipped < delivered, issued < expires, hired < left, check-in < check-out;
- across foreign keys: a child's first event after its parent's creation (joined, hired, registered,
  created, opened, published...) or after the parent's scheduled event (a prescription after the
  appointment), and a booking *before* the scheduled event it books (a flight's departure);
- birth dates well before the row's first event (at least 18 years in person tables);
- meanings for text: work titles, review titles and texts, bios, dishes; person columns (names,
  email, username) of one row come from one person.

``resolve`` turns every rule into a derivation that makes it hold by construction: the later column is
drawn as the latest of its anchors plus a positive offset (``after``), or a birth-like earlier column as
the earliest anchor minus one (``before``). A spec that names an unknown column, contradicts a declared
constraint, or asks for something no derivation can satisfy (a cycle, a key column) is refused with one
line naming it, before anything is drawn.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import networkx as nx

from synth_pipelines.domains.relational.constraints import analyze_checks
from synth_pipelines.domains.relational.ddl import ForeignKey, Schema, Table
from synth_pipelines.domains.relational.names import refine_meaning
from synth_pipelines.domains.relational.plan import Plan
from synth_pipelines.domains.relational.roles import label_column, vocabulary_for
from synth_pipelines.domains.relational.spec import (
    ColumnGen,
    GenerationSpec,
    ParsedRule,
    Ref,
    RuleSpec,
    SpecError,
    TableSpec,
    parse_duration,
    parse_offset,
    parse_ref,
    parse_rule,
)
from synth_pipelines.domains.relational.values import (
    _PERSON_TABLES,
    BIRTH_END,
    BIRTH_START,
    EVENT_END,
    EVENT_START,
    infer_semantic,
    null_share_for,
)

TEMPORAL = ("date", "timestamp", "timestamptz")
PERSON_PARTS = ("first_name", "last_name", "full_name", "email", "username")
EXAMPLE_DOMAINS = ["example.com", "example.org", "example.net"]  # RFC 2606: reserved, never real mailboxes
PUBLISHED_START = dt.date(1950, 1, 1)


def _rx(*words: str) -> re.Pattern[str]:
    """Any of ``words`` as a whole ``_``-separated part of a column name (``ends_on``, ``end_date``)."""
    return re.compile(r"(^|_)(" + "|".join(words) + r")(_|$)")


# (earlier, later, offset of the later after the earlier): the order of events within one row.
ROW_ORDER: list[tuple[re.Pattern[str], re.Pattern[str], str]] = [
    (_rx("created", "inserted", "added"), _rx("updated", "modified", "changed", "last_login", "last_seen"), "1m..180d"),
    (_rx("starts?", "started", "begins?", "valid_from", "effective"), _rx("ends?", "ended", "finish(ed)?"), "1d..400d"),
    (_rx("starts?", "started"), _rx("completed", "closed"), "1d..400d"),
    (_rx("opened", "opens"), _rx("closed", "closes"), "30d..end"),
    (_rx("departure", "departs", "departed", "departure_time"), _rx("arrival", "arrives", "arrived"), "30m..16h"),
    (_rx("loaned", "borrowed", "lent"), _rx("due", "due_date", "due_on", "due_at"), "14d..28d"),
    (_rx("loaned", "borrowed", "lent"), _rx("returned"), "1h..45d"),
    (_rx("booked", "ordered", "placed", "purchased"), _rx("shipped", "dispatched"), "1h..5d"),
    (_rx("booked", "ordered", "placed", "purchased", "shipped", "dispatched"), _rx("delivered"), "1d..14d"),
    (_rx("booked", "ordered", "placed", "purchased"), _rx("paid", "cancelled", "canceled"), "1m..7d"),
    (_rx("issued", "invoiced", "sent"), _rx("expires?", "expiry", "expiration", "valid_until", "due"), "7d..365d"),
    (_rx("issued", "invoiced"), _rx("paid", "filled", "dispensed"), "1h..30d"),
    (_rx("hired", "joined", "enrolled"), _rx("left", "terminated", "resigned", "graduated"), "30d..end"),
    (_rx("check_?in"), _rx("check_?out"), "1d..14d"),
    (_rx("scheduled", "appointment"), _rx("completed", "attended", "cancelled"), "15m..3h"),
]
# A parent's first event of this kind comes before every child's first event.
CREATION = re.compile(
    r"created|registered|joined|signed_?up|enrolled|hired|opened|founded|published|incorporated|established|since"
)
# A parent's end of life (or of stay): children's events fall before it as well as after its start.
ENDS = re.compile(r"(^|_)(ends?|ended|finish(ed)?|check_?out|closes|closed|left|terminated|resigned)(_|$)")
SCHEDULED = re.compile(r"depart|scheduled|appointment|reserved_for|(^|_)starts?(_|$)|start_time|event_|check_?in")
BOOKING = re.compile(r"booked|booking|reserved_at|purchased|bought|ticketed")
BIRTH = re.compile(r"birth|dob|born")
REVIEW_TABLES = re.compile(r"review|comment|feedback|post|rating|testimonial")
WORK_TABLES = re.compile(r"book|film|movie|album|song|track|novel|title|episode|course|article|game|show|series|work")
MEDIA_TABLES = re.compile(r"track|song|episode|download|stream")
DISH_TABLES = re.compile(r"menu|dish|meal|recipe|food")


@dataclass(frozen=True)
class Derivation:
    column: str
    direction: int  # +1: latest anchor plus the offset; -1: earliest anchor minus it
    anchors: tuple[Ref, ...]
    lo_us: int
    hi_us: int | None  # None: up to the column's date range end (after) / start (before)
    # ``after`` only: the value also stays at or before the earliest of these, minus ``upper_gap_us``
    uppers: tuple[Ref, ...] = ()
    upper_gap_us: int = 0


@dataclass(frozen=True)
class ResolvedRule:
    table: str
    check: str
    origin: str
    rule: ParsedRule
    fk: ForeignKey | None  # the foreign key to the parent row, for a rule naming a parent column


@dataclass(frozen=True)
class SumOf:
    """A parent column that is the sum of its child rows' ``price`` (times ``quantity``)."""

    column: str
    child: str
    fk: ForeignKey  # the child's foreign key to the parent
    price: str
    quantity: str | None

    @property
    def text(self) -> str:
        q = f" * {self.child}.{self.quantity}" if self.quantity else ""
        return f"{self.column} = sum({self.child}.{self.price}{q})"


@dataclass
class Resolved:
    spec: GenerationSpec
    rules: dict[str, list[ResolvedRule]] = field(default_factory=dict)
    derivations: dict[str, dict[str, Derivation]] = field(default_factory=dict)
    order: dict[str, list[str]] = field(default_factory=dict)  # derived columns, anchors first
    anchor_columns: dict[str, set[str]] = field(default_factory=dict)  # parent table -> columns children read
    sums: dict[str, dict[str, SumOf]] = field(default_factory=dict)  # table -> column -> its lines
    # The AI hybrid's outcome per table (requested, applied or fallback with its reason), for the report;
    # empty when no model was asked (offline), so offline reports keep their bytes.
    ai: dict[str, object] = field(default_factory=dict)

    def fk_of(self, table: str, parent: str) -> ForeignKey | None:
        for rule in self.rules.get(table, []):
            if rule.fk is not None and rule.fk.ref_table == parent:
                return rule.fk
        return None


# --------------------------------------------------------------------------------------------------
# Inference


def _locked_columns(table: Table) -> set[str]:
    """Key and foreign-key columns: built by construction, never derived or redrawn by a spec."""
    locked = set(table.primary_key) | {c for u in table.uniques for c in u}
    return locked | {c for fk in table.foreign_keys for c in fk.columns}


def _temporal(table: Table) -> list[str]:
    return [c.name for c in table.columns.values() if c.type.kind in TEMPORAL]


def _row_pairs(table: Table) -> list[tuple[str, str, str]]:
    """(earlier, later, offset) pairs of this table's temporal columns, by name, without cycles."""
    cols = _temporal(table)
    locked = _locked_columns(table)
    pairs: list[tuple[str, str, str]] = []
    graph = nx.DiGraph()
    for early_rx, late_rx, offset in ROW_ORDER:
        for early in cols:
            if not early_rx.search(early.lower()) or BIRTH.search(early.lower()):
                continue
            for late in cols:
                if late == early or late in locked or not late_rx.search(late.lower()) or BIRTH.search(late.lower()):
                    continue
                if any(p[0] == early and p[1] == late for p in pairs):
                    continue
                graph.add_edge(early, late)
                if not nx.is_directed_acyclic_graph(graph):
                    graph.remove_edge(early, late)
                    continue
                pairs.append((early, late, offset))
    return pairs


def first_event(table: Table) -> str | None:
    """The row's first event: a temporal column that is not a birth date and never the later of a pair."""
    later = {p[1] for p in _row_pairs(table)}
    for col in _temporal(table):
        if col not in later and not BIRTH.search(col.lower()):
            return col
    return None


def _is_person_table(name: str) -> bool:
    return bool(_PERSON_TABLES.search(name.lower()))


def _meaning(table: Table, column: str, semantic: str) -> str:
    """A finer meaning for text columns, from the table's name."""
    t = table.name.lower()
    refined = refine_meaning(t, column, semantic)  # products, artists, playlists, composers (names.py)
    if refined is not None:
        return refined
    if semantic == "title" and _is_person_table(t) and re.fullmatch(r"(job_)?title", column.lower()):
        return "job"  # an employee's title is a job title, not a book's
    if semantic == "price" and MEDIA_TABLES.search(t):
        return "media_price"
    if semantic == "title":
        if REVIEW_TABLES.search(t):
            return "review_title"
        if WORK_TABLES.search(t) or column.lower() == "title":
            return "work_title"
    if semantic == "text":
        if _is_person_table(t) and re.search(r"bio|about|summary|profile", column.lower()):
            return "bio"
        if REVIEW_TABLES.search(t):
            return "review_text"
        return "sentences"
    dish_column = column.lower() in ("name", "dish", "dish_name", "item_name")
    if semantic in ("title", "words") and dish_column and DISH_TABLES.search(t):
        return "dish"
    return semantic


def _default_null_share(table: Table, column: str, referenced: bool) -> float:
    col = table.columns[column]
    if not col.nullable or referenced or col.auto_increment:
        return 0.0
    return null_share_for(column)


def infer_spec(schema: Schema, plan: Plan) -> GenerationSpec:
    """The spec from names alone, every rule already wired into a derivation."""
    referenced = {(fk.ref_table, c) for t in schema.tables.values() for fk in t.foreign_keys for c in fk.ref_columns}
    tables: dict[str, TableSpec] = {}
    for name, table in schema.tables.items():
        locked = _locked_columns(table)
        columns: dict[str, ColumnGen] = {}
        person_parts = {
            c: infer_semantic(name, col)
            for c, col in table.columns.items()
            if col.type.kind == "string" and infer_semantic(name, col) in PERSON_PARTS
        }
        for c, col in table.columns.items():
            semantic = infer_semantic(name, col)
            share = _default_null_share(table, c, (name, c) in referenced)
            gen: ColumnGen
            if c in person_parts and not _in_composite_key(table, c):
                gen = ColumnGen(generator="person", part=semantic)  # type: ignore[arg-type]
                if semantic == "email":
                    gen.domains = list(EXAMPLE_DOMAINS)
            elif col.type.kind in TEMPORAL and c not in locked:
                birth = semantic == "birth"
                start = BIRTH_START if birth else PUBLISHED_START if "publish" in c.lower() else EVENT_START
                gen = ColumnGen(
                    generator="date_range",
                    start=start.isoformat(),
                    end=(BIRTH_END if birth else EVENT_END).isoformat(),
                )
            else:
                gen = ColumnGen(generator="inferred", meaning=_meaning(table, c, semantic))
            if share:
                gen.null_share = share
            columns[c] = gen
        role = plan.roles.get(name)
        if role == "lookup":
            _lookup_vocabulary(schema, table, columns)
        tables[name] = TableSpec(
            rows=plan.rows[name],
            role=role,
            columns=columns,
            rules=_inferred_rules(schema, plan, table),  # type: ignore[arg-type]
        )
    wired = wire(schema, plan, GenerationSpec(tables=tables))
    for name, table in schema.tables.items():
        for col, of in _inferred_sums(schema, plan, table, wired).items():
            wired.tables[name].columns[col] = ColumnGen(generator="sum", of=of)
    return wired


TOTAL_COLUMNS = re.compile(r"^(total|amount|total_amount|grand_total|order_total|invoice_total|total_price)$")
LINE_PRICE = re.compile(r"(^|_)(unit_price|price|line_price|unit_cost)$")
LINE_QUANTITY = re.compile(r"^(quantity|qty|units|count)$")


def _scale(table: Table, column: str) -> int | None:
    t = table.columns[column].type
    return 0 if t.kind == "int" else t.scale if t.kind == "decimal" else None


def _inferred_sums(schema: Schema, plan: Plan, table: Table, spec: GenerationSpec) -> dict[str, list[str]]:
    """A total column (total, amount...) whose table has one child table of lines with a price (and a
    quantity): the total is the sum of the lines. Skipped when the lines read the parent's dates (they
    would need the parent drawn first) or the total's type cannot hold the lines' cents exactly."""
    found: dict[str, list[str]] = {}
    locked = _locked_columns(table)
    for col in table.columns:
        scale = _scale(table, col)
        if not TOTAL_COLUMNS.match(col.lower()) or col in locked or scale is None:
            continue
        lines = []
        for child in schema.tables.values():
            fks = [fk for fk in child.foreign_keys if fk.ref_table == table.name]
            if child.name == table.name or len(fks) != 1 or plan.is_deferred(fks[0]):
                continue
            price = next((c for c in child.columns if LINE_PRICE.search(c.lower())), None)
            if price is None or (_scale(child, price) or 0) > scale or _scale(child, price) is None:
                continue
            reads_parent = any(
                any(a.startswith(f"{table.name}.") for a in (g.of or []))
                for g in spec.tables[child.name].columns.values()
            )
            if reads_parent:
                continue
            qty = next(
                (c for c in child.columns if LINE_QUANTITY.match(c.lower()) and child.columns[c].type.kind == "int"),
                None,
            )
            lines.append([f"{child.name}.{price}", *([f"{child.name}.{qty}"] if qty else [])])
        if len(lines) == 1:
            found[col] = lines[0]
    return found


def _lookup_vocabulary(schema: Schema, table: Table, columns: dict[str, ColumnGen]) -> None:
    """A lookup table's label column lists the names its table stands for (genres: Rock, Jazz...),
    one per row, when the table's name says what it lists and the values fit the column."""
    label = label_column(table)
    values = vocabulary_for(schema, table)
    if label is None or not values or _in_composite_key(table, label):
        return
    if any(label in fk.columns for fk in table.foreign_keys):
        return
    rules, _ = analyze_checks(table)
    col = table.columns[label]
    if col.type.kind != "string" or (rules.get(label) is not None and rules[label].choices is not None):
        return
    if col.type.length is not None:
        values = [v for v in values if len(v) <= col.type.length]
    if values:
        columns[label] = ColumnGen(generator="vocabulary", values=values, by_row=True)


def _in_composite_key(table: Table, column: str) -> bool:
    return any(column in k and len(k) > 1 for k in [table.primary_key, *table.uniques])


def _inferred_rules(schema: Schema, plan: Plan, table: Table) -> list[RuleSpec]:
    rules: list[str] = []
    _, orders = analyze_checks(table)
    # A CHECK saying the opposite order wins: the rule is not inferred.
    declared_le = {(o.lo_col, o.hi_col) for o in orders}
    for early, late, _offset in _row_pairs(table):
        if (late, early) not in declared_le:
            rules.append(f"{late} >= {early}")
    first = first_event(table)
    locked = _locked_columns(table)
    births = [c for c in _temporal(table) if BIRTH.search(c.lower()) and c not in locked]
    if first is not None:
        for birth in births:
            gap = " + 18y" if _is_person_table(table.name) else ""
            rules.append(f"{first} >= {birth}{gap}")
    if first is not None and first not in locked:
        after: list[str] = []
        before: list[str] = []
        ends: list[str] = []
        for fk in table.foreign_keys:
            if fk.ref_table == table.name or plan.is_deferred(fk):
                continue
            parent = schema.tables[fk.ref_table]
            parent_first = first_event(parent)
            if parent_first is None:
                continue
            # Several foreign keys to one parent (sender and recipient): one rule through each, naming it.
            several = sum(f.ref_table == fk.ref_table for f in table.foreign_keys) > 1
            path = f"{fk.ref_table}[{','.join(fk.columns)}]" if several else fk.ref_table
            ref = f"{path}.{parent_first}"
            if SCHEDULED.search(parent_first.lower()) and BOOKING.search(first.lower()):
                before.append(f"{ref} >= {first} + 1h")
            else:
                after.append(f"{first} >= {ref}")
                # ...and before the parent's end (a charge before its stay's check-out), when the parent's end
                # is derived after that start, so the window is never empty.
                ends += [
                    f"{path}.{late} >= {first}"
                    for early, late, _ in _row_pairs(parent)
                    if early == parent_first and ENDS.search(late.lower())
                ]
        # One direction per column, so it can be derived: a booking keeps its "before the event" rules.
        rules.extend(before if before else after)
        if not before and len(after) == 1:
            rules.extend(ends)
    return [RuleSpec(check=r, origin="inferred") for r in rules]


def default_offset(table: Table, column: str, anchor: Ref, direction: int) -> str:
    """How far a derived column lies from its anchor, by the names involved."""
    if direction < 0:
        if anchor.table is not None:  # booked before the parent's scheduled event
            return "1h..180d"
        return "18y..70y" if _is_person_table(table.name) else "1d..40y"
    if anchor.table is None:
        for early_rx, late_rx, offset in ROW_ORDER:
            if early_rx.search(anchor.column.lower()) and late_rx.search(column.lower()):
                return offset
        return "1s..end"
    if SCHEDULED.search(anchor.column.lower()):
        return "5m..3h"
    return "1s..end"


# --------------------------------------------------------------------------------------------------
# Wiring and validation


def _check_gen(schema: Schema, table: Table, column: str, gen: ColumnGen, locked: set[str]) -> None:
    col = table.columns[column]
    kind = col.type.kind
    where = f"column {table.name}.{column}"
    if gen.null_share and not col.nullable:
        raise SpecError(f"{where}: null_share {gen.null_share} contradicts its NOT NULL")
    by_row_key = gen.generator == "vocabulary" and gen.by_row and not _in_composite_key(table, column)
    by_row_key = by_row_key and not any(column in fk.columns for fk in table.foreign_keys)
    if gen.generator not in ("inferred", "person") and column in locked and not by_row_key:
        raise SpecError(f"{where}: is a key or foreign key column, built by construction; use generator 'inferred'")
    g = gen.generator
    if g in ("faker", "pattern", "person") and kind != "string":
        raise SpecError(f"{where}: generator {g!r} needs a text column, not {col.type.sql}")
    if g == "number" and kind not in ("int", "decimal", "float"):
        raise SpecError(f"{where}: generator 'number' needs a numeric column, not {col.type.sql}")
    if g in ("date_range", "after", "before") and kind not in TEMPORAL:
        raise SpecError(f"{where}: generator {g!r} needs a date or timestamp column, not {col.type.sql}")
    if (gen.start or gen.end) and g not in ("date_range", "after", "before"):
        # Only those three draw from a date range: elsewhere the range would be ignored without a word.
        raise SpecError(f"{where}: 'start'/'end' need generator 'date_range', 'after' or 'before', not {g!r}")
    if g == "vocabulary":
        if not gen.values:
            raise SpecError(f"{where}: generator 'vocabulary' needs a non-empty 'values' list")
        if gen.weights is not None and (
            len(gen.weights) != len(gen.values) or min(gen.weights) < 0 or not sum(gen.weights)
        ):
            raise SpecError(f"{where}: 'weights' must be as many non-negative numbers as 'values', not all 0")
        if kind == "enum":
            bad = [v for v in gen.values if v not in col.type.enum_values]
            if bad:
                raise SpecError(f"{where}: value {bad[0]!r} is not in its ENUM {col.type.sql}")
        rules, _ = analyze_checks(table)
        rule = rules.get(column)
        if rule is not None and rule.choices is not None:
            bad = [v for v in gen.values if v not in rule.choices]
            if bad:
                raise SpecError(f"{where}: value {bad[0]!r} contradicts its CHECK (allowed: {rule.choices})")
        if kind == "string" and col.type.length is not None:
            bad = [v for v in gen.values if len(str(v)) > col.type.length]
            if bad:
                raise SpecError(f"{where}: value {bad[0]!r} is longer than {col.type.sql}")
    if g == "faker":
        from synth_pipelines.domains.relational.vocab import faker_provider_exists

        if not gen.provider or not faker_provider_exists(gen.provider):
            raise SpecError(f"{where}: unknown Faker provider {gen.provider!r}")
    if g == "pattern" and not gen.pattern:
        raise SpecError(f"{where}: generator 'pattern' needs a 'pattern'")
    if g == "number" and (gen.min is None or gen.max is None or gen.min > gen.max):
        raise SpecError(f"{where}: generator 'number' needs min <= max")
    if g in ("date_range", "after", "before"):
        for label, value in (("start", gen.start), ("end", gen.end)):
            if value is not None:
                try:
                    dt.date.fromisoformat(value)
                except ValueError as exc:
                    raise SpecError(f"{where}: {label} {value!r} is not an ISO date") from exc
        if gen.start and gen.end and gen.start > gen.end:
            raise SpecError(f"{where}: start {gen.start} is after end {gen.end}")
    if g in ("after", "before"):
        if not gen.of:
            raise SpecError(f"{where}: generator {g!r} needs anchors in 'of'")
        parse_offset(gen.offset or "", where)
    if g == "sum":
        _check_sum(schema, table, column, gen)
    if (gen.until or gen.until_gap) and g != "after":
        raise SpecError(f"{where}: 'until' needs generator 'after'")
    if g == "person" and gen.part is None:
        raise SpecError(f"{where}: generator 'person' needs a 'part' ({', '.join(PERSON_PARTS)})")


def _check_sum(schema: Schema, table: Table, column: str, gen: ColumnGen) -> None:
    where = f"column {table.name}.{column}"
    if table.columns[column].type.kind not in ("int", "decimal", "float"):
        raise SpecError(f"{where}: generator 'sum' needs a numeric column, not {table.columns[column].type.sql}")
    of = gen.of or []
    children = {ref.rpartition(".")[0] for ref in of}
    if not 1 <= len(of) <= 2 or len(children) != 1 or "" in children:
        raise SpecError(f"{where}: generator 'sum' needs of: [child.price] or [child.price, child.quantity]")
    child_name = children.pop()
    child = schema.tables.get(child_name)
    if child is None:
        raise SpecError(f"{where}: unknown table {child_name!r}")
    fks = [fk for fk in child.foreign_keys if fk.ref_table == table.name]
    if len(fks) != 1 or child.name == table.name:
        raise SpecError(f"{where}: {child_name} has {len(fks)} foreign keys to {table.name}; a sum needs exactly one")
    for ref in of:
        col = ref.rpartition(".")[2]
        if col not in child.columns or child.columns[col].type.kind not in ("int", "decimal"):
            raise SpecError(f"{where}: {ref} is not an integer or decimal column of {child_name}")


def _resolve_ref(schema: Schema, plan: Plan, table: Table, ref: Ref, where: str) -> ForeignKey | None:
    if ref.table is None:
        if ref.column not in table.columns:
            raise SpecError(f"{where}: unknown column {table.name}.{ref.column}")
        if table.columns[ref.column].type.kind not in TEMPORAL:
            raise SpecError(f"{where}: {ref.column} is not a date or timestamp; rules order dates and timestamps")
        return None
    if ref.table not in schema.tables:
        raise SpecError(f"{where}: unknown table {ref.table!r}")
    fk = fk_for_ref(table, ref)
    if fk is None:
        fks = [f for f in table.foreign_keys if f.ref_table == ref.table]
        if ref.via:
            raise SpecError(f"{where}: {table.name} has no foreign key ({', '.join(ref.via)}) to {ref.table}")
        raise SpecError(
            f"{where}: {table.name} has {len(fks)} foreign keys to {ref.table}; a rule needs exactly one"
            + (f" (name one: {ref.table}[{','.join(fks[0].columns)}].{ref.column})" if fks else "")
        )
    if fk.ref_table == table.name or plan.is_deferred(fk):
        raise SpecError(
            f"{where}: the foreign key to {ref.table} is a self-reference or closes a cycle; its parent "
            "row is not drawn first"
        )
    parent = schema.tables[ref.table]
    if ref.column not in parent.columns:
        raise SpecError(f"{where}: unknown column {ref.table}.{ref.column}")
    if parent.columns[ref.column].type.kind not in TEMPORAL:
        raise SpecError(f"{where}: {ref} is not a date or timestamp; rules order dates and timestamps")
    return fk


def fk_for_ref(table: Table, ref: Ref) -> ForeignKey | None:
    """The foreign key a parent reference reads through: the one named by ``via``, or the table's only one
    to that parent (None when there is none or it is ambiguous)."""
    fks = [fk for fk in table.foreign_keys if fk.ref_table == ref.table]
    if ref.via is not None:
        return next((fk for fk in fks if fk.columns == ref.via), None)
    return fks[0] if len(fks) == 1 else None


def _enforced(spec: TableSpec, rule: ParsedRule) -> bool:
    need = rule.gap_us + (1 if rule.strict else 0)
    if rule.earlier.table is None:
        gen = spec.columns[rule.earlier.column]
        in_window = gen.generator == "after" and str(rule.later) in (gen.until or [])
        if in_window and parse_duration(gen.until_gap or "0s", rule.earlier.column) >= need:
            return True
    for side, other, direction in ((rule.later, rule.earlier, "after"), (rule.earlier, rule.later, "before")):
        if side.table is not None:
            continue
        gen = spec.columns[side.column]
        if gen.generator == direction and gen.of and str(other) in gen.of:
            lo, _ = parse_offset(gen.offset or "", side.column)
            if lo >= need:
                return True
    return False


def _min_offset(need: int) -> str:
    if need == 0:
        return "0s"
    return f"{-(-need // 1_000_000)}s"


def _raise_min(offset: str, need: int, where: str) -> str:
    lo, hi = parse_offset(offset, where)
    if lo >= need:
        return offset
    lo_text = _min_offset(need)
    hi_text = offset.partition("..")[2].strip()
    if hi is not None and hi < need:
        hi_text = lo_text
    return f"{lo_text}..{hi_text}"


def wire(schema: Schema, plan: Plan, spec: GenerationSpec) -> GenerationSpec:
    """Every rule made to hold by construction (the later column derived after the earlier, or a birth-like
    earlier column derived before the later); refused with one line when that is impossible."""
    spec = spec.model_copy(deep=True)
    for name, tspec in spec.tables.items():
        table = schema.tables[name]
        locked = _locked_columns(table)
        _, orders = analyze_checks(table)
        declared_le = {(o.lo_col, o.hi_col): o.strict for o in orders}
        for r in tspec.rules:
            where = f"table {name}: rule {r.check!r}"
            rule = parse_rule(r.check, name)
            for ref in (rule.later, rule.earlier):
                _resolve_ref(schema, plan, table, ref, where)
            if rule.later == rule.earlier:
                raise SpecError(f"{where}: compares {rule.later} with itself")
            if (
                rule.later.table is None
                and rule.earlier.table is None
                and (rule.later.column, rule.earlier.column) in declared_le
            ):
                raise SpecError(f"{where}: contradicts a declared CHECK ({rule.later.column} <= {rule.earlier.column})")
            if _enforced(tspec, rule):
                continue
            need = rule.gap_us + (1 if rule.strict else 0)
            done = False
            sides = [(rule.later, rule.earlier, 1), (rule.earlier, rule.later, -1)]
            if rule.earlier.table is None and BIRTH.search(rule.earlier.column.lower()):
                sides.reverse()  # a birth date is drawn before the first event, not the event after the birth
            for side, other, direction in sides:
                if side.table is not None or side.column in locked:
                    continue
                gen = tspec.columns[side.column]
                want = "after" if direction > 0 else "before"
                if gen.generator == want:
                    gen.of = [*(gen.of or []), str(other)] if str(other) not in (gen.of or []) else gen.of
                    gen.offset = _raise_min(gen.offset or "0s..end", need, where)
                elif want == "before" and gen.generator == "after":
                    # Already after its lower anchors: it also stays before this one (a window).
                    gen.until = [*(gen.until or []), str(other)] if str(other) not in (gen.until or []) else gen.until
                    if need > parse_duration(gen.until_gap or "0s", where):
                        gen.until_gap = _min_offset(need)
                    if r.origin == "inferred":  # an inferred window spreads over the whole stay, not its start
                        gen.offset = f"{(gen.offset or '0s..end').partition('..')[0]}..end"
                elif gen.generator == "date_range":
                    gen.generator = want  # type: ignore[assignment]
                    gen.of = [str(other)]
                    gen.offset = _raise_min(default_offset(table, side.column, other, direction), need, where)
                else:
                    continue
                done = True
                break
            if not done:
                raise SpecError(
                    f"{where}: cannot hold by construction: neither side can be derived (a key, a parent column, "
                    "or a column whose generator is not a date range)"
                )
        # Declared orderings of dates (CHECK a <= b) become derivations too: the later column is drawn after
        # the earlier (a realistic gap, and the CHECK holds by construction instead of by redraws).
        for (lo_col, hi_col), strict in declared_le.items():
            gen = tspec.columns.get(hi_col)
            lo_gen = tspec.columns.get(lo_col)
            if gen is None or lo_gen is None or hi_col in locked:
                continue
            if table.columns[hi_col].type.kind not in TEMPORAL or table.columns[lo_col].type.kind not in TEMPORAL:
                continue
            if gen.generator == "date_range":
                gen.generator = "after"
                gen.of = [lo_col]
                gen.offset = _raise_min(default_offset(table, hi_col, Ref(lo_col), 1), 1 if strict else 0, hi_col)
            elif gen.generator == "after" and lo_col not in (gen.of or []):
                gen.of = [*(gen.of or []), lo_col]
                gen.offset = _raise_min(gen.offset or "0s..end", 1 if strict else 0, f"column {name}.{hi_col}")
        for col, gen in tspec.columns.items():
            _check_gen(schema, table, col, gen, locked)
    return spec


def resolve(schema: Schema, plan: Plan, spec: GenerationSpec) -> Resolved:
    """Validate a wired spec and index it for the generator and the report."""
    resolved = Resolved(spec=spec)
    for name, tspec in spec.tables.items():
        table = schema.tables[name]
        rules: list[ResolvedRule] = []
        for r in tspec.rules:
            where = f"table {name}: rule {r.check!r}"
            rule = parse_rule(r.check, name)
            fk = None
            for ref in (rule.later, rule.earlier):
                fk = _resolve_ref(schema, plan, table, ref, where) or fk
            if not _enforced(tspec, rule):
                raise SpecError(f"{where}: not enforced by the column generators (run it through wire())")
            rules.append(ResolvedRule(name, r.check, r.origin, rule, fk))
        resolved.rules[name] = rules
        derivations: dict[str, Derivation] = {}
        graph = nx.DiGraph()
        for col, gen in tspec.columns.items():
            if gen.generator not in ("after", "before"):
                continue
            where = f"column {name}.{col}"
            anchors, uppers = [], []
            for texts, found in ((gen.of or [], anchors), (gen.until or [], uppers)):
                for text in texts:
                    ref = parse_ref(text, name)
                    fk = _resolve_ref(schema, plan, table, ref, where)
                    if fk is not None:
                        resolved.anchor_columns.setdefault(fk.ref_table, set()).add(ref.column)
                    else:
                        graph.add_edge(ref.column, col)
                    found.append(ref)
            if uppers and gen.generator != "after":
                raise SpecError(f"{where}: 'until' needs generator 'after'")
            lo, hi = parse_offset(gen.offset or "", where)
            gap = parse_duration(gen.until_gap, where) if gen.until_gap else 0
            derivations[col] = Derivation(
                col, 1 if gen.generator == "after" else -1, tuple(anchors), lo, hi, tuple(uppers), gap
            )
            graph.add_node(col)
        if not nx.is_directed_acyclic_graph(graph):
            cycle = " -> ".join(e[0] for e in nx.find_cycle(graph))
            raise SpecError(
                f"table {name}: derived columns depend on each other in a cycle ({cycle}); cannot be satisfied"
            )
        resolved.derivations[name] = derivations
        for col, gen in tspec.columns.items():
            if gen.generator == "sum":
                child = (gen.of or [""])[0].rpartition(".")[0]
                cols = [ref.rpartition(".")[2] for ref in gen.of or []]
                fk = next(f for f in schema.tables[child].foreign_keys if f.ref_table == name)
                resolved.sums.setdefault(name, {})[col] = SumOf(
                    col, child, fk, cols[0], cols[1] if len(cols) > 1 else None
                )
        resolved.order[name] = [c for c in nx.topological_sort(graph) if c in derivations]
    return resolved


def build_spec(schema: Schema, plan: Plan, user: GenerationSpec | None, source: str = "spec") -> GenerationSpec:
    """The inferred spec with ``user`` merged over it, wired and validated."""
    from synth_pipelines.domains.relational.spec import merge_spec

    inferred = infer_spec(schema, plan)
    if user is None:
        return inferred
    return wire(schema, plan, merge_spec(inferred, user, source))


__all__ = ["build_spec", "default_offset", "infer_spec", "parse_duration", "resolve", "wire"]
