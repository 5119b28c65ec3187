"""The scenario pipeline without Dagster: entities -> plan -> text (LLM or offline) -> checks -> files.

``run_scenario`` is the whole pipeline in one call; the CLI and the Dagster assets run the same
steps (the assets one per asset), so both write the same bytes for the same seed and arguments
and, with an LLM provider, share the provider layer's response cache under ``data/``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.core.rng import block_rng, block_spans
from synth_pipelines.core.validate import validate_frame
from synth_pipelines.domains.scenarios.base import Scenario
from synth_pipelines.domains.scenarios.formats import suffix, write_table
from synth_pipelines.domains.scenarios.records import conform, model_schema
from synth_pipelines.llm.contract import GenerationStats, LLMRequest, StructuredGenerator
from synth_pipelines.llm.generate import BUDGET_SPENT

ProgressFn = Callable[[int], None]
LLM_BATCH = 256  # requests handed to the generator at once; it bounds concurrency itself


@dataclass(frozen=True)
class RecordFailure:
    index: int  # row of the plan
    reason: str  # short and stable, for counting: "invalid_output", "rate_limited", "schema: subject ..."
    detail: str = ""  # the full (redacted) error, for the log line of this record


@dataclass
class GeneratedRecords:
    records: pl.DataFrame
    planned: int
    source: str  # "offline" or the provider's name
    failures: list[RecordFailure] = field(default_factory=list)
    stats: GenerationStats = field(default_factory=GenerationStats)
    seconds: float = 0.0  # planning, text, post-processing and row checks

    def failure_reasons(self) -> dict[str, int]:
        return dict(Counter(f.reason for f in self.failures).most_common())

    @property
    def records_per_second(self) -> float:
        return round(self.records.height / self.seconds, 1) if self.seconds > 0 else 0.0

    def summary(self) -> str:
        head = f"{self.records.height} of {self.planned} records generated ({self.source})"
        if not self.failures:
            return head + ", none failed"
        reasons = "; ".join(f"{reason} x{n}" for reason, n in list(self.failure_reasons().items())[:8])
        return f"{head}, {len(self.failures)} failed and were skipped: {reasons}"

    def provider_summary(self) -> str:
        """What the provider did: requests, cache hits, tokens, retries, failed requests, speed."""
        s = self.stats
        line = (
            f"requests {s.requests}, cache hits {s.cache_hits}, tokens {s.input_tokens}+{s.output_tokens}, "
            f"retries {s.retries}, failed requests {s.failures}, {self.records_per_second} records/s"
        )
        return line + (", token budget spent" if s.budget_exhausted else "")

    def metadata(self) -> dict[str, Any]:
        """Record counts, failure reasons and the provider's stats (``GenerationStats.as_metadata``)."""
        return {
            "records_planned": self.planned,
            "records_generated": self.records.height,
            "records_failed": len(self.failures),
            "provider": self.source,
            "failure_reasons": self.failure_reasons(),
            "records_per_second": self.records_per_second,
            **self.stats.as_metadata(),
        }


def _reason(error: str | None) -> tuple[str, str]:
    """(kind, detail) of a failed request: the layer's errors read ``kind: detail`` on one line."""
    detail = " ".join((error or "").split()) or "no answer"
    kind = detail.split(":", 1)[0].strip() or "no answer"
    return (kind if len(kind) <= 80 else kind[:79] + "…"), detail


def draw_entities(scenario: Scenario, cfg: Any, seed: int) -> dict[str, pl.DataFrame]:
    entities = scenario.draw_entities(cfg, seed)
    if tuple(entities) != scenario.entity_tables:
        raise ConstraintViolation(
            f"scenario {scenario.name}: draw_entities returned tables {list(entities)}, "
            f"but entity_tables declares {list(scenario.entity_tables)}"
        )
    return entities


def request_seeds(scenario: Scenario, seed: int, count: int) -> list[int]:
    """A provider seed per record, drawn block-wise so it never depends on how a run is split."""
    seeds: list[int] = []
    for block, _start, n in block_spans(count):
        rng = block_rng(seed, f"scenario/{scenario.name}", "llm-seed", block)
        seeds += rng.integers(0, 2**31 - 1, n).tolist()
    return seeds


def _ask_llm(
    scenario: Scenario,
    cfg: Any,
    plan: pl.DataFrame,
    seed: int,
    generator: StructuredGenerator,
    progress: ProgressFn | None,
) -> tuple[pl.DataFrame, list[int], list[RecordFailure]]:
    """The text fields of every plan row from the LLM; rows whose answer failed are left out."""
    model = scenario.text_model()
    seeds = request_seeds(scenario, seed, plan.height)
    kept: list[int] = []
    values: list[dict[str, Any]] = []
    failures: list[RecordFailure] = []
    for start in range(0, plan.height, LLM_BATCH):
        rows = plan.slice(start, LLM_BATCH).iter_rows(named=True)
        requests = [
            LLMRequest(
                messages=scenario.messages(row, cfg),
                seed=seeds[start + i],
                tag=f"{scenario.name}#{start + i}",
            )
            for i, row in enumerate(rows)
        ]
        results = generator.generate(requests, model)
        for i, result in enumerate(results):
            if result.value is None:
                failures.append(RecordFailure(start + i, *_reason(result.error)))
                continue
            kept.append(start + i)
            values.append(model.model_validate(result.value.model_dump()).model_dump(mode="python"))
        if progress is not None:
            progress(len(requests))
        if generator.stats.budget_exhausted:
            # Every later request would come back unanswered: stop asking, count them once.
            rest = range(start + len(requests), plan.height)
            failures += [RecordFailure(i, BUDGET_SPENT, BUDGET_SPENT) for i in rest]
            if progress is not None and len(rest):
                progress(len(rest))
            break
    text = pl.DataFrame(values, schema=dict(model_schema(model)))
    return text, kept, failures


def generate_records(
    scenario: Scenario,
    cfg: Any,
    seed: int,
    entities: Mapping[str, pl.DataFrame],
    generator: StructuredGenerator | None = None,
    progress: ProgressFn | None = None,
    log: logging.Logger | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
) -> GeneratedRecords:
    """Plan every record, write its text (LLM or offline), post-process, and drop records that fail.

    A failed record (no valid answer, or a row the schema rejects) is skipped and counted with its
    reason; it never reaches the output. With ``stop``, only records ``start .. stop`` of a block-drawn
    scenario (``start`` a block's first row), offline, from their blocks alone (``draw_plan_range``).
    """
    started = time.perf_counter()
    log = log or logging.getLogger("synth_pipelines.scenarios")
    ranged = stop is not None
    if ranged and generator is not None and generator.provider != "offline":
        raise ValueError(f"scenario {scenario.name}: a range of records is drawn offline only")
    if stop is None:
        plan, expected = scenario.draw_plan(cfg, seed, entities), cfg.count
    else:
        plan, expected = scenario.draw_plan_range(cfg, seed, entities, start, stop), stop - start
    if sorted(plan.columns) != sorted(scenario.planned_fields) or plan.height != expected:
        raise ConstraintViolation(
            f"scenario {scenario.name}: draw_plan returned {plan.height} rows of {plan.columns}; "
            f"expected {expected} rows of {list(scenario.planned_fields)}"
        )
    failures: list[RecordFailure] = []
    if generator is None or generator.provider == "offline":
        source = "offline"
        if ranged:
            text = scenario.draw_offline_range(plan, cfg, seed, entities, start)
        else:
            text = scenario.draw_offline(plan, cfg, seed, entities)
        if progress is not None:
            progress(plan.height)
        kept = list(range(plan.height))
        stats = GenerationStats(offline_results=plan.height)
    else:
        source = generator.provider
        text, kept, failures = _ask_llm(scenario, cfg, plan, seed, generator, progress)
        stats = generator.stats
    kept_plan = plan.select(pl.all().gather(pl.Series(kept, dtype=pl.Int64)))
    records = conform(pl.concat([kept_plan, text], how="horizontal"), scenario.record_schema())
    records = conform(scenario.post_process(records, cfg), scenario.record_schema())

    outcome = validate_frame(scenario.schema(cfg), records)
    if not outcome.ok:
        cases = outcome.failure_cases
        if cases["index"].null_count():
            raise ConstraintViolation(f"scenario {scenario.name}: records break the schema: {outcome.summary()}")
        bad = cases.group_by("index").agg(pl.col("column").first(), pl.col("check").first()).sort("index")
        for row in bad.iter_rows(named=True):
            reason = f"schema: {row['column']} {row['check']}"
            failures.append(RecordFailure(kept[row["index"]], reason, reason))
        records = records.filter(~pl.int_range(pl.len()).is_in(bad["index"].to_list()))
    for failure in failures:
        log.warning("%s record #%d skipped: %s", scenario.name, failure.index, failure.detail)
    failures.sort(key=lambda f: f.index)
    seconds = time.perf_counter() - started
    return GeneratedRecords(records, plan.height, source, failures, stats, seconds)


def dataset_problems(
    scenario: Scenario, cfg: Any, records: pl.DataFrame, entities: Mapping[str, pl.DataFrame]
) -> list[str]:
    """Every claim the output makes, checked: schemas of records and entities, references, dataset checks."""
    problems: list[str] = []
    outcome = validate_frame(scenario.schema(cfg), records)
    if not outcome.ok:
        problems.append(f"{scenario.record_name}: {outcome.summary()}")
    schemas = scenario.entity_schemas(cfg)
    for name, frame in entities.items():
        if name not in schemas:
            problems.append(f"{name}: entity table has no schema in entity_schemas()")
            continue
        entity_outcome = validate_frame(schemas[name], frame)
        if not entity_outcome.ok:
            problems.append(f"{name}: {entity_outcome.summary()}")
    for column, (table, key) in scenario.references.items():
        if table not in entities:
            problems.append(f"{scenario.record_name}.{column} references missing table {table}")
            continue
        dangling = records.filter(~pl.col(column).is_in(entities[table][key].implode()) & pl.col(column).is_not_null())
        if dangling.height:
            problems.append(
                f"{scenario.record_name}.{column}: {dangling.height} values not in {table}.{key} "
                f"(e.g. {dangling[column][0]!r})"
            )
    problems += scenario.check_dataset(records, entities, cfg)
    return problems


def check_dataset(scenario: Scenario, cfg: Any, records: pl.DataFrame, entities: Mapping[str, pl.DataFrame]) -> None:
    problems = dataset_problems(scenario, cfg, records, entities)
    if problems:
        raise ConstraintViolation(f"scenario {scenario.name}: {'; '.join(problems)}; nothing was written")


def output_files(scenario: Scenario, cfg: Any, tables: Sequence[str], out_dir: Path) -> dict[str, Path]:
    return {table: out_dir / (scenario.file_stem(table) + suffix(cfg.output_format)) for table in tables}


def write_dataset(
    scenario: Scenario, cfg: Any, records: pl.DataFrame, entities: Mapping[str, pl.DataFrame], out_dir: Path
) -> dict[str, Path]:
    """Records and entity tables, one file each in ``cfg.output_format``; each file atomic."""
    tables = {scenario.record_name: records, **entities}
    files = output_files(scenario, cfg, list(tables), out_dir)
    for table, frame in tables.items():
        write_table(frame, files[table], cfg.output_format)
    return files


@dataclass(frozen=True)
class ScenarioRun:
    generated: GeneratedRecords
    entities: dict[str, pl.DataFrame]
    files: dict[str, Path]


def run_scenario(
    scenario: Scenario,
    cfg: Any,
    seed: int,
    out_dir: Path,
    generator: StructuredGenerator | None = None,
    progress: ProgressFn | None = None,
    log: logging.Logger | None = None,
) -> ScenarioRun:
    """Generate, check and write; refuses to write when every record failed or a claim does not hold."""
    entities = draw_entities(scenario, cfg, seed)
    generated = generate_records(scenario, cfg, seed, entities, generator, progress, log)
    if generated.records.height == 0:
        raise ConstraintViolation(f"scenario {scenario.name}: {generated.summary()}; nothing was written")
    check_dataset(scenario, cfg, generated.records, entities)
    files = write_dataset(scenario, cfg, generated.records, entities, out_dir)
    return ScenarioRun(generated, entities, files)
