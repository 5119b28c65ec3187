"""The studio's service layer: plain functions the REST/Socket.IO API and the Streamlit app both call.

Nothing here knows about HTTP or widgets. Every failure a user can cause is a ``StudioError`` carrying
the HTTP status the API answers with and one line saying what was wrong (the app shows the same line).
Generation reports progress through an ``emit(event, payload)`` callback with the event names of
``docs/api.md``; the API forwards them to Socket.IO, the app to its progress bars.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from synth_pipelines.core.paths import SCHEMAS_DIR, default_data_dir
from synth_pipelines.studio.settings import StudioSettings

Emit = Callable[[str, dict[str, Any]], None]
EVENTS = (
    "generation:start",
    "schema:parsed",
    "table:start",
    "table:progress",
    "table:complete",
    "generation:validation",
    "dataset:saved",
    "generation:complete",
    "generation:error",
)
DEFAULT_PAGE_SIZE = 50


class StudioError(ValueError):
    """A request the studio cannot serve; ``status`` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------------------------------
# Requests (pydantic: the API validates its bodies with these, the app builds them)


class GenerateJob(BaseModel):
    ddl: str | None = Field(None, description="DDL text; give this or `sample`")
    sample: str | None = Field(None, description="a sample schema's name (GET /api/config lists them)")
    filename: str = Field("upload.sql", description="the uploaded file's name (.sql, .ddl or .txt)")
    dialect: Literal["postgres", "mysql", "sqlite"] | None = None
    seed: int = Field(42, ge=0, le=2**63 - 1)
    rows: int | None = Field(None, ge=0, description="rows per table unless overridden; default from settings")
    table_rows: dict[str, int] = Field(default_factory=dict)
    instructions: str | None = Field(None, max_length=20_000)
    ai: bool = Field(False, description="the AI hybrid; needs a provider (not offered in this slice)")
    provider: Literal["offline"] = "offline"
    name: str | None = Field(None, max_length=200)


class ModifyRequest(BaseModel):
    sql: list[str] | None = Field(None, description="UPDATE/DELETE/INSERT statements, run in order")
    spec_patch: dict[str, Any] | None = Field(None, description="a spec patch ({'tables': {...}})")
    feedback: str | None = Field(None, max_length=20_000, description="needs an LLM provider")
    table: str | None = None


class AskRequest(BaseModel):
    sql: str | None = Field(None, max_length=100_000)
    question: str | None = Field(None, max_length=20_000, description="'tables', 'describe T' or 'sample T'")


class UndoRequest(BaseModel):
    to_version: int | None = Field(None, ge=1)


# --------------------------------------------------------------------------------------------------
# Helpers


def settings() -> StudioSettings:
    return StudioSettings()


def _store() -> Any:
    from synth_pipelines.store.catalog import DatasetStore

    return DatasetStore()


def json_value(value: Any) -> Any:
    """A cell as JSON: dates and timestamps as ISO text, decimals as text (exact), bytes as hex."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def _get_info(dataset_id: str) -> Any:
    from synth_pipelines.store.catalog import StoreError

    try:
        return _store().get(dataset_id)
    except StoreError as exc:
        raise StudioError(str(exc), 404) from None


def sample_schemas() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SCHEMAS_DIR.glob("*.sql"))}


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _ddl_text(raw: bytes | str, filename: str) -> str:
    limit = settings().max_upload_bytes
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size > limit:
        raise StudioError(f"{filename}: {size:,} bytes is over the upload limit of {limit:,} bytes", 413)
    if not filename.lower().endswith((".sql", ".ddl", ".txt")):
        raise StudioError(f"{filename}: expected a .sql, .ddl or .txt file", 400)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StudioError(f"{filename}: not UTF-8 text ({exc.reason} at byte {exc.start})", 400) from None
    if not raw.strip():
        raise StudioError(f"{filename}: the file is empty", 400)
    return raw


# --------------------------------------------------------------------------------------------------
# Upload


def parse_ddl_upload(raw: bytes | str, filename: str = "upload.sql", dialect: str | None = None) -> dict[str, Any]:
    """DDL -> the parsed schema: tables, columns, keys and the insert order."""
    from synth_pipelines.domains.relational.ddl import parse_ddl
    from synth_pipelines.domains.relational.plan import make_plan

    text = _ddl_text(raw, filename)
    try:
        schema = parse_ddl(text, filename, dialect)
        plan = make_plan(schema, 1)
    except ValueError as exc:
        raise StudioError(str(exc), 400) from None
    if not schema.tables:
        raise StudioError(f"{filename}: no CREATE TABLE statement found", 400)
    return _schema_json(schema, plan)


def _schema_json(schema: Any, plan: Any) -> dict[str, Any]:
    tables = []
    for name in plan.insert_order:
        table = schema.tables[name]
        tables.append(
            {
                "name": name,
                "columns": [
                    {"name": c.name, "type": c.type.sql, "nullable": c.nullable} for c in table.columns.values()
                ],
                "primaryKey": list(table.primary_key),
                "uniques": [list(u) for u in table.uniques],
                "foreignKeys": [
                    {"columns": list(fk.columns), "references": fk.ref_table, "refColumns": list(fk.ref_columns)}
                    for fk in table.foreign_keys
                ],
                "checks": [c.sql for c in table.checks],
            }
        )
    order = list(plan.insert_order)
    return {"dialect": schema.dialect, "sha256": schema.sha256, "insertOrder": order, "tables": tables}


# --------------------------------------------------------------------------------------------------
# Generate


def check_job(job: GenerateJob) -> None:
    """The limits a job must respect, checked before it is queued (so the API answers 400/413 at once)."""
    limit = settings().max_rows_per_table
    if (job.ddl is None) == (job.sample is None):
        raise StudioError("give exactly one of `ddl` (DDL text) or `sample` (a sample schema's name)", 400)
    if job.sample is not None and job.sample not in sample_schemas():
        raise StudioError(f"unknown sample schema {job.sample!r}; samples: {', '.join(sample_schemas())}", 404)
    if job.ddl is not None:
        _ddl_text(job.ddl, job.filename)
    too_many = {t: n for t, n in job.table_rows.items() if n > limit or n < 0}
    if (job.rows or 0) > limit or too_many:
        raise StudioError(f"rows per table must be between 0 and {limit:,} (maxRowsPerTable)", 400)
    if job.ai:
        raise StudioError("AI generation needs an LLM provider, which the studio does not offer yet; turn AI off", 400)


def generate(job: GenerateJob, emit: Emit | None = None, job_id: str | None = None) -> dict[str, Any]:
    """Generate, validate and keep a dataset; events through ``emit``. Returns datasetId, meta, validation."""
    from synth_pipelines.core.domain import ConstraintViolation
    from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare
    from synth_pipelines.store.modify import save_generated

    job_id = job_id or new_job_id()

    def send(event: str, payload: dict[str, Any]) -> None:
        if emit is not None:
            emit(event, {"jobId": job_id, **payload})

    check_job(job)
    cfg_rows = settings().default_num_records if job.rows is None else job.rows
    work = Path(tempfile.mkdtemp(prefix="synth-studio-"))
    try:
        if job.sample is not None:
            ddl_path = sample_schemas()[job.sample]  # a sample keeps its asset group in the store
        else:
            ddl_path = work / (_SAFE_NAME.sub("_", Path(job.filename).name) or "upload.sql")
            ddl_path.write_text(job.ddl or "", encoding="utf-8")
        send("generation:start", {"source": ddl_path.name, "seed": job.seed, "rows": cfg_rows})
        try:
            cfg = RelationalConfig(
                rows=cfg_rows, table_rows=job.table_rows, dialect=job.dialect, instructions=job.instructions
            )
            prepared = prepare(ddl_path, cfg, job.seed)
        except ValueError as exc:  # name the uploaded file, not the server's temp folder
            raise StudioError(str(exc).replace(f"{work}/", ""), 400) from None
        plan = prepared.plan
        unknown = sorted(set(job.table_rows) - set(plan.insert_order))
        if unknown:
            prepared.generator.close()
            raise StudioError(f"table_rows names unknown table(s): {', '.join(unknown)}", 400)
        over = {t: n for t, n in plan.rows.items() if n > settings().max_rows_per_table}
        if over:  # fan-out can lift a child table over the limit
            prepared.generator.close()
            name, n = next(iter(over.items()))
            raise StudioError(f"{name}: {n:,} rows is over maxRowsPerTable; ask for fewer rows", 400)
        send("schema:parsed", _schema_json(prepared.schema, plan) | {"rows": dict(plan.rows)})
        _report_blocks(prepared.generator, plan.rows, send)
        staged = work / "staged"
        try:
            report, files = export_dataset(prepared, job.seed, staged, ("parquet",))
        except ConstraintViolation as exc:
            raise StudioError(str(exc), 422) from None
        validation = validation_summary(report)
        send("generation:validation", validation)
        parquet = {n: files[f"parquet:{n}"] for n in plan.insert_order}
        info = save_generated(_store(), prepared, cfg, job.seed, ddl_path, job.name, parquet, report)
        send("dataset:saved", {"datasetId": info.id, "name": info.name, "version": info.current_version})
        meta = {"tables": list(info.table_order), "rows": info.meta["rows"], "seed": info.seed}
        result = {"datasetId": info.id, "meta": meta, "validation": validation}
        send("generation:complete", result)
        return result
    except StudioError as exc:
        send("generation:error", {"message": str(exc), "status": exc.status})
        raise
    except Exception as exc:
        send("generation:error", {"message": f"generation failed: {exc}", "status": 500})
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _report_blocks(generator: Any, rows: dict[str, int], send: Callable[[str, dict[str, Any]], None]) -> None:
    """Wrap this generator instance's ``iter_blocks`` so each table reports start, per-block progress and
    completion as ``export_dataset`` draws it (the pipeline itself stays unaware of the studio)."""
    draw = generator.iter_blocks

    def iter_blocks(name: str) -> Iterator[Any]:
        total = rows[name]
        send("table:start", {"table": name, "rows": total})
        done = 0
        for block in draw(name):
            done += block.height
            send("table:progress", {"table": name, "rowsDone": done, "rows": total})
            yield block
        send("table:complete", {"table": name, "rows": done})

    generator.iter_blocks = iter_blocks


def validation_summary(report: dict[str, Any]) -> dict[str, Any]:
    """ok, counts, and every failing constraint and rule by name (the app's red list)."""
    failing = []
    checked = 0
    for name, table in report["tables"].items():
        for c in table["constraints"]:
            checked += 1
            if c["violations"]:
                what = c.get("expression") or ", ".join(c.get("columns", []))
                failing.append({"table": name, "constraint": f"{c['type']} ({what})", "violations": c["violations"]})
    for rule in report.get("rules", []):
        checked += 1
        if rule["violations"]:
            failing.append({"table": rule.get("table"), "constraint": f"rule {rule.get('rule')}", **rule})
    return {
        "ok": bool(report["ok"]),
        "violations": report["violations"],
        "ruleViolations": report["rule_violations"],
        "checked": checked,
        "rules": len(report.get("rules", [])),
        "rows": report["rows"],
        "failing": failing,
    }


# --------------------------------------------------------------------------------------------------
# Jobs: a thread pool, so a job runs to the end whether or not its client is still connected


@dataclass
class Job:
    id: str
    status: str = "queued"  # queued, running, complete, error
    events: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None
    error_status: int | None = None


def new_job_id() -> str:
    return "job-" + secrets.token_hex(6)


class JobRunner:
    def __init__(self, max_concurrent: int, listener: Emit | None = None) -> None:
        self.max_concurrent = max_concurrent
        self.listener = listener
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="studio-job")

    def submit(self, request: GenerateJob) -> Job:
        check_job(request)
        with self._lock:
            active = sum(j.status in ("queued", "running") for j in self.jobs.values())
            if active >= self.max_concurrent:
                raise StudioError(f"{active} generation jobs are running (the limit); try again when one ends", 409)
            job = Job(new_job_id())
            self.jobs[job.id] = job
        self._pool.submit(self._run, job, request)
        return job

    def _run(self, job: Job, request: GenerateJob) -> None:
        def emit(event: str, payload: dict[str, Any]) -> None:
            job.events.append({"event": event, "data": payload})
            if self.listener is not None:
                self.listener(event, payload)

        job.status = "running"
        try:
            job.result = generate(request, emit, job.id)
            job.status = "complete"
        except StudioError as exc:
            job.status, job.error, job.error_status = "error", str(exc), exc.status
        except Exception as exc:  # the job's own failure, reported; the server keeps serving
            job.status, job.error, job.error_status = "error", f"generation failed: {exc}", 500

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise StudioError(f"no job {job_id!r}", 404)
        return job

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def job_json(job: Job) -> dict[str, Any]:
    return {
        "jobId": job.id,
        "status": job.status,
        "result": job.result,
        "error": job.error,
        "events": [e["event"] for e in job.events],
    }


# --------------------------------------------------------------------------------------------------
# Datasets


def list_datasets() -> list[dict[str, Any]]:
    return [_dataset_head(info) for info in _store().list()]


def _dataset_head(info: Any) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "createdAt": info.created_at.isoformat(),
        "seed": info.seed,
        "dialect": info.dialect,
        "currentVersion": info.current_version,
        "assetGroup": info.asset_group,
        "tables": {t: info.meta["rows"][t] for t in info.table_order},
        "totalRows": sum(info.meta["rows"].values()),
    }


def get_dataset(
    dataset_id: str,
    include_data: bool = False,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    table: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """The dataset, its versions, the current validation report summary and spec; with ``include_data``
    one page of rows of every table (or of ``table``)."""
    import json

    import polars as pl

    from synth_pipelines.store.catalog import REPORT_FILE, SPEC_FILE, StoreError

    store = _store()
    info = _get_info(dataset_id)
    number = version or info.current_version
    try:
        store.version(info.id, number)
    except StoreError as exc:
        raise StudioError(str(exc), 404) from None
    if page < 1 or not 1 <= page_size <= settings().page_size_max:
        raise StudioError(f"page must be >= 1 and pageSize between 1 and {settings().page_size_max}", 400)
    if table is not None and table not in info.table_order:
        raise StudioError(f"unknown table {table!r}; the tables are: {', '.join(info.table_order)}", 404)
    folder = store.version_dir(info.id, number)
    report = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
    out = _dataset_head(info) | {
        "version": number,
        "ddl": info.ddl,
        "spec": (folder / SPEC_FILE).read_text(encoding="utf-8"),
        "validation": validation_summary(report),
        "rowsByTable": report["rows"],
        "versions": [_version_json(v) for v in store.versions(info.id)],
    }
    if include_data:
        data = {}
        for name, path in store.table_files(info, number).items():
            if table is not None and name != table:
                continue
            frame = pl.read_parquet(path)
            chunk = frame.slice((page - 1) * page_size, page_size)
            data[name] = {
                "columns": chunk.columns,
                "rows": [[json_value(v) for v in row] for row in chunk.iter_rows()],
                "page": page,
                "pageSize": page_size,
                "totalRows": frame.height,
                "pages": max(1, -(-frame.height // page_size)),
            }
        out["data"] = data
    return out


def _version_json(v: Any) -> dict[str, Any]:
    from synth_pipelines.store.versions import diff_line

    return {
        "version": v.version,
        "createdAt": v.created_at.isoformat(),
        "createdBy": v.created_by,
        "kind": v.kind,
        "parent": v.parent_version,
        "summary": diff_line(v.diff) if v.diff else "generated",
        "plan": json_value(v.plan),
    }


def export_zip(dataset_id: str, version: int | None = None, fmt: str = "csv") -> bytes:
    """The version's tables as a ZIP of CSVs (or Parquet): the same version always gives the same bytes."""
    from synth_pipelines.store.catalog import StoreError
    from synth_pipelines.store.versions import EXPORT_FORMATS, export_version

    if fmt not in EXPORT_FORMATS:
        raise StudioError(f"format must be one of {', '.join(EXPORT_FORMATS)}", 400)
    store = _store()
    info = _get_info(dataset_id)
    try:
        files = store.table_files(info, store.version(info.id, version or info.current_version).version)
    except StoreError as exc:
        raise StudioError(str(exc), 404) from None
    with tempfile.TemporaryDirectory(prefix="synth-studio-zip-") as tmp:
        path = export_version(info, files, Path(tmp) / "dataset.zip", fmt)
        return path.read_bytes()


def _outcome_json(outcome: Any) -> dict[str, Any]:
    from synth_pipelines.store.versions import diff_line

    return {
        "datasetId": outcome.info.id,
        "version": outcome.version,
        "summary": diff_line(outcome.diff),
        "diff": json_value(outcome.diff),
        "plan": json_value(outcome.plan),
    }


def modify(dataset_id: str, request: ModifyRequest) -> dict[str, Any]:
    """One edit (SQL statements or a spec patch), validated whole; refused edits change nothing."""
    from synth_pipelines.store.catalog import StoreError
    from synth_pipelines.store.modify import EditRefused, apply_spec_patch, apply_sql, load_patch_text

    given = [k for k in ("sql", "spec_patch", "feedback") if getattr(request, k) not in (None, [], "")]
    if len(given) != 1:
        raise StudioError("give exactly one of sql, spec_patch or feedback", 400)
    info = _get_info(dataset_id)
    if request.table is not None and request.table not in info.table_order:
        raise StudioError(f"unknown table {request.table!r}; the tables are: {', '.join(info.table_order)}", 404)
    if request.feedback:
        raise StudioError(
            "feedback needs an LLM provider, which the studio does not offer yet; give the edit as SQL "
            "(UPDATE/DELETE/INSERT) or a spec patch",
            400,
        )
    try:
        if request.sql:
            outcome = apply_sql(_store(), info.id, request.sql)
        else:
            import json

            patch = load_patch_text(json.dumps(request.spec_patch), "spec_patch")
            outcome = apply_spec_patch(_store(), info.id, patch)
    except EditRefused as exc:
        # A violated constraint is invalid rows (422); a refused or failing statement is a bad request (400).
        status = 422 if "violates" in str(exc) or "does not fit" in str(exc) else 400
        raise StudioError(str(exc), status) from None
    except StoreError as exc:
        raise StudioError(str(exc), 409) from None
    return _outcome_json(outcome)


def undo(dataset_id: str, to_version: int | None = None) -> dict[str, Any]:
    from synth_pipelines.store.catalog import StoreError
    from synth_pipelines.store.modify import EditRefused
    from synth_pipelines.store.modify import undo as store_undo

    info = _get_info(dataset_id)
    try:
        return _outcome_json(store_undo(_store(), info.id, to_version))
    except EditRefused as exc:
        raise StudioError(str(exc), 409) from None
    except StoreError as exc:
        raise StudioError(str(exc), 404) from None


def ask(dataset_id: str, sql: str | None = None, question: str | None = None) -> dict[str, Any]:
    """A question offline: SQL through the safety gate, or 'tables' / 'describe T' / 'sample T'."""
    from synth_pipelines.ask.engine import AskRefused, ask_catalog, ask_sql
    from synth_pipelines.store.gate import GateRefused, QueryTimeout

    if (sql is None or not sql.strip()) == (question is None or not question.strip()):
        raise StudioError("give exactly one of sql or question", 400)
    info = _get_info(dataset_id)
    try:
        answer = ask_sql(_store(), info.id, sql) if sql else ask_catalog(_store(), info.id, question or "")
    except (GateRefused, AskRefused, QueryTimeout) as exc:
        raise StudioError(str(exc), 400) from None
    except Exception as exc:  # DuckDB's error on a query that passed the gate (a typo'd column...)
        if type(exc).__module__.startswith("duckdb"):
            raise StudioError(f"the query failed: {str(exc).splitlines()[0]}", 400) from None
        raise
    return {
        "datasetId": info.id,
        "sql": answer.sql,
        "columns": answer.columns,
        "rows": [[json_value(v) for v in row] for row in answer.rows],
        "truncated": answer.truncated,
    }


# --------------------------------------------------------------------------------------------------
# Config and health


def config() -> dict[str, Any]:
    """What a client needs to build its form; never an API key."""
    from synth_pipelines.llm.settings import LLMSettings

    s = settings()
    try:
        llm = LLMSettings()
        provider, model = llm.provider, llm.model
    except ValueError:  # a broken provider environment: the studio still works offline
        provider, model = "offline", None
    return {
        "maxRowsPerTable": s.max_rows_per_table,
        "defaultNumRecords": s.default_num_records,
        "aiEnabled": False,  # this slice generates offline only (see docs/api.md)
        "provider": provider,
        "model": model,
        "maxUploadBytes": s.max_upload_bytes,
        "maxConcurrentJobs": s.max_concurrent_jobs,
        "samples": list(sample_schemas()),
    }


def health() -> dict[str, Any]:
    store = _store()
    state = store.migrations()
    try:
        datasets = len(store.list()) if state.ok or state.pending else None
    except Exception as exc:  # report an unreadable catalog instead of failing the health check
        return {"status": "error", "catalog": {"path": str(store.catalog_path), "error": str(exc).splitlines()[0]}}
    return {
        "status": "ok" if not state.unknown else "degraded",
        "dataDir": str(Path(default_data_dir())),
        "catalog": {"path": str(store.catalog_path), "exists": store.catalog_path.exists(), "datasets": datasets},
        "migrations": {"applied": len(state.applied), "pending": state.pending, "unknown": state.unknown},
    }
