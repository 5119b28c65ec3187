"""Issue 15, "done when": random DDLs and workflow YAMLs through the real ``synth`` main.

Each input drawn from a grammar of what we support (and some of what we do not) ends one of two ways:
a clear refusal (a non-zero exit and one ``synth: error:`` line, never a traceback: an unexpected
exception escapes ``cli.main`` and fails the test), or written data. For DDLs the data is then checked
by SQL written here, over the CSV files, not by the report's code: every PRIMARY KEY, NOT NULL, UNIQUE,
CHECK, FOREIGN KEY and declared type must count 0 violations.
"""

from __future__ import annotations

import io
import json
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth_pipelines import cli

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def run_synth(args: list[str]) -> tuple[int, list[str]]:
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        try:
            code = cli.main(args)
        except SystemExit as exit_:  # argparse
            code = int(exit_.code or 0)
    return code, err.getvalue().strip().splitlines()


def assert_clear_refusal(code: int, lines: list[str]) -> None:
    errors = [line for line in lines if line.startswith("synth")]
    assert code != 0 and len(errors) == 1, lines
    assert not any("Traceback" in line for line in lines), lines


# -- DDL ------------------------------------------------------------------------------------------------
# (DDL type, DuckDB type to read the CSV with, kind)
TYPES = [
    ("INT", "INTEGER", "int"),
    ("BIGINT", "BIGINT", "int"),
    ("SMALLINT", "SMALLINT", "int"),
    ("NUMERIC(8,2)", "DECIMAL(8,2)", "num"),
    ("NUMERIC(38,10)", "DECIMAL(38,10)", "num"),
    ("VARCHAR(12)", "VARCHAR", "text"),
    ("TEXT", "VARCHAR", "text"),
    ("DATE", "DATE", "date"),
    ("BOOLEAN", "BOOLEAN", "bool"),
]
TEXT_LIMITS = {"VARCHAR(12)": 12}
INT_LIMITS = {"SMALLINT": 32767, "INT": 2**31 - 1, "BIGINT": 2**63 - 1}


@dataclass
class Column:
    name: str
    ddl_type: str
    duck_type: str
    kind: str
    not_null: bool = False
    unique: bool = False
    check: str | None = None  # a boolean SQL expression valid in PostgreSQL and DuckDB


@dataclass
class Table:
    name: str
    columns: list[Column]
    fk: tuple[str, str] | None = None  # (column, parent table): references the parent's id
    composite_unique: tuple[str, str] | None = None
    table_check: str | None = None
    extra: list[str] = field(default_factory=list)


@st.composite
def column_checks(draw: st.DrawFn, name: str, kind: str) -> str | None:
    if kind in ("int", "num"):
        low = draw(st.integers(-50, 50))
        high = low + draw(st.integers(-5, 200))  # sometimes below low: a contradiction to refuse
        return draw(st.sampled_from([
            f"{name} >= {low}", f"{name} BETWEEN {low} AND {high}", f"{name} > {low} AND {name} < {high}",
            f"{name} IN ({low}, {high}, {low + 7})", f"{name} <> {low}",
        ]))  # fmt: skip
    if kind == "text":
        n = draw(st.integers(0, 15))
        return draw(st.sampled_from([f"length({name}) <= {n}", f"length({name}) >= {n}", f"{name} <> ''",
                                     f"{name} IN ('red', 'green', 'blue')"]))  # fmt: skip
    if kind == "date":
        return draw(st.sampled_from([f"{name} >= DATE '2020-01-01'", f"{name} < DATE '1990-01-01'"]))
    return None


@st.composite
def tables(draw: st.DrawFn) -> list[Table]:
    out: list[Table] = []
    for t in range(draw(st.integers(1, 3))):
        columns = [Column("id", "INT", "INTEGER", "int")]
        for c in range(draw(st.integers(1, 4))):
            ddl_type, duck_type, kind = draw(st.sampled_from(TYPES))
            unique = draw(st.booleans()) and kind != "bool"  # a UNIQUE BOOLEAN only ever makes 2 rows
            col = Column(f"c{c}", ddl_type, duck_type, kind, not_null=draw(st.booleans()), unique=unique)
            if draw(st.booleans()):
                col.check = draw(column_checks(col.name, kind))
            columns.append(col)
        table = Table(f"t{t}", columns)
        if out and draw(st.booleans()):
            table.fk = ("parent_id", draw(st.sampled_from([p.name for p in out])))
            table.columns.append(Column("parent_id", "INT", "INTEGER", "int", not_null=draw(st.booleans())))
        if len(columns) >= 3 and draw(st.booleans()):
            table.composite_unique = (columns[1].name, columns[2].name)
        numeric = [c.name for c in columns[1:] if c.kind in ("int", "num")]
        if len(numeric) >= 2 and draw(st.booleans()):
            table.table_check = f"{numeric[0]} <= {numeric[1]}"
        out.append(table)
    return out


def ddl_text(schema: list[Table]) -> str:
    statements = []
    for table in schema:
        items = ["id INT PRIMARY KEY"]
        for col in table.columns[1:]:
            item = f"{col.name} {col.ddl_type}"
            item += " NOT NULL" if col.not_null else ""
            item += " UNIQUE" if col.unique else ""
            item += f" CHECK ({col.check})" if col.check else ""
            items.append(item)
        if table.fk:
            items.append(f"FOREIGN KEY ({table.fk[0]}) REFERENCES {table.fk[1]}(id)")
        if table.composite_unique:
            items.append(f"UNIQUE ({', '.join(table.composite_unique)})")
        if table.table_check:
            items.append(f"CHECK ({table.table_check})")
        statements.append(f"CREATE TABLE {table.name} (\n  " + ",\n  ".join(items) + "\n);")
    return "\n".join(statements) + "\n"


def violations(out: Path, schema: list[Table]) -> dict[str, int]:
    """Constraint name -> violating rows, counted over the CSV files with SQL written here."""
    con = duckdb.connect()
    found: dict[str, int] = {}

    def count(label: str, sql: str) -> None:
        found[label] = int(con.execute(sql).fetchone()[0])

    for table in schema:
        columns = ", ".join(f"'{c.name}': '{c.duck_type}'" for c in table.columns)
        # Reading with the declared types is itself the type check: a value that does not fit fails the cast.
        con.execute(f"CREATE VIEW {table.name} AS SELECT * FROM read_csv('{out / (table.name + '.csv')}', "
                    f"header = true, columns = {{{columns}}})")  # fmt: skip
    for table in schema:
        t = table.name
        count(f"{t}.id primary key", f"SELECT count(*) - count(DISTINCT id) + count(*) FILTER (id IS NULL) FROM {t}")
        for col in table.columns[1:]:
            c = col.name
            if col.not_null:
                count(f"{t}.{c} not null", f"SELECT count(*) FROM {t} WHERE {c} IS NULL")
            if col.unique:
                count(f"{t}.{c} unique", f"SELECT count({c}) - count(DISTINCT {c}) FROM {t}")
            if col.check:
                count(f"{t}.{c} check", f"SELECT count(*) FROM {t} WHERE NOT ({col.check})")
            if col.ddl_type in TEXT_LIMITS:
                count(f"{t}.{c} length", f"SELECT count(*) FROM {t} WHERE length({c}) > {TEXT_LIMITS[col.ddl_type]}")
        if table.fk:
            col, parent = table.fk
            orphan = f"{col} IS NOT NULL AND {col} NOT IN (SELECT id FROM {parent})"
            count(f"{t}.{col} foreign key", f"SELECT count(*) FROM {t} WHERE {orphan}")
        if table.composite_unique:
            a, b = table.composite_unique
            both_set = f"{a} IS NOT NULL AND {b} IS NOT NULL"
            count(f"{t}.({a}, {b}) unique", f"SELECT count(*) - count(DISTINCT ({a}, {b})) FROM {t} WHERE {both_set}")
        if table.table_check:
            count(f"{t} table check", f"SELECT count(*) FROM {t} WHERE NOT ({table.table_check})")
    con.close()
    return found


@FUZZ
@given(schema=tables(), rows=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_random_ddls_are_refused_clearly_or_generate_data_with_zero_violations(
    schema: list[Table], rows: int, seed: int
) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-ddl-") as tmp:
        ddl = Path(tmp) / "fuzz.sql"
        ddl.write_text(ddl_text(schema))
        out = Path(tmp) / "out"
        code, lines = run_synth(["relational", "--ddl", str(ddl), "--rows", str(rows), "--seed", str(seed),
                                 "--format", "csv", "--out", str(out)])  # fmt: skip
        if code != 0:
            assert_clear_refusal(code, lines)
            assert not out.exists() or not any(out.iterdir()), "a refused run wrote files"
            return
        counted = violations(out, schema)
        assert sum(counted.values()) == 0, (ddl.read_text(), {k: v for k, v in counted.items() if v})


# -- workflows ------------------------------------------------------------------------------------------
ENDPOINTS = ["/api/a", "/api/b/{item_id}", "/api/c", "/api/users/{user_id}", "/api/end"]
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.lists(st.integers(0, 3), max_size=3),
)  # fmt: skip


def rarely(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in ``one_in`` draws (a middle value: hypothesis favours the ends of a range)."""
    return draw(st.integers(0, one_in - 1)) == one_in // 2


@st.composite
def workflows(draw: st.DrawFn) -> dict[str, object]:
    names = draw(st.lists(st.sampled_from(ENDPOINTS[:-1]), min_size=1, max_size=4, unique=True))
    exits = ["/api/end"]

    def distribution(targets: list[str]) -> dict[str, object]:
        weights = draw(st.lists(st.integers(0, 10), min_size=len(targets), max_size=len(targets)))
        total = sum(weights) or 1
        row: dict[str, object] = {t: w / total for t, w in zip(targets, weights, strict=True)}
        if rarely(draw, 12):  # now and then a row that breaks the rules
            row[draw(st.sampled_from(targets))] = draw(ODD_VALUES)
        return row

    doc: dict[str, object] = {
        "name": "" if rarely(draw, 15) else draw(st.sampled_from(["fuzz", "x y"])),
        "entry_points": distribution(names),
        "transitions": {n: distribution([*names, *exits]) for n in names},
        "exit_points": exits,
        "avg_response_times": {
            n: draw(ODD_VALUES if rarely(draw, 15) else st.floats(0.1, 5000))
            for n in [*names, *exits]
        },
    }  # fmt: skip
    optional = {
        "methods": st.fixed_dictionaries({n: st.sampled_from(["GET", "POST", "PATCH", "FETCH"]) for n in names}),
        "error_rates": st.fixed_dictionaries({n: st.floats(0, 1) for n in names[:1]}),
        "query_params": st.fixed_dictionaries({names[0]: st.fixed_dictionaries(
            {"page": st.sampled_from(["page", "int", "search_term", "nope"])})}),
        "parameters": st.fixed_dictionaries({"item_id": st.sampled_from(["user", {"min": 1, "max": 9},
                                                                                     {"min": 9, "max": 1}])}),
        "think_time_mean_s": st.floats(0, 30),
        "description": st.text(max_size=20),
    }  # fmt: skip
    for key, strategy in optional.items():
        if draw(st.booleans()):
            doc[key] = draw(ODD_VALUES if rarely(draw, 8) else strategy)
    if rarely(draw, 15):
        doc[draw(st.sampled_from(["unknown_field", "entry_points", "transitions"]))] = draw(ODD_VALUES)
    return doc


@FUZZ
@given(doc=workflows(), seed=st.integers(0, 2**31))
def test_random_workflows_are_refused_clearly_or_generate_valid_traces(doc: dict[str, object], seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-wf-") as tmp:
        path = Path(tmp) / "flow.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        out = Path(tmp) / "out"
        code, lines = run_synth(["api-traces", "--workflow", str(path), "--users", "4", "--days", "1",
                                 "--seed", str(seed), "--out", str(out)])  # fmt: skip
        if code != 0:
            assert not any("Traceback" in line for line in lines), lines
            assert code != 0 and lines and lines[0].startswith("synth: error:"), lines
            assert not out.exists() or not any(out.iterdir()), "a refused run wrote files"
            return
        con = duckdb.connect()
        calls = str(out / "calls.parquet")
        defined = set(doc["transitions"]) | {"/api/end"}  # type: ignore[arg-type]
        endpoints = {row[0] for row in con.execute(f"SELECT DISTINCT endpoint FROM '{calls}'").fetchall()}
        assert endpoints <= defined, endpoints - defined
        entry = {e for e, p in doc["entry_points"].items() if p}  # type: ignore[attr-defined]
        firsts = {row[0] for row in con.execute(f"SELECT DISTINCT endpoint FROM '{calls}' WHERE seq = 0").fetchall()}
        assert firsts <= entry, firsts - entry
        unordered = con.execute(
            "SELECT count(*) FROM (SELECT timestamp < lag(timestamp) OVER (PARTITION BY session_id ORDER BY seq)"
            f" AS back FROM '{calls}') WHERE back"
        ).fetchone()[0]
        assert unordered == 0
        assert json.loads((out / "ground_truth.json").read_text())
