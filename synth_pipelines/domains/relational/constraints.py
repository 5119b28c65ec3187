"""CHECK constraints: the common forms read as bounds to generate within, and every CHECK evaluated exactly.

Construction (``analyze_checks``) only makes violations rare; the guarantee comes from
``CheckEvaluator``, which transpiles each CHECK with sqlglot and evaluates it in DuckDB over the drawn
rows. A CHECK is violated when it is FALSE (NULL passes, as in SQL).

CHECKs are code: the parser admits only an allow-list of operators and scalar functions
(``ddl.check_problem``), comments are dropped when transpiling, and every DuckDB connection that
evaluates CHECKs is opened with ``lock_down``: no file system, no extensions, configuration locked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl
from sqlglot import exp

from synth_pipelines.domains.relational.ddl import Check, DdlError, Schema, Table, literal_value
from synth_pipelines.domains.relational.ddl import column_of as _column_of
from synth_pipelines.domains.relational.ddl import conjuncts as _conjuncts
from synth_pipelines.domains.relational.ddl import null_guard as _null_guard

LENGTH_FUNCS = ("LENGTH", "CHAR_LENGTH", "CHARACTER_LENGTH", "LEN")


def lock_down(con: duckdb.DuckDBPyConnection, allowed_paths: list[str] | None = None) -> duckdb.DuckDBPyConnection:
    """No file system access (except ``allowed_paths``, read by the caller's own views), no extension
    loading, and the configuration locked so no later statement can undo it."""
    if allowed_paths:
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in allowed_paths)
        con.execute(f"SET allowed_paths = [{listed}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


@dataclass
class ColumnRule:
    """What the CHECKs of a table say about one column's non-NULL values."""

    lo: Any = None
    lo_strict: bool = False
    hi: Any = None
    hi_strict: bool = False
    choices: list[Any] | None = None
    min_len: int = 0
    max_len: int | None = None
    excluded: list[Any] = field(default_factory=list)

    def tighten_lo(self, value: Any, strict: bool) -> None:
        if self.lo is None or _gt(value, self.lo) or (value == self.lo and strict):
            self.lo, self.lo_strict = value, strict

    def tighten_hi(self, value: Any, strict: bool) -> None:
        if self.hi is None or _gt(self.hi, value) or (value == self.hi and strict):
            self.hi, self.hi_strict = value, strict


@dataclass(frozen=True)
class OrderRule:
    """``lo_col <= hi_col`` (``<`` when strict) for the rows where both are set."""

    lo_col: str
    hi_col: str
    strict: bool


def _gt(a: Any, b: Any) -> bool:
    try:
        return a > b
    except TypeError:
        return False


_FLIP = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ, exp.NEQ: exp.NEQ}


def _length_of(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Length):
        return _column_of(node.this)
    if isinstance(node, exp.Anonymous) and node.name.upper() in LENGTH_FUNCS and node.expressions:
        return _column_of(node.expressions[0])
    return None


def analyze_checks(table: Table) -> tuple[dict[str, ColumnRule], list[OrderRule]]:
    """Bounds, allowed values, lengths and column orderings stated by the table's CHECKs."""
    rules: dict[str, ColumnRule] = {}
    orders: list[OrderRule] = []

    def rule(col: str) -> ColumnRule:
        return rules.setdefault(col, ColumnRule())

    def visit(node: exp.Expression) -> None:
        guarded = _null_guard(node)
        if guarded is not None:
            for part in _conjuncts(guarded):
                visit(part)
            return
        if isinstance(node, exp.Paren):
            visit(node.this)
            return
        if isinstance(node, exp.Between):
            col, length_col = _column_of(node.this), _length_of(node.this)
            try:
                low, high = literal_value(node.args["low"]), literal_value(node.args["high"])
            except ValueError:
                return
            if col:
                rule(col).tighten_lo(low, False)
                rule(col).tighten_hi(high, False)
            elif length_col:
                rule(length_col).min_len = max(rule(length_col).min_len, int(low))
                _set_max_len(rule(length_col), int(high))
            return
        if isinstance(node, exp.In) and not node.args.get("query"):
            col = _column_of(node.this)
            try:
                values = [literal_value(e) for e in node.expressions]
            except ValueError:
                return
            if col:
                current = rule(col).choices
                rule(col).choices = values if current is None else [v for v in current if v in values]
            return
        if type(node) in _FLIP:
            _comparison(node, rule, orders)

    for check in table.checks:
        for part in _conjuncts(check.expr):
            visit(part)
    return rules, orders


def _set_max_len(r: ColumnRule, value: int) -> None:
    r.max_len = value if r.max_len is None else min(r.max_len, value)


def _comparison(node: exp.Expression, rule: Any, orders: list[OrderRule]) -> None:
    op = type(node)
    left, right = node.left, node.right  # type: ignore[attr-defined]
    lcol, rcol = _column_of(left), _column_of(right)
    if lcol and rcol:
        if op in (exp.LT, exp.LTE):
            orders.append(OrderRule(lcol, rcol, op is exp.LT))
        elif op in (exp.GT, exp.GTE):
            orders.append(OrderRule(rcol, lcol, op is exp.GT))
        return
    llen, rlen = _length_of(left), _length_of(right)
    try:
        if lcol or llen:
            subject, value = (lcol, "col") if lcol else (llen, "len"), literal_value(right)
        elif rcol or rlen:
            subject, value = (rcol, "col") if rcol else (rlen, "len"), literal_value(left)
            op = _FLIP[op]
        else:
            return
    except ValueError:
        return
    name, what = subject
    r = rule(name)
    if what == "len":
        v = int(value)
        if op is exp.GT:
            r.min_len = max(r.min_len, v + 1)
        elif op is exp.GTE:
            r.min_len = max(r.min_len, v)
        elif op is exp.LT:
            _set_max_len(r, v - 1)
        elif op is exp.LTE:
            _set_max_len(r, v)
        elif op is exp.EQ:
            r.min_len = max(r.min_len, v)
            _set_max_len(r, v)
        return
    if op is exp.GT:
        r.tighten_lo(value, True)
    elif op is exp.GTE:
        r.tighten_lo(value, False)
    elif op is exp.LT:
        r.tighten_hi(value, True)
    elif op is exp.LTE:
        r.tighten_hi(value, False)
    elif op is exp.EQ:
        r.choices = [value]
    elif op is exp.NEQ:
        r.excluded.append(value)


# --------------------------------------------------------------------------------------------------
# Exact evaluation


@dataclass(frozen=True)
class CompiledCheck:
    check: Check
    duckdb_sql: str
    label: str


def check_label(check: Check) -> str:
    return f"CHECK {check.name + ' ' if check.name else ''}({check.sql})"


def compile_checks(schema: Schema, table: Table) -> list[CompiledCheck]:
    """Each CHECK transpiled to DuckDB SQL, proven to bind against the table's columns."""
    compiled = []
    for check in table.checks:
        sql = check.expr.sql(dialect="duckdb", comments=False)
        compiled.append(CompiledCheck(check, sql, check_label(check)))
    return compiled


ROWS_VIEW = "__check_rows"


class CheckEvaluator:
    """Evaluates a table's CHECKs over polars frames in an in-memory DuckDB.

    Pass ``con`` to share one DuckDB between tables (the caller closes it); otherwise the evaluator
    opens its own on first use and ``close`` closes it.
    """

    def __init__(self, schema: Schema, table: Table, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.schema = schema
        self.table = table
        self.checks = compile_checks(schema, table)
        self._con = con
        self._owns_con = con is None
        # Only the columns the CHECKs name travel to DuckDB (a String column's Arrow copy is not free).
        named = {_column_of(col) for c in self.checks for col in c.check.expr.find_all(exp.Column)}
        used = [c for c in table.columns if c in named]
        self.columns = used if named <= set(used) else list(table.columns)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = lock_down(duckdb.connect(":memory:", config={"threads": 1}))
        return self._con

    def failures(self, frame: pl.DataFrame) -> np.ndarray:
        """``(rows, checks)`` boolean matrix: True where a CHECK evaluates to FALSE."""
        if not self.checks or frame.height == 0:
            return np.zeros((frame.height, len(self.checks)), dtype=bool)
        select = ", ".join(f"coalesce(NOT ({c.duckdb_sql}), false) AS c{i}" for i, c in enumerate(self.checks))
        # Registered by name: a locked-down connection does not scan Python variables.
        self.con.register(ROWS_VIEW, frame.select(self.columns).to_arrow())
        try:
            result = self.con.execute(f"SELECT {select} FROM {ROWS_VIEW}").fetchnumpy()
        except duckdb.Error:
            # Find the offending CHECK to name it.
            for c in self.checks:
                try:
                    self.con.execute(f"SELECT coalesce(NOT ({c.duckdb_sql}), false) FROM {ROWS_VIEW} LIMIT 1")
                except duckdb.Error as inner:
                    raise DdlError(
                        f"{self.schema.source}:{c.check.line}: table {self.table.name}: {c.label} cannot be "
                        f"evaluated (as DuckDB SQL: {c.duckdb_sql}): {str(inner).splitlines()[0]}"
                    ) from inner
            raise
        finally:
            self.con.unregister(ROWS_VIEW)
        return np.column_stack([np.asarray(result[f"c{i}"], dtype=bool) for i in range(len(self.checks))])

    def close(self) -> None:
        if self._con is not None and self._owns_con:
            self._con.close()
        self._con = None
