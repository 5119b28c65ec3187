"""The offline part of ``synth ask``: SQL through the gate on a read-only sandbox, and catalog answers.

``tables``, ``describe T`` and ``sample T`` are answered from the catalog and the version's files; any
other text is a natural-language question, which needs an LLM provider (not built yet: issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synth_pipelines.store.catalog import DatasetStore
from synth_pipelines.store.gate import DEFAULT_ROW_CAP, DEFAULT_TIMEOUT_S, check_sql, open_sandbox, run_gated

SAMPLE_ROWS = 5
NEEDS_PROVIDER = (
    "a question in words needs an LLM provider, which `synth ask` does not support yet; ask with "
    '--sql "SELECT ...", or "tables", "describe TABLE", "sample TABLE"'
)


class AskRefused(ValueError):
    """The question cannot be answered offline, or its SQL was refused; one line."""


@dataclass
class Answer:
    sql: str | None
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False
    notes: list[str] = field(default_factory=list)


def ask_sql(store: DatasetStore, ref: str, sql: str, version: int | None = None, row_cap: int = DEFAULT_ROW_CAP,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> Answer:  # fmt: skip
    info = store.get(ref)
    files = store.table_files(info, version)
    statement = check_sql(sql, "query", info.table_order)
    con = open_sandbox(files, writable=False)
    try:
        result = run_gated(con, statement, timeout_s=timeout_s, row_cap=row_cap)
    finally:
        con.close()
    return Answer(statement.sql, result.columns, result.rows, result.truncated)


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
