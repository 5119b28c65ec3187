"""Relational shards (docs/scale-out.md "Relational"): every table by row range, keys proven over all parts.

The unit a shard splits is the row number of the schema's largest table (``shard_units``): shard
``start .. stop`` of ``U`` units writes rows ``R * start // U .. R * stop // U`` of each table of ``R``
rows, so the parts of every table tile it in order and each part depends only on (seed, config, K, i).

A child row is drawn from its row number alone (keys are a permutation of it, a foreign key recomputes
the parent's key from the parent's row number), except where it reads a parent's *values*: anchors
(a loan after its member joined), copies (a line's price from its track) and line sums (an invoice's
total from its lines). The generator draws those parent tables (line tables for sums) whole, lazily, in
every shard that needs them; ``rows_drawn`` in each shard's manifest says what that cost.

Checks: each shard counts the per-row claims (NOT NULL, CHECK, declared type, PRIMARY KEY NULLs) of its
own parts, and raises before any part is left; the commit proves everything else over all parts with
one DuckDB connection reading them (PRIMARY KEY and UNIQUE duplicates, FOREIGN KEY orphans, hierarchies,
sums and the spec's rules: ``build_report`` over the parts), requires its per-row counts to equal the
shards' summed counts, and writes ``validation_report.json`` once, byte-identical to the unsharded one.
A violation names the table, the constraint and a part holding an offending row.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.core.export import ParquetBlockWriter
from synth_pipelines.domains.relational.constraints import compile_checks, lock_down
from synth_pipelines.domains.relational.ddl import Schema, Table
from synth_pipelines.domains.relational.export import CsvTableWriter, dictionary_columns, table_file_stems
from synth_pipelines.domains.relational.pipeline import GENERATOR_VERSION, Prepared
from synth_pipelines.domains.relational.report import (
    _type_violation,
    build_report,
    parquet_sql,
    q,
    report_json,
    violation_summary,
)

PARQUET_ROLE = "parquet:"
CSV_ROLE = "csv:"
REPORT_FILE = "validation_report.json"


def largest_table_rows(prepared: Prepared) -> int:
    """The rows of the largest table: every table's range is proportional to it."""
    return max(prepared.plan.rows.values(), default=0)


def table_range(rows: int, units: int, start: int, stop: int) -> tuple[int, int]:
    """Rows of a table of ``rows`` rows that units ``start .. stop`` of ``units`` hold."""
    if units == 0:
        return 0, 0
    return rows * start // units, rows * stop // units


def per_row_claims(table: Table, schema: Schema) -> list[tuple[str, str]]:
    """(label, SQL that is TRUE on a violating row of alias ``c``) for every claim a row decides alone,
    in the order ``report.table_report`` lists them; the labels are those of ``report_row_claims``."""
    claims: list[tuple[str, str]] = []
    if table.primary_key:
        nulls = " OR ".join(f"c.{q(c)} IS NULL" for c in table.primary_key)
        claims.append((f"PRIMARY KEY NULL ({', '.join(table.primary_key)})", nulls))
    claims += [(f"NOT NULL ({c.name})", f"c.{q(c.name)} IS NULL") for c in table.columns.values() if not c.nullable]
    claims += [
        (f"CHECK[{k}] ({c.check.sql})", f"({c.duckdb_sql}) IS FALSE")
        for k, c in enumerate(compile_checks(schema, table))
    ]
    for col in table.columns:
        cond = _type_violation(table, col)
        if cond is not None:
            claims.append((f"TYPE ({col})", cond))
    return claims


def report_row_claims(report: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The per-row claims of a validation report, per table, labelled as ``per_row_claims`` labels them."""
    out: dict[str, dict[str, int]] = {}
    for name, t in report["tables"].items():
        claims: dict[str, int] = {}
        checks = 0
        for c in t["constraints"]:
            if c["type"] == "PRIMARY KEY":
                claims[f"PRIMARY KEY NULL ({', '.join(c['columns'])})"] = c["nulls"]
            elif c["type"] in ("NOT NULL", "TYPE"):
                claims[f"{c['type']} ({c['columns'][0]})"] = c["violations"]
            elif c["type"] == "CHECK":
                claims[f"CHECK[{checks}] ({c['expression']})"] = c["violations"]
                checks += 1
        out[name] = claims
    return out


def locked_connection(files: list[Path]) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB that may read ``files`` and nothing else (CHECK expressions run on it)."""
    con = duckdb.connect(":memory:", config={"memory_limit": "512MB", "threads": 2})
    return lock_down(con, [str(p) for p in files])


def count_row_claims(schema: Schema, parquet: Mapping[str, Path]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Rows and per-row claim violations of each table's Parquet file (one query per table)."""
    rows: dict[str, int] = {}
    counts: dict[str, dict[str, int]] = {}
    con = locked_connection(list(parquet.values()))
    try:
        for name, path in parquet.items():
            claims = per_row_claims(schema.tables[name], schema)
            exprs = ["count(*)", *(f"count(*) FILTER (WHERE {sql})" for _, sql in claims)]
            values = con.execute(f"SELECT {', '.join(exprs)} FROM {parquet_sql(path)} AS c").fetchone()
            assert values is not None
            rows[name] = int(values[0])
            counts[name] = {label: int(v) for (label, _), v in zip(claims, values[1:], strict=True)}
    finally:
        con.close()
    return rows, counts


def write_shard(prepared: Prepared, start: int, stop: int, out_dir: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """Each table's rows for units ``start .. stop`` as Parquet and CSV (the unsharded run's writers and
    settings), its per-row claims counted; returns the files by role and the shard's check outcome."""
    schema, plan, gen = prepared.schema, prepared.plan, prepared.generator
    units = largest_table_rows(prepared)
    stems = table_file_stems(plan.insert_order)
    files: dict[str, Path] = {}
    parquet: dict[str, Path] = {}
    ranges: dict[str, list[int]] = {}
    try:
        for name in plan.insert_order:
            first, last = table_range(plan.rows[name], units, start, stop)
            ranges[name] = [first, last]
            frame_schema = gen.empty_frame(name).schema
            parquet[name] = out_dir / f"{stems[name]}.parquet"
            csv = out_dir / f"{stems[name]}.csv"
            with (
                ParquetBlockWriter(parquet[name], frame_schema, dictionary=dictionary_columns(gen.models[name])) as pw,
                CsvTableWriter(csv, frame_schema, schema.dialect) as cw,
            ):
                for block in gen.iter_range(name, first, last):
                    pw.write(block)
                    cw.write(block)
            files[f"{PARQUET_ROLE}{name}"] = parquet[name]
            files[f"{CSV_ROLE}{name}"] = csv
        rows_drawn = dict(gen.rows_drawn)
    finally:
        gen.close()
    rows, claims = count_row_claims(schema, parquet)
    bad = [f"{t}: {label} x{n}" for t, c in claims.items() for label, n in c.items() if n]
    if bad:
        raise ConstraintViolation(
            f"{schema.source} units {start}..{stop}: rows violate {'; '.join(bad[:8])}; nothing was written"
        )
    outcome = {
        "passed": True,
        "rows": rows,
        "row_claims": claims,
        # What the shard drew to write its rows: whole parents for anchors, copies and sums (the cost).
        "rows_drawn": rows_drawn,
        "table_ranges": {f"{start:012d}": ranges},
    }
    return files, outcome


def locate(
    con: duckdb.DuckDBPyConnection, schema: Schema, parts: Mapping[str, list[Path]], report: Mapping[str, Any]
) -> list[str]:
    """One line per violated PRIMARY KEY, UNIQUE or FOREIGN KEY naming a part that holds an offending row."""
    found: list[str] = []
    for name, t in report["tables"].items():
        table = schema.tables[name]
        source = parquet_sql(parts[name], filename=True)
        fks = iter(table.foreign_keys)
        for c in t["constraints"]:
            fk = next(fks) if c["type"] == "FOREIGN KEY" else None
            if not c["violations"] or c["type"] not in ("PRIMARY KEY", "UNIQUE", "FOREIGN KEY"):
                continue
            cols = ", ".join(f"c.{q(x)}" for x in c["columns"])
            set_ = " AND ".join(f"c.{q(x)} IS NOT NULL" for x in c["columns"])
            if fk is None:
                # The first duplicated key (in key order) and the parts holding its rows.
                same = " AND ".join(f"d.{q(x)} = c.{q(x)}" for x in c["columns"])
                sql = (
                    f"WITH d AS (SELECT {cols} FROM {source} AS c WHERE {set_} GROUP BY ALL "
                    f"HAVING count(*) > 1 ORDER BY ALL LIMIT 1) "
                    f"SELECT c.filename, {cols} FROM {source} AS c JOIN d ON {same} ORDER BY c.filename LIMIT 2"
                )
                what = "duplicate key"
            else:
                match = " AND ".join(f"p.{q(r)} = c.{q(x)}" for x, r in zip(fk.columns, fk.ref_columns, strict=True))
                parent = parquet_sql(parts[fk.ref_table])
                sql = (
                    f"SELECT c.filename, {cols} FROM {source} AS c WHERE {set_} AND NOT EXISTS "
                    f"(SELECT 1 FROM {parent} AS p WHERE {match}) LIMIT 1"
                )
                what = f"no {fk.ref_table} row"
            hits = con.execute(sql).fetchall()
            where = ", ".join(
                f"{Path(h[0]).parent.name}/{Path(h[0]).name} ({', '.join(map(str, h[1:]))})" for h in hits
            )
            found.append(
                f"table {name}: {c['type']} ({', '.join(c['columns'])}) x{c['violations']}: {what} in part {where}"
            )
    return found


def prove_set(
    prepared: Prepared, seed: int, checks: dict[str, Any], parts: Mapping[str, list[Path]], out_dir: Path
) -> tuple[dict[str, Any], Path]:
    """The constraint report of the whole set, from every part (DuckDB), written once as
    ``validation_report.json``; raises ``ConstraintViolation`` naming table, constraint and part."""
    schema, plan, gen = prepared.schema, prepared.plan, prepared.generator
    tables = {name: parts[f"{PARQUET_ROLE}{name}"] for name in plan.insert_order}
    try:
        report = build_report(schema, plan, gen, dict(tables), seed, GENERATOR_VERSION)
    finally:
        gen.close()
    if not report["ok"]:
        files = [p for paths in tables.values() for p in paths]
        con = locked_connection(files)
        try:
            located = locate(con, schema, tables, report)
        finally:
            con.close()
        detail = "; ".join(located) if located else violation_summary(report)
        raise ConstraintViolation(f"{schema.source} seed={seed}: the shard set violates constraints: {detail}")
    summed = checks.get("row_claims", {})
    recounted = report_row_claims(report)
    if summed != recounted or checks.get("rows") != report["rows"]:
        raise ConstraintViolation(
            f"{schema.source} seed={seed}: the shards' per-row counts differ from the count over all parts "
            f"(rows {checks.get('rows')} vs {report['rows']})"
        )
    stems = table_file_stems(plan.insert_order)
    if any(stem != name for name, stem in stems.items()):
        report["table_files"] = dict(stems)  # as export_dataset adds it
    target = out_dir / REPORT_FILE
    target.write_text(report_json(report), encoding="utf-8")
    outcome = checks | {
        "passed": True,
        "violations": report["violations"],
        "rule_violations": report["rule_violations"],
        "proven_over_all_parts": "PRIMARY KEY, UNIQUE, FOREIGN KEY, hierarchies, sums, spec rules",
    }
    return outcome, target
