"""Every DDL file in ``data/schemas/`` as a domain of the one contract (asset group = file stem).

The tables are the DDL's tables, drawn in insert order (parents before children, keys and foreign
keys by construction, CHECKs evaluated exactly); the one check counts every PK, FK, UNIQUE, NOT
NULL, CHECK and type limit over them (``validation_report.json``). The DDL is parsed and planned
once per process and configuration (``plan_for``), not once per step.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from synth_pipelines.core.domain import CheckOutcome, CheckSpec, Domain, Markdown, RunContext, Tables, UnitsWritten
from synth_pipelines.core.export import ParquetBlockWriter
from synth_pipelines.core.paths import SCHEMAS_DIR, default_data_dir
from synth_pipelines.domains.relational.ddl import DDL_SUFFIXES, Schema, load_ddl
from synth_pipelines.domains.relational.export import dictionary_columns, write_duckdb, write_zip
from synth_pipelines.domains.relational.generate import RelationalGenerator
from synth_pipelines.domains.relational.pipeline import (
    GENERATOR_VERSION,
    Prepared,
    RelationalConfig,
    export_dataset,
    plan_and_spec,
    with_ai,
)
from synth_pipelines.domains.relational.plan import Plan
from synth_pipelines.domains.relational.realism import Resolved
from synth_pipelines.domains.relational.report import build_report, violation_summary
from synth_pipelines.domains.relational.shards import (
    CSV_ROLE,
    PARQUET_ROLE,
    largest_table_rows,
    prove_set,
    write_shard,
)
from synth_pipelines.domains.relational.spec import dump_spec

CONSTRAINTS_CHECK = CheckSpec(
    "all_constraints_hold", "Zero violations of every PK, FK, UNIQUE, NOT NULL, CHECK, type and spec rule."
)


def group_name(text: str) -> str:
    """A Dagster-safe asset group name from a file stem."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).lower().strip("_") or "schema"
    return f"s_{name}" if name[0].isdigit() else name


def schema_files(directory: Path = SCHEMAS_DIR) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in DDL_SUFFIXES)


@functools.lru_cache(maxsize=32)
def _schema_and_plan(path: str, text_sha256: str, spec_sha256: str, cfg_json: str) -> tuple[Schema, Plan, Resolved]:
    # Keyed by the files' contents as well as their paths: an edited DDL or spec is read again.
    cfg = RelationalConfig.model_validate_json(cfg_json)
    schema = load_ddl(path, cfg.dialect)
    plan, resolved = plan_and_spec(schema, cfg)
    return schema, plan, resolved


def ddl_digest(ddl: Path) -> str:
    return hashlib.sha256(Path(ddl).read_bytes()).hexdigest()


SPEC_SUFFIX = ".spec.yaml"


def spec_beside(ddl: Path) -> Path:
    """The generation spec kept next to a DDL file (``library.sql`` -> ``library.spec.yaml``), used when the
    run's config names none: a dataset promoted from the studio keeps the spec it was generated with."""
    return Path(ddl).with_name(Path(ddl).stem + SPEC_SUFFIX)


def plan_for(ddl: Path, cfg: RelationalConfig, seed: int) -> Prepared:
    """The parsed schema, the insert plan, the validated spec and a fresh generator for ``seed``."""
    if cfg.spec is None and spec_beside(ddl).is_file():
        cfg = cfg.model_copy(update={"spec": str(spec_beside(ddl))})
    digest = ddl_digest(ddl)
    spec_digest = (
        hashlib.sha256(Path(cfg.spec).read_bytes()).hexdigest() if cfg.spec and Path(cfg.spec).is_file() else ""
    )
    schema, plan, resolved = _schema_and_plan(str(ddl), digest, spec_digest, cfg.model_dump_json())
    return Prepared(schema, plan, RelationalGenerator(schema, plan, seed, resolved))


def spec_markdown(prepared: Prepared) -> str:
    """The generation spec as markdown: the rules as a table, then the whole spec as YAML."""
    lines = ["| table | rule | origin |", "|---|---|---|"]
    for table, rules in prepared.generator.resolved.rules.items():
        lines += [f"| {table} | `{r.check}` | {r.origin} |" for r in rules]
    return "\n".join([*lines, "", "```yaml", dump_spec(prepared.spec).rstrip(), "```"])


def ai_metadata(prepared: Prepared, llm: Any) -> dict[str, Any]:
    """This run's AI hybrid figures (per table: applied or fallback, tokens, answered from the cache)."""
    report = prepared.generator.resolved.ai
    tables = report.get("tables", {})  # type: ignore[union-attr]
    lines = ["| table | status | reason | tokens | cached |", "|---|---|---|---|---|"]
    for name, run in prepared.ai_run.items():
        reason = (tables.get(name, {}).get("reason") or "").replace("|", "/")
        lines.append(f"| {name} | {run['status']} | {reason} | {run['tokens']} | {run['cached']} |")
    return {
        "ai_applied": report.get("applied", 0),  # type: ignore[union-attr]
        "ai_fallback": report.get("fallback", 0),  # type: ignore[union-attr]
        "ai_tables": Markdown("\n".join(lines)),
        "llm_provider": llm.settings.provider,
        "llm_model": llm.settings.model,
        "ai_tokens": sum(r["tokens"] for r in prepared.ai_run.values()),
        "ai_cache_hits": sum(r["cached"] for r in prepared.ai_run.values()),
    }


def constraints_markdown(report: dict[str, Any]) -> str:
    lines = ["| table | constraint | columns | violations |", "|---|---|---|---|"]
    for name, t in report["tables"].items():
        for c in t["constraints"]:
            if c["type"] in ("NOT NULL", "TYPE"):
                continue
            what = c.get("expression") or ", ".join(c.get("columns", []))
            extra = f" (coverage {c['coverage_pct']}%)" if c["type"] == "FOREIGN KEY" else ""
            lines.append(f"| {name} | {c['type']}{extra} | {what} | {c['violations']} |")
    for r in report.get("rules", []):
        lines.append(f"| {r['table']} | RULE ({r['origin']}) | {r['rule']} | {r['violations']} |")
    return "\n".join(lines)


class RelationalDomain(Domain):
    cli_name = "relational"
    version = GENERATOR_VERSION
    config_model = RelationalConfig
    check_specs = (CONSTRAINTS_CHECK,)

    # A provider (the run's LLM session) turns on the AI hybrid: one spec-patch request per table.
    uses_llm: ClassVar[bool] = True

    def __init__(self, ddl: Path) -> None:
        self.ddl = Path(ddl)
        self.name = group_name(self.ddl.stem)
        self.description = f"Relational data for {self.ddl.name}; every declared constraint proven."
        # The spec the last draw of (DDL, config, seed) used when a model patched it: the checks, which get
        # no LLM session, count the rules of the spec the tables were drawn with.
        self._drawn_with: dict[tuple[str, str, int], Resolved] = {}

    def _key(self, cfg: RelationalConfig, seed: int) -> tuple[str, str, int]:
        return ddl_digest(self.ddl), cfg.model_dump_json(), seed

    def prepare(self, cfg: RelationalConfig, seed: int, llm: Any = None) -> Prepared:
        """With ``llm``, the AI hybrid runs (answers come from the response cache after the first run);
        without it, the spec the last draw of this config and seed used, else the deterministic one."""
        prepared = plan_for(self.ddl, cfg, seed)
        key = self._key(cfg, seed)
        if llm is not None:
            resolved, ai_run = with_ai(prepared.schema, prepared.plan, prepared.generator.resolved, cfg, seed, llm)
            if resolved is prepared.generator.resolved:
                self._drawn_with.pop(key, None)
                return prepared
            self._drawn_with[key] = resolved
        elif key in self._drawn_with:
            resolved, ai_run = self._drawn_with[key], {}
        else:
            return prepared
        prepared.generator.close()
        generator = RelationalGenerator(prepared.schema, prepared.plan, seed, resolved)
        return Prepared(prepared.schema, prepared.plan, generator, ai_run)

    def describe(self, cfg: RelationalConfig, seed: int) -> dict[str, Any]:
        prepared = plan_for(self.ddl, cfg, seed)  # fails here, clearly, on a bad DDL, spec or impossible counts
        prepared.generator.close()
        return {
            "ddl_file": self.ddl.name,
            "ddl_sha256": prepared.schema.sha256,
            "insert_order": ", ".join(prepared.plan.insert_order),
            "rows_planned": dict(prepared.plan.rows),
            "generation_spec": Markdown(spec_markdown(prepared)),
        }

    def draw(self, cfg: RelationalConfig, seed: int, ctx: RunContext) -> Tables:
        prepared = self.prepare(cfg, seed, ctx.llm)
        if cfg.instructions and not prepared.generator.resolved.ai:
            ctx.log.warning("relational: --instructions are used only with an LLM provider; this run is offline")
        if prepared.ai_run:
            ctx.metadata.update(ai_metadata(prepared, ctx.llm))
        try:
            # Parents first (children read their parents' dates), returned in DDL order as before.
            frames = {table: prepared.generator.table_frame(table) for table in prepared.plan.insert_order}
            return {table: frames[table] for table in prepared.schema.tables}
        finally:
            prepared.generator.close()

    def checks(self, tables: Tables, cfg: RelationalConfig, seed: int) -> list[CheckOutcome]:
        prepared = self.prepare(cfg, seed)
        try:
            report = build_report(prepared.schema, prepared.plan, prepared.generator, dict(tables), seed, self.version)
        finally:
            prepared.generator.close()
        return [
            CheckOutcome(
                CONSTRAINTS_CHECK.name,
                bool(report["ok"]),
                violation_summary(report),
                {
                    "violations": report["violations"],
                    "insert_order": ", ".join(report["insert_order"]),
                    "rows": report["rows"],
                    "constraints": Markdown(constraints_markdown(report)),
                },
            )
        ]

    def export(
        self, tables: Tables, cfg: RelationalConfig, seed: int, out_dir: Path, ctx: RunContext
    ) -> dict[str, Path]:
        # export_dataset proves the written files again and raises before the archive and database are built;
        # the caller's staging folder (atomic_dir / output_set) then leaves the previous export untouched.
        key = self._key(cfg, seed)
        # The spec the tables were drawn with: this process's draw, else the AI hybrid again through the
        # session (its answers replayed from the response cache), else the deterministic spec.
        llm = ctx.llm if key not in self._drawn_with else None
        _report, files = export_dataset(self.prepare(cfg, seed, llm), seed, out_dir, tables=tables)
        return files

    # ---- scale-out (core/shards.py, docs/scale-out.md "Relational") -----------------------------------
    # Units are the rows of the largest table; every table is written by proportional row range
    # (relational/shards.py). Shards are drawn offline: the AI hybrid's spec comes from a model.

    def shard_units(self, cfg: RelationalConfig) -> int:
        prepared = plan_for(self.ddl, cfg, 0)  # the plan does not depend on the seed
        prepared.generator.close()
        return largest_table_rows(prepared)

    def write_units(
        self, cfg: RelationalConfig, seed: int, start: int, stop: int, out_dir: Path, ctx: RunContext
    ) -> UnitsWritten:
        """Each table's rows of units ``start .. stop`` (Parquet and CSV), their per-row claims counted."""
        files, outcome = write_shard(plan_for(self.ddl, cfg, seed), start, stop, out_dir)
        return UnitsWritten(files, {CONSTRAINTS_CHECK.name: outcome})

    def commit_shard_set(
        self,
        cfg: RelationalConfig,
        seed: int,
        checks: dict[str, Any],
        parts: Mapping[str, list[Path]],
        out_dir: Path,
    ) -> tuple[dict[str, Any], dict[str, Path]]:
        """Keys, foreign keys, sums and rules proven over all parts; the report written once for the set."""
        outcome, report = prove_set(plan_for(self.ddl, cfg, seed), seed, checks[CONSTRAINTS_CHECK.name], parts, out_dir)
        return checks | {CONSTRAINTS_CHECK.name: outcome}, {"report": report}

    def compact_parts(self, cfg: RelationalConfig, role: str, parts: list[Path], target: Path) -> None:
        if not role.startswith(PARQUET_ROLE):
            super().compact_parts(cfg, role, parts, target)
            return
        # The unsharded writer's schema and dictionary columns: the same bytes whatever the parts' slicing.
        prepared = plan_for(self.ddl, cfg, 0)
        prepared.generator.close()
        table = role.removeprefix(PARQUET_ROLE)
        gen = prepared.generator
        with ParquetBlockWriter(
            target, gen.empty_frame(table).schema, dictionary=dictionary_columns(gen.models[table])
        ) as writer:
            for part in parts:
                frame = pl.read_parquet(part)
                if frame.height:
                    writer.write(frame)

    def compact_set(
        self, cfg: RelationalConfig, seed: int, files: Mapping[str, Path], out_dir: Path
    ) -> dict[str, Path]:
        """The archive and the database of the unsharded run, built from the compacted tables as it builds them."""
        prepared = plan_for(self.ddl, cfg, seed)
        prepared.generator.close()
        order = prepared.plan.insert_order
        zipped = write_zip([files[f"{CSV_ROLE}{n}"] for n in order], out_dir / "dataset.zip")
        parquet = {n: files[f"{PARQUET_ROLE}{n}"] for n in order}
        database = write_duckdb(prepared.schema, prepared.plan, parquet, out_dir / "dataset.duckdb")
        return {"zip": zipped, "duckdb": database}


def schema_dirs() -> list[Path]:
    """Where DDL files are read: the source tree's ``data/schemas`` and ``$SYNTH_DATA_DIR/schemas`` (once if equal)."""
    dirs = [SCHEMAS_DIR, Path(default_data_dir()) / "schemas"]
    return list({d.resolve(): d for d in dirs}.values())


def domains(directory: Path | None = None) -> list[Domain]:
    """One domain per DDL file (``directory``, default every ``schema_dirs()``); two files whose names map
    to one group are refused, naming both."""
    found: dict[str, RelationalDomain] = {}
    files = schema_files(directory) if directory is not None else [p for d in schema_dirs() for p in schema_files(d)]
    for path in files:
        domain = RelationalDomain(path)
        if domain.name in found:
            raise ValueError(f"{path} and {found[domain.name].ddl} map to the same asset group {domain.name!r}")
        found[domain.name] = domain
    return list(found.values())
