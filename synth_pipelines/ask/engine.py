"""The offline part of ``synth ask``: SQL through the gate on a read-only sandbox, and catalog answers.

``tables``, ``describe T`` and ``sample T`` are answered from the catalog and the version's files; any
other text is a natural-language question, which needs an LLM provider (``synth_pipelines.ask.question``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synth_pipelines.store.catalog import DatasetStore
from synth_pipelines.store.gate import (
    DEFAULT_ROW_CAP,
    DEFAULT_TIMEOUT_S,
    GatedStatement,
    check_sql,
    open_sandbox,
    run_gated,
)

SAMPLE_ROWS = 5
NEEDS_PROVIDER = (
    "a question in words needs an LLM provider (--provider openai|google, or SYNTH_LLM_PROVIDER with its API "
    'key); without one, ask with --sql "SELECT ...", or "tables", "describe TABLE", "sample TABLE"'
)
CATALOG_WORDS = ("tables", "describe", "sample")


class AskRefused(ValueError):
    """The question cannot be answered offline, or its SQL was refused; one line."""


@dataclass
class Attempt:
    """One model answer in a question's trace: its SQL and what became of it."""

    sql: str
    explanation: str
    status: str  # ok, error (failed to bind or run: sent back to the model), refused, no_answer
    message: str = ""


@dataclass
class Answer:
    sql: str | None
    columns: list[str]
    rows: list[tuple[Any, ...]]  # the first rows (at most the row cap)
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    # Set for questions in words (``ask``):
    question: str | None = None
    explanation: str = ""
    summary: str = ""
    row_count: int | None = None  # all rows of the result, not only the ones returned
    outcome: str = "answered"  # answered, refused, failed
    reason: str | None = None  # why refused / failed
    trace: list[Attempt] = field(default_factory=list)
    chart: dict[str, Any] | None = None  # Vega-Lite, built by code from the result's shape
    conversation_id: str | None = None
    turn: int | None = None
    version: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0


def is_catalog_question(question: str) -> bool:
    words = question.strip().split()
    return bool(words) and words[0].lower() in CATALOG_WORDS and len(words) <= 2


def ask_sql(store: DatasetStore, ref: str, sql: str, version: int | None = None, row_cap: int = DEFAULT_ROW_CAP,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> Answer:  # fmt: skip
    info = store.get(ref)
    files = store.table_files(info, version)
    statement = check_sql(sql, "query", info.table_order)
    con = open_sandbox(files, writable=False)
    try:
        result = run_gated(con, statement, timeout_s=timeout_s, row_cap=row_cap)
        count = count_rows(con, statement, info.table_order, timeout_s) if result.truncated else len(result.rows)
    finally:
        con.close()
    return Answer(statement.sql, result.columns, result.rows, result.truncated, row_count=count)


def count_rows(con: Any, statement: GatedStatement, tables: list[str], timeout_s: float) -> int:
    """All rows of a gated query whose result hit the row cap: the count goes through the gate too."""
    counting = check_sql(f"SELECT count(*) FROM ({statement.sql}) AS answer", "query", tables)
    result = run_gated(con, counting, timeout_s=timeout_s, row_cap=1)
    return int(result.rows[0][0])


def ask_catalog(store: DatasetStore, ref: str, question: str, version: int | None = None) -> Answer:
    info = store.get(ref)
    words = question.strip().split()
    if [w.lower() for w in words] == ["tables"]:
        return Answer(None, ["table", "rows"], [(t, info.meta["rows"][t]) for t in info.table_order])
    if len(words) == 2 and words[0].lower() in ("describe", "sample"):
        table = next((t for t in info.table_order if t.lower() == words[1].lower()), None)
        if table is None:
            raise AskRefused(f"unknown table {words[1]!r}; the tables are: {', '.join(info.table_order)}")
        if words[0].lower() == "describe":
            stats = info.meta["column_stats"][table]
            cols = ["column", "type", "meaning", "null_pct", "distinct", "min", "max"]
            return Answer(None, cols, [(c, *(s[k] for k in cols[1:])) for c, s in stats.items()])
        return ask_sql(store, info.id, f'SELECT * FROM "{table}" LIMIT {SAMPLE_ROWS}', version)
    raise AskRefused(NEEDS_PROVIDER)
