"""Saving a generated dataset and editing it: row edits (gated SQL), spec patches, plans from feedback, undo.

Every edit builds a candidate version in a staging folder, validates the WHOLE candidate with the
relational report (every PK, FK, UNIQUE, NOT NULL, CHECK, type and spec rule), and commits it only when
nothing is violated; otherwise ``EditRefused`` names the constraint and the row count, the staging folder
is dropped and the current version stays current. An edit holds the dataset's edit lock from reading the
current version to committing the new one, so concurrent edits queue and none is lost.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from synth_pipelines.core.export import ParquetBlockWriter
from synth_pipelines.domains.relational.domain import group_name
from synth_pipelines.domains.relational.export import dictionary_columns, frame_blocks
from synth_pipelines.domains.relational.pipeline import Prepared, RelationalConfig, export_dataset
from synth_pipelines.domains.relational.spec import GenerationSpec, SpecError, dump_spec, load_spec, merge_spec
from synth_pipelines.store.catalog import SPEC_FILE, DatasetInfo, DatasetStore, link_or_copy
from synth_pipelines.store.gate import GateRefused, QueryTimeout, check_sql, open_sandbox, run_gated
from synth_pipelines.store.versions import (
    current_spec_file,
    diff_versions,
    generation_meta,
    prepare_from_spec,
    refusal,
    validate_files,
    write_report,
)

EDIT_TIMEOUT_S = 30.0


class EditRefused(ValueError):
    """The edit was not applied; the message says why (a refused statement, a violated constraint...)."""


@dataclass
class EditOutcome:
    version: int
    diff: dict[str, Any]
    plan: dict[str, Any]
    info: DatasetInfo
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Save


def save_generated(
    store: DatasetStore,
    prepared: Prepared,
    cfg: RelationalConfig,
    seed: int,
    ddl_path: Path,
    name: str | None,
    staged_parquet: dict[str, Path] | None = None,
    report: dict[str, Any] | None = None,
) -> DatasetInfo:
    """Keep a generated dataset as version 1. ``staged_parquet``/``report``: the Parquet files and report a
    run already wrote (copied); without them the dataset is generated here, straight into the store."""
    staging = store.staging_dir()
    try:
        if staged_parquet is None or report is None:
            report, files = export_dataset(prepared, seed, staging, ("parquet",))
            (staging / "validation_report.json").unlink(missing_ok=True)
            parquet = {n: files[f"parquet:{n}"] for n in prepared.plan.insert_order}
        else:
            parquet = {}
            for n in prepared.plan.insert_order:
                parquet[n] = staging / f"{n}.parquet"
                shutil.copyfile(staged_parquet[n], parquet[n])
        (staging / SPEC_FILE).write_text(dump_spec(prepared.spec), encoding="utf-8")
        write_report(staging, report)
        meta = generation_meta(prepared, parquet, report)
        ddl_path = Path(ddl_path)
        from synth_pipelines.core.paths import SCHEMAS_DIR

        in_schemas = ddl_path.resolve().parent == SCHEMAS_DIR.resolve()
        config = cfg.model_dump(mode="json", exclude={"spec"}) | {"ddl_file": ddl_path.name}
        return store.create(
            staging,
            name=name,
            ddl=ddl_path.read_text(encoding="utf-8"),
            ddl_sha256=prepared.schema.sha256,
            dialect=prepared.schema.dialect,
            seed=seed,
            spec=dump_spec(prepared.spec),
            config=config,
            meta=meta,
            asset_group=group_name(ddl_path.stem) if in_schemas else None,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# The candidate -> validate -> commit path shared by every edit


def _commit(
    store: DatasetStore,
    info: DatasetInfo,
    staging: Path,
    prepared: Prepared,
    *,
    kind: str,
    feedback: str | None,
    plan: dict[str, Any],
) -> EditOutcome:
    files = {n: staging / f"{n}.parquet" for n in info.table_order}
    report = validate_files(prepared, files, info.seed)
    if not report["ok"]:
        raise EditRefused(refusal(report))
    write_report(staging, report)
    before = store.table_files(info)
    diff = diff_versions(info, before, files)
    version = store.commit_version(
        info, staging, kind=kind, parent_version=info.current_version, feedback=feedback, plan=plan, diff=diff
    )
    outcome = EditOutcome(version, diff, plan, store.get(info.id))
    from synth_pipelines.store.events import report_version

    note = report_version(outcome.info, version, kind, feedback, plan, diff)
    if note:
        outcome.notes.append(note)
    return outcome


def _frame_for(con: Any, name: str, like: pl.Schema) -> pl.DataFrame:
    """A sandbox table back as a frame with the column types the generator wrote (a failed cast is refused)."""
    frame = pl.from_arrow(con.execute(f'SELECT * FROM "{name}"').arrow())
    assert isinstance(frame, pl.DataFrame)
    if frame.columns != list(like.names()):
        raise EditRefused(f"{name}: the edit changed the table's columns")
    try:
        return frame.cast(dict(like), strict=True)
    except Exception as exc:  # polars raises several types for a failed cast
        raise EditRefused(f"{name}: a value does not fit its column's type ({str(exc).splitlines()[0]})") from exc


def apply_sql(
    store: DatasetStore,
    ref: str,
    statements: Sequence[str],
    feedback: str | None = None,
    kind: str = "sql",
    explanation: str | None = None,
) -> EditOutcome:
    """Row edits: each statement through the gate, all run in order on a sandbox copy, then one new version."""
    if not statements:
        raise EditRefused("no statement given")
    info = store.get(ref)
    with store.editing(info.id):
        info = store.get(info.id)  # the version current once the lock is ours
        gated = []
        for i, sql in enumerate(statements, 1):
            try:
                gated.append(check_sql(sql, "edit", info.table_order))
            except GateRefused as exc:
                where = f"statement {i} " if len(statements) > 1 else ""
                raise EditRefused(f"{where}{exc}; nothing was changed") from exc
        before = store.table_files(info)
        prepared = prepare_from_spec(info, current_spec_file(store, info))
        con = open_sandbox(before, writable=True)
        changed_counts = []
        try:  # the sandbox and the validator's generator are closed whatever happens
            for statement in gated:
                try:
                    changed_counts.append(run_gated(con, statement, timeout_s=EDIT_TIMEOUT_S).changed)
                except QueryTimeout as exc:
                    raise EditRefused(f"{exc}; nothing was changed") from exc
                except Exception as exc:
                    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    raise EditRefused(f"the statement failed in DuckDB: {first}; nothing was changed") from exc
            staging = store.staging_dir(info.id)
            try:
                targets = {s.target for s in gated}
                for name in info.table_order:
                    if name not in targets:
                        link_or_copy(before[name], staging / f"{name}.parquet")
                        continue
                    old = pl.read_parquet(before[name])
                    new = _frame_for(con, name, old.schema)
                    if new.equals(old):
                        link_or_copy(before[name], staging / f"{name}.parquet")
                        continue
                    _write_parquet(
                        new, staging / f"{name}.parquet", dictionary_columns(prepared.generator.models[name])
                    )
                shutil.copyfile(current_spec_file(store, info), staging / SPEC_FILE)
                plan = {"kind": "row_edits", "statements": [s.sql for s in gated], "rows_changed": changed_counts}
                if explanation:
                    plan["explanation"] = explanation
                return _commit(store, info, staging, prepared, kind=kind, feedback=feedback, plan=plan)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        finally:
            con.close()
            prepared.generator.close()


def _write_parquet(frame: pl.DataFrame, path: Path, dictionary: list[str]) -> None:
    with ParquetBlockWriter(path, frame.schema, dictionary=dictionary) as writer:
        for block in frame_blocks(frame):
            if block.height:
                writer.write(block)


def _dependents(info: DatasetInfo, tables: set[str]) -> set[str]:
    """``tables`` and every table reaching one of them through foreign keys (children, grandchildren...)."""
    edges = [(fk["table"], fk["references"].split("(")[0]) for fk in info.meta["foreign_keys"]]
    found = set(tables)
    grew = True
    while grew:
        grew = False
        for child, parent in edges:
            if parent in found and child not in found:
                found.add(child)
                grew = True
    return found


def apply_spec_patch(
    store: DatasetStore,
    ref: str,
    patch: GenerationSpec,
    feedback: str | None = None,
    kind: str = "spec_patch",
    explanation: str | None = None,
) -> EditOutcome:
    """Merge ``patch`` over the current spec; the patched tables and their FK dependents are redrawn from the
    patched spec with the dataset's seed, every other table is kept as it is."""
    info = store.get(ref)
    with store.editing(info.id):
        info = store.get(info.id)
        current = load_spec(current_spec_file(store, info))
        try:
            merged = merge_spec(current, patch, source="spec patch")
        except SpecError as exc:
            raise EditRefused(f"{exc}; nothing was changed") from exc
        patched = set(patch.tables)
        if not patched:
            raise EditRefused("the spec patch names no table; nothing was changed")
        affected = _dependents(info, patched)
        staging = store.staging_dir(info.id)
        work = store.staging_dir(info.id)
        try:
            spec_file = staging / SPEC_FILE
            spec_file.write_text(dump_spec(merged), encoding="utf-8")
            try:
                prepared = prepare_from_spec(info, spec_file)
            except SpecError as exc:
                raise EditRefused(f"{exc}; nothing was changed") from exc
            # Draw the whole dataset from the patched spec (the generator needs parents to draw children),
            # then keep only the affected tables of it.
            _, drawn = export_dataset(prepared, info.seed, work, ("parquet",))
            before = store.table_files(info)
            for name in info.table_order:
                source = drawn[f"parquet:{name}"] if name in affected else before[name]
                link_or_copy(source, staging / f"{name}.parquet")
            validator = prepare_from_spec(info, spec_file)
            plan = {
                "kind": "spec_patch",
                "spec_patch": patch.model_dump(mode="json", exclude_none=True, exclude_unset=True),
                "regenerated": [n for n in info.table_order if n in affected],
            }
            if explanation:
                plan["explanation"] = explanation
            try:
                return _commit(store, info, staging, validator, kind=kind, feedback=feedback, plan=plan)
            finally:
                validator.generator.close()
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)


def load_patch_text(text: str, source: str) -> GenerationSpec:
    """A spec patch from JSON or YAML text (a model's answer or a file), validated; ``EditRefused`` if bad."""
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(text) if text.strip() else None  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise EditRefused(f"{source}: the spec patch is not valid JSON/YAML; nothing was changed") from exc
    if not isinstance(data, dict):
        raise EditRefused(f"{source}: the spec patch must be an object with 'tables'; nothing was changed")
    try:
        return GenerationSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise EditRefused(f"{source}: {where}: {first['msg']}; nothing was changed") from exc


def undo(store: DatasetStore, ref: str, to_version: int | None = None) -> EditOutcome:
    """Make an earlier version current again, as a new version whose files are that version's files."""
    info = store.get(ref)
    with store.editing(info.id):
        info = store.get(info.id)
        if to_version is None:
            history = {v.version: v for v in store.versions(info.id)}
            parent = history[info.current_version].parent_version
            if parent is None:
                raise EditRefused(f"{info.label} is at its first version: nothing to undo")
            to_version = parent
        if to_version == info.current_version:
            raise EditRefused(f"version {to_version} is already current")
        store.version(info.id, to_version)  # raises when it does not exist
        source = store.version_dir(info.id, to_version)
        staging = store.staging_dir(info.id)
        try:
            for name in info.table_order:
                link_or_copy(source / f"{name}.parquet", staging / f"{name}.parquet")
            shutil.copyfile(source / SPEC_FILE, staging / SPEC_FILE)
            prepared = prepare_from_spec(info, staging / SPEC_FILE)
            try:
                plan = {"kind": "undo", "restores": to_version}
                return _commit(store, info, staging, prepared, kind="undo", feedback=None, plan=plan)
            finally:
                prepared.generator.close()
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def plan_json(plan: dict[str, Any]) -> str:
    return json.dumps(plan, sort_keys=True)
