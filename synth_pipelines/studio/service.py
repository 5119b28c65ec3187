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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from synth_pipelines.core.paths import default_data_dir
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


class ProviderChoice(BaseModel):
    """Which LLM answers a request. The server's environment holds the key and decides which provider it
    offers (``SYNTH_LLM_PROVIDER``...); a request may pick that provider or offline, a model, a temperature,
    and a base URL the server allows (the key is only ever sent to those). Never a key."""

    provider: Literal["offline", "openai", "azure", "google"] | None = Field(
        None, description="offline, or the provider the server is configured with (GET /api/config); unset: that one"
    )
    model: str | None = Field(None, max_length=200, description="unset: the server's model")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    base_url: str | None = Field(
        None, max_length=500, description="the server's base URL or one of SYNTH_STUDIO_LLM_BASE_URLS (unset: its own)"
    )


class GenerateJob(BaseModel):
    ddl: str | None = Field(None, description="DDL text; give this or `sample`")
    sample: str | None = Field(None, description="a sample schema's name (GET /api/config lists them)")
    filename: str = Field("upload.sql", description="the uploaded file's name (.sql, .ddl or .txt)")
    dialect: Literal["postgres", "mysql", "sqlite"] | None = None
    seed: int = Field(42, ge=0, le=2**63 - 1)
    rows: int | None = Field(None, ge=0, description="rows per table unless overridden; default from settings")
    table_rows: dict[str, int] = Field(default_factory=dict)
    instructions: str | None = Field(None, max_length=20_000)
    ai: bool = Field(False, description="the AI hybrid: one spec-patch request per table through the provider")
    llm: ProviderChoice = Field(default_factory=ProviderChoice, description="the provider for `ai`")
    spec: str | None = Field(
        None, max_length=1_000_000, description="a generation spec (YAML or JSON text) merged over the inferred one"
    )
    name: str | None = Field(None, max_length=200)


class ModifyRequest(BaseModel):
    sql: list[str] | None = Field(None, description="UPDATE/DELETE/INSERT statements, run in order")
    spec_patch: dict[str, Any] | None = Field(None, description="a spec patch ({'tables': {...}})")
    feedback: str | None = Field(None, max_length=20_000, description="the edit in words, through the provider")
    table: str | None = Field(None, description="with feedback: the table it is about")
    llm: ProviderChoice = Field(default_factory=ProviderChoice, description="the provider for `feedback`")


class AskRequest(BaseModel):
    sql: str | None = Field(None, max_length=100_000)
    question: str | None = Field(
        None, max_length=20_000, description="'tables', 'describe T', 'sample T', or words (through the provider)"
    )
    conversation: str | None = Field(None, max_length=100, description="continue this conversation (follow-up)")
    llm: ProviderChoice = Field(default_factory=ProviderChoice, description="the provider for a question in words")


class PromoteRequest(BaseModel):
    name: str | None = Field(
        None, max_length=100, description="the asset group's name (default: the dataset's name, else its id)"
    )
    version: int | None = Field(None, ge=1, le=10**9, description="the version whose spec is kept (default: current)")


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
    """The DDL files of every asset group (``data/schemas/`` and ``$SYNTH_DATA_DIR/schemas/``: promoted ones too)."""
    from synth_pipelines.domains.relational.domain import schema_dirs, schema_files

    return {p.stem: p for d in schema_dirs() for p in schema_files(d) if p.suffix.lower() == ".sql"}


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
# Provider


def _server_llm() -> Any:
    from synth_pipelines.llm.settings import LLMSettings, SettingsError

    try:
        return LLMSettings.resolve()
    except SettingsError as exc:  # names the variable to fix, never a value
        raise StudioError(f"the server's LLM settings are invalid: {exc}", 400) from None


def llm_settings(choice: ProviderChoice, purpose: str) -> Any:
    """The ``LLMSettings`` a request may use, or one ``StudioError`` (400) saying what to fix.

    The key always comes from the server's environment. A request picks the server's provider (or
    offline, which cannot serve ``purpose``), a model, a temperature, and a base URL only among the
    server's own and ``SYNTH_STUDIO_LLM_BASE_URLS``: the key is sent to that URL, so no client may
    name another host.
    """
    from synth_pipelines.llm.settings import LLMSettings, SettingsError

    server = _server_llm()
    provider = choice.provider or server.provider
    if provider == "offline" and server.is_offline:
        raise StudioError(
            f"{purpose} needs an LLM provider, and this server has none: set SYNTH_LLM_PROVIDER and the "
            "provider's key where it runs",
            400,
        )
    if provider == "offline":
        raise StudioError(f"{purpose} needs an LLM provider: choose {server.provider!r}, not offline", 400)
    if provider != server.provider:
        raise StudioError(
            f"provider {provider!r} is not configured on this server (it offers {server.provider!r}; "
            "set SYNTH_LLM_PROVIDER and its key where the server runs)",
            400,
        )
    allowed = {u.rstrip("/") for u in (server.base_url, *settings().llm_base_urls) if u}
    if choice.base_url and choice.base_url.rstrip("/") not in allowed:
        raise StudioError(
            f"base_url {choice.base_url!r} is not one this server allows (its configured one or "
            "SYNTH_STUDIO_LLM_BASE_URLS): the provider key is only sent there",
            400,
        )
    explicit = {"provider": provider, "model": choice.model or None, "temperature": choice.temperature,
                "base_url": choice.base_url or None}  # fmt: skip
    try:
        chosen = LLMSettings.resolve(explicit)
        chosen.require_azure()
        if not chosen.vertexai:
            chosen.require_key()
    except SettingsError as exc:
        raise StudioError(str(exc), 400) from None
    return chosen


@contextmanager
def _llm_session(llm: Any) -> Iterator[Any]:
    """One request's provider clients (closed at the end); responses cached under the data dir."""
    from synth_pipelines.llm.session import LLMSession

    with LLMSession(llm, Path(default_data_dir())) as session:
        yield session


@contextmanager
def provider_errors() -> Iterator[None]:
    """A provider that fails (auth, budget, network after retries) is a bad gateway: 502, one line, no key
    (the LLM layer redacts the key from its errors)."""
    from synth_pipelines.llm.contract import LLMError

    try:
        yield
    except LLMError as exc:
        line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StudioError(f"the LLM provider failed: {line}", 502) from None


def provider_json() -> dict[str, Any]:
    """The server's provider as a client may see it: provider, model, whether a key is set; never the key."""
    try:
        server = _server_llm()
    except StudioError:
        return {"provider": "offline", "model": None, "keySet": False, "ready": False}
    key_set = server.api_key is not None and bool(server.api_key.get_secret_value())
    ready = not server.is_offline and (key_set or server.vertexai)
    return {"provider": server.provider, "model": server.model, "keySet": key_set, "ready": ready}


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
        llm_settings(job.llm, "AI generation")
    if job.spec is not None:
        check_spec_text(job.spec)


def check_spec_text(text: str) -> None:
    """A spec's text parses (YAML or JSON) and has the spec's shape: else 400 at once, naming the field.
    Whether it fits the schema (its tables, columns, CHECKs) is decided when the job runs."""
    import yaml
    from pydantic import ValidationError

    from synth_pipelines.core.safe_yaml import load_yaml
    from synth_pipelines.domains.relational.spec import GenerationSpec

    if not text.strip():
        raise StudioError("the spec is empty: give a generation spec (YAML) or leave it out", 400)
    try:
        data = load_yaml(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise StudioError(f"the spec is not valid YAML: {' '.join(str(exc).split())}", 400) from None
    try:
        GenerationSpec.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "the spec"
        raise StudioError(f"the spec: {where}: {first['msg']}", 400) from None


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
    llm = llm_settings(job.llm, "AI generation") if job.ai else None
    cfg_rows = settings().default_num_records if job.rows is None else job.rows
    work = Path(tempfile.mkdtemp(prefix="synth-studio-"))
    try:
        if job.sample is not None:
            ddl_path = sample_schemas()[job.sample]  # a sample keeps its asset group in the store
        else:
            ddl_path = work / (_SAFE_NAME.sub("_", Path(job.filename).name) or "upload.sql")
            ddl_path.write_text(job.ddl or "", encoding="utf-8")
        spec_path = None
        if job.spec is None and job.sample is not None:
            from synth_pipelines.domains.relational.domain import spec_beside

            beside = spec_beside(ddl_path)
            spec_path = beside if beside.is_file() else None  # a promoted schema's own spec
        if job.spec is not None:
            spec_path = work / "spec.yaml"  # the spec loader reads YAML and JSON alike
            spec_path.write_text(job.spec, encoding="utf-8")
        send("generation:start", {"source": ddl_path.name, "seed": job.seed, "rows": cfg_rows})
        try:
            cfg = RelationalConfig(
                rows=cfg_rows,
                table_rows=job.table_rows,
                dialect=job.dialect,
                instructions=job.instructions,
                spec=None if spec_path is None else str(spec_path),
            )
            if llm is None:
                prepared = prepare(ddl_path, cfg, job.seed)
            else:
                with provider_errors(), _llm_session(llm) as session:
                    prepared = prepare(ddl_path, cfg, job.seed, session)
        except StudioError:
            raise
        except ValueError as exc:  # name the uploaded file and "the spec", not the server's temp folder
            message = str(exc).replace(str(spec_path), "the spec") if spec_path else str(exc)
            raise StudioError(message.replace(f"{work}/", ""), 400) from None
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
        if llm is not None:
            result["ai"] = _ai_json(prepared)
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


def _ai_json(prepared: Any) -> dict[str, Any]:
    """What the AI hybrid did: per table applied or fallback (with the reason) and the columns it set."""
    report = prepared.generator.resolved.ai or {}
    tables = {
        name: {"status": t["status"], "reason": t["reason"], "columns": t["columns"], "rules": t["rules"]}
        for name, t in report.get("tables", {}).items()
    }
    return {"model": report.get("model"), "applied": report.get("applied", 0), "fallback": report.get("fallback", 0),
            "tables": tables}  # fmt: skip


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
        "ddlFile": (info.config or {}).get("ddl_file"),
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
    llm = llm_settings(request.llm, "feedback") if request.feedback else None
    explained: dict[str, Any] = {}
    try:
        if request.feedback:
            from synth_pipelines.store.feedback import apply_plan, plan_from_feedback, plan_summary

            with provider_errors(), _llm_session(llm) as session:
                edit = plan_from_feedback(_store(), info.id, request.feedback, session.generator(), request.table)
            explained = {"explanation": edit.explanation, "edit": plan_summary(edit)}
            outcome = apply_plan(_store(), info.id, edit, request.feedback)
        elif request.sql:
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
    return _outcome_json(outcome) | explained


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


def ask(dataset_id: str, request: AskRequest) -> dict[str, Any]:
    """One question: SQL through the safety gate, 'tables' / 'describe T' / 'sample T' from the catalog, or
    words through the provider (the model writes one SQL query, which passes the same gate before it runs).
    Every answer carries a Vega-Lite chart when its shape has one (built by code, ``ask/charts.py``)."""
    from synth_pipelines.ask.charts import chart_spec
    from synth_pipelines.ask.engine import AskRefused, ask_catalog, ask_sql, is_catalog_question
    from synth_pipelines.store.catalog import StoreError
    from synth_pipelines.store.gate import GateRefused, QueryTimeout

    sql, question = request.sql, request.question
    if (sql is None or not sql.strip()) == (question is None or not question.strip()):
        raise StudioError("give exactly one of sql or question", 400)
    info = _get_info(dataset_id)
    in_words = bool(question) and not is_catalog_question(question or "")
    llm = llm_settings(request.llm, "a question in words (offline: SQL, 'tables', 'describe T', 'sample T')") \
        if in_words else None  # fmt: skip
    try:
        if sql:
            answer = ask_sql(_store(), info.id, sql)
        elif llm is None:
            answer = ask_catalog(_store(), info.id, question or "")
        else:
            from synth_pipelines.ask.question import ask as ask_in_words

            with provider_errors(), _llm_session(llm) as session:
                answer = ask_in_words(_store(), info.id, question or "", session.generator(),
                                      conversation=request.conversation, model=llm.model)  # fmt: skip
    except (GateRefused, AskRefused, QueryTimeout) as exc:
        raise StudioError(str(exc), 400) from None
    except StoreError as exc:  # an unknown conversation
        raise StudioError(str(exc), 404) from None
    except Exception as exc:  # DuckDB's error on a query that passed the gate (a typo'd column...)
        if type(exc).__module__.startswith("duckdb"):
            raise StudioError(f"the query failed: {str(exc).splitlines()[0]}", 400) from None
        raise
    answered = answer.outcome == "answered"
    chart = answer.chart if in_words else (chart_spec(answer.columns, answer.rows) if answered else None)
    return {
        "datasetId": info.id,
        "sql": answer.sql,
        "columns": answer.columns,
        "rows": [[json_value(v) for v in row] for row in answer.rows],
        "truncated": answer.truncated,
        "outcome": answer.outcome,  # answered, refused (by the gate; nothing ran) or failed
        "reason": answer.reason,
        "explanation": answer.explanation,
        "summary": answer.summary,
        "chart": json_value(chart) if chart else None,
        "conversation": answer.conversation_id,
        "attempts": [{"sql": a.sql, "status": a.status, "message": a.message} for a in answer.trace],
    }


# --------------------------------------------------------------------------------------------------
# Promote: a kept dataset becomes an asset group of the Dagster project


def dagster_group_url(group: str) -> str:
    """The asset group's page in the Dagster UI (``make dev``): ``/locations/<location>/asset-groups/<group>``
    (the UI drops the ``__repository__@`` prefix of a single-Definitions code location)."""
    s = settings()
    return f"{s.dagster_url.rstrip('/')}/locations/{s.dagster_location}/asset-groups/{group}"


def promote(dataset_id: str, name: str | None = None, version: int | None = None) -> dict[str, Any]:
    """Write the dataset's DDL and spec (of ``version``, default the current one) to ``<data dir>/schemas/``,
    where the Dagster project reads every DDL as a seed-partitioned asset group (the nightly schedule
    regenerates it). The group draws from DDL + spec: row edits made by SQL are not part of it. An existing
    file or group of that name is never overwritten (409)."""
    from synth_pipelines.core.atomic import atomic_path
    from synth_pipelines.domains.registry import all_domains
    from synth_pipelines.domains.relational.domain import group_name, spec_beside
    from synth_pipelines.store.catalog import SPEC_FILE, StoreError

    store = _store()
    info = _get_info(dataset_id)
    try:
        number = store.version(info.id, version or info.current_version).version
    except StoreError as exc:
        raise StudioError(str(exc), 404) from None
    group = group_name(name or info.name or info.id)
    folder = Path(default_data_dir()) / "schemas"
    ddl_file = folder / f"{group}.sql"
    spec_file = spec_beside(ddl_file)
    for path in (ddl_file, spec_file):
        if path.exists():
            raise StudioError(f"{path} already exists: promoting would overwrite it; choose another name", 409)
    try:
        taken = {d.name: getattr(d, "ddl", "a built-in domain") for d in all_domains()}
    except ValueError as exc:  # two files already clash: say so rather than add a third
        raise StudioError(str(exc), 409) from None
    if group in taken:
        raise StudioError(f"asset group {group!r} already exists ({taken[group]}); choose another name", 409)
    folder.mkdir(parents=True, exist_ok=True)
    spec_text = (store.version_dir(info.id, number) / SPEC_FILE).read_text(encoding="utf-8")
    # The spec first: the DDL is what makes the group appear, and it must appear with its spec.
    with atomic_path(spec_file) as tmp:
        tmp.write_text(spec_text, encoding="utf-8")
    with atomic_path(ddl_file) as tmp:
        tmp.write_text(info.ddl, encoding="utf-8")
    return {
        "datasetId": info.id,
        "version": number,
        "group": group,
        "ddlFile": str(ddl_file),
        "specFile": str(spec_file),
        "dagsterUrl": dagster_group_url(group),
    }


# --------------------------------------------------------------------------------------------------
# Config and health


def config() -> dict[str, Any]:
    """What a client needs to build its form; never an API key."""
    s = settings()
    provider = provider_json()
    return {
        "maxRowsPerTable": s.max_rows_per_table,
        "defaultNumRecords": s.default_num_records,
        "aiEnabled": provider["ready"],  # the AI hybrid, feedback edits and questions in words
        "provider": provider["provider"],
        "model": provider["model"],
        "apiKeySet": provider["keySet"],
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
