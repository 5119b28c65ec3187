"""NLP training sets (asset group ``nlp``): qa, pair, triplet, pair-class, pair-score and custom formats.

``draw`` makes the samples (table ``samples``, through the run's LLM session, or offline from
documents), ``normalize`` fixes the column types, the schema check re-checks every record with
pandera, ``export`` writes ``<prefix>_<format>_<source>.{jsonl,csv,parquet}``.

A record's ``source`` says where its content came from: ``llm`` (model output, whether it was
received in this run or replayed from the response cache) or ``offline``; ``method`` says how
(``llm``, ``extractive``, ``template``). Cache hits are counted per run in the metadata rather than
per record, because a warm-cache rerun must write byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import pandera.polars as pa
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synth_pipelines.core.domain import SCHEMA_CHECK, ConstraintViolation, Domain, RunContext, Tables, UnitsWritten
from synth_pipelines.core.export import write_frame
from synth_pipelines.domains.nlp.formats import BUILTIN_FORMATS, LABELS, Format, resolve_format
from synth_pipelines.domains.nlp.indexed import Corpus, SampleBuilder
from synth_pipelines.domains.nlp.plan import Job, request_seed
from synth_pipelines.domains.nlp.prompts import refine_messages
from synth_pipelines.domains.nlp.run import Balance, Checkpoint, RunReport, make_samples
from synth_pipelines.domains.nlp.sources import SAMPLE_DOCS, load_passages
from synth_pipelines.llm.contract import GenerationStats, LLMRequest
from synth_pipelines.llm.session import LLMSession
from synth_pipelines.llm.settings import LLMSettings

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
LIVE_CHUNK = 4096  # offline samples built (and, with --incremental-save, appended to the JSONL) at a time
META_COLUMNS = {"source": pl.String(), "method": pl.String()}


class NLPConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(None, description="what the data is about (instead of documents)")
    documents: str | None = Field(
        None, description="a .txt/.md/.pdf/.html file or folder; default: the bundled sample documents"
    )
    format: str = Field("qa", description="qa | pair | triplet | pair-class | pair-score")
    custom_format: str | None = Field(None, description="path to a custom format JSON file (overrides format)")
    samples: int = Field(50, ge=1, le=1_000_000, description="unique, valid samples to make")
    samples_per_request: int = Field(5, ge=1, le=50)
    max_rounds: int = Field(5, ge=1, le=100, description="refill rounds before giving up on the target")
    refine: bool = Field(True, description="let the LLM refine a bare query first (queries only)")
    class_balance_tolerance: float = Field(0.1, ge=0.0, le=1.0, description="pair-class: each class within ±x of N/3")
    passage_chars: int = Field(600, ge=100, le=20_000)
    output_prefix: str = "nlp"
    output_formats: list[str] = Field(
        default_factory=lambda: list(OUTPUT_FORMATS), description="files to write (all: every one)"
    )
    incremental_save: bool = Field(
        False,
        description="CLI: write accepted records to the final JSONL as they come; the finished file replaces it",
    )

    @field_validator("output_formats")
    @classmethod
    def _known_outputs(cls, value: list[str]) -> list[str]:
        if "all" in value:
            value = list(OUTPUT_FORMATS)
        unknown = [v for v in value if v not in OUTPUT_FORMATS]
        if unknown or not value:
            raise ValueError(f"output_formats must be a non-empty subset of {list(OUTPUT_FORMATS)}, got {value}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _one_source(self) -> NLPConfig:
        if self.query and self.documents:
            raise ValueError("give either query or documents, not both")
        if self.query is not None and not self.query.strip():
            raise ValueError("query is empty")
        if not self.custom_format and self.format not in BUILTIN_FORMATS:
            raise ValueError(f"unknown format {self.format!r}; built-in: {', '.join(BUILTIN_FORMATS)}")
        return self


class Refined(BaseModel):
    topic: str = Field(..., description="the request as one precise topic description")
    subtopics: list[str] = Field(..., description="5 to 8 distinct subtopics")


class NLPDomain(Domain):
    name: ClassVar[str] = "nlp"
    cli_name: ClassVar[str] = "nlp"
    version: ClassVar[str] = "2"  # 2: offline samples by index (indexed.py)
    description: ClassVar[str] = "NLP training sets (qa, pair, triplet, pair-class, pair-score, custom) from an LLM"
    config_model: ClassVar[type[BaseModel]] = NLPConfig
    uses_llm: ClassVar[bool] = True
    has_raw_form: ClassVar[bool] = True

    def draw(self, cfg: Any, seed: int, ctx: RunContext) -> Tables:
        # No session: offline (the contract's default), with a session of its own that this run closes.
        own_session = ctx.llm is None
        offline = LLMSettings.resolve({"provider": "offline"}, environ={}, dotenv_path=None)
        session: LLMSession = LLMSession(offline, ctx.data_dir, ctx.log) if own_session else ctx.llm
        try:
            return {"samples": self._draw(cfg, seed, ctx, session)}
        finally:
            if own_session:
                session.close()

    def _draw(self, cfg: Any, seed: int, ctx: RunContext, session: LLMSession) -> pl.DataFrame:
        started = time.perf_counter()
        settings = session.settings
        fmt = resolve_format(cfg.format, cfg.custom_format)
        documents = cfg.documents or (None if cfg.query else str(SAMPLE_DOCS))
        passages, files = [], []
        if documents:
            files, passages = load_passages(documents, cfg.passage_chars)
        if settings.is_offline:
            return self._draw_offline(cfg, seed, ctx, settings, fmt, documents, files, passages, started)
        registry: dict[str, Job] = {}
        generator = session.generator()  # an LLM provider (offline runs returned above); the session closes it
        topics, refinement = self._topics(cfg, seed, settings, generator, ctx)
        method = "llm"
        fingerprint = _fingerprint(cfg, fmt, seed, self.version, settings, passages)
        live = None
        if cfg.incremental_save and ctx.live_dir is not None:
            live = Path(ctx.live_dir) / f"{output_name(cfg, fmt, settings.is_offline)}.jsonl"
        checkpoint = Checkpoint(
            ctx.data_dir / "nlp" / "checkpoints" / f"seed={seed}-{fingerprint[:20]}.jsonl", fingerprint, live
        )
        balance = (
            Balance(cfg.samples, cfg.class_balance_tolerance) if fmt.builtin and fmt.name == "pair-class" else None
        )
        report = make_samples(
            fmt, seed, cfg.samples, cfg.samples_per_request, settings.batch_size, cfg.max_rounds,
            passages, topics, generator, checkpoint, method, balance, ctx.progress, ctx.log, registry,
        )  # fmt: skip
        stats = generator.stats
        if report.stop_reason != "token budget spent":
            checkpoint.remove()
        seconds = time.perf_counter() - started
        ctx.metadata.update(
            _metadata(report, stats.as_metadata(), settings, fmt, refinement, documents, files, passages, seconds)
        )
        if balance is not None:
            ctx.metadata["class_counts"] = {LABELS[k]: v for k, v in balance.counts.items()}
            ctx.metadata["class_balance_ok"] = balance.ok()
            ctx.metadata["class_balance_bounds"] = f"{balance.lower}..{balance.upper} per class"
        if not report.records:
            reasons = ", ".join(f"{k} x{v}" for k, v in report.invalid.most_common(5)) or "no answers"
            raise ConstraintViolation(
                f"nlp seed={seed}: no valid {fmt.name} samples were made ({report.stop_reason}; rejected: {reasons})"
            )
        if report.shortfall > 0:
            ctx.log.warning(
                f"nlp seed={seed}: made {len(report.records)} of {cfg.samples} {fmt.name} samples "
                f"({report.stop_reason})"
            )
        return records_frame(fmt, report.records)

    def _draw_offline(
        self,
        cfg: Any,
        seed: int,
        ctx: RunContext,
        settings: LLMSettings,
        fmt: Format,
        documents: str | None,
        files: list[Path],
        passages: list,
        started: float,
    ) -> pl.DataFrame:
        """Offline samples by index (``indexed.py``): no rounds, no dedup, no checkpoint; a rerun recomputes."""
        builder = sample_builder(cfg, fmt, seed, passages)
        where = documents if documents else "a bare query"
        builder.check_target(cfg.samples, str(where))
        if builder.corpus is None:
            ctx.log.warning("offline provider with a bare query: samples are labelled templates (method=template)")
        method = "extractive" if passages else "template"
        live = None
        if cfg.incremental_save and ctx.live_dir is not None:
            live = Path(ctx.live_dir) / f"{output_name(cfg, fmt, True)}.jsonl"
            live.parent.mkdir(parents=True, exist_ok=True)
            live.write_text("", encoding="utf-8")
        records: list[dict[str, Any]] = []
        for start in range(0, cfg.samples, LIVE_CHUNK):
            chunk = [
                s | {"source": "offline", "method": method}
                for s in builder.build(start, min(cfg.samples, start + LIVE_CHUNK))
            ]
            records.extend(chunk)
            if live is not None:  # --incremental-save: readable while the run goes on
                with open(live, "a", encoding="utf-8") as fh:
                    fh.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
            if ctx.progress:
                ctx.progress(len(chunk))
        seconds = time.perf_counter() - started
        report = RunReport(records=records, target=cfg.samples)
        stats = GenerationStats(offline_results=len(records)).as_metadata()
        refinement = (
            {"query_refinement": "not applicable (documents)"}
            if not cfg.query
            else {"query_refinement": "skipped (offline provider)" if cfg.refine else "off"}
        )
        ctx.metadata.update(_metadata(report, stats, settings, fmt, refinement, documents, files, passages, seconds))
        ctx.metadata["sample_space"] = builder.capacity()
        ctx.metadata["samples_built"] = builder.built
        if fmt.builtin and fmt.name == "pair-class":
            balance = Balance(cfg.samples, cfg.class_balance_tolerance)
            for record in records:
                balance.add(record["label"])
            ctx.metadata["class_counts"] = {LABELS[k]: v for k, v in balance.counts.items()}
            ctx.metadata["class_balance_ok"] = balance.ok()
            ctx.metadata["class_balance_bounds"] = f"{balance.lower}..{balance.upper} per class"
        return records_frame(fmt, records)

    def _topics(
        self, cfg: Any, seed: int, settings: LLMSettings, generator: Any, ctx: RunContext
    ) -> tuple[list[str], dict[str, Any]]:
        if not cfg.query:
            return [], {"query_refinement": "not applicable (documents)"}
        if not cfg.refine:
            return [cfg.query], {"query_refinement": "off"}
        if settings.is_offline:
            return [cfg.query], {"query_refinement": "skipped (offline provider)"}
        request = LLMRequest(refine_messages(cfg.query), request_seed(seed, -1, 0), "refine-query")
        result = generator.generate([request], Refined)[0]
        if result.value is None:
            ctx.log.warning(f"query refinement failed ({result.error}); using the query as given")
            return [cfg.query], {"query_refinement": f"failed: {result.error}"}
        refined: Refined = result.value  # type: ignore[assignment]
        topics = [refined.topic] + [f"{refined.topic} — {sub}" for sub in refined.subtopics if sub.strip()]
        return topics, {
            "query_refinement": "on",
            "refined_query": refined.topic,
            "subtopics": refined.subtopics,
        }

    def normalize(self, raw: Tables, cfg: Any) -> Tables:
        columns = self.columns(cfg)
        return {"samples": raw["samples"].select([pl.col(n).cast(t) for n, t in columns.items()])}

    def columns(self, cfg: Any) -> dict[str, pl.DataType]:
        fmt = resolve_format(cfg.format, cfg.custom_format)
        return fmt.polars_schema() | META_COLUMNS

    def schemas(self, cfg: Any) -> dict[str, pa.DataFrameSchema]:
        columns = self.columns(cfg)
        return {"samples": schema_for(list(columns), columns)}

    def export(self, tables: Tables, cfg: Any, seed: int, out_dir: Path, ctx: RunContext) -> dict[str, Path]:
        clean = tables["samples"]
        fmt = resolve_format(cfg.format, cfg.custom_format)
        offline = bool(clean.height) and bool((clean["source"] == "offline").all())
        name = output_name(cfg, fmt, offline)
        return {ext: write_frame(clean, Path(out_dir) / f"{name}.{ext}") for ext in cfg.output_formats}

    # ---- scale-out (core/shards.py, docs/scale-out.md) -------------------------------------------
    # Units are sample indexes. Offline, sample i is a function of (seed, config, i) (``indexed.py``): a shard
    # builds only its own samples, checks them, and reports numbers the commit adds up; the claims no shard
    # can decide alone (unique samples, pair-class shares) are decided over all parts at the commit.

    def shard_units(self, cfg: Any) -> int:
        if cfg.incremental_save:
            from synth_pipelines.core.shards import ShardError  # core.shards imports the domain contract

            raise ShardError("nlp: --incremental-save cannot be combined with --shards (each shard writes its part)")
        return int(cfg.samples)

    def write_units(self, cfg: Any, seed: int, start: int, stop: int, out_dir: Path, ctx: RunContext) -> UnitsWritten:
        """Samples ``start .. stop``, built alone (never the samples before them)."""
        if ctx.llm is not None and not ctx.llm.settings.is_offline:
            raise ConstraintViolation("nlp: shards are drawn offline only")
        fmt = resolve_format(cfg.format, cfg.custom_format)
        documents = cfg.documents or (None if cfg.query else str(SAMPLE_DOCS))
        passages = load_passages(documents, cfg.passage_chars)[1] if documents else []
        builder = sample_builder(cfg, fmt, seed, passages)
        builder.check_target(cfg.samples, documents or "a bare query")  # the whole set's target, in every shard
        method = "extractive" if passages else "template"
        records = [s | {"source": "offline", "method": method} for s in builder.build(start, stop)]
        tables = self.normalize({"samples": records_frame(fmt, records)}, cfg)
        for outcome in self.checks(tables, cfg, seed):
            if not outcome.passed:
                raise ConstraintViolation(f"nlp seed={seed} samples {start}..{stop}: {outcome.summary}")
        part = tables["samples"]
        name = output_name(cfg, fmt, True)
        files = {ext: write_frame(part, Path(out_dir) / f"{name}.{ext}") for ext in cfg.output_formats}
        checks: dict[str, dict[str, Any]] = {
            # The schema on this part; uniqueness across parts is decided at the commit (check_set_parts).
            SCHEMA_CHECK.name: {"passed": True, "rows": part.height},
            "offline_draw": {"passed": True, "samples_built": builder.built},
        }
        if fmt.builtin and fmt.name == "pair-class":
            counts = part["label"].value_counts()
            checks["class_counts"] = {"passed": True} | {
                str(label): int(counts.filter(pl.col("label") == label)["count"].sum()) for label in LABELS
            }
        return UnitsWritten(files, checks)

    def summarize_shard_checks(self, cfg: Any, checks: dict[str, Any]) -> dict[str, Any]:
        """pair-class: each class within its bounds over the whole set, from the summed per-shard counts."""
        if "class_counts" not in checks:
            return checks
        balance = Balance(cfg.samples, cfg.class_balance_tolerance)
        counts = {int(label): checks["class_counts"][str(label)] for label in LABELS}
        balance.counts = counts
        ok = balance.ok()
        checks["class_counts"] = checks["class_counts"] | {"passed": ok, "bounds": [balance.lower, balance.upper]}
        if not ok:
            checks[SCHEMA_CHECK.name] = checks[SCHEMA_CHECK.name] | {
                "passed": False,
                "reason": f"pair-class counts {counts} outside {balance.lower}..{balance.upper}",
            }
        return checks

    def check_set_parts(self, cfg: Any, parts: dict[str, list[Path]], checks: dict[str, Any]) -> dict[str, Any]:
        """Unique samples over ALL parts (case-folded, whitespace-collapsed texts), counted by reading them back."""
        fmt = resolve_format(cfg.format, cfg.custom_format)
        columns = self.columns(cfg)
        role = next(ext for ext in ("parquet", "jsonl", "csv") if ext in parts)
        files = [str(p) for p in parts[role] if p.stat().st_size]
        if not files:
            return checks
        if role == "parquet":
            scan = pl.scan_parquet(files)
        elif role == "jsonl":
            scan = pl.scan_ndjson(files, schema=columns)
        else:
            scan = pl.scan_csv(files, schema=columns)
        keys = [
            pl.col(f.name).cast(pl.String).str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
            for f in fmt.fields
        ]
        counted = scan.select(pl.len().alias("rows"), pl.struct(keys).n_unique().alias("distinct")).collect().row(0)
        rows, distinct = int(counted[0]), int(counted[1])
        schema = checks[SCHEMA_CHECK.name] | {"unique_over_parts": {"rows": rows, "distinct": distinct}}
        if distinct != rows:
            schema |= {"passed": False, "reason": f"{rows - distinct} duplicate samples across parts ({role})"}
        checks[SCHEMA_CHECK.name] = schema
        return checks


def sample_builder(cfg: Any, fmt: Format, seed: int, passages: list) -> SampleBuilder:
    """The offline builder of a config: over the documents' sentences, or templates for a bare query."""
    return SampleBuilder(fmt, seed, Corpus.of(passages) if passages else None, cfg.query)


def output_name(cfg: Any, fmt: Format, offline: bool) -> str:
    """``<prefix>_<format>_<source>``, plus ``_from_query`` for a query run: it never overwrites a document run's."""
    name = f"{Path(cfg.output_prefix).name}_{fmt.name}_{'offline' if offline else 'llm'}"
    return name + "_from_query" if cfg.query else name


def domains() -> list[Domain]:
    return [NLPDomain()]


def records_frame(fmt: Format, records: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(records, schema=fmt.polars_schema() | META_COLUMNS, orient="row")


def schema_for(columns: list[str], dtypes: dict[str, Any]) -> pa.DataFrameSchema:
    """pandera checks for whatever format the frame holds (built-in fields get their specific checks)."""
    meta = {"source", "method"}
    specs: dict[str, pa.Column] = {
        "source": pa.Column(pl.String, pa.Check.isin(["llm", "offline"])),
        "method": pa.Column(pl.String, pa.Check.isin(["llm", "extractive", "template"])),
    }
    for name in columns:
        if name in meta:
            continue
        if name == "label" and "premise" in columns:
            specs[name] = pa.Column(pl.Int64, pa.Check.isin(list(LABELS)))
        elif name == "score" and "sentence1" in columns:
            specs[name] = pa.Column(pl.Float64, pa.Check.in_range(0.0, 1.0))
        elif name == "answer" and "context" in columns:
            specs[name] = pa.Column(pl.String, [pa.Check.str_length(min_value=1), _answer_in_context()])
        elif dtypes.get(name, pl.String) == pl.String:
            specs[name] = pa.Column(pl.String, pa.Check.str_length(min_value=1), nullable=True)
        else:
            specs[name] = pa.Column(dtypes[name], nullable=True)
    fields = [c for c in columns if c not in meta]
    return pa.DataFrameSchema(specs, strict=True, unique=fields or None)


def _answer_in_context() -> pa.Check:
    def squash(col: str) -> pl.Expr:
        return pl.col(col).str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()

    return pa.Check(
        lambda data: data.lazyframe.select(squash("context").str.contains(squash("answer"), literal=True)),
        name="answer_in_context",
        error="the answer is not a span of the context",
    )


def _fingerprint(cfg: Any, fmt: Format, seed: int, version: str, settings: LLMSettings, passages: list) -> str:
    data = {
        "cfg": cfg.model_dump(exclude={"output_prefix", "output_formats", "incremental_save"}),
        "format": fmt.spec_json(),
        "seed": seed,
        "version": version,
        "llm": settings.model_dump(
            include={"provider", "model", "temperature", "top_p", "top_k", "max_tokens", "structured_method"}
        ),
        "batch_size": settings.batch_size,
        "passages": hashlib.sha256("\x00".join(p.text for p in passages).encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _metadata(
    report: RunReport,
    llm_stats: dict[str, Any],
    settings: LLMSettings,
    fmt: Format,
    refinement: dict[str, Any],
    documents: str | None,
    files: list[Path],
    passages: list,
    seconds: float,
) -> dict[str, Any]:
    return {
        **llm_stats,
        "llm_provider": settings.provider,
        "llm_model": settings.model,
        "nlp_format": fmt.name,
        "samples_target": report.target,
        "samples_made": len(report.records),
        "shortfall": report.shortfall,
        "stop_reason": report.stop_reason or "target reached",
        "rounds": report.rounds,
        "batches_sent": report.batches,
        "invalid_samples": sum(report.invalid.values()),
        "invalid_reasons": dict(report.invalid.most_common(10)),
        "duplicates_dropped": report.duplicates,
        "over_quota_dropped": report.over_quota,
        "failed_requests": report.failed_requests,
        "resumed_records": report.resumed_records,
        "records_per_second": round(len(report.records) / seconds, 1) if seconds > 0 else 0.0,
        "documents": documents or "(query)",
        "document_files": len(files),
        "passages": len(passages),
        **refinement,
    }
