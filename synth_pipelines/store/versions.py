"""What a version is made of: its tables re-read as the relational domain wrote them, validated whole, diffed
against its parent, and exported to a zip whose bytes depend on the version's files only."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from synth_pipelines.domains.relational.constraints import lock_down
from synth_pipelines.domains.relational.ddl import Schema, parse_ddl
from synth_pipelines.domains.relational.export import ZIP_TIME, CsvTableWriter, frame_blocks, write_zip
from synth_pipelines.domains.relational.generate import RelationalGenerator
from synth_pipelines.domains.relational.pipeline import GENERATOR_VERSION, Prepared, RelationalConfig, plan_and_spec
from synth_pipelines.domains.relational.report import build_report, connect_sources, q, violation_summary
from synth_pipelines.store.catalog import REPORT_FILE, SPEC_FILE, DatasetInfo, DatasetStore

DIFF_SAMPLES = 3
EXPORT_FORMATS = ("csv", "parquet")


def schema_of(info: DatasetInfo) -> Schema:
    return parse_ddl(info.ddl, info.config.get("ddl_file", f"{info.id}.sql"), info.dialect)


def prepare_from_spec(info: DatasetInfo, spec_file: Path, schema: Schema | None = None) -> Prepared:
    """The relational generator for the stored DDL, config and seed with the spec in ``spec_file``."""
    schema = schema or schema_of(info)
    fields = {k: v for k, v in info.config.items() if k in RelationalConfig.model_fields}
    cfg = RelationalConfig.model_validate(fields | {"spec": str(spec_file)})
    plan, resolved = plan_and_spec(schema, cfg)
    return Prepared(schema, plan, RelationalGenerator(schema, plan, info.seed, resolved))


def validate_files(prepared: Prepared, files: dict[str, Path], seed: int) -> dict[str, Any]:
    """The relational validation report over a version's Parquet files: every constraint and spec rule."""
    return build_report(prepared.schema, prepared.plan, prepared.generator, dict(files), seed, GENERATOR_VERSION)


def refusal(report: dict[str, Any]) -> str:
    return f"the new version violates {violation_summary(report)}; the current version is unchanged"


def generation_meta(prepared: Prepared, files: dict[str, Path], report: dict[str, Any]) -> dict[str, Any]:
    """``generation_meta``: table order, primary keys, foreign-key counts, per-column stats and the report."""
    schema = prepared.schema
    fks: list[dict[str, Any]] = []
    con = connect_sources(dict(files))
    try:
        for name in prepared.plan.insert_order:
            for fk in schema.tables[name].foreign_keys:
                cols = ", ".join(q(c) for c in fk.columns)
                set_rows = " AND ".join(f"{q(c)} IS NOT NULL" for c in fk.columns)
                row = con.execute(
                    f"SELECT count(*) FILTER (WHERE {set_rows}), count(DISTINCT ({cols})) FILTER (WHERE {set_rows}) "
                    f"FROM {q(name)}"
                ).fetchone()
                assert row is not None
                fks.append(
                    {
                        "table": name,
                        "columns": list(fk.columns),
                        "references": f"{fk.ref_table}({', '.join(fk.ref_columns)})",
                        "rows_with_reference": int(row[0]),
                        "distinct_parents": int(row[1]),
                    }
                )
    finally:
        con.close()
    return {
        "table_order": list(prepared.plan.insert_order),
        "primary_keys": {n: list(schema.tables[n].primary_key) for n in prepared.plan.insert_order},
        "rows": report["rows"],
        "foreign_keys": fks,
        "column_stats": {n: t["columns"] for n, t in report["tables"].items()},
        "validation_report": report,
    }


def write_report(folder: Path, report: dict[str, Any]) -> None:
    (folder / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def current_spec_file(store: DatasetStore, info: DatasetInfo, version: int | None = None) -> Path:
    return store.version_dir(info.id, version or info.current_version) / SPEC_FILE


# --------------------------------------------------------------------------------------------------
# Diff


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or []]
    return [{n: _json_value(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def diff_versions(
    info: DatasetInfo, before: dict[str, Path], after: dict[str, Path], before_hashes: dict[str, str] | None = None
) -> dict[str, Any]:
    """Rows added, changed and deleted per table (by primary key; without one, as multisets), with samples."""
    from synth_pipelines.core.atomic import file_sha256

    tables: dict[str, Any] = {}
    changed_names = [
        n
        for n in info.table_order
        if (before_hashes or {}).get(n, file_sha256(before[n]) if n in before else "") != file_sha256(after[n])
    ]
    sources: dict[str, Path] = {}
    for n in changed_names:
        sources[f"old__{n}"] = before[n]
        sources[f"new__{n}"] = after[n]
    con = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": "512MB"})
    for alias, path in sources.items():
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"CREATE VIEW {q(alias)} AS SELECT * FROM read_parquet({literal})")
    lock_down(con, [str(p) for p in sources.values()])
    try:
        for n in info.table_order:
            if n not in changed_names:
                tables[n] = {"added": 0, "changed": 0, "deleted": 0}
                continue
            old, new = q(f"old__{n}"), q(f"new__{n}")
            pk = info.meta["primary_keys"].get(n) or []
            if pk:
                on = " AND ".join(f"o.{q(c)} = n.{q(c)}" for c in pk)
                cols = list(pl.read_parquet_schema(after[n]))
                same = " AND ".join(f"o.{q(c)} IS NOT DISTINCT FROM n.{q(c)}" for c in cols)
                first = q(pk[0])
                order = ", ".join(q(c) for c in pk)
                added = f"SELECT n.* FROM {new} n ANTI JOIN {old} o ON {on}"
                deleted = f"SELECT o.* FROM {old} o ANTI JOIN {new} n ON {on}"
                changed_keys = f"SELECT n.* FROM {new} n JOIN {old} o ON {on} WHERE NOT ({same})"
                counts = con.execute(
                    f"SELECT (SELECT count(*) FROM ({added})), (SELECT count(*) FROM ({changed_keys})), "
                    f"(SELECT count(*) FROM ({deleted}))"
                ).fetchone()
                assert counts is not None
                entry: dict[str, Any] = {"added": counts[0], "changed": counts[1], "deleted": counts[2]}
                entry["samples"] = {
                    "added": _rows(con, f"SELECT * FROM ({added}) ORDER BY {order} LIMIT {DIFF_SAMPLES}"),
                    "deleted": _rows(con, f"SELECT * FROM ({deleted}) ORDER BY {order} LIMIT {DIFF_SAMPLES}"),
                    "changed": [
                        {
                            "before": _rows(con, f"SELECT * FROM {old} o WHERE {_key_match('o', pk, row)}")[0],
                            "after": row,
                        }
                        for row in _rows(con, f"SELECT * FROM ({changed_keys}) ORDER BY {order} LIMIT {DIFF_SAMPLES}")
                    ],
                }
                del first
            else:
                added = f"SELECT * FROM {new} EXCEPT ALL SELECT * FROM {old}"
                deleted = f"SELECT * FROM {old} EXCEPT ALL SELECT * FROM {new}"
                counts = con.execute(
                    f"SELECT (SELECT count(*) FROM ({added})), (SELECT count(*) FROM ({deleted}))"
                ).fetchone()
                assert counts is not None
                entry = {"added": counts[0], "changed": 0, "deleted": counts[1]}
                entry["samples"] = {
                    "added": _rows(con, f"SELECT * FROM ({added}) LIMIT {DIFF_SAMPLES}"),
                    "deleted": _rows(con, f"SELECT * FROM ({deleted}) LIMIT {DIFF_SAMPLES}"),
                    "changed": [],
                }
            tables[n] = entry
    finally:
        con.close()
    totals = {k: sum(t[k] for t in tables.values()) for k in ("added", "changed", "deleted")}
    return {"totals": totals, "tables": tables}


def _key_match(alias: str, pk: list[str], row: dict[str, Any]) -> str:
    parts = []
    for c in pk:
        value = row[c]
        literal = str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"
        parts.append(f"CAST({alias}.{q(c)} AS VARCHAR) = CAST({literal} AS VARCHAR)")
    return " AND ".join(parts)


def diff_line(diff: dict[str, Any]) -> str:
    """``members: 12 changed; loans: 3 deleted`` (tables with no change left out)."""
    parts = []
    for name, t in diff["tables"].items():
        words = [f"{t[k]} {k}" for k in ("added", "changed", "deleted") if t[k]]
        if words:
            parts.append(f"{name}: {', '.join(words)}")
    return "; ".join(parts) if parts else "no rows changed"


# --------------------------------------------------------------------------------------------------
# Export


def export_version(info: DatasetInfo, files: dict[str, Path], out: Path, fmt: str) -> Path:
    """A zip of the version's tables (CSV, or the Parquet files as stored), fixed timestamps and order: the
    same version always gives the same bytes."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    if fmt == "csv":
        with tempfile.TemporaryDirectory(prefix="synth-export-") as tmp:
            csvs = []
            for name in info.table_order:
                frame = pl.read_parquet(files[name])
                path = Path(tmp) / f"{name}.csv"
                with CsvTableWriter(path, frame.schema) as writer:
                    for block in frame_blocks(frame):
                        if block.height:
                            writer.write(block)
                csvs.append(path)
            return write_zip(csvs, out)
    from synth_pipelines.core.atomic import atomic_path

    with atomic_path(out) as tmp_zip, zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in info.table_order:
            entry = zipfile.ZipInfo(f"{name}.parquet", date_time=ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.create_system = 3
            zf.writestr(entry, files[name].read_bytes())
    return out
