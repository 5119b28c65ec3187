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

from synth_pipelines.domains.relational.constraints import check_label, compile_checks
from synth_pipelines.domains.relational.ddl import Schema, Table
from synth_pipelines.domains.relational.generate import RelationalGenerator
from synth_pipelines.domains.relational.plan import Plan

SAMPLES = 5


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cols(cols: tuple[str, ...] | list[str]) -> str:
    return ", ".join(q(c) for c in cols)


def connect_sources(
    sources: dict[str, pl.DataFrame | Path], memory_limit: str = "512MB"
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB where each table is a view over its frame or Parquet file."""
    con = duckdb.connect(":memory:", config={"memory_limit": memory_limit, "threads": 2})
    for name, src in sources.items():
        if isinstance(src, pl.DataFrame):
            con.register(f"__frame_{name}", src.to_arrow())
            con.execute(f"CREATE VIEW {q(name)} AS SELECT * FROM {q('__frame_' + name)}")
        else:
            path = str(src).replace("'", "''")
            con.execute(
                f"CREATE VIEW {q(name)} AS SELECT * FROM read_parquet('{path}', hive_partitioning = false)"
            )
    return con


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return con.execute(sql).fetchone()[0]  # type: ignore[index]


def _plain(value: Any) -> Any:
    """JSON-stable rendering of a DuckDB value."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return round(value, 6)
    return str(value)


def _type_violations(con: duckdb.DuckDBPyConnection, table: Table, col: str) -> int:
    t = table.columns[col].type
    c = q(col)
    if t.kind == "string" and t.length is not None:
        cond = f"length({c}) > {t.length}"
    elif t.kind == "int":
        cond = f"{c} < {t.min_value} OR {c} > {t.max_value}"
    elif t.kind == "enum":
        values = ", ".join("'" + v.replace("'", "''") + "'" for v in t.enum_values)
        cond = f"{c} NOT IN ({values})"
    elif t.kind == "decimal":
        limit = 10 ** ((t.precision or 18) - (t.scale or 0))
        cond = f"abs({c}) >= {limit} OR {c} <> round({c}, {t.scale or 0})"
    elif t.kind == "uuid":
        cond = f"TRY_CAST({c} AS UUID) IS NULL"
    else:
        return 0
    return int(_scalar(con, f"SELECT count(*) FROM {q(table.name)} WHERE {c} IS NOT NULL AND ({cond})"))


def table_report(
    con: duckdb.DuckDBPyConnection, schema: Schema, gen: RelationalGenerator, table: Table
) -> dict[str, Any]:
    name = q(table.name)
    rows = int(_scalar(con, f"SELECT count(*) FROM {name}"))
    constraints: list[dict[str, Any]] = []
    if table.primary_key:
        pk = _cols(table.primary_key)
        dupes = int(_scalar(con, f"SELECT count(*) - count(DISTINCT ({pk})) FROM {name}"))
        nulls = int(
            _scalar(
                con,
                f"SELECT count(*) FROM {name} WHERE "
                + " OR ".join(f"{q(c)} IS NULL" for c in table.primary_key),
            )
        )
        constraints.append(
            {
                "type": "PRIMARY KEY",
                "columns": list(table.primary_key),
                "duplicates": dupes,
                "nulls": nulls,
                "violations": dupes + nulls,
            }
        )
    for cols in table.uniques:
        not_null = " AND ".join(f"{q(c)} IS NOT NULL" for c in cols)
        dupes = int(
            _scalar(con, f"SELECT count(*) - count(DISTINCT ({_cols(cols)})) FROM {name} WHERE {not_null}")
        )
        constraints.append(
            {"type": "UNIQUE", "columns": list(cols), "duplicates": dupes, "violations": dupes}
        )
    for fk in table.foreign_keys:
        set_cond = " AND ".join(f"c.{q(c)} IS NOT NULL" for c in fk.columns)
        join = " AND ".join(f"p.{q(r)} = c.{q(c)}" for c, r in zip(fk.columns, fk.ref_columns, strict=True))
        parent = q(fk.ref_table)
        orphans = int(
            _scalar(
                con,
                f"SELECT count(*) FROM {name} c WHERE {set_cond} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {join})",
            )
        )
        parent_rows = int(_scalar(con, f"SELECT count(*) FROM {parent}"))
        covered = int(
            _scalar(
                con, f"SELECT count(*) FROM {parent} p WHERE EXISTS (SELECT 1 FROM {name} c WHERE {join})"
            )
        )
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
            nulls = int(_scalar(con, f"SELECT count(*) FROM {name} WHERE {q(col.name)} IS NULL"))
            constraints.append({"type": "NOT NULL", "columns": [col.name], "violations": nulls})
    for compiled in compile_checks(schema, table):
        bad = int(_scalar(con, f"SELECT count(*) FROM {name} WHERE ({compiled.duckdb_sql}) IS FALSE"))
        constraints.append(
            {
                "type": "CHECK",
                "name": compiled.check.name,
                "expression": compiled.check.sql,
                "violations": bad,
            }
        )
    for col in table.columns:
        bad = _type_violations(con, table, col)
        if table.columns[col].type.kind in ("string", "int", "enum", "decimal", "uuid"):
            constraints.append(
                {"type": "TYPE", "columns": [col], "declared": table.columns[col].type.sql, "violations": bad}
            )
    columns: dict[str, Any] = {}
    model = gen.models[table.name]
    for col in table.columns.values():
        c = q(col.name)
        stats = con.execute(
            f"SELECT count(*) FILTER (WHERE {c} IS NULL), count(DISTINCT {c}), min({c}), max({c}) FROM {name}"
        ).fetchone()
        assert stats is not None
        samples = [
            _plain(r[0])
            for r in con.execute(
                f"SELECT DISTINCT {c} FROM {name} WHERE {c} IS NOT NULL ORDER BY {c} LIMIT {SAMPLES}"
            ).fetchall()
        ]
        columns[col.name] = {
            "type": col.type.sql,
            "meaning": model.specs[col.name].semantic,
            "null_pct": round(100.0 * stats[0] / rows, 2) if rows else 0.0,
            "distinct": int(stats[1]),
            "min": _plain(stats[2]),
            "max": _plain(stats[3]),
            "samples": samples,
        }
    return {
        "rows": rows,
        "violations": sum(c["violations"] for c in constraints),
        "constraints": constraints,
        "columns": columns,
    }


def build_report(
    schema: Schema,
    plan: Plan,
    gen: RelationalGenerator,
    sources: dict[str, pl.DataFrame | Path],
    seed: int,
    version: str,
) -> dict[str, Any]:
    con = connect_sources(sources)
    try:
        tables = {name: table_report(con, schema, gen, schema.tables[name]) for name in plan.insert_order}
    finally:
        con.close()
    total = sum(t["violations"] for t in tables.values())
    return {
        "schema": {"file": Path(schema.source).name, "sha256": schema.sha256, "dialect": schema.dialect},
        "seed": seed,
        "generator_version": version,
        "ok": total == 0,
        "violations": total,
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
        "tables": tables,
    }


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def violation_summary(report: dict[str, Any], limit: int = 8) -> str:
    """One line naming the violated constraints (for errors and the asset check)."""
    parts = []
    for name, t in report["tables"].items():
        for c in t["constraints"]:
            if c["violations"]:
                what = c.get("expression") or ", ".join(c.get("columns", []))
                parts.append(f"{name}: {c['type']} ({what}) x{c['violations']}")
    more = f" (+{len(parts) - limit} more)" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more if parts else "no violations"


__all__ = ["build_report", "check_label", "report_json", "violation_summary"]
