"""Dagster wiring: every DDL file in ``data/schemas/`` becomes a seed-partitioned asset group.

``<group>/dataset_config -> <group>/<table> (one asset per table, deps follow the foreign keys) ->
<group>/validation_report (blocking check: zero violations) -> <group>/dataset_export``.
The group name is the file stem. Table frames live in the DuckDB warehouse (schema = group);
the export asset writes the same files as ``synth relational`` (same code, same bytes).
"""

import json
import re
import time
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from synth_pipelines.core.atomic import atomic_dir
from synth_pipelines.domains.relational.ddl import DDL_SUFFIXES, load_ddl
from synth_pipelines.domains.relational.pipeline import (
    GENERATOR_VERSION,
    Prepared,
    RelationalConfig,
    export_dataset,
    prepare,
)
from synth_pipelines.domains.relational.report import violation_summary
from synth_pipelines.orchestration.factory import PARTITION_META, frame_metadata, with_seed
from synth_pipelines.orchestration.partitions import parse_seed, seed_partitions
from synth_pipelines.orchestration.resources import PROJECT_ROOT, SynthDataDir

SCHEMAS_DIR = PROJECT_ROOT / "data" / "schemas"
RESERVED = ("dataset_config", "validation_report", "dataset_export")
CHECK_NAME = "all_constraints_hold"


class RelationalRunConfig(dg.Config):
    """Run config of a relational group; validated by ``RelationalConfig`` (same fields and defaults as the CLI)."""

    rows: int = RelationalConfig.model_fields["rows"].default
    # Dagster config is pydantic: a field default is copied per instance, never shared.
    table_rows: dict[str, int] = {}  # noqa: RUF012
    fanout: float = RelationalConfig.model_fields["fanout"].default
    dialect: str | None = None


def asset_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).lower().strip("_") or "schema"
    return f"s_{name}" if name[0].isdigit() else name


def schema_files(directory: Path = SCHEMAS_DIR) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in DDL_SUFFIXES)


def conform(frame: pl.DataFrame, prepared: Prepared, table: str) -> pl.DataFrame:
    """A table frame back from the warehouse with exactly the generator's dtypes and columns."""
    target = prepared.generator.empty_frame(table).schema
    frame = frame.drop("seed", strict=False)
    exprs = []
    for name, dtype in target.items():
        col = pl.col(name)
        have = frame.schema[name]
        if have == dtype:
            exprs.append(col)
        elif isinstance(dtype, pl.Datetime) and isinstance(have, pl.Datetime) and dtype.time_zone and have.time_zone:
            exprs.append(col.dt.convert_time_zone(dtype.time_zone).dt.cast_time_unit("us"))
        else:
            exprs.append(col.cast(dtype))
    return frame.select(exprs)


def build_relational_assets(ddl_path: Path) -> list[dg.AssetsDefinition]:
    """The asset group of one DDL file."""
    schema = load_ddl(ddl_path)
    group = asset_name(ddl_path.stem)
    table_keys = {t: asset_name(t) for t in schema.tables}
    clash = [t for t, k in table_keys.items() if k in RESERVED] or [
        t for t, k in table_keys.items() if list(table_keys.values()).count(k) > 1
    ]
    if clash:
        raise ValueError(f"{ddl_path}: table name(s) {', '.join(clash)} clash with the group's asset names")
    key = lambda name: dg.AssetKey([group, name])  # noqa: E731
    common: dict[str, Any] = {"group_name": group, "partitions_def": seed_partitions}

    def load(cfg: pl.DataFrame, seed: int) -> Prepared:
        return prepare(ddl_path, RelationalConfig.model_validate_json(cfg["config_json"][0]), seed)

    @dg.asset(
        key=key("dataset_config"),
        kinds={"python"},
        description=f"Run config for {ddl_path.name} (rows, per-table rows, fan-out), one row per seed.",
        metadata=PARTITION_META,
        **common,
    )
    def dataset_config(context: dg.AssetExecutionContext, config: RelationalRunConfig) -> dg.Output[pl.DataFrame]:
        seed = parse_seed(context.partition_key)
        cfg = RelationalConfig.model_validate(config.model_dump())
        prepared = prepare(ddl_path, cfg, seed)  # fails here, clearly, on bad DDL or impossible counts
        frame = pl.DataFrame(
            {
                "seed": [seed],
                "ddl_file": [ddl_path.name],
                "ddl_sha256": [schema.sha256],
                "generator_version": [GENERATOR_VERSION],
                "config_json": [cfg.model_dump_json()],
            }
        )
        return dg.Output(
            frame,
            metadata={
                "seed": seed,
                "config": dg.MetadataValue.json(json.loads(cfg.model_dump_json())),
                "insert_order": ", ".join(prepared.plan.insert_order),
                "rows_planned": dg.MetadataValue.json(prepared.plan.rows),
            },
        )

    assets: list[dg.AssetsDefinition] = [dataset_config]
    deferred_edges = {(fk.table, fk.ref_table) for fk in load_plan_deferred(schema)}
    for table in schema.tables.values():
        parents = sorted(
            {
                fk.ref_table
                for fk in table.foreign_keys
                if fk.ref_table != table.name and (table.name, fk.ref_table) not in deferred_edges
            }
        )
        assets.append(_table_asset(ddl_path, group, table.name, table_keys, parents, key, load, common))

    table_ins = {f"t_{table_keys[t]}": dg.AssetIn(key(table_keys[t])) for t in schema.tables}

    @dg.asset(
        key=key("validation_report"),
        ins={"cfg": dg.AssetIn(key("dataset_config")), **table_ins},
        kinds={"duckdb"},
        description="Every PK, FK, UNIQUE, NOT NULL, CHECK and type limit counted over the generated tables.",
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_NAME,
                asset=key("validation_report"),
                blocking=True,
                description="Zero constraint violations.",
            )
        ],
        metadata=PARTITION_META,
        **common,
    )
    def validation_report(context: dg.AssetExecutionContext, cfg: pl.DataFrame, **tables: pl.DataFrame):  # type: ignore[no-untyped-def]
        seed = parse_seed(context.partition_key)
        prepared = load(cfg, seed)
        frames = {t: conform(tables[f"t_{table_keys[t]}"], prepared, t) for t in schema.tables}
        from synth_pipelines.domains.relational.report import build_report, report_json

        report = build_report(prepared.schema, prepared.plan, prepared.generator, dict(frames), seed, GENERATOR_VERSION)
        summary = violation_summary(report)
        meta = {
            "seed": seed,
            "generator_version": GENERATOR_VERSION,
            "violations": report["violations"],
            "insert_order": ", ".join(report["insert_order"]),
            "rows": dg.MetadataValue.json(report["rows"]),
            "constraints": dg.MetadataValue.md(_constraints_markdown(report)),
        }
        if not report["ok"]:
            context.log.error(f"{group} seed={seed}: {summary}")
        frame = pl.DataFrame(
            {
                "seed": [seed],
                "ok": [report["ok"]],
                "violations": [report["violations"]],
                "report_json": [report_json(report)],
            }
        )
        yield dg.Output(frame, metadata=meta)
        yield dg.AssetCheckResult(
            check_name=CHECK_NAME,
            asset_key=key("validation_report"),
            passed=bool(report["ok"]),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"violations": report["violations"], "summary": summary, "seed": seed},
        )

    @dg.asset(
        key=key("dataset_export"),
        ins={
            "cfg": dg.AssetIn(key("dataset_config")),
            "report": dg.AssetIn(key("validation_report")),
            **table_ins,
        },
        kinds={"parquet", "csv", "duckdb"},
        description=f"{group} written atomically to data/exports/{group}/seed=<seed>/ (same bytes as the CLI).",
        required_resource_keys={"synth_data"},
        **common,
    )
    def dataset_export(
        context: dg.AssetExecutionContext, cfg: pl.DataFrame, report: pl.DataFrame, **tables: pl.DataFrame
    ) -> dg.MaterializeResult:
        seed = parse_seed(context.partition_key)
        prepared = load(cfg, seed)
        frames = {t: conform(tables[f"t_{table_keys[t]}"], prepared, t) for t in schema.tables}
        synth_data: SynthDataDir = context.resources.synth_data
        target = synth_data.export_dir(group, seed)
        started = time.perf_counter()
        with atomic_dir(target) as tmp:
            result, files = export_dataset(prepared, seed, tmp, tables=frames)
        final = {role: target / path.name for role, path in files.items()}
        listing = "\n".join(f"- `{p.name}` ({p.stat().st_size:,} bytes)" for p in final.values())
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(result["rows"].values()),
                "seed": seed,
                "generator_version": GENERATOR_VERSION,
                "export_dir": dg.MetadataValue.path(str(target)),
                "files": dg.MetadataValue.md(listing),
                "bytes_written": sum(p.stat().st_size for p in final.values()),
                "seconds": round(time.perf_counter() - started, 4),
            }
        )

    return [*assets, validation_report, dataset_export]


def load_plan_deferred(schema: Any) -> tuple[Any, ...]:
    from synth_pipelines.domains.relational.plan import insert_order

    return insert_order(schema)[1]


def _table_asset(
    ddl_path: Path,
    group: str,
    table: str,
    table_keys: dict[str, str],
    parents: list[str],
    key: Any,
    load: Any,
    common: dict[str, Any],
) -> dg.AssetsDefinition:
    @dg.asset(
        key=key(table_keys[table]),
        ins={"cfg": dg.AssetIn(key("dataset_config"))},
        deps=[key(table_keys[p]) for p in parents],
        kinds={"polars", "duckdb"},
        description=f"Table {table} of {ddl_path.name}"
        + (f"; references {', '.join(parents)}" if parents else "")
        + ". Keys and foreign keys by construction, CHECKs evaluated exactly.",
        metadata=PARTITION_META,
        **common,
    )
    def table_asset(context: dg.AssetExecutionContext, cfg: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        seed = parse_seed(context.partition_key)
        started = time.perf_counter()
        prepared = load(cfg, seed)
        frame = prepared.generator.table_frame(table)
        if frame.height == 0:
            raise dg.Failure(
                f"{table}: 0 rows planned; the DuckDB warehouse cannot store an empty table. "
                "Set rows >= 1 for it (the CLI writes empty tables)."
            )
        meta = frame_metadata(frame, seed, GENERATOR_VERSION, time.perf_counter() - started)
        return dg.Output(with_seed(frame, seed), metadata=meta)

    return table_asset


def _constraints_markdown(report: dict[str, Any]) -> str:
    lines = ["| table | constraint | columns | violations |", "|---|---|---|---|"]
    for name, t in report["tables"].items():
        for c in t["constraints"]:
            if c["type"] in ("NOT NULL", "TYPE"):
                continue
            what = c.get("expression") or ", ".join(c.get("columns", []))
            extra = f" (coverage {c['coverage_pct']}%)" if c["type"] == "FOREIGN KEY" else ""
            lines.append(f"| {name} | {c['type']}{extra} | {what} | {c['violations']} |")
    return "\n".join(lines)


def build_all_relational_assets(directory: Path = SCHEMAS_DIR) -> list[dg.AssetsDefinition]:
    return [a for path in schema_files(directory) for a in build_relational_assets(path)]
