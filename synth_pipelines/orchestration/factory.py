"""Turn any ``Domain`` (the contract in ``core/domain.py``) into its seed-partitioned asset group.

``config -> raw -> normalized -> exported`` (``config -> normalized -> exported`` for a domain whose
draw is already clean: relational, scenarios). Values between steps are Parquet (``storage.py``):
the config as JSON, each step's tables as one file per table. The checks a domain declares sit on
``normalized``, the asset they check (``check_specs``, so they run per seed partition); blocking ones
stop the export, so an invalid partition is never exported. ``exported`` replaces the seed's export
folder as a unit and refreshes the warehouse catalog (``catalog.py``).

Assets stay thin: each is a few lines over the domain's plain methods; everything a test might want
to call without Dagster lives in the domain.
"""

# No `from __future__ import annotations`: Dagster reads the run-config class from real annotations.
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from synth_pipelines.core.domain import (
    CheckOutcome,
    ConstraintViolation,
    Domain,
    Markdown,
    RunContext,
    Tables,
    blocking_failures,
    verified_checks,
)
from synth_pipelines.core.objstore import SetInfo, shown, staged_output
from synth_pipelines.core.preview import markdown_table
from synth_pipelines.llm.contract import LLMError
from synth_pipelines.llm.resource import POOL, LLMResource
from synth_pipelines.orchestration import catalog, locks
from synth_pipelines.orchestration.partitions import parse_seed, seed_partitions
from synth_pipelines.orchestration.resources import SynthDataDir

IO_MANAGER_KEY = "parquet_io_manager"


def to_metadata(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values as Dagster metadata: dicts and lists as JSON, ``Markdown`` as markdown, None as text."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Markdown):
            out[key] = dg.MetadataValue.md(value.text)
        elif isinstance(value, dict | list | tuple):
            out[key] = dg.MetadataValue.json(value)
        elif value is None:
            out[key] = "n/a"
        else:
            out[key] = value
    return out


def column_schema(df: pl.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, str(dtype)) for name, dtype in df.schema.items()])


def tables_metadata(tables: Tables, seed: int, version: str, seconds: float | None = None) -> dict[str, Any]:
    """Row counts, column schema and a preview; one section per table when there are several."""
    rows = sum(t.height for t in tables.values())
    meta: dict[str, Any] = {"dagster/row_count": rows, "seed": seed, "generator_version": version}
    if len(tables) == 1:
        (frame,) = tables.values()
        meta["dagster/column_schema"] = column_schema(frame)
        meta["preview"] = dg.MetadataValue.md(markdown_table(frame, limit=10))
    else:
        meta["rows_by_table"] = dg.MetadataValue.json({name: t.height for name, t in tables.items()})
        sections = [f"### {name} ({t.height:,} rows)\n\n{markdown_table(t, limit=5)}" for name, t in tables.items()]
        meta["preview"] = dg.MetadataValue.md("\n\n".join(sections))
    if seconds is not None:
        meta["seconds"] = round(seconds, 4)
        meta["rows_per_second"] = round(rows / seconds, 1) if seconds > 0 else 0.0
    return meta


def unknown_op_keys(context: dg.AssetExecutionContext) -> list[str]:
    """Keys of the run config's ``ops`` that name no op of the code location.

    Dagster validates op config strictly for the ops of a run, but a run of a *selection* of the
    implicit asset job (``dagster asset materialize --select group:x``) accepts any other key, so a
    misspelled ``nosuch__config`` would be ignored and the partition drawn with defaults.
    """
    given = (context.run.run_config or {}).get("ops") or {}
    if not given:
        return []
    job = context.job_def
    known = set(job.graph.node_names())
    selection = job.asset_selection_data  # a run of a selection: the job it was cut from has every op
    if selection is not None:
        known |= set(selection.parent_job_def.graph.node_names())
    return sorted(set(given) - known)


def config_class(domain: Domain) -> type[dg.Config]:
    """The domain's pydantic config model as Dagster run config (same fields, same defaults)."""
    return type(f"{domain.config_model.__name__}RunConfig", (domain.config_model, dg.Config), {})


def build_domain_assets(domain: Domain) -> list[dg.AssetsDefinition]:
    group = domain.name
    run_config_cls = config_class(domain)
    common: dict[str, Any] = {"group_name": group, "partitions_def": seed_partitions, "io_manager_key": IO_MANAGER_KEY}
    key = lambda name: dg.AssetKey([group, name])  # noqa: E731
    specs = [
        dg.AssetCheckSpec(spec.name, asset=key("normalized"), blocking=spec.blocking, description=spec.description)
        for spec in domain.check_specs
    ]
    draw_kwargs: dict[str, Any] = {"pool": POOL} if domain.uses_llm else {}

    def parsed(stored: dict[str, Any]) -> Any:
        return domain.parse_config(stored["config"])

    def claimed(context: dg.AssetExecutionContext, synth_data: SynthDataDir) -> int:
        """The partition's seed, once this run holds the (group, seed) writer lock (``locks.py``)."""
        seed = parse_seed(context.partition_key)
        try:
            locks.claim(context.instance, synth_data.storage, group, seed, context.run.run_id)
        except locks.PartitionBusy as exc:
            raise dg.Failure(description=str(exc)) from None
        return seed

    def run_context(context: dg.AssetExecutionContext, synth_data: SynthDataDir, llm: LLMResource) -> RunContext:
        session = llm.open_session(synth_data.root, context.log) if domain.uses_llm else None  # closed by llm
        return RunContext(data_dir=synth_data.root, log=context.log, llm=session)

    def draw(context: dg.AssetExecutionContext, cfg: Any, synth_data: SynthDataDir, llm: LLMResource) -> Any:
        seed = claimed(context, synth_data)
        started = time.perf_counter()
        ctx = run_context(context, synth_data, llm)
        try:
            tables = domain.draw(cfg, seed, ctx)
        except (LLMError, ConstraintViolation) as exc:  # a clear stop: fail with what the domain reported so far
            raise dg.Failure(description=f"{group} seed={seed}: {exc}", metadata=to_metadata(ctx.metadata)) from None
        return tables, tables_metadata(tables, seed, domain.version, time.perf_counter() - started) | to_metadata(
            ctx.metadata
        )

    def checked(
        context: dg.AssetExecutionContext, tables: Tables, cfg: Any, meta: dict[str, Any], synth_data: SynthDataDir
    ) -> Iterator[Any]:
        seed = parse_seed(context.partition_key)
        outcomes = verified_checks(domain, tables, cfg, seed)
        failed = blocking_failures(domain, outcomes)
        for outcome in failed:
            context.log.error(f"{group} seed={seed}: {outcome.name}: {outcome.summary}")
        if failed:  # these tables replace the seed's validated ones: the catalog must stop showing the seed
            catalog.withdraw(synth_data.warehouse, group, seed, context.log)
        yield dg.Output(tables, metadata=meta | {f"check {o.name}": o.summary for o in outcomes})
        for outcome in outcomes:
            yield check_result(outcome, key("normalized"), seed)

    @dg.asset(key=key("config"), kinds={"python"}, description=f"Run config of {group}, one per seed.", **common)
    def config_asset(
        context: dg.AssetExecutionContext,
        config: run_config_cls,  # type: ignore[valid-type]
        synth_data: SynthDataDir,
    ) -> dg.Output[dict]:
        unknown = unknown_op_keys(context)
        if unknown:
            raise dg.Failure(
                description=f"run config: unknown op key(s) {', '.join(map(repr, unknown))} under 'ops' "
                f"(this group's config op is {group}__config)"
            )
        seed = claimed(context, synth_data)
        try:
            cfg = domain.parse_config(config.model_dump())  # type: ignore[attr-defined]
            described = domain.describe(cfg, seed)
        except (ValueError, OSError) as exc:
            raise dg.Failure(description=f"{group} seed={seed}: {exc}") from None
        stored = {
            "domain": group,
            "seed": seed,
            "generator_version": domain.version,
            "config": cfg.model_dump(mode="json"),
        }
        meta = {"seed": seed, "generator_version": domain.version, "config": stored["config"]} | described
        return dg.Output(stored, metadata=to_metadata(meta))

    assets: list[dg.AssetsDefinition] = [config_asset]
    if domain.has_raw_form:

        @dg.asset(
            key=key("raw"),
            ins={"cfg": dg.AssetIn(key("config"))},
            kinds={"polars", "parquet"},
            description=f"Raw draw of {group}: records as a source would emit them.",
            **draw_kwargs,
            **common,
        )
        def raw(
            context: dg.AssetExecutionContext, cfg: dict, synth_data: SynthDataDir, llm: LLMResource
        ) -> dg.Output[dict]:
            tables, meta = draw(context, parsed(cfg), synth_data, llm)
            return dg.Output(tables, metadata=meta)

        @dg.asset(
            key=key("normalized"),
            ins={"cfg": dg.AssetIn(key("config")), "raw": dg.AssetIn(key("raw"))},
            kinds={"polars", "pandera", "parquet"},
            description=f"{group} parsed into clean typed tables; its checks sit here (blocking ones gate the export).",
            check_specs=specs,
            **common,
        )
        def normalized_from_raw(context: dg.AssetExecutionContext, cfg: dict, raw: dict, synth_data: SynthDataDir):  # type: ignore[no-untyped-def]
            seed = claimed(context, synth_data)
            started = time.perf_counter()
            config = parsed(cfg)
            tables = domain.normalize(raw, config)
            meta = tables_metadata(tables, seed, domain.version, time.perf_counter() - started)
            yield from checked(context, tables, config, meta, synth_data)

        assets += [raw, normalized_from_raw]
    else:

        @dg.asset(
            key=key("normalized"),
            ins={"cfg": dg.AssetIn(key("config"))},
            kinds={"polars", "pandera", "parquet"},
            description=f"The tables of {group}, drawn clean; its checks sit here (blocking ones gate the export).",
            check_specs=specs,
            **draw_kwargs,
            **common,
        )
        def normalized_drawn(context: dg.AssetExecutionContext, cfg: dict, synth_data: SynthDataDir, llm: LLMResource):  # type: ignore[no-untyped-def]
            config = parsed(cfg)
            tables, meta = draw(context, config, synth_data, llm)
            yield from checked(context, tables, config, meta, synth_data)

        assets.append(normalized_drawn)

    @dg.asset(
        key=key("exported"),
        ins={"cfg": dg.AssetIn(key("config")), "normalized": dg.AssetIn(key("normalized"))},
        kinds={"parquet", "json", "csv"},
        description=f"{group} files, replacing data/exports/{group}/seed=<seed>/ as a unit; catalog views refreshed.",
        group_name=group,
        partitions_def=seed_partitions,
    )
    def exported(
        context: dg.AssetExecutionContext, cfg: dict, normalized: dict, synth_data: SynthDataDir, llm: LLMResource
    ) -> dg.MaterializeResult:
        seed = claimed(context, synth_data)
        target = synth_data.export_location(group, seed)
        started = time.perf_counter()
        # An LLM domain's export may need the run's session again (relational: the spec its tables were drawn
        # with, its model answers replayed from the response cache).
        ctx = run_context(context, synth_data, llm)
        info = SetInfo(group, domain.version, seed, cfg["config"])
        # A local folder is swapped as a unit; a URL gets the files, then its _manifest.json (core/objstore).
        with staged_output(target, info, exclusive=True) as staging:
            files = domain.export(normalized, parsed(cfg), seed, staging, ctx)
            sizes = {role: (Path(path).relative_to(staging), Path(path).stat().st_size) for role, path in files.items()}
        seconds = time.perf_counter() - started
        if isinstance(synth_data.intermediates, Path):
            published = catalog.publish(
                synth_data.warehouse, synth_data.storage, group, seed, list(normalized), context.log
            )
            catalog_note = f"{synth_data.warehouse}: views {group}.*" if published else "not updated (locked)"
        else:  # the catalog's views read local Parquet intermediates
            catalog_note = "not updated (intermediates are on an object store)"
        locks.release(synth_data.storage, group, seed, context.run.run_id)  # the group's last writer is done
        listing = "\n".join(
            f"- `{role}`: `{shown(target, rel)}` ({size:,} bytes)" for role, (rel, size) in sizes.items()
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(t.height for t in normalized.values()),
                "seed": seed,
                "generator_version": domain.version,
                "export_dir": dg.MetadataValue.path(shown(target, "")),
                "files": dg.MetadataValue.md(listing),
                "bytes_written": sum(size for _, size in sizes.values()),
                "seconds": round(seconds, 4),
                "catalog": catalog_note,
            }
        )

    return [*assets, exported]


def check_result(outcome: CheckOutcome, asset_key: dg.AssetKey, seed: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name,
        asset_key=asset_key,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=outcome.summary,
        metadata=to_metadata({"seed": seed, "summary": outcome.summary} | outcome.metadata),
    )
