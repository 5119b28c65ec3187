"""SQL DDL -> a schema graph: tables, typed columns and every constraint that shapes data.

sqlglot parses; this module only walks its syntax trees. Statements are split with sqlglot's own
tokenizer (so a ``;`` inside a string or comment never splits), each statement is parsed alone,
and every error names the file, the line and the statement it comes from.

Nothing is half-read: a constraint kind the generator cannot enforce (an EXCLUDE other than the
equality form, which is a UNIQUE; a partial or expression UNIQUE INDEX; UNIQUE NULLS NOT DISTINCT on a
nullable column; PARTITION BY, INHERITS, LIKE; an unknown column constraint) is refused, never ignored,
and so is a syntax error sqlglot would forgive (an empty item in a list). CHECK expressions are code
that DuckDB runs, so they may use only an allow-list of operators and scalar functions on the row's
own columns: a subquery, a table function, a setting or an unknown function is refused here, before
anything is evaluated (``check_problem``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

DIALECTS = ("postgres", "mysql", "sqlite")
DDL_SUFFIXES = (".sql", ".ddl", ".txt")

T = exp.DataType.Type

# Integer ranges by declared width; SQLite's INTEGER is 64-bit but we keep the portable 32-bit range.
INT_RANGES: dict[Any, tuple[int, int]] = {
    T.TINYINT: (-128, 127),
    T.UTINYINT: (0, 255),
    T.SMALLINT: (-32768, 32767),
    T.USMALLINT: (0, 65535),
    T.MEDIUMINT: (-8388608, 8388607),
    T.UMEDIUMINT: (0, 16777215),
    T.INT: (-2147483648, 2147483647),
    T.UINT: (0, 4294967295),
    T.BIGINT: (-(2**63), 2**63 - 1),
    T.UBIGINT: (0, 2**63 - 1),  # beyond int64 nothing downstream can hold it
    T.SERIAL: (1, 2147483647),
    T.SMALLSERIAL: (1, 32767),
    T.BIGSERIAL: (1, 2**63 - 1),
}
SERIAL_TYPES = {T.SERIAL, T.SMALLSERIAL, T.BIGSERIAL}
STRING_TYPES = {T.VARCHAR, T.NVARCHAR, T.CHAR, T.NCHAR, T.TEXT, T.MEDIUMTEXT, T.LONGTEXT, T.TINYTEXT, T.NAME}
FLOAT_TYPES = {T.FLOAT, T.DOUBLE}
DECIMAL_TYPES = {T.DECIMAL, T.BIGDECIMAL, T.MONEY}
TIMESTAMP_TYPES = {T.TIMESTAMP, T.DATETIME, T.TIMESTAMP_S, T.TIMESTAMP_MS, T.TIMESTAMPNTZ, T.DATETIME2}
TIMESTAMPTZ_TYPES = {T.TIMESTAMPTZ, T.TIMESTAMPLTZ}


def _classes(*names: str) -> tuple[type[exp.Expression], ...]:
    """The sqlglot expression classes of these names that this sqlglot version has."""
    return tuple(getattr(exp, n) for n in names if isinstance(getattr(exp, n, None), type))


# Column clauses that do not restrict which values load (storage, comments, ON UPDATE of a later UPDATE).
HARMLESS_COLUMN_CONSTRAINTS = _classes(
    "CollateColumnConstraint",
    "CommentColumnConstraint",
    "CharacterSetColumnConstraint",
    "OnUpdateColumnConstraint",
    "CompressColumnConstraint",
    "EncodeColumnConstraint",
    "InlineLengthColumnConstraint",
    "TitleColumnConstraint",
    "NotForReplicationColumnConstraint",
    "InvisibleColumnConstraint",
)
# Table clauses that change which rows a load accepts, or where columns come from.
REFUSED_TABLE_PROPERTIES = {
    cls: label
    for name, label in (
        ("PartitionedByProperty", "PARTITION BY"),
        ("InheritsProperty", "INHERITS"),
        ("LikeProperty", "LIKE"),
        ("PartitionedOfProperty", "PARTITION OF"),
    )
    for cls in _classes(name)
}
# Statements that read or write files (or load code): a DDL file has no business running them.
FILE_STATEMENTS = ("COPY", "ATTACH", "DETACH", "INSTALL", "LOAD", "IMPORT", "EXPORT")

# CHECK expressions: the nodes a CHECK may contain. Anything else (a subquery, a table function, a
# setting, an unknown function) is refused at parse time; PostgreSQL refuses subqueries in CHECKs too.
CHECK_NODES = _classes(
    # names, constants, grouping
    "Column", "Identifier", "Literal", "RawString", "National", "ByteString", "HexString", "BitString",
    "Boolean", "Null", "Paren", "Tuple", "Array", "DataType", "DataTypeParam", "Interval", "Collate",
    # logic and comparison
    "And", "Or", "Not", "Xor", "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "NullSafeEQ", "NullSafeNEQ", "Is",
    "In", "Between", "Like", "ILike", "SimilarTo", "Glob", "Escape", "RegexpLike", "RegexpILike", "Any",
    "All", "Case", "If",
    # arithmetic
    "Add", "Sub", "Mul", "Div", "IntDiv", "Mod", "Neg", "Pow", "DPipe", "BitwiseAnd", "BitwiseOr",
    "BitwiseXor", "BitwiseNot", "BitwiseLeftShift", "BitwiseRightShift",
    # scalar functions of the row's values
    "Length", "Lower", "Upper", "Trim", "Substring", "Left", "Right", "Replace", "Concat", "StrPosition",
    "StartsWith", "Coalesce", "Nullif", "Greatest", "Least", "Abs", "Round", "Ceil", "Floor", "Sign",
    "Sqrt", "Ln", "Log", "Exp", "Cast", "TryCast", "Extract", "CurrentDate", "CurrentTimestamp", "CurrentTime",
    "Date", "TimestampTrunc", "DateTrunc", "TimeToStr", "TsOrDsToTimestamp", "TsOrDsToDate", "Typeof",
    "Unicode", "ArraySize",
)  # fmt: skip
# Functions sqlglot leaves by name (exp.Anonymous) that are plain scalar functions in DuckDB.
CHECK_FUNCTIONS = frozenset(
    {
        "octet_length", "bit_length", "char_length", "character_length", "len", "strlen", "lcase", "ucase",
        "ltrim", "rtrim", "btrim", "strpos", "instr", "position", "date_part", "datepart", "trunc", "isnan",
        "isinf", "isfinite", "regexp_full_match", "regexp_matches", "contains", "ends_with", "suffix",
        "prefix", "ascii", "chr", "reverse",
    }
)  # fmt: skip
# Where a bare word (exp.Var) is a unit or a collation, not a name DuckDB would resolve.
_VAR_PARENTS = _classes("Extract", "Interval", "TimestampTrunc", "DateTrunc", "Collate", "DataType", "DataTypeParam")
_TABLE_OF_STATEMENT = re.compile(
    r"\s*(?:CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:TEMP(?:ORARY)?\s+|UNLOGGED\s+)?TABLE(?:\s+IF\s+NOT\s+EXISTS)?|"
    r"ALTER\s+TABLE(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?)\s+([\w\"`\[\].]+)",
    re.I,
)


def _table_of_statement(text: str) -> str | None:
    """The table a CREATE / ALTER TABLE statement names, read from its text (for syntax errors)."""
    found = _TABLE_OF_STATEMENT.match(text)
    if found is None:
        return None
    name = found.group(1)
    unquoted = name.strip('"`[]')
    return unquoted if unquoted != name else name.lower()


_SUBQUERY_NODES = _classes("Query", "Subquery", "SubqueryPredicate", "Values", "Select", "With", "CTE")


def check_problem(expr: exp.Expression, table: str) -> str | None:
    """What makes a CHECK expression unsafe or impossible to evaluate on one row, or None.

    Only the allow-list ``CHECK_NODES`` / ``CHECK_FUNCTIONS`` may appear, columns must be the table's
    own (unqualified, or qualified by the table's name), and casts go to built-in types.
    """
    for node in expr.walk(bfs=False):
        if isinstance(node, _SUBQUERY_NODES):
            return "a subquery, which a CHECK may not use (it sees only its own row)"
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name not in CHECK_FUNCTIONS:
                return f"the function {name}(), which is not on the allow-list of scalar functions for CHECKs"
            continue
        if isinstance(node, exp.Dot):
            inner = next((n for n in node.walk() if isinstance(n, exp.Func)), None)
            called = inner.name.lower() if isinstance(inner, exp.Anonymous) else node.sql().lower()
            return f"the qualified name {called}, which a CHECK may not use"
        if isinstance(node, exp.Var):
            if not isinstance(node.parent, _VAR_PARENTS):
                return f"the bare word {node.name}, which is not a column of table {table}"
            continue
        if isinstance(node, exp.Column):
            qualifier = ".".join(p.name for p in node.parts[:-1])
            if qualifier and qualifier.lower() != table.lower():
                return f"the column {node.sql()}, which is not a column of table {table}"
            continue
        if isinstance(node, exp.DataType) and node.this == T.USERDEFINED:
            return f"a cast to the type {node.sql()}, which is not a built-in type"
        if not isinstance(node, CHECK_NODES):
            if isinstance(node, exp.Func):
                return f"the function {node.sql_name().lower()}(), which is not on the allow-list of scalar functions"
            return f"{node.sql()!r} ({type(node).__name__}), which a CHECK may not use"
    return None


# --------------------------------------------------------------------------------------------------
# CHECK expressions: constants, columns and conjunctions (shared with constraints.analyze_checks)


def literal_value(node: exp.Expression) -> Any:
    """A constant's Python value, or raise ValueError when the node is not a plain constant."""
    if isinstance(node, exp.Paren):
        return literal_value(node.this)
    if isinstance(node, exp.Neg):
        return -literal_value(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Cast | exp.TryCast):
        value = literal_value(node.this)
        to = node.to.this if isinstance(node.to, exp.DataType) else None
        if isinstance(value, str) and to == exp.DataType.Type.DATE:
            return dt.date.fromisoformat(value)
        return value
    raise ValueError(node.sql())


def column_of(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Paren):
        return column_of(node.this)
    if isinstance(node, exp.Column):
        ident = node.this
        return ident.this if getattr(ident, "quoted", False) else ident.name.lower()
    return None


def conjuncts(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Paren):
        return conjuncts(node.this)
    if isinstance(node, exp.And):
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def null_guard(node: exp.Expression) -> exp.Expression | None:
    """``col IS NULL OR X`` -> X (our NULLs are drawn separately, so X must hold for set values)."""
    if isinstance(node, exp.Or):
        for a, b in ((node.left, node.right), (node.right, node.left)):
            inner = a.this if isinstance(a, exp.Paren) else a
            if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
                return b
    return None


class DdlError(ValueError):
    """Bad or unsupported DDL; the message names the file, line and statement."""


@dataclass(frozen=True)
class SqlType:
    kind: str  # int decimal float bool string date time timestamp timestamptz uuid enum json
    sql: str  # as declared, for messages and reports
    min_value: int | None = None
    max_value: int | None = None
    length: int | None = None  # max characters of a string (exact for CHAR(n))
    fixed: bool = False  # CHAR(n): PostgreSQL pads, so we generate exactly n characters
    precision: int | None = None
    scale: int | None = None
    enum_values: tuple[str, ...] = ()
    enum_name: str | None = None  # a PostgreSQL CREATE TYPE ... AS ENUM


@dataclass
class Column:
    name: str
    type: SqlType
    nullable: bool = True
    default: exp.Expression | None = None
    auto_increment: bool = False
    line: int = 0

    @property
    def default_literal(self) -> Any:
        """The DEFAULT as a Python value when it is a plain literal, else None."""
        node = self.default
        if isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Boolean):
            return bool(node.this)
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            return -float(node.this.this)
        if isinstance(node, exp.Literal):
            return node.this if node.is_string else float(node.this)
        return None


@dataclass
class ForeignKey:
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    name: str | None
    deferrable: bool
    via_alter: bool  # declared by ALTER TABLE ... ADD (how DDL closes FK cycles)
    statement: int  # index into Schema.statements
    line: int


@dataclass
class Check:
    table: str
    name: str | None
    expr: exp.Expression  # in the source dialect
    columns: tuple[str, ...]
    statement: int
    line: int

    @property
    def sql(self) -> str:
        return self.expr.sql()


@dataclass
class Table:
    name: str
    columns: dict[str, Column]
    primary_key: tuple[str, ...] = ()
    uniques: list[tuple[str, ...]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    statement: int = 0
    line: int = 0

    def column(self, name: str) -> Column:
        return self.columns[name]


@dataclass(frozen=True)
class Statement:
    index: int
    line: int
    text: str
    kind: str  # create_table, create_enum, alter_table, ignored

    @property
    def summary(self) -> str:
        head = " ".join(self.text.split())
        return head if len(head) <= 60 else head[:57] + "..."


@dataclass
class Schema:
    source: str
    dialect: str
    tables: dict[str, Table]
    enums: dict[str, tuple[str, ...]]
    statements: list[Statement]
    sha256: str

    def table(self, name: str) -> Table:
        return self.tables[name]


# Date/timestamp CHECK bounds: values._date_bounds draws up to this far past a lower bound that lies
# beyond its usual range, so such a bound must leave that much room before 9999-12-31.
TEMPORAL_ROOM = dt.timedelta(days=3650)
LATEST_DATE = dt.date(9999, 12, 31)


def _lower_bounds(expr: exp.Expression) -> list[tuple[str, exp.Expression, bool]]:
    """``(column, bound, strict)`` for each lower bound a CHECK puts on a column, read as
    ``constraints.analyze_checks`` reads them (conjunctions, ``col IS NULL OR ...``, BETWEEN, compares)."""
    found: list[tuple[str, exp.Expression, bool]] = []

    def visit(node: exp.Expression) -> None:
        guarded = null_guard(node)
        if guarded is not None:
            for part in conjuncts(guarded):
                visit(part)
            return
        if isinstance(node, exp.Paren):
            visit(node.this)
        elif isinstance(node, exp.Between):
            col = column_of(node.this)
            if col:
                found.append((col, node.args["low"], False))
        elif isinstance(node, exp.GT | exp.GTE) and column_of(node.left):
            found.append((column_of(node.left) or "", node.right, isinstance(node, exp.GT)))
        elif isinstance(node, exp.LT | exp.LTE) and column_of(node.right):
            found.append((column_of(node.right) or "", node.left, isinstance(node, exp.LT)))

    for part in conjuncts(expr):
        visit(part)
    return found


def _temporal(value: Any, kind: str) -> dt.date | None:
    """A bound as the generator reads it (``generate._as_temporal``), or None."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10]) if kind == "date" else dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, dt.date) else None


def temporal_bound_problem(table: Table, col: str) -> str | None:
    """Why the CHECK lower bounds of a date/timestamp column would make the generator draw past
    9999-12-31T23:59:59, or None."""
    kind = table.columns[col].type.kind
    for check in table.checks:
        for name, node, strict in _lower_bounds(check.expr):
            try:
                bound = _temporal(literal_value(node), kind) if name == col else None
            except ValueError:
                bound = None
            if bound is None:
                continue
            try:
                if strict:  # the first value drawn is one step past a strict bound
                    step = dt.timedelta(days=1) if kind == "date" else dt.timedelta(seconds=1)
                    bound = bound + step
                day = bound.date() if isinstance(bound, dt.datetime) else bound
                fits = day + TEMPORAL_ROOM <= LATEST_DATE
            except OverflowError:
                fits = False
            if not fits:
                latest = (LATEST_DATE - TEMPORAL_ROOM).isoformat()
                return (
                    f"CHECK ({check.sql}) sets a lower bound that leaves too little room: values are drawn up to "
                    f"{TEMPORAL_ROOM.days} days past it and must end by 9999-12-31T23:59:59; use a lower bound on "
                    f"or before {latest}"
                )
    return None


# --------------------------------------------------------------------------------------------------
# Dialect detection and statement splitting


_DIALECT_HINTS = {
    "mysql": (
        r"\bAUTO_INCREMENT\b",
        r"`",
        r"\bENGINE\s*=",
        r"\bUNSIGNED\b",
        r"\bTINYINT\s*\(\s*1\s*\)",
        r"\bENUM\s*\(",
    ),
    "sqlite": (r"\bAUTOINCREMENT\b", r"\bWITHOUT\s+ROWID\b", r"\bPRAGMA\b", r"\)\s*STRICT\s*;"),
    "postgres": (
        r"\bSERIAL\b",
        r"\bBIGSERIAL\b",
        r"\bAS\s+ENUM\b",
        r"\bTIMESTAMPTZ\b",
        r"::",
        r"\bIDENTITY\b",
        r"\bJSONB\b",
    ),
}


def detect_dialect(text: str) -> str:
    """The dialect with the most tell-tale syntax; PostgreSQL when nothing tells."""
    scores = {d: sum(bool(re.search(p, text, re.IGNORECASE)) for p in pats) for d, pats in _DIALECT_HINTS.items()}
    best = max(scores, key=lambda d: (scores[d], d == "postgres"))
    return best if scores[best] else "postgres"


def split_statements(text: str, dialect: str, source: str) -> list[tuple[int, str]]:
    """``(line, text)`` per statement, split on the tokenizer's semicolons."""
    try:
        tokens = sqlglot.tokenize(text, read=dialect)
    except TokenError as exc:
        raise DdlError(f"{source}: cannot tokenize: {exc}") from exc
    statements: list[tuple[int, str]] = []
    start: int | None = None
    line = 1
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            if start is not None:
                statements.append((line, text[start : tok.start]))
            start = None
            continue
        if start is None:
            start, line = tok.start, tok.line
    if start is not None:
        statements.append((line, text[start:]))
    return statements


# --------------------------------------------------------------------------------------------------
# Parsing


class _Parser:
    def __init__(self, text: str, source: str, dialect: str) -> None:
        self.text = text
        self.source = source
        self.dialect = dialect
        self.tables: dict[str, Table] = {}
        self.enums: dict[str, tuple[str, ...]] = {}
        self.statements: list[Statement] = []
        self._current: Statement | None = None
        self._qualifiers: dict[str, str] = {}  # table -> the schema it was qualified with ("" if none)
        # (table, columns, statement, line) of each UNIQUE NULLS NOT DISTINCT, checked once NOT NULLs are known.
        self._nulls_not_distinct: list[tuple[str, tuple[str, ...], int, int]] = []

    # errors -------------------------------------------------------------------------------------
    def fail(self, message: str, node: exp.Expression | None = None, line: int | None = None) -> DdlError:
        stmt = self._current
        line = line or (stmt.line if stmt else 0)
        if node is not None:
            node_line = _node_line(node)
            if node_line:
                line = node_line
        where = f"{self.source}:{line}"
        if stmt is not None:
            where += f": statement {stmt.index + 1} ({stmt.summary})"
        return DdlError(f"{where}: {message}")

    def name(self, node: exp.Expression | str | None) -> str:
        if node is None:
            raise self.fail("missing name")
        if isinstance(node, str):
            return node.lower()
        if isinstance(node, exp.Column | exp.Table):
            node = node.this
        if isinstance(node, exp.Schema):
            node = node.this
        if isinstance(node, exp.Table):
            node = node.this
        if isinstance(node, exp.Identifier):
            # Unquoted names fold to lower case as in PostgreSQL; quoted names keep their case.
            return node.this if node.quoted else node.this.lower()
        return node.name.lower()

    # driver -------------------------------------------------------------------------------------
    def parse(self) -> None:
        for index, (line, chunk) in enumerate(split_statements(self.text, self.dialect, self.source)):
            kind = "ignored"
            stmt = Statement(index, line, chunk.strip(), kind)
            self._current = stmt
            tree = self.parse_statement(chunk, line)
            if isinstance(tree, exp.Create) and (tree.kind or "").upper() == "INDEX" and tree.args.get("unique"):
                self.statements.append(Statement(index, line, stmt.text, "unique_index"))
                self._current = self.statements[-1]
                self.create_unique_index(tree)
                continue
            if isinstance(tree, exp.Create) and (tree.kind or "").upper() == "TABLE":
                kind = "create_table"
                self.statements.append(Statement(index, line, stmt.text, kind))
                self._current = self.statements[-1]
                self.create_table(tree)
                continue
            if isinstance(tree, exp.Create) and (tree.kind or "").upper() == "TYPE":
                kind = "create_enum" if self.create_type(tree) else "ignored"
            elif isinstance(tree, exp.Alter) and (tree.args.get("kind") or "").upper() == "TABLE":
                kind = "alter_table"
                self.statements.append(Statement(index, line, stmt.text, kind))
                self._current = self.statements[-1]
                self.alter_table(tree)
                continue
            self.statements.append(Statement(index, line, stmt.text, kind))
        self._current = None
        self.resolve()

    def parse_statement(self, chunk: str, line: int) -> exp.Expression | None:
        # Leading newlines keep sqlglot's line numbers equal to the file's.
        padded = "\n" * (line - 1) + chunk
        self.check_tokens(padded)
        if self.dialect == "sqlite":
            # Table options sqlglot does not parse and that do not shape data.
            padded = re.sub(
                r"\)\s*(WITHOUT\s+ROWID|STRICT)(\s*,\s*(WITHOUT\s+ROWID|STRICT))*\s*$",
                ")",
                padded,
                flags=re.I,
            )
        try:
            with _quiet_sqlglot():
                tree = sqlglot.parse_one(padded, read=self.dialect, error_level=sqlglot.ErrorLevel.RAISE)
        except ParseError as exc:
            detail = exc.errors[0] if exc.errors else {}
            err_line = detail.get("line") or line
            msg = detail.get("description") or str(exc).splitlines()[0]
            near = detail.get("highlight") or ""
            stmt = self._current
            assert stmt is not None
            table = _table_of_statement(chunk)
            raise DdlError(
                f"{self.source}:{err_line}: statement {stmt.index + 1} ({stmt.summary}): "
                + (f"table {table}: " if table else "")
                + f"syntax error: {msg}"
                + (f" near {near!r}" if near else "")
            ) from exc
        if isinstance(tree, exp.Command) and re.match(r"\s*(CREATE|ALTER)\s+TABLE\b", chunk, re.I):
            raise self.fail("syntax error: sqlglot could not parse this table definition")
        return tree

    def check_tokens(self, padded: str) -> None:
        """Refuse what sqlglot's parser would forgive or what is not DDL: an empty item in a list
        (``a,, b``, ``(, a``, ``a,)``) and statements that touch files (COPY, ATTACH, ...)."""
        try:
            tokens = sqlglot.tokenize(padded, read=self.dialect)
        except TokenError as exc:
            raise self.fail(f"syntax error: {exc}") from exc
        if tokens and tokens[0].text.upper() in FILE_STATEMENTS:
            word = tokens[0].text.upper()
            raise self.fail(f"{word} is not schema DDL (it can read or write files); remove it", line=tokens[0].line)
        for prev, tok in itertools.pairwise(tokens):
            empty = (tok.token_type == TokenType.COMMA and prev.token_type in (TokenType.COMMA, TokenType.L_PAREN)) or (
                tok.token_type == TokenType.R_PAREN and prev.token_type == TokenType.COMMA
            )
            if empty:
                where = prev.line if tok.token_type == TokenType.R_PAREN else tok.line  # the stray comma's line
                raise self.fail(f"syntax error: empty item in a list near {prev.text + tok.text!r}", line=where)

    # CREATE TYPE ... AS ENUM ------------------------------------------------------------------
    def create_type(self, tree: exp.Create) -> bool:
        dtype = tree.args.get("expression")
        if isinstance(dtype, exp.DataType) and dtype.this == T.ENUM:
            self.enums[self.name(tree.this)] = tuple(e.name for e in dtype.expressions)
            return True
        return False

    # CREATE TABLE -----------------------------------------------------------------------------
    def create_table(self, tree: exp.Create) -> None:
        schema = tree.this
        properties = tree.args.get("properties")
        if not isinstance(schema, exp.Schema):
            partition = properties.find(exp.PartitionedOfProperty) if properties else None
            if partition is not None:
                raise self.fail(
                    f"table {self.name(schema)}: PARTITION OF {self.name(partition.this)} is not supported: "
                    "generate the parent table (its rows cover every partition)"
                )
            raise self.fail("CREATE TABLE ... AS SELECT (or LIKE) has no column definitions to generate")
        name = self.name(schema.this)
        qualifier = schema.this.text("db") if isinstance(schema.this, exp.Table) else ""
        if name in self.tables:
            earlier = self._qualifiers.get(name, "")
            if earlier != qualifier:
                both = " and ".join(f"{q}.{name}" if q else name for q in (earlier, qualifier))
                raise self.fail(
                    f"tables {both}: schemas are not supported, and both would be table {name!r}; rename one",
                    schema.this,
                )
            raise self.fail(f"table {name!r} is defined twice", schema.this)
        self._qualifiers[name] = qualifier
        twin = next((t for t in self.tables if t.casefold() == name.casefold()), None)
        if twin is not None:
            raise self.fail(
                f"table {name!r} differs from table {twin!r} only in case; DuckDB (the report and "
                "dataset.duckdb) cannot hold both: rename one",
                schema.this,
            )
        stmt = self._current
        assert stmt is not None
        table = Table(name, {}, statement=stmt.index, line=_node_line(schema.this) or stmt.line)
        for prop in [*schema.expressions, *(properties.expressions if properties else [])]:
            label = next((lbl for cls, lbl in REFUSED_TABLE_PROPERTIES.items() if isinstance(prop, cls)), None)
            if label is not None:
                text = prop.sql(dialect=self.dialect)
                if text.startswith("(") and text.endswith(")"):  # "(LIKE p)": the clause without its brackets
                    text = text[1:-1]
                raise self.fail(
                    f"table {name}: {text if label in text.upper() else label + ' ' + text} is not supported: the "
                    "generator needs every column and constraint in this CREATE TABLE, and rows that any table "
                    "accepts; write the table out in full",
                    line=_node_line(prop) or stmt.line,
                )
        if not any(isinstance(item, exp.ColumnDef) for item in schema.expressions):
            raise self.fail(f"table {name} has no columns: a table needs at least one column to generate", schema.this)
        self.tables[name] = table
        for item in schema.expressions:
            if isinstance(item, exp.ColumnDef):
                self.column_def(table, item)
        for item in schema.expressions:
            if not isinstance(item, exp.ColumnDef):
                self.table_constraint(table, item, via_alter=False)

    def column_def(self, table: Table, node: exp.ColumnDef) -> None:
        col_name = self.name(node.this)
        if col_name in table.columns:
            raise self.fail(f"column {table.name}.{col_name} is defined twice", node)
        twin = next((c for c in table.columns if c.casefold() == col_name.casefold()), None)
        if twin is not None:
            raise self.fail(
                f"column {table.name}.{col_name} differs from column {table.name}.{twin} only in case; DuckDB "
                "(the report and dataset.duckdb) cannot hold both: rename one",
                node,
            )
        dtype = node.args.get("kind")
        if dtype is None:
            raise self.fail(f"column {table.name}.{col_name} has no type", node)
        sql_type = self.sql_type(dtype, f"{table.name}.{col_name}", node)
        column = Column(col_name, sql_type, line=_node_line(node) or 0)
        auto = dtype.this in SERIAL_TYPES
        for cons in node.constraints:
            kind = cons.kind
            if isinstance(kind, exp.NotNullColumnConstraint):
                column.nullable = bool(kind.args.get("allow_null"))
            elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
                table.primary_key = (col_name,)
            elif isinstance(kind, exp.UniqueColumnConstraint):
                self.add_unique(table, (col_name,), kind, line=column.line)
            elif isinstance(kind, exp.DefaultColumnConstraint):
                column.default = kind.this
            elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint) and kind.args.get("expression"):
                raise self.fail(f"column {table.name}.{col_name} is a generated (computed) column; not supported", node)
            elif isinstance(kind, exp.AutoIncrementColumnConstraint | exp.GeneratedAsIdentityColumnConstraint):
                auto = True
            elif isinstance(kind, exp.CheckColumnConstraint):
                self.add_check(table, kind.this, cons.name or None, kind)
            elif isinstance(kind, exp.Reference):
                self.add_fk(table, (col_name,), kind, cons.name or None, via_alter=False, node=kind)
            elif isinstance(kind, exp.ComputedColumnConstraint):
                raise self.fail(f"column {table.name}.{col_name} is a generated (computed) column; not supported", node)
            elif not isinstance(kind, HARMLESS_COLUMN_CONSTRAINTS):
                raise self.fail(
                    f"table {table.name}: column {table.name}.{col_name}: {cons.sql(dialect=self.dialect)} is a "
                    "constraint the generator cannot enforce; remove it",
                    node,
                )
        if auto:
            if sql_type.kind != "int":
                raise self.fail(f"column {table.name}.{col_name}: auto-increment needs an integer type", node)
            column.auto_increment = True
            if column.default is None:
                column.nullable = False
        table.columns[col_name] = column

    def table_constraint(self, table: Table, node: exp.Expression, via_alter: bool) -> None:
        name: str | None = None
        items: list[exp.Expression] = [node]
        if isinstance(node, exp.Constraint):
            name = self.name(node.this)
            items = list(node.expressions)
        for item in items:
            if isinstance(item, exp.PrimaryKey):
                cols = tuple(self.name(e) for e in item.expressions)
                self.require_columns(table, cols, item)
                if table.primary_key and table.primary_key != cols:
                    raise self.fail(f"table {table.name} has two primary keys", item)
                table.primary_key = cols
            elif isinstance(item, exp.PrimaryKeyColumnConstraint):
                cols = tuple(self.name(e) for e in item.expressions) if item.expressions else ()
                if cols:
                    self.require_columns(table, cols, item)
                    table.primary_key = cols
            elif isinstance(item, exp.UniqueColumnConstraint):
                target = item.this
                exprs = target.expressions if isinstance(target, exp.Schema) else [target] if target else []
                cols = tuple(self.name(e) for e in exprs)
                self.require_columns(table, cols, item)
                if cols:
                    self.add_unique(table, cols, item)
            elif isinstance(item, exp.ForeignKey):
                cols = tuple(self.name(e) for e in item.expressions)
                self.require_columns(table, cols, item)
                self.add_fk(table, cols, item.args["reference"], name, via_alter=via_alter, node=item)
            elif isinstance(item, (exp.CheckColumnConstraint, exp.Check)):
                self.add_check(table, item.this, name, item)
            elif isinstance(item, exp.ExcludeColumnConstraint):
                self.add_exclude(table, item, name, node)
            elif isinstance(item, exp.IndexColumnConstraint):
                continue  # MySQL KEY / INDEX / FULLTEXT / SPATIAL: lookups only, no rule on the data
            else:
                label = f"constraint {name} " if name else ""
                raise self.fail(
                    f"table {table.name}: {label}{item.sql(dialect=self.dialect)} is a constraint the generator "
                    "cannot enforce; remove it",
                    node,
                )

    def add_unique(self, table: Table, cols: tuple[str, ...], node: exp.Expression, line: int | None = None) -> None:
        table.uniques.append(cols)
        if node.args.get("nulls"):  # UNIQUE NULLS NOT DISTINCT: holds only if the columns are never NULL
            stmt = self._current
            assert stmt is not None
            where = line or _node_line(node) or stmt.line
            self._nulls_not_distinct.append((table.name, cols, stmt.index, where))

    def add_exclude(self, table: Table, item: exp.Expression, name: str | None, node: exp.Expression) -> None:
        """``EXCLUDE [USING m] (col WITH =, ...)``: two rows conflict when every column is equal (NULLs
        never equal), exactly a UNIQUE over those columns. Any other operator, an expression or a
        WHERE (partial) cannot be enforced and is refused."""
        params = item.this
        parts = list(params.args.get("columns") or []) if isinstance(params, exp.IndexParameters) else []
        cols: list[str] = []
        for part in parts:
            op = part.args.get("op") if isinstance(part, exp.WithOperator) else None
            op_text = op.name if isinstance(op, exp.Expression) else str(op or "")
            target = part.this if isinstance(part, exp.WithOperator) else None
            if isinstance(target, exp.Ordered):
                target = target.this
            if op_text != "=" or not isinstance(target, exp.Column):
                cols = []
                break
            cols.append(self.name(target))
        where = params.args.get("where") if isinstance(params, exp.IndexParameters) else None
        if not cols or where is not None:
            label = f"constraint {name} " if name else ""
            raise self.fail(
                f"table {table.name}: {label}{item.sql(dialect=self.dialect)} cannot be enforced: only EXCLUDE "
                "(col WITH =, ...) over plain columns and without WHERE (the same as a UNIQUE) is supported",
                node,
            )
        self.require_columns(table, tuple(cols), item)
        table.uniques.append(tuple(cols))

    def require_columns(self, table: Table, cols: tuple[str, ...], node: exp.Expression) -> None:
        for col in cols:
            if col not in table.columns:
                raise self.fail(f"table {table.name} has no column {col!r}", node)

    def add_fk(
        self,
        table: Table,
        cols: tuple[str, ...],
        ref: exp.Reference,
        name: str | None,
        via_alter: bool,
        node: exp.Expression,
    ) -> None:
        target = ref.this
        ref_table = self.name(target.this if isinstance(target, exp.Schema) else target)
        ref_cols = tuple(self.name(e) for e in target.expressions) if isinstance(target, exp.Schema) else ()
        options = " ".join(str(o).upper() for o in ref.args.get("options") or [])
        deferrable = "DEFERRABLE" in options and "NOT DEFERRABLE" not in options
        stmt = self._current
        assert stmt is not None
        table.foreign_keys.append(
            ForeignKey(
                table.name,
                cols,
                ref_table,
                ref_cols,
                name,
                deferrable,
                via_alter,
                stmt.index,
                _node_line(node) or stmt.line,
            )
        )

    def add_check(self, table: Table, expr: exp.Expression, name: str | None, node: exp.Expression) -> None:
        stmt = self._current
        assert stmt is not None
        problem = check_problem(expr, table.name)
        if problem is not None:
            label = f"CHECK {name} " if name else "CHECK "
            text = " ".join(expr.sql(dialect=self.dialect).split())
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise self.fail(f"table {table.name}: {label}({shown}) uses {problem}", node)
        cols = tuple(dict.fromkeys(self.name(c) for c in expr.find_all(exp.Column)))
        if not cols:
            # No row can change its outcome: it holds for every table or for none (CHECK (1 = 0)).
            text = " ".join(expr.sql(dialect=self.dialect).split())
            shown = text if len(text) <= 60 else text[:57] + "..."
            label = f"CHECK {name} " if name else "CHECK "
            raise self.fail(
                f"table {table.name}: {label}({shown}) names no column: it holds for every row or for none; remove it",
                node,
            )
        table.checks.append(Check(table.name, name, expr, cols, stmt.index, _node_line(node) or stmt.line))

    # CREATE UNIQUE INDEX ----------------------------------------------------------------------
    def create_unique_index(self, tree: exp.Create) -> None:
        """A unique index over plain columns is a UNIQUE; on expressions or partial (WHERE) it is refused."""
        index = tree.this
        table_node = index.args.get("table") if isinstance(index, exp.Index) else None
        if table_node is None:
            raise self.fail("syntax error: CREATE UNIQUE INDEX without ON table")
        name = self.name(table_node)
        if name not in self.tables:
            raise self.fail(f"CREATE UNIQUE INDEX on unknown table {name!r}", table_node)
        table = self.tables[name]
        params = index.args.get("params")
        parts = list(params.args.get("columns") or []) if isinstance(params, exp.IndexParameters) else []
        targets = [p.this if isinstance(p, exp.Ordered) else p for p in parts]
        where = params.args.get("where") if isinstance(params, exp.IndexParameters) else None
        if not targets or where is not None or not all(isinstance(t, exp.Column) for t in targets):
            what = "is partial (WHERE)" if where is not None else "is on expressions, not plain columns"
            raise self.fail(
                f"table {name}: CREATE UNIQUE INDEX ({', '.join(t.sql(dialect=self.dialect) for t in targets)}) "
                f"{what} and cannot be enforced; make it a UNIQUE over columns or remove it",
                tree,
            )
        cols = tuple(self.name(t) for t in targets)
        self.require_columns(table, cols, index)
        table.uniques.append(cols)

    # ALTER TABLE ------------------------------------------------------------------------------
    def alter_table(self, tree: exp.Alter) -> None:
        name = self.name(tree.this)
        if name not in self.tables:
            raise self.fail(f"ALTER TABLE of unknown table {name!r}", tree.this)
        table = self.tables[name]
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.AddConstraint):
                for item in action.expressions:
                    self.table_constraint(table, item, via_alter=True)
            elif isinstance(action, exp.ColumnDef):
                self.column_def(table, action)
            elif (isinstance(action, exp.AlterColumn) and action.args.get("dtype") is not None) or isinstance(
                action, exp.ModifyColumn
            ):
                target = action.this.this if isinstance(action, exp.ModifyColumn) else action.this
                raise self.fail(
                    f"table {name}: ALTER TABLE changes the type of {name}.{self.name(target)}; not supported, write "
                    "the final type in CREATE TABLE",
                    line=self._current.line if self._current else None,
                )
            elif isinstance(action, exp.AlterColumn) and action.args.get("allow_null") is False:
                table.columns[self.name(action.this)].nullable = False
            elif isinstance(action, exp.AlterColumn) and action.args.get("allow_null") is True:
                table.columns[self.name(action.this)].nullable = True
            elif isinstance(action, exp.AlterColumn) and action.args.get("default") is not None:
                table.columns[self.name(action.this)].default = action.args["default"]
            elif isinstance(action, exp.Drop | exp.RenameColumn | exp.AlterRename):
                raise self.fail("ALTER TABLE that drops or renames is not supported; write the final schema")

    # types ------------------------------------------------------------------------------------
    def sql_type(self, dtype: exp.DataType, where: str, node: exp.Expression) -> SqlType:
        kind = dtype.this
        text = dtype.sql(dialect=self.dialect)
        params = [int(p.this.this) for p in dtype.expressions if isinstance(p, exp.DataTypeParam) and p.this.is_int]
        if kind == T.TINYINT and params == [1] and self.dialect == "mysql":
            return SqlType("bool", text)
        if kind in INT_RANGES:
            lo, hi = INT_RANGES[kind]
            return SqlType("int", text, min_value=lo, max_value=hi)
        if kind in DECIMAL_TYPES:
            if params:
                precision, scale = params[0], params[1] if len(params) > 1 else 0
            elif kind == T.MONEY:
                precision, scale = 19, 2
            elif self.dialect == "mysql":
                precision, scale = 10, 0  # MySQL reads a bare DECIMAL as DECIMAL(10, 0)
            else:
                # PostgreSQL's bare NUMERIC has no limit; it is drawn, and checked, as NUMERIC(18, 2).
                precision, scale = 18, 2
            if precision > 38 or scale > precision:
                raise self.fail(f"column {where}: {text} is out of range (precision <= 38, scale <= precision)", node)
            return SqlType("decimal", text, precision=precision, scale=scale)
        if kind in FLOAT_TYPES:
            return SqlType("float", text)
        if kind == T.BOOLEAN or (kind == T.BIT and params in ([], [1])):
            return SqlType("bool", text)
        if kind in STRING_TYPES:
            length = params[0] if params else None
            fixed = kind in (T.CHAR, T.NCHAR)
            if fixed and length is None:
                length = 1
            return SqlType("string", text, length=length, fixed=fixed)
        if kind == T.DATE:
            return SqlType("date", text)
        if kind in (T.TIME, T.TIMETZ):
            return SqlType("time", text)
        if kind in TIMESTAMP_TYPES:
            return SqlType("timestamp", text)
        if kind in TIMESTAMPTZ_TYPES:
            return SqlType("timestamptz", text)
        if kind == T.UUID:
            return SqlType("uuid", text)
        if kind in (T.JSON, T.JSONB):
            return SqlType("json", text)
        if kind == T.ENUM:
            values = tuple(e.name for e in dtype.expressions)
            return SqlType("enum", text, enum_values=values)
        if kind == T.USERDEFINED:
            type_name = self.name(dtype.args.get("kind") or text)
            if type_name in self.enums:
                return SqlType("enum", type_name, enum_values=self.enums[type_name], enum_name=type_name)
            raise self.fail(f"column {where}: type {text} is not a known enum and cannot be generated", node)
        raise self.fail(f"column {where}: type {text} cannot be generated", node)

    # cross-statement checks -------------------------------------------------------------------
    def resolve(self) -> None:
        for table in self.tables.values():
            for fk in table.foreign_keys:
                self._current = self.statements[fk.statement]
                if fk.ref_table not in self.tables:
                    raise self.fail(
                        f"{table.name}({', '.join(fk.columns)}) REFERENCES unknown table {fk.ref_table!r}",
                        line=fk.line,
                    )
                parent = self.tables[fk.ref_table]
                if not fk.ref_columns:
                    if not parent.primary_key:
                        raise self.fail(
                            f"REFERENCES {parent.name} without columns, but {parent.name} has no primary key",
                            line=fk.line,
                        )
                    fk.ref_columns = parent.primary_key
                for col in fk.ref_columns:
                    if col not in parent.columns:
                        raise self.fail(
                            f"REFERENCES {parent.name}({col}): table {parent.name} has no column {col!r}",
                            line=fk.line,
                        )
                if len(fk.ref_columns) != len(fk.columns):
                    raise self.fail(
                        f"foreign key ({', '.join(fk.columns)}) has {len(fk.columns)} columns but references "
                        f"{len(fk.ref_columns)} in {parent.name}"
                    )
                keys = [parent.primary_key, *parent.uniques]
                if not any(set(k) == set(fk.ref_columns) for k in keys if k):
                    raise self.fail(
                        f"REFERENCES {parent.name}({', '.join(fk.ref_columns)}): those columns are not a primary key "
                        "or UNIQUE constraint of the parent"
                    )
            for check in table.checks:
                for col in check.columns:
                    if col not in table.columns:
                        self._current = self.statements[check.statement]
                        raise self.fail(f"CHECK ({check.sql}) uses unknown column {table.name}.{col}", line=check.line)
            for col in table.primary_key:
                table.columns[col].nullable = False
            # Keep unique sets distinct and drop the primary key repeated as UNIQUE.
            seen: set[frozenset[str]] = {frozenset(table.primary_key)} if table.primary_key else set()
            uniques = []
            for cols in table.uniques:
                if frozenset(cols) not in seen:
                    seen.add(frozenset(cols))
                    uniques.append(cols)
            table.uniques = uniques
        if not self.tables:
            raise DdlError(f"{self.source}: no CREATE TABLE statement found")
        for table_name, cols, statement, line in self._nulls_not_distinct:
            table = self.tables[table_name]
            nullable = [c for c in cols if table.columns[c].nullable]
            if nullable:
                self._current = self.statements[statement]
                raise self.fail(
                    f"table {table_name}: UNIQUE NULLS NOT DISTINCT ({', '.join(cols)}) cannot be enforced on the "
                    f"nullable column(s) {', '.join(nullable)} (generated NULLs would repeat); declare them NOT NULL "
                    "or drop NULLS NOT DISTINCT",
                    line=line,
                )
        for table in self.tables.values():
            for column in table.columns.values():
                if column.type.kind not in ("date", "timestamp", "timestamptz"):
                    continue
                problem = temporal_bound_problem(table, column.name)
                if problem is not None:
                    self._current = self.statements[table.statement]
                    raise self.fail(
                        f"table {table.name}: column {table.name}.{column.name}: {problem}", line=column.line
                    )
        self._current = None


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning when it falls back to a Command; our own error says it in one line."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _node_line(node: exp.Expression) -> int | None:
    for n in node.walk():
        line = n.meta.get("line") if isinstance(n, exp.Identifier | exp.Literal) or n.meta else None
        if line:
            return int(line)
    return None


# Statements the generator skips that change what a database would hold: each gets a warning line.
_WARNED_STATEMENT = re.compile(
    r"\s*(DROP|INSERT|UPDATE|DELETE|MERGE|TRUNCATE|GRANT|REVOKE|COPY"
    r"|CREATE\s+(?:OR\s+REPLACE\s+)?(?:MATERIALIZED\s+|TEMP(?:ORARY)?\s+)?VIEW"
    r"|CREATE\s+(?:OR\s+REPLACE\s+)?(?:TRIGGER|FUNCTION|PROCEDURE|RULE|POLICY))\b",
    re.I,
)


def skipped_statement_warnings(schema: Schema) -> list[str]:
    """One line per skipped statement that would change a real database (DROP, INSERT, VIEW, GRANT ...)."""
    lines = []
    for stmt in schema.statements:
        found = _WARNED_STATEMENT.match(stmt.text) if stmt.kind == "ignored" else None
        if found is not None:
            word = " ".join(found.group(1).upper().split())
            lines.append(
                f"{schema.source}:{stmt.line}: warning: statement {stmt.index + 1} ({stmt.summary}) skipped: "
                f"{word} statements do not shape generated data"
            )
    return lines


def parse_ddl(text: str, source: str = "<ddl>", dialect: str | None = None) -> Schema:
    """Parse DDL text; ``dialect`` is detected from the text when not given."""
    if dialect is not None and dialect not in DIALECTS:
        raise DdlError(f"{source}: unknown dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    chosen = dialect or detect_dialect(text)
    parser = _Parser(text, source, chosen)
    parser.parse()
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Schema(source, chosen, parser.tables, parser.enums, parser.statements, digest)


def load_ddl(path: str | Path, dialect: str | None = None) -> Schema:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"DDL file not found: {path}")
    if path.suffix.lower() not in DDL_SUFFIXES:
        raise DdlError(f"{path}: expected a .sql, .ddl or .txt file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DdlError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return parse_ddl(text, str(path), dialect)
