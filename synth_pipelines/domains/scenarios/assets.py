"""Every registered scenario as its own seed-partitioned asset group.

``config -> [entity tables] -> records -> validated -> exported`` in group ``scenario_<name>``.
The foundation factory's shape does not fit a scenario (several tables, checks that depend on the
arguments), so this wires the same pure steps the CLI runs (``run.py``), reusing the factory's
helpers. ``records`` runs in the ``llm`` concurrency pool and gets its generator from the ``llm``
resource (``LLMResource``: provider, model, cache under ``data/``, retries, budgets); with the
offline provider the scenario draws its text from vocabularies. The provider's stats (requests,
cache hits, tokens, retries, failures, records/s) become the ``records`` asset's metadata.
"""

# No `from __future__ import annotations`: Dagster resolves the run-config annotation, a local class.
import json
import time
from typing import Any

import dagster as dg
import polars as pl

from synth_pipelines.core.atomic import atomic_dir
from synth_pipelines.domains.scenarios.base import Scenario, ScenarioArgumentError
from synth_pipelines.domains.scenarios.records import conform
from synth_pipelines.domains.scenarios.registry import load_catalog
from synth_pipelines.domains.scenarios.run import (
    dataset_problems,
    draw_entities,
    generate_records,
    write_dataset,
)
from synth_pipelines.llm.contract import LLMError
from synth_pipelines.llm.generate import build_generator
from synth_pipelines.llm.resource import POOL, RESOURCE_KEY, settings_of
from synth_pipelines.orchestration.factory import PARTITION_META, frame_metadata, with_seed
from synth_pipelines.orchestration.partitions import parse_seed, seed_partitions
from synth_pipelines.orchestration.resources import SynthDataDir


def _as_metadata(values: dict[str, Any]) -> dict[str, Any]:
    return {k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in values.items()}


def _run_config_class(scenario: Scenario) -> type[dg.Config]:
    return type(f"{scenario.config_model.__name__}RunConfig", (scenario.config_model, dg.Config), {})


def build_scenario_assets(scenario: Scenario) -> list[dg.AssetsDefinition]:
    group = scenario.group_name
    run_config_cls = _run_config_class(scenario)
    common: dict[str, Any] = {
        "group_name": group,
        "partitions_def": seed_partitions,
        "metadata": PARTITION_META,
    }
    key = lambda name: dg.AssetKey([group, name])  # noqa: E731
    entity_keys = {table: key(table) for table in scenario.entity_tables}
    record_schema = scenario.record_schema()

    def load_cfg(cfg: pl.DataFrame) -> Any:
        return scenario.parse_config(json.loads(cfg["config_json"][0]))

    def entity_frames(cfg: Any, seed: int, loaded: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        # DuckDB widens some dtypes; the re-drawn frame (deterministic) gives the exact schema back.
        fresh = draw_entities(scenario, cfg, seed)
        return {t: conform(loaded[t].drop("seed"), fresh[t].schema) for t in scenario.entity_tables}

    @dg.asset(key=key("config"), kinds={"python"}, description=f"Arguments of scenario {scenario.name}.", **common)
    def config_asset(context: dg.AssetExecutionContext, config: run_config_cls) -> dg.Output[pl.DataFrame]:  # type: ignore[valid-type]
        seed = parse_seed(context.partition_key)
        try:
            cfg = scenario.parse_config(config.model_dump())  # type: ignore[attr-defined]
        except ScenarioArgumentError as exc:
            raise dg.Failure(description=str(exc)) from None
        config_json = cfg.model_dump_json()
        frame = pl.DataFrame(
            {
                "seed": [seed],
                "scenario": [scenario.name],
                "version": [scenario.version],
                "config_json": [config_json],
            }
        )
        return dg.Output(frame, metadata={"seed": seed, "config": dg.MetadataValue.json(json.loads(config_json))})

    assets: list[dg.AssetsDefinition] = [config_asset]

    if entity_keys:

        @dg.multi_asset(
            outs={
                t: dg.AssetOut(key=k, kinds={"polars", "duckdb"}, metadata=PARTITION_META, is_required=True)
                for t, k in entity_keys.items()
            },
            ins={"cfg": dg.AssetIn(key("config"))},
            group_name=group,
            partitions_def=seed_partitions,
            name=f"{group}_entities",
            description=f"Entity tables of scenario {scenario.name}: {', '.join(entity_keys)}.",
        )
        def entities_asset(context: dg.AssetExecutionContext, cfg: pl.DataFrame):  # type: ignore[no-untyped-def]
            seed = parse_seed(context.partition_key)
            for table, frame in draw_entities(scenario, load_cfg(cfg), seed).items():
                yield dg.Output(
                    with_seed(frame, seed),
                    output_name=table,
                    metadata=frame_metadata(frame, seed, scenario.version),
                )

        assets.append(entities_asset)

    entity_ins = {t: dg.AssetIn(k) for t, k in entity_keys.items()}

    @dg.asset(
        key=key("records"),
        ins={"cfg": dg.AssetIn(key("config")), **entity_ins},
        kinds={"polars", "duckdb"},
        description=f"{scenario.record_name} of scenario {scenario.name}: planned facts plus text from the "
        "LLM provider (or offline); failed records are skipped and counted.",
        required_resource_keys={"synth_data", RESOURCE_KEY},
        pool=POOL,
        **common,
    )
    def records(
        context: dg.AssetExecutionContext, cfg: pl.DataFrame, **entities: pl.DataFrame
    ) -> dg.Output[pl.DataFrame]:
        seed = parse_seed(context.partition_key)
        parsed = load_cfg(cfg)
        synth_data: SynthDataDir = context.resources.synth_data
        started = time.perf_counter()
        frames = entity_frames(parsed, seed, entities)
        settings = settings_of(getattr(context.resources, RESOURCE_KEY))
        provider = {"llm_provider": settings.provider, "llm_model": settings.model}  # never the key
        generator = build_generator(settings, synth_data.root, log=context.log)
        try:
            generated = generate_records(scenario, parsed, seed, frames, generator, log=context.log)
        except LLMError as exc:  # bad credentials or failure budget exceeded: stop, with the stats so far
            raise dg.Failure(
                description=f"{scenario.name} seed={seed}: {exc}",
                metadata=_as_metadata(provider | generator.stats.as_metadata()),
            ) from None
        finally:
            close = getattr(generator, "close", None)
            if close is not None:
                close()
        context.log.info(f"{scenario.name} seed={seed}: {generated.summary()}")
        if not settings.is_offline:
            context.log.info(f"{settings.provider}/{settings.model}: {generated.provider_summary()}")
        if generated.records.height == 0:
            # The warehouse skips empty frames, so an empty partition would break every reader.
            raise dg.Failure(
                description=f"{scenario.name} seed={seed}: {generated.summary()}",
                metadata=_as_metadata(provider | generated.metadata()),
            )
        meta = frame_metadata(generated.records, seed, scenario.version, time.perf_counter() - started)
        meta |= _as_metadata(provider | generated.metadata())
        return dg.Output(with_seed(generated.records, seed), metadata=meta)

    check_name = "claims_hold"

    @dg.asset(
        key=key("validated"),
        ins={"cfg": dg.AssetIn(key("config")), "records": dg.AssetIn(key("records")), **entity_ins},
        kinds={"pandera", "duckdb"},
        description=f"{scenario.name} records and entity tables checked (schemas, references, claims); "
        "the blocking check stops the export on any problem.",
        check_specs=[
            dg.AssetCheckSpec(check_name, asset=key("validated"), blocking=True, description="Every claim holds.")
        ],
        **common,
    )
    def validated(
        context: dg.AssetExecutionContext, cfg: pl.DataFrame, records: pl.DataFrame, **entities: pl.DataFrame
    ):  # type: ignore[no-untyped-def]
        seed = parse_seed(context.partition_key)
        parsed = load_cfg(cfg)
        clean = conform(records.drop("seed"), record_schema)
        problems = dataset_problems(scenario, parsed, clean, entity_frames(parsed, seed, entities))
        listing = dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "All claims hold.")
        if problems:
            context.log.error(f"{scenario.name} seed={seed}: {'; '.join(problems)}")
        yield dg.Output(
            with_seed(clean, seed),
            metadata=frame_metadata(clean, seed, scenario.version) | {"problems": listing},
        )
        yield dg.AssetCheckResult(
            check_name=check_name,
            asset_key=key("validated"),
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"problems": listing, "problem_count": len(problems), "seed": seed},
        )

    @dg.asset(
        key=key("exported"),
        ins={"cfg": dg.AssetIn(key("config")), "validated": dg.AssetIn(key("validated")), **entity_ins},
        kinds={"parquet", "json", "yaml", "csv"},
        description=f"{scenario.name} files written atomically to data/exports/{group}/seed=<seed>/.",
        required_resource_keys={"synth_data"},
        group_name=group,
        partitions_def=seed_partitions,
    )
    def exported(
        context: dg.AssetExecutionContext,
        cfg: pl.DataFrame,
        validated: pl.DataFrame,
        **entities: pl.DataFrame,
    ) -> dg.MaterializeResult:
        seed = parse_seed(context.partition_key)
        parsed = load_cfg(cfg)
        synth_data: SynthDataDir = context.resources.synth_data
        clean = conform(validated.drop("seed"), record_schema)
        target = synth_data.export_dir(group, seed)
        with atomic_dir(target) as tmp:
            files = write_dataset(scenario, parsed, clean, entity_frames(parsed, seed, entities), tmp)
        final = {table: target / path.name for table, path in files.items()}
        listing = "\n".join(f"- `{t}`: `{p}` ({p.stat().st_size:,} bytes)" for t, p in final.items())
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": clean.height,
                "seed": seed,
                "generator_version": scenario.version,
                "output_format": parsed.output_format,
                "export_dir": dg.MetadataValue.path(str(target)),
                "files": dg.MetadataValue.md(listing),
                "bytes_written": sum(p.stat().st_size for p in final.values()),
            }
        )

    return [*assets, records, validated, exported]


def scenario_assets() -> list[dg.AssetsDefinition]:
    """The asset groups of every registered scenario, built-in and plugin."""
    return [asset for reg in load_catalog().scenarios.values() for asset in build_scenario_assets(reg.scenario)]
