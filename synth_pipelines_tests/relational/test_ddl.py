"""Schema understanding: every supported construct, and errors that name file, line and statement."""

from __future__ import annotations

import pytest

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.domains.relational.ddl import DdlError, detect_dialect, load_ddl, parse_ddl
from synth_pipelines.domains.relational.pipeline import RelationalConfig, prepare
from synth_pipelines.domains.relational.plan import insert_order, make_plan
from synth_pipelines_tests.relational.conftest import SAMPLES, TRICKY


def test_sample_schemas_have_five_to_seven_tables():
    assert {p.stem for p in SAMPLES} >= {"library", "restaurants", "company"}
    for path in SAMPLES:
        assert 5 <= len(load_ddl(path).tables) <= 7


def test_dialects_are_detected():
    assert load_ddl(TRICKY / "tricky_mysql.sql").dialect == "mysql"
    assert load_ddl(TRICKY / "tricky_sqlite.sql").dialect == "sqlite"
    assert load_ddl(TRICKY / "tricky_postgres.sql").dialect == "postgres"
    assert detect_dialect("CREATE TABLE t (id int);") == "postgres"


def test_postgres_constructs():
    s = load_ddl(TRICKY / "tricky_postgres.sql")
    wh, staff, ship = s.tables["warehouses"], s.tables["staff"], s.tables["shipments"]
    assert wh.primary_key == ("region_code", "site_no")
    assert "manager_id" in wh.columns  # ALTER TABLE ADD COLUMN
    fk = next(f for f in wh.foreign_keys if f.ref_table == "staff")
    assert fk.via_alter and fk.deferrable and fk.name == "warehouses_manager_fk"
    assert any(f.ref_table == "staff" for f in staff.foreign_keys)  # self-reference
    composite = next(f for f in ship.foreign_keys if f.ref_table == "bins")
    assert composite.columns == composite.ref_columns == ("region_code", "site_no", "bin_code")
    bins_fk = s.tables["bins"].foreign_keys[0]
    assert bins_fk.ref_columns == ("region_code", "site_no")  # REFERENCES without columns -> parent PK
    assert ship.columns["state"].type.enum_values == ("created", "packed", "shipped", "delivered", "lost")
    assert ship.columns["weight_kg"].type.precision == 7 and ship.columns["weight_kg"].type.scale == 3
    assert staff.columns["badge"].type.fixed and staff.columns["badge"].type.length == 8
    assert ship.columns["shipment_id"].auto_increment
    assert len(ship.checks) == 5


def test_mysql_constructs():
    s = load_ddl(TRICKY / "tricky_mysql.sql")
    c = s.tables["customers"]
    assert c.columns["id"].auto_increment and c.columns["id"].type.min_value == 0
    assert c.columns["is_vip"].type.kind == "bool"  # TINYINT(1)
    assert c.columns["tier"].type.enum_values == ("free", "plus", "pro")
    assert c.columns["signup_at"].type.kind == "timestamp"
    assert c.uniques == [("email",)]
    items = s.tables["order_items"]
    assert items.primary_key == ("order_id", "line_no") and items.uniques == [("order_id", "sku")]


def test_sqlite_constructs():
    s = load_ddl(TRICKY / "tricky_sqlite.sql")
    assert s.tables["folders"].columns["id"].auto_increment
    assert s.tables["note_labels"].primary_key == ("note_id", "label")


def test_cycle_is_broken_at_the_alter_table_fk():
    s = load_ddl(TRICKY / "tricky_postgres.sql")
    order, deferred = insert_order(s)
    assert [(f.table, f.ref_table) for f in deferred] == [("warehouses", "staff")]
    assert order.index("warehouses") < order.index("staff") < order.index("bins") < order.index("shipments")


def test_syntax_error_names_file_line_and_statement(write_ddl):
    path = write_ddl(
        "CREATE TABLE a (id INT PRIMARY KEY);\n\nCREATE TABLE b (\n  id INT,\n  x VARCHAR(10 NOT NULL\n);\n"
    )
    with pytest.raises(DdlError) as err:
        load_ddl(path)
    msg = str(err.value)
    assert f"{path}:5" in msg and "statement 2" in msg and "CREATE TABLE b" in msg and "syntax error" in msg


def test_unknown_referenced_table(write_ddl):
    path = write_ddl(
        "CREATE TABLE a (id INT PRIMARY KEY);\n"
        "CREATE TABLE b (\n  id INT PRIMARY KEY,\n  a_id INT REFERENCES nope (id)\n);\n"
    )
    with pytest.raises(DdlError, match=rf"{path}:4: statement 2 \(CREATE TABLE b.*unknown table 'nope'"):
        load_ddl(path)


def test_unknown_referenced_column(write_ddl):
    path = write_ddl(
        "CREATE TABLE a (id INT PRIMARY KEY);\nCREATE TABLE b (id INT PRIMARY KEY, a_id INT REFERENCES a (nope));\n"
    )
    with pytest.raises(DdlError, match=rf"{path}:2: statement 2 .*has no column 'nope'"):
        load_ddl(path)


def test_ungeneratable_type(write_ddl):
    path = write_ddl("CREATE TABLE a (\n  id INT PRIMARY KEY,\n  shape GEOMETRY\n);\n")
    with pytest.raises(DdlError, match=rf"{path}:3: statement 1 .*a\.shape: type GEOMETRY cannot be generated"):
        load_ddl(path)


def test_not_null_fk_cycle_is_reported(write_ddl):
    path = write_ddl(
        "CREATE TABLE a (id INT PRIMARY KEY, b_id INT NOT NULL);\n"
        "CREATE TABLE b (id INT PRIMARY KEY, a_id INT NOT NULL REFERENCES a (id));\n"
        "ALTER TABLE a ADD CONSTRAINT a_b FOREIGN KEY (b_id) REFERENCES b (id);\n"
    )
    with pytest.raises(DdlError, match=r"schema\.sql:\d+: statement \d .*cycle of NOT NULL.*no insert order"):
        make_plan(load_ddl(path), 10)


def test_deferrable_not_null_cycle_is_allowed(write_ddl):
    path = write_ddl(
        "CREATE TABLE a (id INT PRIMARY KEY, b_id INT NOT NULL);\n"
        "CREATE TABLE b (id INT PRIMARY KEY, a_id INT NOT NULL REFERENCES a (id));\n"
        "ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id) DEFERRABLE INITIALLY DEFERRED;\n"
    )
    plan = make_plan(load_ddl(path), 10)
    assert len(plan.deferred) == 1


def test_impossible_key_space_fails_clearly(write_ddl):
    path = write_ddl("CREATE TABLE c (code CHAR(1) PRIMARY KEY CHECK (code IN ('a', 'b', 'c')));\n")
    with pytest.raises(ConstraintViolation, match=r"table c: 10 rows requested but PRIMARY KEY \(code\) allows only 3"):
        prepare(path, RelationalConfig(rows=10), 1)


def test_unsatisfiable_check_fails_clearly(write_ddl):
    path = write_ddl("CREATE TABLE t (id INT PRIMARY KEY, a INT NOT NULL, CHECK (a > 10), CHECK (a < 5));\n")
    with pytest.raises(ConstraintViolation, match=r"t\.a .*no possible value"):
        prepare(path, RelationalConfig(rows=10), 1)


def test_unknown_table_rows_override(write_ddl):
    path = write_ddl("CREATE TABLE t (id INT PRIMARY KEY);\n")
    with pytest.raises(ValueError, match="unknown table"):
        make_plan(parse_ddl(path.read_text(), str(path)), 10, {"nope": 3})
