# No `from __future__ import annotations` here: Dagster reads the run-config class from real annotations.
"""Turn a ``Domain`` into a seed-partitioned asset group.

``config -> raw -> normalized -> validated -> exported``; intermediate frames live in the DuckDB
warehouse (one table per asset, a ``seed`` column for the partition), exports on disk. The
``validated`` asset carries a blocking check, so a partition with any invalid row is never exported.
"""

import json
import time
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from synth_pipelines.core.atomic import atomic_dir
from synth_pipelines.core.domain import Domain, RunContext
from synth_pipelines.core.preview import markdown_table
from synth_pipelines.orchestration.partitions import parse_seed, seed_partitions
from synth_pipelines.orchestration.resources import SynthDataDir

PARTITION_META = {"partition_expr": "seed"}


def column_schema(df: pl.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, str(dtype)) for name, dtype in df.schema.items()])


def frame_metadata(df: pl.DataFrame, seed: int, version: str, seconds: float | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "dagster/row_count": df.height,
        "dagster/column_schema": column_schema(df),
        "seed": seed,
        "generator_version": version,
        "preview": dg.MetadataValue.md(markdown_table(df.drop("seed", strict=False), limit=10)),
    }
    if seconds is not None:
        meta["seconds"] = round(seconds, 4)
        meta["rows_per_second"] = round(df.height / seconds, 1) if seconds > 0 else 0.0
    return meta


def with_seed(df: pl.DataFrame, seed: int) -> pl.DataFrame:
    return df.with_columns(pl.lit(seed, dtype=pl.Int64).alias("seed"))


def config_class(domain: Domain) -> type[dg.Config]:
    """The domain's pydantic config model as Dagster run config (same fields, same defaults)."""
    return type(f"{domain.config_model.__name__}RunConfig", (domain.config_model, dg.Config), {})


def build_domain_assets(domain: Domain) -> list[dg.AssetsDefinition]:
    group = domain.name
    run_config_cls = config_class(domain)
    common: dict[str, Any] = {"group_name": group, "partitions_def": seed_partitions, "metadata": PARTITION_META}
    key = lambda name: dg.AssetKey([group, name])  # noqa: E731

    def context_for(context: dg.AssetExecutionContext, synth_data: SynthDataDir) -> RunContext:
        resources = {name: getattr(context.resources, name) for name in getattr(domain, "resource_keys", ())}
        return RunContext(data_dir=synth_data.root, log=context.log, resources=resources)

    def load_cfg(cfg: pl.DataFrame) -> Any:
        return domain.parse_config(json.loads(cfg["config_json"][0]))

    @dg.asset(key=key("config"), kinds={"python"}, description=f"Run config of {group}, one row per seed.", **common)
    def config_asset(context: dg.AssetExecutionContext, config: run_config_cls) -> dg.Output[pl.DataFrame]:  # type: ignore[valid-type]
        seed = parse_seed(context.partition_key)
        cfg = domain.parse_config(config.model_dump())  # type: ignore[attr-defined]
        config_json = cfg.model_dump_json()
        frame = pl.DataFrame(
            {"seed": [seed], "domain": [group], "generator_version": [domain.version], "config_json": [config_json]}
        )
        return dg.Output(frame, metadata={"seed": seed, "config": dg.MetadataValue.json(json.loads(config_json))})

    raw_kwargs: dict[str, Any] = {"pool": "llm"} if domain.uses_llm else {}

    @dg.asset(
        key=key("raw"),
        ins={"cfg": dg.AssetIn(key("config"))},
        kinds={"polars", "duckdb"},
        description=f"Raw draw of {group}: records as a source would emit them.",
        required_resource_keys={"synth_data", *getattr(domain, "resource_keys", ())},
        **raw_kwargs,
        **common,
    )
    def raw(context: dg.AssetExecutionContext, cfg: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        seed = parse_seed(context.partition_key)
        started = time.perf_counter()
        ctx = context_for(context, context.resources.synth_data)
        frame = domain.draw(load_cfg(cfg), seed, ctx)
        meta = frame_metadata(frame, seed, domain.version, time.perf_counter() - started) | ctx.metadata
        return dg.Output(with_seed(frame, seed), metadata=meta)

    @dg.asset(
        key=key("normalized"),
        ins={"cfg": dg.AssetIn(key("config")), "raw": dg.AssetIn(key("raw"))},
        kinds={"polars", "duckdb"},
        description=f"{group} parsed and canonicalised into typed records.",
        **common,
    )
    def normalized(context: dg.AssetExecutionContext, cfg: pl.DataFrame, raw: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        seed = parse_seed(context.partition_key)
        started = time.perf_counter()
        frame = domain.normalize(raw.drop("seed"), load_cfg(cfg))
        return dg.Output(
            with_seed(frame, seed), metadata=frame_metadata(frame, seed, domain.version, time.perf_counter() - started)
        )

    check_name = "no_invalid_rows"

    @dg.asset(
        key=key("validated"),
        ins={"normalized": dg.AssetIn(key("normalized"))},
        kinds={"pandera", "duckdb"},
        description=f"{group} checked against its pandera schema; the blocking check fails on any invalid row.",
        check_specs=[
            dg.AssetCheckSpec(
                check_name, asset=key("validated"), blocking=True, description="Every record passes the schema."
            )
        ],
        **common,
    )
    def validated(context: dg.AssetExecutionContext, normalized: pl.DataFrame):  # type: ignore[no-untyped-def]
        seed = parse_seed(context.partition_key)
        clean = domain.conform(normalized.drop("seed"))
        outcome = domain.validate(clean)
        meta = frame_metadata(clean, seed, domain.version) | {
            "invalid_rows": outcome.invalid_rows,
            "failure_case_count": outcome.failure_cases.height,
            "failure_cases": dg.MetadataValue.md(outcome.markdown()),
        }
        if not outcome.ok:
            context.log.error(f"{group} seed={seed}: {outcome.summary()}")
        yield dg.Output(with_seed(clean, seed), metadata=meta)
        yield dg.AssetCheckResult(
            check_name=check_name,
            asset_key=key("validated"),
            passed=outcome.ok,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "invalid_rows": outcome.invalid_rows,
                "failure_cases": dg.MetadataValue.md(outcome.markdown()),
                "seed": seed,
            },
        )

    @dg.asset(
        key=key("exported"),
        ins={"cfg": dg.AssetIn(key("config")), "validated": dg.AssetIn(key("validated"))},
        kinds={"parquet", "json"},
        description=f"{group} written atomically to data/exports/{group}/seed=<seed>/.",
        required_resource_keys={"synth_data", *getattr(domain, "resource_keys", ())},
        group_name=group,
        partitions_def=seed_partitions,
    )
    def exported(context: dg.AssetExecutionContext, cfg: pl.DataFrame, validated: pl.DataFrame) -> dg.MaterializeResult:
        seed = parse_seed(context.partition_key)
        synth_data: SynthDataDir = context.resources.synth_data
        clean = domain.conform(validated.drop("seed"))
        target = synth_data.export_dir(group, seed)
        started = time.perf_counter()
        with atomic_dir(target) as tmp:
            files = domain.export(clean, load_cfg(cfg), seed, tmp, context_for(context, synth_data))
        seconds = time.perf_counter() - started
        final = {role: target / Path(path).relative_to(tmp) for role, path in files.items()}
        listing = "\n".join(f"- `{role}`: `{path}` ({path.stat().st_size:,} bytes)" for role, path in final.items())
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": clean.height,
                "seed": seed,
                "generator_version": domain.version,
                "export_dir": dg.MetadataValue.path(str(target)),
                "files": dg.MetadataValue.md(listing),
                "bytes_written": sum(p.stat().st_size for p in final.values()),
                "seconds": round(seconds, 4),
            }
        )

    return [config_asset, raw, normalized, validated, exported]
