"""The safety gate: SQL written by a user or a model runs only if the parser says it is one allowed statement.

Shared by dataset edits (``synth modify --sql`` and model edit plans) and questions (``synth ask``).
``check_sql`` parses the text with sqlglot (DuckDB dialect) and refuses, with the reason, anything but
exactly ONE statement of an allowed kind:

- edits: ``UPDATE``, ``DELETE``, ``INSERT ... SELECT`` (or ``VALUES``) on the dataset's own tables;
- questions: ``SELECT`` / ``WITH ... SELECT`` / set operations of them.

Inside the statement: every table named must be one of the dataset's tables (or a CTE of the statement),
without a schema or catalog; no table functions (``read_csv``, ``glob``, ``duckdb_settings()``...); no
function from the deny-list anywhere (file readers, scans of other engines, ``getenv``, ``query``...);
no nested statement of another kind (``WITH x AS (DELETE ...) SELECT``); no time travel (``AT (VERSION
=> ...)``). What runs is the statement re-rendered from the parse tree without comments, never the raw
text, so a comment cannot smuggle in anything the parser did not see.

``run_gated`` then executes it on a connection that ``open_sandbox`` locked down (``SET
enable_external_access = false`` and ``SET lock_configuration = true`` after the dataset was loaded),
with a timer thread that interrupts a statement running past the timeout and a cap on returned rows.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

Purpose = Literal["edit", "query"]

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_ROW_CAP = 1000
MAX_SQL_CHARS = 20_000

# Statement kinds that may be the root of an allowed statement, per purpose.
_EDIT_ROOTS: tuple[type[exp.Expression], ...] = (exp.Update, exp.Delete, exp.Insert)
_QUERY_ROOTS: tuple[type[exp.Expression], ...] = (exp.Select, exp.SetOperation)

# Node kinds that may never appear below the root: other statements (DDL, DML in a CTE, settings...).
_STATEMENT_NAMES = (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Copy", "Set", "Pragma",
    "Use", "Attach", "Detach", "Describe", "Show", "Summarize", "Transaction", "Commit", "Rollback",
    "Install", "Analyze", "Export", "LoadData", "Kill", "Cache", "Uncache", "Refresh", "TruncateTable",
    "Grant", "Revoke", "Comment", "HistoricalData",
)  # fmt: skip
_STATEMENT_NODES = tuple(getattr(exp, name) for name in _STATEMENT_NAMES if hasattr(exp, name))

# Functions that read or write outside the dataset, or reach DuckDB's own state, by name (lower case).
_DENIED_FUNCTION = re.compile(
    r"^(read_\w*|glob|sniff_csv|query|query_table|getenv|current_setting|which_secret|load_\w*|http\w*"
    r"|\w*_scan|\w*_scan_\w*|duckdb_\w*|pragma_\w*|parquet_\w*|iceberg_\w*|delta_\w*|sqlite_\w*|postgres_\w*"
    r"|mysql_\w*|json_execute_serialized_sql|sql_auto_complete|checkpoint|force_checkpoint|enable_\w*|disable_\w*"
    r"|write_\w*|copy_\w*|export_\w*|import_\w*|system|shell|file\w*|ls|summary|test_\w*|icu_\w*|\w*_extension\w*)$"
)


class GateRefused(ValueError):
    """The statement was refused before anything ran; the message says why."""


@dataclass(frozen=True)
class GatedStatement:
    """A statement that passed the gate: its kind and the SQL that will run (re-rendered, no comments)."""

    kind: str  # SELECT, UNION, UPDATE, DELETE, INSERT
    sql: str
    tables: tuple[str, ...]  # the dataset tables it names, in order of first mention
    target: str | None  # the table an edit writes to


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _target_table(root: exp.Expression) -> exp.Table | None:
    target = root.this
    if isinstance(target, exp.Schema):  # INSERT INTO t (a, b) SELECT ...
        target = target.this
    return target if isinstance(target, exp.Table) else None


def check_sql(sql: str, purpose: Purpose, tables: Iterable[str]) -> GatedStatement:
    """The one statement in ``sql`` if the gate allows it for ``purpose`` over ``tables``, else ``GateRefused``."""
    known = {t.lower(): t for t in tables}
    if not isinstance(sql, str) or not sql.strip():
        raise GateRefused("refused: empty SQL")
    if len(sql) > MAX_SQL_CHARS:
        raise GateRefused(f"refused: SQL longer than {MAX_SQL_CHARS} characters")
    try:
        parsed = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GateRefused(f"refused: SQL does not parse ({first})") from exc
    if len(parsed) != 1:
        raise GateRefused(f"refused: exactly one statement is allowed, found {len(parsed)}")
    root = parsed[0]
    allowed = _EDIT_ROOTS if purpose == "edit" else _QUERY_ROOTS
    if not isinstance(root, allowed):
        words = "UPDATE, DELETE or INSERT ... SELECT" if purpose == "edit" else "SELECT or WITH ... SELECT"
        raise GateRefused(f"refused: {_kind(root)} statements are not allowed here; only {words}")
    if isinstance(root, exp.Insert):
        source = root.expression
        if not isinstance(source, exp.Select | exp.SetOperation | exp.Values):
            raise GateRefused("refused: INSERT must take its rows from a SELECT (or VALUES)")
    for node in root.walk():
        if node is not root and isinstance(node, _STATEMENT_NODES):
            raise GateRefused(f"refused: a nested {_kind(node)} is not allowed inside {_kind(root)}")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if _DENIED_FUNCTION.match(name):
                raise GateRefused(f"refused: function {name}() may touch files, the network or the engine")
    ctes = {str(cte.alias).lower() for cte in root.find_all(exp.CTE)}
    named: list[str] = []
    for table in root.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            what = table.this.sql(dialect="duckdb") if table.this is not None else "?"
            raise GateRefused(f"refused: table function or expression {what} in FROM; only the dataset's tables")
        if table.args.get("db") or table.args.get("catalog"):
            raise GateRefused(f"refused: {table.sql(dialect='duckdb')} names another schema or catalog")
        name = str(table.name).lower()
        if name in ctes:
            continue
        if name not in known:
            raise GateRefused(
                f"refused: unknown table {table.name!r}; the dataset's tables are: {', '.join(known.values())}"
            )
        if known[name] not in named:
            named.append(known[name])
    target: str | None = None
    if purpose == "edit":
        table = _target_table(root)
        if table is None or str(table.name).lower() not in known:
            raise GateRefused("refused: an edit must write to one of the dataset's tables")
        target = known[str(table.name).lower()]
    rendered = root.sql(dialect="duckdb", comments=False)
    return GatedStatement(_kind(root), rendered, tuple(named), target)


def _kind(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper()


# --------------------------------------------------------------------------------------------------
# Running


def open_sandbox(
    tables: Mapping[str, Path], writable: bool, memory_limit: str = "512MB", threads: int = 2
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the dataset, then locked: no file or network access, no setting changes.

    ``writable``: each table is copied in (edits change the copies; the caller reads them back as Arrow).
    Otherwise each table is a view over its Parquet file, the only paths the connection may read, so even
    a statement that slipped through could not write.
    """
    con = duckdb.connect(":memory:", config={"memory_limit": memory_limit, "threads": threads})
    try:
        for name, path in tables.items():
            literal = "'" + str(path).replace("'", "''") + "'"
            kind = "TABLE" if writable else "VIEW"
            con.execute(f"CREATE {kind} {_q(name)} AS SELECT * FROM read_parquet({literal})")
        if not writable:
            listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in tables.values())
            if listed:
                con.execute(f"SET allowed_paths = [{listed}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class QueryTimeout(RuntimeError):
    """The statement ran past the timeout and was interrupted."""


@dataclass
class GatedResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more rows than the cap
    changed: int | None  # rows an edit changed (DuckDB's count), None for a query


def run_gated(
    con: duckdb.DuckDBPyConnection,
    statement: GatedStatement,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    row_cap: int = DEFAULT_ROW_CAP,
) -> GatedResult:
    """Run a gated statement; a timer interrupts it after ``timeout_s`` (``QueryTimeout``)."""
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(timeout_s, interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor = con.execute(statement.sql)
        if statement.kind in ("UPDATE", "DELETE", "INSERT"):
            row = cursor.fetchone()
            return GatedResult(["changed"], [], False, int(row[0]) if row else 0)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(row_cap + 1)
        return GatedResult(columns, rows[:row_cap], len(rows) > row_cap, None)
    except duckdb.InterruptException as exc:
        raise QueryTimeout(f"interrupted after {timeout_s:g} s (the statement took too long)") from exc
    except duckdb.Error as exc:
        if fired.is_set():
            raise QueryTimeout(f"interrupted after {timeout_s:g} s (the statement took too long)") from exc
        raise
    finally:
        timer.cancel()
