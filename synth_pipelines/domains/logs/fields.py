"""Field inventories and cross-field rules: the single source of truth of a log domain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandera.polars as pa
import polars as pl

Kind = Literal["string", "int", "float", "bool", "timestamp"]

POLARS_TYPES: dict[Kind, pl.DataType] = {
    "string": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "timestamp": pl.Datetime("ms", "UTC"),
}


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record: where it sits in the JSON line and what values it may take."""

    path: str  # dotted JSON path, e.g. "model.name"
    kind: Kind
    description: str
    required: bool = True  # present and non-null in every clean record
    vocabulary: tuple[str, ...] | None = None
    ge: float | None = None
    le: float | None = None
    pattern: str | None = None  # regex the whole string matches

    @property
    def column(self) -> str:
        """Flat column name in frames and Parquet: ``model.name`` -> ``model_name``."""
        return self.path.replace(".", "_")

    @property
    def dtype(self) -> pl.DataType:
        return POLARS_TYPES[self.kind]

    @property
    def allowed(self) -> str:
        if self.vocabulary:
            return ", ".join(self.vocabulary)
        if self.ge is not None or self.le is not None:
            lo = "-inf" if self.ge is None else f"{self.ge:g}"
            hi = "inf" if self.le is None else f"{self.le:g}"
            return f"[{lo}, {hi}]"
        if self.pattern:
            return f"matches `{self.pattern}`"
        return "ISO-8601 UTC, milliseconds" if self.kind == "timestamp" else "any"


@dataclass(frozen=True)
class Rule:
    """A cross-field consistency rule.

    ``holds`` is a polars expression over the flat clean frame, true where the rule holds (null
    counts as holding: a missing value is reported by its own field check). ``applies`` selects
    rows where ``violate`` can break the rule; ``violate`` returns those rows with the rule broken,
    for the invalid mirror. ``field`` is the field the defect is reported on.
    """

    name: str
    field: str
    description: str
    holds: pl.Expr
    applies: pl.Expr
    violate: Callable[[pl.DataFrame, np.random.Generator], pl.DataFrame]


@dataclass(frozen=True)
class FrameRule:
    """A rule across records, such as the order of the steps of one run.

    ``holds`` is a polars expression over a whole frame in file order, usually a window
    (``.over("run_id")``), true on the rows where the rule holds. It is checked on clean frames
    (pandera) and on whole files (the validator), but the invalid mirror never breaks it: a mirror
    line is broken for one reason of its own, which a rule across lines could not promise.
    """

    name: str
    field: str
    description: str
    holds: pl.Expr


def set_values(df: pl.DataFrame, **values: object) -> pl.DataFrame:
    """``df`` with the named columns set to constants: how most ``Rule.violate`` functions break a rule."""
    return df.with_columns(pl.lit(v).alias(k) for k, v in values.items())


class Inventory:
    """The fields and rules of one record type."""

    def __init__(
        self,
        name: str,
        fields: list[FieldSpec],
        rules: list[Rule],
        id_field: str,
        frame_rules: list[FrameRule] | None = None,
    ) -> None:
        columns = [f.column for f in fields]
        if len(set(columns)) != len(columns):
            raise ValueError(f"{name}: two fields flatten to the same column name")
        self.name = name
        self.fields = fields
        self.rules = rules
        self.frame_rules = frame_rules or []
        self.id_field = id_field
        self.by_path = {f.path: f for f in fields}
        self.by_column = {f.column: f for f in fields}

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema({f.column: f.dtype for f in self.fields})

    def conform(self, df: pl.DataFrame) -> pl.DataFrame:
        """Exact column order and dtypes (after DuckDB widened timestamps, for instance)."""
        return df.select(
            pl.col(f.column).dt.cast_time_unit("ms").dt.convert_time_zone("UTC").alias(f.column)
            if f.kind == "timestamp"
            else pl.col(f.column).cast(f.dtype)
            for f in self.fields
        )

    def value_checks(self, spec: FieldSpec) -> list[pa.Check]:
        checks: list[pa.Check] = []
        if spec.vocabulary:
            checks.append(pa.Check.isin(list(spec.vocabulary)))
        if spec.ge is not None:
            checks.append(pa.Check.ge(spec.ge))
        if spec.le is not None:
            checks.append(pa.Check.le(spec.le))
        if spec.pattern:
            checks.append(pa.Check.str_matches(f"^(?:{spec.pattern})$"))
        return checks

    def pandera_schema(self) -> pa.DataFrameSchema:
        columns = {
            f.column: pa.Column(
                f.dtype,
                nullable=not f.required,
                unique=f.path == self.id_field and self.id_unique,
                checks=self.value_checks(f),
                description=f.description,
            )
            for f in self.fields
        }
        rule_checks = [
            pa.Check(lambda data, expr=rule.holds: data.lazyframe.select(expr.fill_null(True)), name=rule.name)
            for rule in [*self.rules, *self.frame_rules]
        ]
        return pa.DataFrameSchema(columns, checks=rule_checks, strict=True, ordered=True, name=self.name)

    # Agent traces have one row per step, so their run id is not unique per row.
    id_unique: bool = True

    def markdown(self) -> str:
        """The field inventory as a markdown table (docs and README)."""
        lines = [
            "| field | type | required | allowed values / range | description |",
            "|---|---|---|---|---|",
        ]
        for f in self.fields:
            req = "yes" if f.required else "no"
            lines.append(f"| `{f.path}` | {f.kind} | {req} | {f.allowed} | {f.description} |")
        if self.rules:
            lines += ["", "Cross-field rules:", ""]
            lines += [f"- `{r.name}` (reported on `{r.field}`): {r.description}" for r in self.rules]
        if self.frame_rules:
            lines += ["", "Rules across records (checked on whole files in line order; not broken in the mirror):", ""]
            lines += [f"- `{r.name}` (reported on `{r.field}`): {r.description}" for r in self.frame_rules]
        return "\n".join(lines)
