"""Every registered scenario plugin as a domain of the one contract (asset group ``scenario_<name>``).

A ``Scenario`` (``base.py``) is the plugin contract of this one domain: what a record is, how to ask
a model for its text, how to draw it offline. ``ScenarioDomain`` adapts any scenario to the domain
contract, as a workflow file is adapted by ``api_traces``: the tables are the primary records plus
the scenario's entity tables, and the one check is that every claim holds (schemas, references,
the scenario's own dataset checks).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl

from synth_pipelines.core.domain import (
    CheckOutcome,
    CheckSpec,
    ConstraintViolation,
    Domain,
    Markdown,
    RunContext,
    Tables,
    UnitsWritten,
)
from synth_pipelines.core.limits import require_memory
from synth_pipelines.core.validate import validate_frame
from synth_pipelines.domains.scenarios.base import FIELD_BYTES_MIN, EntityRange, Scenario
from synth_pipelines.domains.scenarios.records import conform
from synth_pipelines.domains.scenarios.registry import load_catalog
from synth_pipelines.domains.scenarios.run import dataset_problems, draw_entities, generate_records, write_dataset
from synth_pipelines.llm.contract import LLMError

# Formats whose files are their rows in order, so parts concatenate: a JSON array or a YAML sequence
# is one document (and its rows are not lines), so they are not sharded.
SHARD_FORMATS = ("parquet", "jsonl", "csv")

CLAIMS_CHECK = CheckSpec(
    "claims_hold", "Every record and entity row passes its schema, references resolve, and the scenario's claims hold."
)


def _plain(value: Any) -> Any:
    """A value as the manifest (JSON) holds it and compares it: numbers and text as they are, else text."""
    return value if isinstance(value, int | float | str) else str(value)


def unique_range_problems(ranges: dict[str, dict[str, list[Any]]]) -> list[str]:
    """Columns whose per-shard [min, max] ranges overlap: uniqueness over the set is then not proven."""
    problems = []
    columns = sorted({c for by_column in ranges.values() for c in by_column})
    for column in columns:
        spans = sorted((r[column][0], r[column][1], shard) for shard, r in ranges.items() if column in r)
        for (_, high, shard), (low, _, next_shard) in itertools.pairwise(spans):
            if low <= high:
                problems.append(
                    f"{column}: the values of the shards at units {int(shard)} and {int(next_shard)} overlap "
                    f"({low!r} <= {high!r}); unique over all shards is not proven"
                )
    return problems


class ScenarioDomain(Domain):
    uses_llm = True
    check_specs = (CLAIMS_CHECK,)

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.name = scenario.group_name
        self.cli_name = "scenario"
        self.version = scenario.version
        self.description = scenario.summary
        self.config_model = scenario.config_model

    def parse_config(self, values: Any = None) -> Any:
        return self.scenario.parse_config(dict(values or {}))

    def describe(self, cfg: Any, seed: int) -> dict[str, Any]:
        self._require_memory(cfg)
        return {}

    def _require_memory(self, cfg: Any) -> None:
        fields = len(self.scenario.record_model.model_fields)
        require_memory(
            f"scenario {self.scenario.name}: count {cfg.count:,} x {fields} fields",
            cfg.count * fields * FIELD_BYTES_MIN,
            "lower --count",
        )

    def draw(self, cfg: Any, seed: int, ctx: RunContext) -> Tables:
        self._require_memory(cfg)  # before the first array: the CLI calls draw without describe
        scenario = self.scenario
        entities = draw_entities(scenario, cfg, seed)
        generator = ctx.llm.generator() if ctx.llm is not None else None  # the session closes it
        settings = ctx.llm.settings if ctx.llm is not None else None
        provider = {"llm_provider": settings.provider if settings else "offline"} | (
            {"llm_model": settings.model} if settings else {}
        )
        try:
            generated = generate_records(scenario, cfg, seed, entities, generator, ctx.progress, ctx.log)
        except LLMError:  # bad credentials or a spent failure budget: the run stops with the stats so far
            ctx.metadata.update(provider | (generator.stats.as_metadata() if generator is not None else {}))
            raise
        ctx.metadata.update(
            provider
            | generated.metadata()
            | {"summary": generated.summary(), "provider_summary": generated.provider_summary()}
        )
        if generated.records.height == 0:
            raise ConstraintViolation(f"scenario {scenario.name}: {generated.summary()}; nothing was written")
        return {scenario.record_name: generated.records, **entities}

    def schemas(self, cfg: Any) -> dict[str, pa.DataFrameSchema]:
        return {self.scenario.record_name: self.scenario.schema(cfg), **self.scenario.entity_schemas(cfg)}

    def checks(self, tables: Tables, cfg: Any, seed: int) -> list[CheckOutcome]:
        records, entities = self.split(tables)
        problems = dataset_problems(self.scenario, cfg, records, entities)
        return [
            CheckOutcome(
                CLAIMS_CHECK.name,
                not problems,
                "; ".join(problems) or "all claims hold",
                {
                    "problem_count": len(problems),
                    "problems": Markdown("\n".join(f"- {p}" for p in problems) or "All claims hold."),
                },
            )
        ]

    def export(self, tables: Tables, cfg: Any, seed: int, out_dir: Path, ctx: RunContext) -> dict[str, Path]:
        records, entities = self.split(tables)
        return write_dataset(self.scenario, cfg, records, entities, out_dir)

    # ---- scale-out (core/shards.py, docs/scale-out.md) -------------------------------------------
    # Units are the primary records (tickets, transactions, encounters). A block-drawn scenario
    # (``Scenario.block_rows``: financial, healthcare) draws records ``start .. stop`` from the blocks they
    # overlap, each from its first record, and the entity rows those blocks reference
    # (``Scenario.draw_entity_range``); it writes the entity rows its records own. Any other scenario draws a
    # run of ``stop`` records (records are prefix-stable, so its last rows are ours) and the whole entity
    # tables, and writes rows ``E * start // count .. E * stop // count`` of a table of ``E`` rows. Either way
    # the parts tile every table and each is a function of (seed, config, range).

    def shard_units(self, cfg: Any) -> int:
        if cfg.output_format not in SHARD_FORMATS:
            from synth_pipelines.core.shards import ShardError  # core.shards imports the domain contract

            raise ShardError(
                f"scenario {self.scenario.name}: --shards writes {', '.join(SHARD_FORMATS)} parts, "
                f"not --output-format {cfg.output_format} (one document, not rows)"
            )
        return int(cfg.count)

    def shard_records(self, cfg: Any, seed: int, start: int, stop: int) -> tuple[pl.DataFrame, EntityRange]:
        """Records ``start .. stop`` of the unsharded run (offline text) and their entity rows."""
        scenario = self.scenario
        schema = scenario.record_schema()
        entities = scenario.draw_entity_range(cfg, seed, start, stop)
        if tuple(entities.referenced) != scenario.entity_tables or tuple(entities.written) != scenario.entity_tables:
            raise ConstraintViolation(
                f"scenario {scenario.name}: draw_entity_range returned tables {list(entities.referenced)} and "
                f"{list(entities.written)}, but entity_tables declares {list(scenario.entity_tables)}"
            )
        if stop <= start:
            return pl.DataFrame(schema=schema), entities
        if scenario.block_rows is None:
            prefix = cfg.model_copy(update={"count": stop})  # a run of ``stop`` records: its last rows are ours
            first = 0
            generated = generate_records(scenario, prefix, seed, draw_entities(scenario, prefix, seed))
        else:  # from the first record of the block ``start`` is in: blocks are drawn from their start
            first = start - start % scenario.block_rows
            generated = generate_records(scenario, cfg, seed, entities.referenced, start=first, stop=stop)
        if generated.failures or generated.records.height != stop - first:
            # A skipped row would shift every later one: the parts would not be the unsharded rows.
            raise ConstraintViolation(f"scenario {scenario.name} records {start}..{stop}: {generated.summary()}")
        return conform(generated.records.slice(start - first, stop - start), schema), entities

    def write_units(self, cfg: Any, seed: int, start: int, stop: int, out_dir: Path, ctx: RunContext) -> UnitsWritten:
        """Records ``start .. stop`` and their share of each entity table, every claim checked first."""
        scenario = self.scenario
        self._require_memory(cfg)
        records, entities = self.shard_records(cfg, seed, start, stop)
        problems = dataset_problems(scenario, cfg, records, entities.referenced)
        schemas = scenario.entity_schemas(cfg)
        for name, frame in entities.written.items():  # the rows written, whatever the rows referenced
            outcome = validate_frame(schemas[name], frame) if name in schemas else None
            if outcome is not None and not outcome.ok:
                problems.append(f"{name} (written rows): {outcome.summary()}")
        if problems:
            raise ConstraintViolation(f"scenario {scenario.name} records {start}..{stop}: {'; '.join(problems)}")
        shares = entities.written
        files = write_dataset(scenario, cfg, records, shares, out_dir)
        rows = {scenario.record_name: records.height} | {name: frame.height for name, frame in shares.items()}
        # Unique record columns: unique in the shard (checked above); over the set, the commit proves the
        # shards' [min, max] ranges disjoint (ids are numbered as drawn, so they are). A scenario that draws
        # entity rows by range checks in a shard only the rows its blocks reference, so the unique columns of
        # the entity rows it writes are proven the same way (keyed "table.column").
        unique = {c: (records, c) for c, col in scenario.schema(cfg).columns.items() if col.unique}
        if type(scenario).draw_entity_range is not Scenario.draw_entity_range:
            for name, frame in shares.items():
                columns = schemas[name].columns.items() if name in schemas else ()
                unique |= {f"{name}.{c}": (frame, c) for c, col in columns if col.unique}
        bounds = {
            key: [_plain(frame[c].min()), _plain(frame[c].max())] for key, (frame, c) in unique.items() if frame.height
        }
        ranges = {f"{start:012d}": bounds} if bounds else {}
        outcome = {
            "passed": True,
            "problem_count": 0,
            "rows": rows,
            "unique_ranges": ranges,
            "set_numbers": scenario.shard_check_numbers(records, cfg),
        }
        return UnitsWritten(files, {CLAIMS_CHECK.name: outcome})

    def summarize_shard_checks(self, cfg: Any, checks: dict[str, Any]) -> dict[str, Any]:
        """Claims over the whole set: unique record columns disjoint across shards, and the scenario's
        own whole-set claims from the summed numbers (financial: transactions per account)."""
        claims = checks[CLAIMS_CHECK.name]
        problems = unique_range_problems(claims.get("unique_ranges", {}))
        problems += self.scenario.set_problems(claims.get("set_numbers", {}), cfg)
        return checks | {
            CLAIMS_CHECK.name: claims
            | {
                "passed": bool(claims["passed"]) and not problems,
                "problem_count": int(claims["problem_count"]) + len(problems),
                "set_problems": problems,
            }
        }

    def split(self, tables: Tables) -> tuple[Any, dict[str, Any]]:
        records = tables[self.scenario.record_name]
        return records, {t: tables[t] for t in self.scenario.entity_tables}


def domains() -> list[Domain]:
    """One domain per registered scenario, built-in and plugin."""
    return [ScenarioDomain(reg.scenario) for reg in load_catalog().scenarios.values()]
