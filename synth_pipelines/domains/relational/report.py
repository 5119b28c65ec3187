"""``validation_report.json``: every constraint counted, independently of how the data was built.

Each number comes from a DuckDB query over the finished tables (frames or Parquet files), never
from the generator's own bookkeeping: PK duplicates and NULLs, FK orphans (MATCH SIMPLE: a row with
any NULL FK column is exempt) and coverage, NOT NULL, UNIQUE duplicates (NULLs are distinct),
CHECKs (violated when FALSE), and values outside the declared type (length, range, enum).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from synth_pipelines.domains.relational.constraints import check_label, compile_checks, lock_down
from synth_pipelines.domains.relational.ddl import ForeignKey, Schema, Table
from synth_pipelines.domains.relational.generate import RelationalGenerator
from synth_pipelines.domains.relational.measures import measure_rules_report
from synth_pipelines.domains.relational.places import place_rules_report
from synth_pipelines.domains.relational.plan import Plan
from synth_pipelines.domains.relational.realism import fk_for_ref

SAMPLES = 5
SAMPLE_ROWS = 2000  # samples come from the first rows only


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


Source = pl.DataFrame | Path | list[Path]


def parquet_sql(src: Path | list[Path], filename: bool = False) -> str:
    """``read_parquet`` of one file, or of a shard set's parts in order (rows read in part order);
    ``filename``: with each row's file as column ``filename``."""
    options = "hive_partitioning = false" + (", filename = true" if filename else "")
    if isinstance(src, list):
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in src)
        return f"read_parquet([{files}], {options})"
    return "read_parquet('" + str(src).replace("'", "''") + f"', {options})"


def connect_sources(sources: dict[str, Source], memory_limit: str = "512MB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB where each table is a view over its frame, Parquet file or Parquet parts.

    The connection evaluates CHECK expressions, so it is locked down: it may read its own Parquet
    files and nothing else on the file system, and its configuration cannot be changed.
    """
    con = duckdb.connect(":memory:", config={"memory_limit": memory_limit, "threads": 2})
    # DuckDB takes the session time zone from the host (TZ); a TIMESTAMPTZ min/max would then be written in
    # it, and the same data would give different report bytes on two machines.
    con.execute("SET TimeZone = 'UTC'")
    files = [p for src in sources.values() if not isinstance(src, pl.DataFrame) for p in _as_list(src)]
    lock_down(con, [str(p) for p in files])
    for name, src in sources.items():
        if isinstance(src, pl.DataFrame):
            con.register(f"__frame_{name}", src.to_arrow())
            con.execute(f"CREATE VIEW {q(name)} AS SELECT * FROM {q('__frame_' + name)}")
        else:
            con.execute(f"CREATE VIEW {q(name)} AS SELECT * FROM {parquet_sql(src)}")
    return con


def _as_list(src: Path | list[Path]) -> list[Path]:
    return list(src) if isinstance(src, list) else [src]


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return con.execute(sql).fetchone()[0]  # type: ignore[index]


def _plain(value: Any) -> Any:
    """JSON-stable rendering of a DuckDB value."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return round(value, 6)
    return str(value)


def _type_violation(table: Table, col: str) -> str | None:
    """SQL that is TRUE where a set value lies outside the column's declared type, or None."""
    t = table.columns[col].type
    c = f"c.{q(col)}"
    if t.kind == "string" and t.length is not None:
        cond = f"length({c}) > {t.length}"
    elif t.kind == "int":
        cond = f"{c} < {t.min_value} OR {c} > {t.max_value}"
    elif t.kind == "enum":
        values = ", ".join("'" + v.replace("'", "''") + "'" for v in t.enum_values)
        cond = f"{c} NOT IN ({values})"
    elif t.kind == "decimal":
        # The parser gives every DECIMAL a precision (at most 38) and a scale, its dialect's defaults included.
        # A cast, not a comparison with 10^(p-s): that literal overflows a DECIMAL(38, s) column's own type
        # (NUMERIC(38,10) failed the report step). A cast rounds extra decimals, so those are compared apart.
        cond = f"TRY_CAST({c} AS DECIMAL({t.precision}, {t.scale})) IS NULL OR {c} <> round({c}, {t.scale})"
    elif t.kind == "uuid":
        cond = f"TRY_CAST({c} AS UUID) IS NULL"
    else:
        return None
    return f"{c} IS NOT NULL AND ({cond})"


def _distinct(cols: tuple[str, ...] | list[str], where: str) -> str:
    """count(DISTINCT ...) of the rows ``where`` holds: of one column, or of a row of several (``(c.a)``
    is the column itself)."""
    return "count(DISTINCT (" + ", ".join(f"c.{q(c)}" for c in cols) + f")) FILTER (WHERE {where})"


def _all_set(cols: tuple[str, ...] | list[str]) -> str:
    return " AND ".join(f"c.{q(c)} IS NOT NULL" for c in cols)


class _Select:
    """The aggregate expressions of a table's one query, each named by what it counts."""

    def __init__(self) -> None:
        self.exprs: list[str] = []

    def add(self, sql: str) -> int:
        self.exprs.append(sql)
        return len(self.exprs) - 1


def table_report(
    con: duckdb.DuckDBPyConnection,
    schema: Schema,
    gen: RelationalGenerator,
    table: Table,
    known_rows: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Every count of one table from ONE aggregate query over its data.

    The query reads the table once: per column NULLs, distinct values, min and max; PK and UNIQUE
    duplicates; CHECK and type violations; and, through a LEFT JOIN per foreign key against the
    parent's distinct keys, FK orphans and how many parent keys are used. Only the parents' key
    columns are read besides (DuckDB reads just those columns of a Parquet file).
    """
    name = q(table.name)
    sel = _Select()
    rows_at = sel.add("count(*)")
    col_at: dict[str, tuple[int, int, int, int]] = {}
    for col in table.columns:
        c = f"c.{q(col)}"
        col_at[col] = (
            sel.add(f"count(*) FILTER (WHERE {c} IS NULL)"),
            sel.add(f"count(DISTINCT {c})"),
            sel.add(f"min({c})"),
            sel.add(f"max({c})"),
        )

    def key_counts(cols: tuple[str, ...]) -> tuple[int, int]:
        """(rows with every column set, their distinct tuples): duplicates = first - second."""
        if len(cols) == 1:
            return -1, col_at[cols[0]][1]
        cond = _all_set(cols)
        return sel.add(f"count(*) FILTER (WHERE {cond})"), sel.add(_distinct(cols, cond))

    pk_at = key_counts(table.primary_key) if table.primary_key else None
    pk_null_at = (
        sel.add("count(*) FILTER (WHERE " + " OR ".join(f"c.{q(c)} IS NULL" for c in table.primary_key) + ")")
        if table.primary_key
        else None
    )
    unique_at = [key_counts(cols) for cols in table.uniques]
    joins: list[str] = []
    fk_at: list[tuple[int, int, int]] = []
    for k, fk in enumerate(table.foreign_keys):
        alias = f"f{k}"
        keys = ", ".join(f"{q(r)} AS {q(f'__k{i}')}" for i, r in enumerate(fk.ref_columns))
        on = " AND ".join(f"{alias}.{q(f'__k{i}')} = c.{q(c)}" for i, c in enumerate(fk.columns))
        joins.append(f"LEFT JOIN (SELECT DISTINCT {keys}, true AS __hit FROM {q(fk.ref_table)}) AS {alias} ON {on}")
        orphan = f"{_all_set(fk.columns)} AND {alias}.__hit IS NULL"
        # Parent keys used = distinct set FK values minus the distinct orphan values. The orphan
        # filter is empty on good data, so this costs no second hash of a large column.
        used = (
            col_at[fk.columns[0]][1] if len(fk.columns) == 1 else sel.add(_distinct(fk.columns, _all_set(fk.columns)))
        )
        fk_at.append((sel.add(f"count(*) FILTER (WHERE {orphan})"), used, sel.add(_distinct(fk.columns, orphan))))
    compiled = compile_checks(schema, table)
    check_at = [sel.add(f"count(*) FILTER (WHERE ({c.duckdb_sql}) IS FALSE)") for c in compiled]
    type_at: dict[str, int] = {}
    for col in table.columns:
        cond = _type_violation(table, col)
        if cond is not None:
            type_at[col] = sel.add(f"count(*) FILTER (WHERE {cond})")

    # CHECK expressions name the table's columns unqualified: the joined parents' columns are all
    # renamed (__k0, __hit), so nothing is ambiguous.
    sql = f"SELECT {', '.join(sel.exprs)} FROM {name} AS c {' '.join(joins)}"
    values = con.execute(sql).fetchone()
    assert values is not None
    rows = int(values[rows_at])

    def dupes(at: tuple[int, int], cols: tuple[str, ...]) -> int:
        set_rows = rows - int(values[col_at[cols[0]][0]]) if at[0] < 0 else int(values[at[0]])
        return set_rows - int(values[at[1]])

    constraints: list[dict[str, Any]] = []
    if pk_at is not None and pk_null_at is not None:
        d, nulls = dupes(pk_at, table.primary_key), int(values[pk_null_at])
        constraints.append(
            {
                "type": "PRIMARY KEY",
                "columns": list(table.primary_key),
                "duplicates": d,
                "nulls": nulls,
                "violations": d + nulls,
            }
        )
    for cols, at in zip(table.uniques, unique_at, strict=True):
        d = dupes(at, cols)
        constraints.append({"type": "UNIQUE", "columns": list(cols), "duplicates": d, "violations": d})
    for fk, (orphan_at, used_at, orphan_keys_at) in zip(table.foreign_keys, fk_at, strict=True):
        if known_rows is not None and fk.ref_table in known_rows and fk.ref_table != table.name:
            parent_rows = known_rows[fk.ref_table]
        elif fk.ref_table == table.name:
            parent_rows = rows
        else:
            parent_rows = int(_scalar(con, f"SELECT count(*) FROM {q(fk.ref_table)}"))
        orphans = int(values[orphan_at])
        covered = int(values[used_at]) - int(values[orphan_keys_at])
        constraints.append(
            {
                "type": "FOREIGN KEY",
                "columns": list(fk.columns),
                "references": f"{fk.ref_table}({', '.join(fk.ref_columns)})",
                "orphans": orphans,
                "violations": orphans,
                "coverage_pct": round(100.0 * covered / parent_rows, 2) if parent_rows else 0.0,
                "deferred_in_load": gen.plan.is_deferred(fk),
            }
        )
    for col in table.columns.values():
        if not col.nullable:
            constraints.append(
                {"type": "NOT NULL", "columns": [col.name], "violations": int(values[col_at[col.name][0]])}
            )
    for c, at in zip(compiled, check_at, strict=True):
        constraints.append(
            {"type": "CHECK", "name": c.check.name, "expression": c.check.sql, "violations": int(values[at])}
        )
    for col, at in type_at.items():
        constraints.append(
            {
                "type": "TYPE",
                "columns": [col],
                "declared": table.columns[col].type.sql,
                "violations": int(values[at]),
            }
        )
    samples = _samples(con, table)
    columns: dict[str, Any] = {}
    model = gen.models[table.name]
    for col in table.columns.values():
        nulls_at, distinct_at, min_at, max_at = col_at[col.name]
        columns[col.name] = {
            "type": col.type.sql,
            "meaning": model.specs[col.name].semantic,
            "null_pct": round(100.0 * int(values[nulls_at]) / rows, 2) if rows else 0.0,
            "distinct": int(values[distinct_at]),
            "min": _plain(values[min_at]),
            "max": _plain(values[max_at]),
            "samples": samples[col.name],
        }
    return {
        "rows": rows,
        "violations": sum(c["violations"] for c in constraints),
        "constraints": constraints,
        "columns": columns,
    }


def _samples(con: duckdb.DuckDBPyConnection, table: Table) -> dict[str, list[Any]]:
    """The first ``SAMPLES`` distinct set values of each column, in row order, from the table's
    first rows (a read of one row group, not another pass)."""
    cols = ", ".join(q(c) for c in table.columns)
    head = con.execute(f"SELECT {cols} FROM {q(table.name)} LIMIT {SAMPLE_ROWS}").pl()
    return {
        col: [_plain(v) for v in head[col].drop_nulls().unique(maintain_order=True).head(SAMPLES).to_list()]
        for col in table.columns
    }


def build_report(
    schema: Schema,
    plan: Plan,
    gen: RelationalGenerator,
    sources: dict[str, Source],
    seed: int,
    version: str,
) -> dict[str, Any]:
    con = connect_sources(sources)
    try:
        tables: dict[str, Any] = {}
        known_rows: dict[str, int] = {}
        for name in plan.insert_order:
            tables[name] = table_report(con, schema, gen, schema.tables[name], known_rows)
            known_rows[name] = tables[name]["rows"]
        rules = rules_report(con, schema, gen)
    finally:
        con.close()
    total = sum(t["violations"] for t in tables.values())
    rule_total = sum(r["violations"] for r in rules)
    return {
        "schema": {"file": Path(schema.source).name, "sha256": schema.sha256, "dialect": schema.dialect},
        "seed": seed,
        "generator_version": version,
        "ok": total == 0 and rule_total == 0,
        "violations": total,
        "rule_violations": rule_total,
        "insert_order": list(plan.insert_order),
        "deferred_foreign_keys": [
            {
                "table": fk.table,
                "columns": list(fk.columns),
                "references": f"{fk.ref_table}({', '.join(fk.ref_columns)})",
            }
            for fk in plan.deferred
        ],
        "rows": {name: t["rows"] for name, t in tables.items()},
        "roles": {name: plan.roles.get(name, "entity") for name in tables},
        "rules": rules,
        **({"ai": gen.resolved.ai} if gen.resolved.ai else {}),
        "tables": tables,
    }


def _as_timestamp(expr: str, kind: str) -> str:
    """A date or timestamp as a plain TIMESTAMP (UTC for TIMESTAMPTZ), so rules compare instants."""
    if kind == "date":
        return f"CAST({expr} AS TIMESTAMP)"
    if kind == "timestamptz":
        return f"timezone('UTC', {expr})"
    return expr


def _rule_side(schema: Schema, table: Table, joins: dict[tuple[str, ...], str], ref: Any) -> str:
    """One side of a rule as SQL: ``c.col`` of the row, or the column of the parent joined through the
    reference's foreign key."""
    owner = schema.tables[ref.table] if ref.table else table
    where = f"{joins[_ref_fk(table, ref).columns]}." if ref.table else "c."
    return _as_timestamp(where + q(ref.column), owner.columns[ref.column].type.kind)


def _ref_fk(table: Table, ref: Any) -> ForeignKey:
    fk = fk_for_ref(table, ref)
    assert fk is not None  # resolve() refused references without exactly one foreign key
    return fk


def rules_report(con: duckdb.DuckDBPyConnection, schema: Schema, gen: RelationalGenerator) -> list[dict[str, Any]]:
    """Every rule of the spec counted over the finished tables, one query per table: rows where both
    sides are set, and those among them where the rule is FALSE (NULL passes, as for a CHECK).
    A parent's column is read through a LEFT JOIN on the rule's foreign key."""
    out: list[dict[str, Any]] = []
    for name in gen.plan.insert_order:
        rules = gen.resolved.rules.get(name, [])
        if not rules:
            continue
        table = schema.tables[name]
        joins: dict[tuple[str, ...], str] = {}  # the foreign key's columns -> the alias of its parent
        join_sql: list[str] = []
        parent_refs = [ref for r in rules for ref in (r.rule.later, r.rule.earlier) if ref.table]
        for ref in parent_refs:
            fk = _ref_fk(table, ref)
            if fk.columns in joins:
                continue
            alias = f"p{len(joins)}"
            joins[fk.columns] = alias
            parent_cols = sorted({x.column for x in parent_refs if _ref_fk(table, x) is fk})
            keys = ", ".join(f"{q(k)} AS {q(f'__k{i}')}" for i, k in enumerate(fk.ref_columns))
            cols = ", ".join(q(c) for c in parent_cols)
            on = " AND ".join(f"{alias}.{q(f'__k{i}')} = c.{q(c)}" for i, c in enumerate(fk.columns))
            join_sql.append(f"LEFT JOIN (SELECT {keys}, {cols} FROM {q(fk.ref_table)}) AS {alias} ON {on}")
        exprs: list[str] = []
        for r in rules:
            later, earlier = (_rule_side(schema, table, joins, ref) for ref in (r.rule.later, r.rule.earlier))
            both = f"{later} IS NOT NULL AND {earlier} IS NOT NULL"
            op = ">" if r.rule.strict else ">="
            exprs.append(f"count(*) FILTER (WHERE {both})")
            exprs.append(
                f"count(*) FILTER (WHERE {both} AND NOT ({later} {op} {earlier} + to_microseconds({r.rule.gap_us})))"
            )
        values = con.execute(f"SELECT {', '.join(exprs)} FROM {q(name)} AS c {' '.join(join_sql)}").fetchone()
        assert values is not None
        for i, r in enumerate(rules):
            out.append(
                {
                    "table": name,
                    "rule": r.check,
                    "origin": r.origin,
                    "rows_checked": int(values[2 * i]),
                    "violations": int(values[2 * i + 1]),
                }
            )
    out.extend(hierarchy_report(con, schema, gen))
    out.extend(sums_report(con, gen))
    out.extend(place_rules_report(con, [(name, gen.models[name].places) for name in gen.plan.insert_order]))
    out.extend(
        measure_rules_report(
            con,
            [
                (n, schema.tables[n], gen.models[n].specs, gen.models[n].copies, gen.models[n].age_from)
                for n in gen.plan.insert_order
            ],
        )
    )
    return out


def sums_report(con: duckdb.DuckDBPyConnection, gen: RelationalGenerator) -> list[dict[str, Any]]:
    """Each total that is the sum of its lines, recounted exactly (DECIMAL arithmetic) over the written
    files: parents with the total set, and those whose total differs from the sum of their lines (0 without)."""
    out: list[dict[str, Any]] = []
    for name in gen.plan.insert_order:
        for col, s in gen.resolved.sums.get(name, {}).items():
            line = f"l.{q(s.price)}" + (f" * l.{q(s.quantity)}" if s.quantity else "")
            keys = ", ".join(f"l.{q(c)} AS {q(f'__k{i}')}" for i, c in enumerate(s.fk.columns))
            group = ", ".join(f"l.{q(c)}" for c in s.fk.columns)
            on = " AND ".join(f"t.{q(f'__k{i}')} = p.{q(r)}" for i, r in enumerate(s.fk.ref_columns))
            row = con.execute(
                f"SELECT count(*) FILTER (WHERE p.{q(col)} IS NOT NULL), "
                f"count(*) FILTER (WHERE p.{q(col)} IS NOT NULL AND p.{q(col)} <> coalesce(t.v, 0)) "
                f"FROM {q(name)} AS p LEFT JOIN (SELECT {keys}, sum({line}) AS v FROM {q(s.child)} AS l "
                f"GROUP BY {group}) AS t ON {on}"
            ).fetchone()
            assert row is not None
            out.append(
                {
                    "table": name,
                    "rule": s.text,
                    "kind": "sum",
                    "origin": "inferred",
                    "rows_checked": int(row[0]),
                    "violations": int(row[1]),
                }
            )
    return out


def hierarchy_report(con: duckdb.DuckDBPyConnection, schema: Schema, gen: RelationalGenerator) -> list[dict[str, Any]]:
    """Each one-column self-reference (employees.reports_to) counted as a hierarchy: walked down from its
    roots (NULL, or a row pointing at itself), every row with a parent must be reached; a row that is not
    sits on or under a cycle. UNION (not UNION ALL) keeps the walk finite even over a cycle."""
    out: list[dict[str, Any]] = []
    for name in gen.plan.insert_order:
        table = schema.tables[name]
        for fk in table.foreign_keys:
            if fk.ref_table != name or len(fk.columns) != 1:
                continue
            child, key = q(fk.columns[0]), q(fk.ref_columns[0])
            row = con.execute(
                f"WITH RECURSIVE walk(k, depth) AS ("
                f"SELECT {key}, 1 FROM {q(name)} WHERE {child} IS NULL OR {child} = {key} "
                f"UNION SELECT c.{key}, w.depth + 1 FROM {q(name)} AS c JOIN walk AS w ON c.{child} = w.k "
                f"WHERE c.{child} <> c.{key}) "
                f"SELECT (SELECT count(*) FROM {q(name)} WHERE {child} IS NOT NULL AND {child} <> {key}), "
                f"(SELECT count(*) FROM {q(name)} WHERE {child} IS NULL OR {child} = {key}), "
                f"(SELECT count(DISTINCT k) FROM walk), (SELECT max(depth) FROM walk), "
                f"(SELECT count(*) FROM {q(name)})"
            ).fetchone()
            assert row is not None
            checked, roots, reached, depth, total = (int(v or 0) for v in row)
            out.append(
                {
                    "table": name,
                    "rule": f"{fk.columns[0]} forms a hierarchy (no cycle)",
                    "kind": "hierarchy",
                    "origin": "inferred",
                    "rows_checked": checked,
                    "violations": total - reached,
                    "roots": roots,
                    "depth": depth,
                }
            )
    return out


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def violation_summary(report: dict[str, Any], limit: int = 8) -> str:
    """One line naming the violated constraints (for errors and the asset check)."""
    parts = []
    for name, t in report["tables"].items():
        for c in t["constraints"]:
            if c["violations"]:
                what = c.get("expression") or ", ".join(c["columns"])  # a CHECK has no columns, but text
                parts.append(f"{name}: {c['type']} ({what}) x{c['violations']}")
    for r in report["rules"]:
        if r["violations"]:
            parts.append(f"{r['table']}: RULE ({r['rule']}) x{r['violations']}")
    more = f" (+{len(parts) - limit} more)" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more if parts else "no violations"


__all__ = ["build_report", "check_label", "report_json", "violation_summary"]
