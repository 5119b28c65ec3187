"""The generation spec: a declarative, editable description of how every column of a dataset is drawn.

One ``GenerationSpec`` per dataset (YAML or JSON on disk): per table its row count, per column its
generator and NULL share, and ``rules`` across columns of a row and across foreign keys
(``loaned_at >= members.joined_at``). ``realism.infer_spec`` writes the spec a run would use from the
DDL's names alone; a partial spec from a file merges over it (``merge_spec``), and ``realism.resolve``
validates the result against the DDL before anything is drawn.

Rule grammar (one comparison; ``table.column`` names a column of the parent row, reached through the
table's one non-deferred foreign key to that table; ``table[fk_col].column`` picks one of several
foreign keys to the same table, e.g. ``sent_at >= users[recipient_id].created_at``)::

    later >= earlier            later > earlier            later >= earlier + 14d
    earlier <= later            earlier < later            (durations: s, m, h, d, w, y = 365 d)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synth_pipelines.core.safe_yaml import load_yaml

US_PER_SECOND = 1_000_000
_UNIT_US = {
    "s": US_PER_SECOND,
    "m": 60 * US_PER_SECOND,
    "h": 3600 * US_PER_SECOND,
    "d": 86_400 * US_PER_SECOND,
    "w": 7 * 86_400 * US_PER_SECOND,
    "y": 365 * 86_400 * US_PER_SECOND,
}
# "end" as an offset's upper bound: as late as the column's date range allows (never before the minimum).
OFFSET_TO_END = "end"

Generator = Literal[
    "inferred", "vocabulary", "faker", "pattern", "number", "date_range", "after", "before", "person", "sum"
]
PersonPart = Literal["first_name", "last_name", "full_name", "email", "username"]


class SpecError(ValueError):
    """A spec that cannot be used; the message is one line naming the table, column or rule."""


class ColumnGen(BaseModel):
    """How one column is drawn. Only the fields of its ``generator`` are set.

    - ``inferred``: the built-in drawing for ``meaning`` (see docs/relational.md, "Values by name").
    - ``vocabulary``: ``values`` with optional ``weights``; ``by_row``: row ``i`` takes ``values[i]`` (each
      value once, in order; past the end they repeat with a number, ``Rock 2``): a lookup table's names.
    - ``faker``: a Faker en_US provider method (e.g. ``catch_phrase``), sampled once into a vocabulary.
    - ``pattern``: ``#`` a digit, ``?`` an upper-case letter, ``*`` either; other characters verbatim.
    - ``number``: ``distribution`` (uniform, lognormal) between ``min`` and ``max``.
    - ``date_range``: between ``start`` and ``end`` (ISO dates).
    - ``after`` / ``before``: ``of`` (columns of the row or ``parent_table.column``) plus / minus
      ``offset`` (``14d..28d``; ``1s..end`` = up to the end of the date range): the latest anchor plus the
      offset, or the earliest anchor minus it. The rules this implies hold by construction. ``after``
      may also stay at or before ``until`` anchors (minus ``until_gap``): a charge between its stay's
      check-in (``of``) and check-out (``until``).
    - ``person``: one person per row: ``part`` of that person (names, an email or username built from
      the same names on ``domains``).
    - ``sum``: ``of`` = ``[child.price]`` or ``[child.price, child.quantity]``: the sum over the child
      table's rows that point at this row (through its one foreign key here) of price x quantity: an
      invoice total equal to its lines, by construction, and counted in the report.
    """

    model_config = ConfigDict(extra="forbid")

    generator: Generator = "inferred"
    meaning: str | None = None
    values: list[str | int | float | bool] | None = None
    weights: list[float] | None = None
    by_row: bool | None = None
    provider: str | None = None
    pattern: str | None = None
    distribution: Literal["uniform", "lognormal"] | None = None
    min: float | None = None
    max: float | None = None
    start: str | None = None
    end: str | None = None
    of: list[str] | None = None
    offset: str | None = None
    until: list[str] | None = None
    until_gap: str | None = None
    part: PersonPart | None = None
    domains: list[str] | None = None
    null_share: float | None = Field(None, ge=0, le=1)


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check: str
    origin: Literal["inferred", "spec", "llm"] = "spec"


class TableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: int | None = Field(None, ge=0)
    # lookup | entity | event | junction (roles.py): what the row count follows when ``rows`` is not set
    role: Literal["lookup", "entity", "event", "junction"] | None = None
    columns: dict[str, ColumnGen] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)


class GenerationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    tables: dict[str, TableSpec] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Files


def dump_spec(spec: GenerationSpec) -> str:
    """YAML text, keys in declaration order (tables and columns in DDL order): the same spec, the same bytes."""
    data = spec.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)


def load_spec(path: str | Path) -> GenerationSpec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}") from exc
    except RecursionError:  # the JSON decoder recurses per level
        raise SpecError(f"{path}: nested too deeply to read") from None
    try:
        return GenerationSpec.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SpecError(f"{path}: {where}: {first['msg']}") from exc


def merge_spec(base: GenerationSpec, override: GenerationSpec, source: str = "spec") -> GenerationSpec:
    """``override`` over ``base``: its row counts win; a column's fields it sets win (a different
    ``generator`` replaces the column's entry); its rules are added after the base's (same text once)."""
    merged = base.model_copy(deep=True)
    for name, table in override.tables.items():
        if name not in merged.tables:
            raise SpecError(f"{source}: unknown table {name!r}; tables are: {', '.join(base.tables)}")
        target = merged.tables[name]
        if table.rows is not None:
            target.rows = table.rows
        if table.role is not None:
            target.role = table.role
        for col, gen in table.columns.items():
            if col not in target.columns:
                raise SpecError(f"{source}: unknown column {name}.{col}; columns are: {', '.join(target.columns)}")
            current = target.columns[col]
            if "generator" in gen.model_fields_set and gen.generator != current.generator:
                target.columns[col] = gen.model_copy()
            else:
                target.columns[col] = current.model_copy(update={f: getattr(gen, f) for f in gen.model_fields_set})
        known = {r.check.strip() for r in target.rules}
        for rule in table.rules:
            if rule.check.strip() not in known:
                target.rules.append(rule)
                known.add(rule.check.strip())
    return merged


# --------------------------------------------------------------------------------------------------
# Durations, offsets and rules


def parse_duration(text: str, where: str) -> int:
    """``14d`` -> microseconds."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdwy])\s*", text)
    if not m:
        raise SpecError(f"{where}: bad duration {text!r} (expected e.g. 30s, 15m, 2h, 14d, 3w, 18y)")
    return int(m.group(1)) * _UNIT_US[m.group(2)]


def parse_offset(text: str, where: str) -> tuple[int, int | None]:
    """``14d..28d`` -> (min, max) in microseconds; ``1s..end`` -> (min, None)."""
    lo, sep, hi = text.partition("..")
    if not sep:
        raise SpecError(f"{where}: bad offset {text!r} (expected MIN..MAX, e.g. 14d..28d or 1s..end)")
    lo_us = parse_duration(lo, where)
    if hi.strip() == OFFSET_TO_END:
        return lo_us, None
    hi_us = parse_duration(hi, where)
    if hi_us < lo_us:
        raise SpecError(f"{where}: offset {text!r} has its maximum below its minimum")
    return lo_us, hi_us


@dataclass(frozen=True)
class Ref:
    """A column of the row (``table`` is None) or of the parent row reached through a foreign key."""

    column: str
    table: str | None = None
    via: tuple[str, ...] | None = None  # the foreign key's columns, when the table has several to ``table``

    def __str__(self) -> str:
        if self.table is None:
            return self.column
        return f"{self.table}[{','.join(self.via)}].{self.column}" if self.via else f"{self.table}.{self.column}"


@dataclass(frozen=True)
class ParsedRule:
    later: Ref
    earlier: Ref
    gap_us: int
    strict: bool


_NAME = r"[A-Za-z_][\w$]*"
_REF = rf"{_NAME}(?:\[{_NAME}(?:\s*,\s*{_NAME})*\])?(?:\.{_NAME})?"
_RULE = re.compile(rf"^\s*(?P<a>{_REF})\s*(?P<op>>=|<=|>|<)\s*(?P<b>{_REF})\s*(?:\+\s*(?P<gap>\d+\s*[smhdwy]))?\s*$")


def parse_ref(text: str, own_table: str) -> Ref:
    """``column``, ``parent.column`` or ``parent[fk_col, ...].column`` as a ``Ref``."""
    table, _, column = text.rpartition(".")
    via = None
    if table.endswith("]") and "[" in table:
        table, _, cols = table[:-1].partition("[")
        via = tuple(c.strip() for c in cols.split(","))
    return Ref(column, None if not table or table == own_table else table, via if table != own_table else None)


_ref = parse_ref


def parse_rule(text: str, own_table: str) -> ParsedRule:
    m = _RULE.match(text)
    where = f"table {own_table}: rule {text!r}"
    if not m:
        raise SpecError(f"{where}: expected 'later >= earlier [+ 14d]' (or >, <=, <)")
    a, b, op = _ref(m.group("a"), own_table), _ref(m.group("b"), own_table), m.group("op")
    gap = parse_duration(m.group("gap"), where) if m.group("gap") else 0
    if gap and op in ("<=", "<"):
        raise SpecError(f"{where}: write a gap as 'later >= earlier + {m.group('gap')}'")
    later, earlier = (a, b) if op in (">=", ">") else (b, a)
    return ParsedRule(later, earlier, gap, op in (">", "<"))


def rule_sql_parts(rule: ParsedRule) -> tuple[str, str]:
    """(comparison operator, gap in microseconds) for counting the rule in SQL."""
    return (">" if rule.strict else ">="), str(rule.gap_us)


def to_jsonable(spec: GenerationSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude_none=True)
