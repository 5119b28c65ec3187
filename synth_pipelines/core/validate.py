"""pandera (polars) validation that reports instead of raising: counts and a failure table."""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaError, SchemaErrors

from synth_pipelines.core.preview import markdown_table


@dataclass(frozen=True)
class ValidationOutcome:
    rows: int
    invalid_rows: int
    failure_cases: pl.DataFrame  # failure_case, schema_context, column, check, check_number, index

    @property
    def ok(self) -> bool:
        return self.invalid_rows == 0 and self.failure_cases.height == 0

    def markdown(self, limit: int = 20) -> str:
        if self.ok:
            return "No failure cases."
        return markdown_table(self.failure_cases.head(limit))

    def summary(self) -> str:
        if self.ok:
            return f"all {self.rows} rows valid"
        if not {"column", "check"} <= set(self.failure_cases.columns):
            return f"{self.invalid_rows} of {self.rows} rows invalid"
        checks = self.failure_cases.group_by("column", "check").len().sort("len", descending=True)
        parts = [f"{row['column']}: {row['check']} x{row['len']}" for row in checks.head(5).iter_rows(named=True)]
        return f"{self.invalid_rows} of {self.rows} rows invalid ({'; '.join(parts)})"


def validate_frame(schema: pa.DataFrameSchema | type[pa.DataFrameModel], df: pl.DataFrame) -> ValidationOutcome:
    """Run ``schema`` lazily over ``df``; never raises for data errors."""
    try:
        schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases.with_columns(pl.col("failure_case").cast(pl.String))
        rows = cases["index"].drop_nulls().n_unique()
        # Schema-level failures (a missing or extra column) have no row index: every row is suspect.
        invalid = df.height if cases["index"].null_count() else rows
        return ValidationOutcome(df.height, invalid, cases)
    except SchemaError as exc:  # pragma: no cover - lazy=True reports through SchemaErrors
        cases = pl.DataFrame({"failure_case": [str(exc)], "column": [None], "check": [str(exc.check)], "index": [None]})
        return ValidationOutcome(df.height, df.height, cases)
    return ValidationOutcome(df.height, 0, pl.DataFrame())
