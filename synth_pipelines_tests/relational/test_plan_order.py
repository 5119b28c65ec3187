"""Insert order and deferred foreign keys, pinned: the Parquet/CSV/zip order and validation_report.json
depend on them, so any change to the graph code must leave every expectation here as it is.

Each expectation was worked out by hand from the DDL: tables go parents first, and among the tables
whose parents are all in, the one declared first goes next. A cycle is broken at its ALTER TABLE or
DEFERRABLE FK, else at its latest declared nullable one; cycles are broken in the order a depth-first
walk of the tables (DDL order, child -> parent) finishes them.
"""

from __future__ import annotations

import pytest

from synth_pipelines.domains.relational.ddl import DdlError, ForeignKey, Schema, load_ddl, parse_ddl
from synth_pipelines.domains.relational.plan import insert_order, make_plan
from synth_pipelines_tests.relational.conftest import ROOT, TRICKY

SCHEMAS = ROOT / "data" / "schemas"


def _fks(deferred: tuple[ForeignKey, ...]) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    return tuple((fk.table, fk.columns, fk.ref_table) for fk in deferred)


def _table(name: str, *columns: str) -> str:
    return f"CREATE TABLE {name} (\n  " + ",\n  ".join(["id INT PRIMARY KEY", *columns]) + "\n);\n"


def _schema(*statements: str) -> Schema:
    return parse_ddl("".join(statements), "graph.sql", "postgres")


@pytest.mark.parametrize(
    ("path", "order", "deferred"),
    [
        (
            SCHEMAS / "company.sql",
            ("departments", "employees", "projects", "assignments", "salary_history"),
            (("departments", ("head_id",), "employees"),),
        ),
        (SCHEMAS / "library.sql", ("authors", "publishers", "books", "members", "loans", "reviews"), ()),
        (
            SCHEMAS / "restaurants.sql",
            ("restaurants", "menu_items", "dining_tables", "customers", "reservations", "orders"),
            (),
        ),
        (TRICKY / "tricky_mysql.sql", ("customers", "products", "orders", "order_items"), ()),
        (
            TRICKY / "tricky_postgres.sql",
            ("warehouses", "staff", "bins", "shipments", "shipment_tags", "invoices"),
            (("warehouses", ("manager_id",), "staff"),),
        ),
        (TRICKY / "tricky_sqlite.sql", ("folders", "notes", "note_labels"), ()),
    ],
    ids=lambda v: v.name if hasattr(v, "name") else None,
)
def test_sample_schemas(path, order, deferred) -> None:
    got_order, got_deferred = insert_order(load_ddl(path))
    assert got_order == order
    assert _fks(got_deferred) == deferred


GRAPHS = {
    # A self-reference is never part of the order's graph; the parent declared later still goes first.
    "self_reference": (
        [_table("dept", "head_id INT REFERENCES emp (id)"), _table("emp", "boss_id INT NOT NULL REFERENCES emp (id)")],
        ("emp", "dept"),
        (),
    ),
    # The ALTER TABLE FK closes the cycle, so it waits even though b's FK is the later statement.
    "two_cycle_closed_by_alter": (
        [
            _table("a", "b_id INT"),
            _table("b", "a_id INT REFERENCES a (id)"),
            "ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id);\n",
        ],
        ("a", "b"),
        (("a", ("b_id",), "b"),),
    ),
    # Both nullable and inline: the later declared one (b's) waits.
    "two_cycle_inline": (
        [_table("a", "b_id INT REFERENCES b (id)"), _table("b", "a_id INT REFERENCES a (id)")],
        ("b", "a"),
        (("b", ("a_id",), "a"),),
    ),
    # DEFERRABLE beats a later declared nullable FK, even on a NOT NULL column.
    "two_cycle_deferrable": (
        [
            _table("a", "b_id INT NOT NULL REFERENCES b (id) DEFERRABLE INITIALLY DEFERRED"),
            _table("b", "a_id INT REFERENCES a (id)"),
        ],
        ("a", "b"),
        (("a", ("b_id",), "b"),),
    ),
    # Only a's FK is nullable: it is the one that waits, and the rest follow the chain.
    "three_cycle": (
        [
            _table("a", "c_id INT REFERENCES c (id)"),
            _table("b", "a_id INT NOT NULL REFERENCES a (id)"),
            _table("c", "b_id INT NOT NULL REFERENCES b (id)"),
        ],
        ("a", "b", "c"),
        (("a", ("c_id",), "c"),),
    ),
    "two_independent_cycles": (
        [
            _table("z", "y_id INT REFERENCES y (id)"),
            _table("y", "z_id INT REFERENCES z (id)"),
            _table("p", "q_id INT REFERENCES q (id)"),
            _table("q", "p_id INT NOT NULL REFERENCES p (id)"),
        ],
        ("y", "z", "p", "q"),
        (("y", ("z_id",), "z"), ("p", ("q_id",), "q")),
    ),
    # The walk starts at leaf and reaches the p/q cycle first, so its FK is deferred first.
    "cycle_reached_first_through_a_child": (
        [
            _table("leaf", "q_id INT NOT NULL REFERENCES q (id)"),
            _table("z", "y_id INT REFERENCES y (id)"),
            _table("y", "z_id INT REFERENCES z (id)"),
            _table("p", "q_id INT REFERENCES q (id)"),
            _table("q", "p_id INT NOT NULL REFERENCES p (id)"),
        ],
        ("y", "z", "p", "q", "leaf"),
        (("p", ("q_id",), "q"), ("y", ("z_id",), "z")),
    ),
    "cycle_plus_chain": (
        [
            _table("leaf", "mid_id INT NOT NULL REFERENCES mid (id)"),
            _table("mid", "a_id INT REFERENCES a (id)"),
            _table("a", "b_id INT REFERENCES b (id)"),
            _table("b", "a_id INT NOT NULL REFERENCES a (id)"),
        ],
        ("a", "mid", "leaf", "b"),
        (("a", ("b_id",), "b"),),
    ),
    # Declared child first: c and b are both ready after a, and c is declared before b.
    "diamond": (
        [
            _table("d", "b_id INT NOT NULL REFERENCES b (id)", "c_id INT NOT NULL REFERENCES c (id)"),
            _table("c", "a_id INT NOT NULL REFERENCES a (id)"),
            _table("b", "a_id INT NOT NULL REFERENCES a (id)"),
            _table("a"),
        ],
        ("a", "c", "b", "d"),
        (),
    ),
    # Breaking c -> a leaves the a/b cycle inside the same component: a second FK waits.
    "one_component_two_breaks": (
        [
            _table("a", "b_id INT REFERENCES b (id)", "c_id INT REFERENCES c (id)"),
            _table("b", "a_id INT REFERENCES a (id)", "c_id INT REFERENCES c (id)"),
            _table("c", "a_id INT REFERENCES a (id)"),
        ],
        ("c", "b", "a"),
        (("c", ("a_id",), "a"), ("b", ("a_id",), "a")),
    ),
    # Two FKs from a to b on one line tie; the first waits, and then the second still closes a cycle.
    "parallel_fks_on_one_line": (
        [
            "CREATE TABLE a (id INT PRIMARY KEY, b_id INT REFERENCES b (id), b2_id INT REFERENCES b (id));\n",
            _table("b", "a_id INT NOT NULL REFERENCES a (id)"),
        ],
        ("a", "b"),
        (("a", ("b_id",), "b"), ("a", ("b2_id",), "b")),
    ),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_synthetic_graphs(name: str) -> None:
    statements, order, deferred = GRAPHS[name]
    got_order, got_deferred = insert_order(_schema(*statements))
    assert got_order == order
    assert _fks(got_deferred) == deferred


def test_make_plan_carries_the_order_and_counts_deferred_parents_as_optional() -> None:
    plan = make_plan(load_ddl(SCHEMAS / "company.sql"), 10)
    assert plan.insert_order == ("departments", "employees", "projects", "assignments", "salary_history")
    assert _fks(plan.deferred) == (("departments", ("head_id",), "employees"),)
    # Counts follow roles: departments (its only FK deferred, a name, referenced twice) is a lookup, capped by
    # --rows; employees and projects are entities; assignments a junction (5% of 10 x 10 pairs); salary_history
    # an event, fanout x its parent.
    assert plan.roles == {
        "departments": "lookup",
        "employees": "entity",
        "projects": "entity",
        "assignments": "junction",
        "salary_history": "event",
    }
    assert plan.rows == {"departments": 10, "employees": 10, "projects": 10, "assignments": 5, "salary_history": 20}
    head_fk = load_ddl(SCHEMAS / "company.sql").tables["departments"].foreign_keys[0]
    assert not plan.is_deferred(head_fk)  # identity, not equality: an FK of another parse is not this plan's
    assert plan.is_deferred(plan.deferred[0])


def test_cycle_of_not_null_fks_names_every_fk_in_it() -> None:
    schema = _schema(
        _table("a", "b_id INT NOT NULL"),
        _table("b", "a_id INT NOT NULL REFERENCES a (id)"),
        _table("c", "a_id INT REFERENCES a (id)"),
        "ALTER TABLE a ADD CONSTRAINT a_b FOREIGN KEY (b_id) REFERENCES b (id);\n",
    )
    with pytest.raises(DdlError) as err:
        insert_order(schema)
    assert str(err.value) == (
        "graph.sql:7: statement 2 (CREATE TABLE b ( id INT PRIMARY KEY, a_id INT NOT NULL RE...): foreign keys "
        "form a cycle of NOT NULL, non-deferrable references (a(b_id) -> b -> b(a_id) -> a); no insert order "
        "can satisfy it. Make one of them nullable or DEFERRABLE."
    )
