"""``synth modify --feedback``: the LLM layer turns a sentence into a structured edit plan, which is data.

The request carries the DDL, the current spec, per-column stats and a few sample rows (never whole tables),
and the feedback. The answer is an ``EditPlan``: a spec patch (JSON text, parsed and validated as a
``GenerationSpec``) or row-edit SQL statements, each of which still goes through the gate. Nothing in the
answer is executed as code; a plan the gate or the validation refuses changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from synth_pipelines.llm.contract import LLMRequest, StructuredGenerator
from synth_pipelines.store.catalog import DatasetInfo, DatasetStore
from synth_pipelines.store.modify import EditOutcome, EditRefused, apply_spec_patch, apply_sql, load_patch_text
from synth_pipelines.store.versions import current_spec_file

SAMPLE_ROWS = 3
NEEDS_PROVIDER = (
    "--feedback needs an LLM provider (--provider openai|google, or SYNTH_LLM_PROVIDER with its API key); "
    'without one, give the edit yourself: --sql "UPDATE ..." or --spec-patch FILE'
)

SYSTEM = """You edit a kept synthetic dataset. Answer with an edit plan, nothing else.
kind "spec_patch": spec_patch_json is a JSON object {"tables": {TABLE: {"rows": N, "columns": {COLUMN: {...}}, \
"rules": [{"check": "..."}]}}} merged over the current generation spec; the named tables and the tables that \
reference them are redrawn. Column generators: vocabulary (values, weights), number (distribution, min, max), \
date_range (start, end ISO dates), pattern, faker (provider), after/before (of, offset), person (part).
kind "row_edits": statements is a list of single SQL statements (DuckDB dialect), each an UPDATE, DELETE or \
INSERT ... SELECT on the dataset's own tables. No DDL, no other statements, no file or network functions.
Every PRIMARY KEY, FOREIGN KEY, UNIQUE, NOT NULL and CHECK and every spec rule must still hold afterwards: \
to delete parents, first delete or re-point their children."""


class EditPlan(BaseModel):
    """The model's answer: one of the two kinds of edit, with a one-line explanation."""

    kind: Literal["spec_patch", "row_edits"] = Field(description="spec_patch or row_edits")
    explanation: str = Field(description="one line: what the edit does")
    spec_patch_json: str = Field("", description="for spec_patch: the partial spec as a JSON object")
    statements: list[str] = Field(default_factory=list, description="for row_edits: SQL statements, in order")


def _context(store: DatasetStore, info: DatasetInfo, table: str | None) -> str:
    import polars as pl

    stats = info.meta["column_stats"]
    files = store.table_files(info)
    wanted = [table] if table else info.table_order
    samples = {}
    for name in wanted:
        head = pl.read_parquet(files[name], n_rows=SAMPLE_ROWS)
        samples[name] = [{k: (v if isinstance(v, int | float | bool | None) else str(v)) for k, v in row.items()}
                         for row in head.to_dicts()]  # fmt: skip
    column_stats = {
        n: {c: {k: s[k] for k in ("type", "null_pct", "distinct", "min", "max")} for c, s in stats[n].items()}
        for n in wanted
    }
    spec = current_spec_file(store, info).read_text(encoding="utf-8")
    return (
        f"DDL ({info.dialect}):\n{info.ddl}\n\nCurrent generation spec (YAML):\n{spec}\n"
        f"Rows per table: {json.dumps(info.meta['rows'])}\n"
        f"Per-column stats: {json.dumps(column_stats, default=str)}\n"
        f"Sample rows: {json.dumps(samples, default=str)}\n"
    )


def request_for(store: DatasetStore, info: DatasetInfo, feedback: str, table: str | None) -> LLMRequest:
    focus = f"\nFocus on table {table}." if table else ""
    user = f"{_context(store, info, table)}\nFeedback: {feedback}{focus}"
    return LLMRequest(messages=(("system", SYSTEM), ("user", user)), seed=info.seed, tag=f"modify {info.id}")


def plan_from_feedback(
    store: DatasetStore, ref: str, feedback: str, generator: StructuredGenerator, table: str | None = None
) -> EditPlan:
    info = store.get(ref)
    if table is not None and table not in info.table_order:
        raise EditRefused(f"--table {table!r} is not a table of {info.label}: {', '.join(info.table_order)}")
    result = generator.generate([request_for(store, info, feedback, table)], EditPlan)[0]
    if result.value is None:
        raise EditRefused(f"the model gave no usable edit plan ({result.error}); nothing was changed")
    assert isinstance(result.value, EditPlan)
    return result.value


def apply_plan(store: DatasetStore, ref: str, plan: EditPlan, feedback: str) -> EditOutcome:
    """Apply a model's plan through the same gate and validation as a hand-written edit."""
    if plan.kind == "spec_patch":
        patch = load_patch_text(plan.spec_patch_json, "the model's spec patch")
        return apply_spec_patch(store, ref, patch, feedback=feedback, kind="feedback", explanation=plan.explanation)
    if not plan.statements:
        raise EditRefused("the model's plan has no statements; nothing was changed")
    return apply_sql(store, ref, plan.statements, feedback=feedback, kind="feedback", explanation=plan.explanation)


def plan_summary(plan: EditPlan) -> dict[str, Any]:
    return plan.model_dump(mode="json")
