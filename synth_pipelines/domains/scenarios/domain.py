"""Every registered scenario plugin as a domain of the one contract (asset group ``scenario_<name>``).

A ``Scenario`` (``base.py``) is the plugin contract of this one domain: what a record is, how to ask
a model for its text, how to draw it offline. ``ScenarioDomain`` adapts any scenario to the domain
contract, as a workflow file is adapted by ``api_traces``: the tables are the primary records plus
the scenario's entity tables, and the one check is that every claim holds (schemas, references,
the scenario's own dataset checks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandera.polars as pa

from synth_pipelines.core.domain import (
    CheckOutcome,
    CheckSpec,
    ConstraintViolation,
    Domain,
    Markdown,
    RunContext,
    Tables,
)
from synth_pipelines.core.limits import require_memory
from synth_pipelines.domains.scenarios.base import FIELD_BYTES_MIN, Scenario
from synth_pipelines.domains.scenarios.registry import load_catalog
from synth_pipelines.domains.scenarios.run import dataset_problems, draw_entities, generate_records, write_dataset
from synth_pipelines.llm.contract import LLMError

CLAIMS_CHECK = CheckSpec(
    "claims_hold", "Every record and entity row passes its schema, references resolve, and the scenario's claims hold."
)


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

    def split(self, tables: Tables) -> tuple[Any, dict[str, Any]]:
        records = tables[self.scenario.record_name]
        return records, {t: tables[t] for t in self.scenario.entity_tables}


def domains() -> list[Domain]:
    """One domain per registered scenario, built-in and plugin."""
    return [ScenarioDomain(reg.scenario) for reg in load_catalog().scenarios.values()]
