"""The validation report of tiny tables written as Parquet by DuckDB, one violation of each kind injected on
purpose, every count worked out by hand in the comments next to the rows (none recomputed with the report's
code): NOT NULL, PRIMARY KEY and UNIQUE duplicates (composite, NULLs in a UNIQUE are distinct), FK orphans and
coverage, a named CHECK, TYPE checks at their exact limits, and the report's structure and key order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl
import pytest

from synth_pipelines.domains.relational.pipeline import RelationalConfig, prepare
from synth_pipelines.domains.relational.report import build_report, connect_sources, parquet_sql, report_json


def write_parquet(folder: Path, tables: dict[str, str]) -> dict[str, Path]:
    """Each table's ``SELECT`` written as one Parquet file by DuckDB (its column types are the casts')."""
    con = duckdb.connect()
    files = {}
    for name, select in tables.items():
        files[name] = folder / f"{name}.parquet"
        con.execute(f"COPY ({select}) TO '{files[name]}' (FORMAT parquet)")
    con.close()
    return files


BOXES_ITEMS_DDL = """
CREATE TABLE boxes (
    shelf INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    label VARCHAR(4) UNIQUE,
    PRIMARY KEY (shelf, slot)
);
CREATE TABLE items (
    item_id INTEGER PRIMARY KEY,
    shelf INTEGER,
    slot INTEGER,
    code CHAR(2),
    weight SMALLINT NOT NULL CONSTRAINT positive CHECK (weight > 0),
    twin_id INTEGER REFERENCES items (item_id),
    UNIQUE (shelf, code),
    FOREIGN KEY (shelf, slot) REFERENCES boxes (shelf, slot)
);
"""
# boxes, 7 rows. PK (shelf, slot): rows with both set are 1, 2, 3, 6, 7 (5) over 4 distinct pairs: 1 duplicate;
# rows 4 and 5 have a NULL in the key: 2 nulls. UNIQUE (label): a, a, b, abcde set (4), 3 distinct: 1 duplicate;
# the three NULL labels are not duplicates. NOT NULL: shelf 1 (row 5), slot 2 (rows 4, 5). TYPE: "abcde" is
# longer than VARCHAR(4). Total 3 + 1 + 1 + 2 + 1 = 8.
BOXES = """SELECT shelf::INTEGER AS shelf, slot::INTEGER AS slot, label::VARCHAR AS label FROM (VALUES
    (1, 1, 'a'),
    (1, 2, 'a'),
    (1, 2, NULL),
    (2, NULL, 'b'),
    (NULL, NULL, NULL),
    (3, 1, 'abcde'),
    (4, 4, NULL)
) AS t(shelf, slot, label)"""
# items, 7 rows. PK (item_id): 7 set, 6 distinct: 1 duplicate (6), no NULL. UNIQUE (shelf, code): rows with
# both set are 1, 2, 5, 7 (4) over 3 distinct pairs: 1 duplicate; rows 3 and 4 repeat (1, NULL): not counted.
# FK twin_id -> items: set in 2, 3, 4, 5, 7; 9 is no item: 1 orphan; used 1, 2, 5, 4 of 7 rows: 57.14%.
# FK (shelf, slot) -> boxes: both set in 1, 2, 3, 4, 5, 7; (9, 9) is no box: 1 orphan; row 6 has a NULL shelf
# and is exempt (MATCH SIMPLE); used (1, 1), (1, 2), (3, 1) of the 7 boxes: 42.86%.
# NOT NULL: item_id 0, weight 1 (row 5). CHECK positive: 0 in row 3 is FALSE (the NULL in row 5 is not): 1.
# TYPE: "abc" is longer than CHAR(2); 40000 is past SMALLINT's 32767. Total 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 = 8.
ITEMS = """SELECT item_id::INTEGER AS item_id, shelf::INTEGER AS shelf, slot::INTEGER AS slot,
    code::VARCHAR AS code, weight::INTEGER AS weight, twin_id::INTEGER AS twin_id FROM (VALUES
    (1, 1, 1, 'xx', 5, NULL),
    (2, 1, 1, 'xx', 3, 1),
    (3, 1, 2, NULL, 0, 2),
    (4, 1, 2, NULL, 7, 9),
    (5, 9, 9, 'yy', NULL, 5),
    (6, NULL, 7, 'zz', 2, NULL),
    (6, 3, 1, 'abc', 40000, 4)
) AS t(item_id, shelf, slot, code, weight, twin_id)"""


def test_every_count_of_two_tables_by_hand_with_the_report_s_structure_and_key_order(tmp_path: Path, write_ddl):
    ddl = write_ddl(BOXES_ITEMS_DDL)
    prepared = prepare(ddl, RelationalConfig(rows=3), seed=1)
    files = write_parquet(tmp_path, {"boxes": BOXES, "items": ITEMS})
    report = build_report(prepared.schema, prepared.plan, prepared.generator, files, 11, "v1")

    def meaning(table: str, column: str) -> str:  # the generator's label, copied by the report
        return prepared.generator.models[table].specs[column].semantic

    def column(table: str, name: str, sql: str, null_pct: float, distinct: int, low, high, samples: list) -> dict:
        return {
            "type": sql,
            "meaning": meaning(table, name),
            "null_pct": null_pct,
            "distinct": distinct,
            "min": low,
            "max": high,
            "samples": samples,
        }

    boxes = {
        "rows": 7,
        "violations": 8,
        "constraints": [
            {"type": "PRIMARY KEY", "columns": ["shelf", "slot"], "duplicates": 1, "nulls": 2, "violations": 3},
            {"type": "UNIQUE", "columns": ["label"], "duplicates": 1, "violations": 1},
            {"type": "NOT NULL", "columns": ["shelf"], "violations": 1},
            {"type": "NOT NULL", "columns": ["slot"], "violations": 2},
            {"type": "TYPE", "columns": ["shelf"], "declared": "INT", "violations": 0},
            {"type": "TYPE", "columns": ["slot"], "declared": "INT", "violations": 0},
            {"type": "TYPE", "columns": ["label"], "declared": "VARCHAR(4)", "violations": 1},
        ],
        "columns": {
            # 1 of 7 NULL is 14.29%, 2 of 7 28.57%, 3 of 7 42.86%
            "shelf": column("boxes", "shelf", "INT", 14.29, 4, 1, 4, [1, 2, 3, 4]),
            "slot": column("boxes", "slot", "INT", 28.57, 3, 1, 4, [1, 2, 4]),
            "label": column("boxes", "label", "VARCHAR(4)", 42.86, 3, "a", "b", ["a", "b", "abcde"]),
        },
    }
    items = {
        "rows": 7,
        "violations": 8,
        "constraints": [
            {"type": "PRIMARY KEY", "columns": ["item_id"], "duplicates": 1, "nulls": 0, "violations": 1},
            {"type": "UNIQUE", "columns": ["shelf", "code"], "duplicates": 1, "violations": 1},
            {
                "type": "FOREIGN KEY",
                "columns": ["twin_id"],
                "references": "items(item_id)",
                "orphans": 1,
                "violations": 1,
                "coverage_pct": 57.14,
                "deferred_in_load": False,
            },
            {
                "type": "FOREIGN KEY",
                "columns": ["shelf", "slot"],
                "references": "boxes(shelf, slot)",
                "orphans": 1,
                "violations": 1,
                "coverage_pct": 42.86,
                "deferred_in_load": False,
            },
            {"type": "NOT NULL", "columns": ["item_id"], "violations": 0},
            {"type": "NOT NULL", "columns": ["weight"], "violations": 1},
            {"type": "CHECK", "name": "positive", "expression": "weight > 0", "violations": 1},
            {"type": "TYPE", "columns": ["item_id"], "declared": "INT", "violations": 0},
            {"type": "TYPE", "columns": ["shelf"], "declared": "INT", "violations": 0},
            {"type": "TYPE", "columns": ["slot"], "declared": "INT", "violations": 0},
            {"type": "TYPE", "columns": ["code"], "declared": "CHAR(2)", "violations": 1},
            {"type": "TYPE", "columns": ["weight"], "declared": "SMALLINT", "violations": 1},
            {"type": "TYPE", "columns": ["twin_id"], "declared": "INT", "violations": 0},
        ],
        "columns": {
            "item_id": column("items", "item_id", "INT", 0.0, 6, 1, 6, [1, 2, 3, 4, 5]),
            "shelf": column("items", "shelf", "INT", 14.29, 3, 1, 9, [1, 9, 3]),
            "slot": column("items", "slot", "INT", 0.0, 4, 1, 9, [1, 2, 9, 7]),
            "code": column("items", "code", "CHAR(2)", 28.57, 4, "abc", "zz", ["xx", "yy", "zz", "abc"]),
            "weight": column("items", "weight", "SMALLINT", 14.29, 6, 0, 40000, [5, 3, 0, 7, 2]),
            "twin_id": column("items", "twin_id", "INT", 28.57, 5, 1, 9, [1, 2, 9, 5, 4]),
        },
    }
    assert report["tables"] == {"boxes": boxes, "items": items}
    # Key order is part of the bytes of validation_report.json: compare the JSON text, not only the dicts.
    assert report_json(report["tables"]["items"]) == report_json(items)
    assert report_json(report["tables"]["boxes"]) == report_json(boxes)
    assert list(report) == [
        "schema",
        "seed",
        "generator_version",
        "ok",
        "violations",
        "rule_violations",
        "insert_order",
        "deferred_foreign_keys",
        "rows",
        "roles",
        "rules",
        "tables",
    ]
    sha256 = hashlib.sha256(ddl.read_bytes()).hexdigest()
    assert report["schema"] == {"file": "schema.sql", "sha256": sha256, "dialect": "postgres"}
    assert (report["seed"], report["generator_version"], report["ok"]) == (11, "v1", False)
    # twin_id is a self-reference, so it is also walked as a hierarchy: roots are items 1, 5 (its own twin) and
    # the first 6 (no twin); the walk reaches 2 under 1 and 3 under 2 (depth 3): 5 distinct ids of 7 rows, 2 not
    # reached (item 4 under the missing 9, the second row of 6). Checked: rows 2, 3, 4 and the second 6.
    assert report["rules"] == [
        {
            "table": "items",
            "rule": "twin_id forms a hierarchy (no cycle)",
            "kind": "hierarchy",
            "origin": "inferred",
            "rows_checked": 4,
            "violations": 2,
            "roots": 3,
            "depth": 3,
        }
    ]
    assert (report["violations"], report["rule_violations"]) == (8 + 8, 2)
    assert report["insert_order"] == ["boxes", "items"] and list(report["tables"]) == ["boxes", "items"]
    assert report["deferred_foreign_keys"] == []
    assert report["rows"] == {"boxes": 7, "items": 7}
    # items holds a many-to-one reference and is named like an event; boxes is referenced only
    assert report["roles"] == {"boxes": "entity", "items": "event"}


EMPTY_PARENT_DDL = """
CREATE TABLE owners (owner_id INTEGER PRIMARY KEY);
CREATE TABLE notes (owner_id INTEGER REFERENCES owners (owner_id), body TEXT);
"""


def test_an_empty_parent_and_a_table_without_a_primary_key(tmp_path: Path, write_ddl):
    """owners has no rows: every count is 0 and its column has no min, max or samples; notes has no key at all,
    so it gets no PRIMARY KEY entry, and each of its set references is an orphan of an empty table (0% covered)."""
    prepared = prepare(write_ddl(EMPTY_PARENT_DDL), RelationalConfig(rows=3), seed=1)
    files = write_parquet(
        tmp_path,
        {
            "owners": "SELECT 1::INTEGER AS owner_id WHERE false",
            # 3 references set (1, 1, 2: 2 distinct values), 1 NULL (exempt)
            "notes": "SELECT o::INTEGER AS owner_id, b::VARCHAR AS body FROM (VALUES (1, 'a'), (NULL, 'b'), (1, 'c'), "
            "(2, NULL)) AS t(o, b)",
        },
    )
    report = build_report(prepared.schema, prepared.plan, prepared.generator, files, 1, "v")
    owners, notes = report["tables"]["owners"], report["tables"]["notes"]
    assert owners == {
        "rows": 0,
        "violations": 0,
        "constraints": [
            {"type": "PRIMARY KEY", "columns": ["owner_id"], "duplicates": 0, "nulls": 0, "violations": 0},
            {"type": "NOT NULL", "columns": ["owner_id"], "violations": 0},
            {"type": "TYPE", "columns": ["owner_id"], "declared": "INT", "violations": 0},
        ],
        "columns": {
            "owner_id": {
                "type": "INT",
                "meaning": prepared.generator.models["owners"].specs["owner_id"].semantic,
                "null_pct": 0.0,
                "distinct": 0,
                "min": None,
                "max": None,
                "samples": [],
            }
        },
    }
    assert notes["constraints"] == [
        {
            "type": "FOREIGN KEY",
            "columns": ["owner_id"],
            "references": "owners(owner_id)",
            "orphans": 3,
            "violations": 3,
            "coverage_pct": 0.0,
            "deferred_in_load": False,
        },
        {"type": "TYPE", "columns": ["owner_id"], "declared": "INT", "violations": 0},
    ]
    assert (notes["rows"], notes["violations"], report["violations"], report["rows"]) == (
        4,
        3,
        3,
        {"owners": 0, "notes": 4},
    )
    assert (notes["columns"]["body"]["null_pct"], notes["columns"]["owner_id"]["null_pct"]) == (25.0, 25.0)


# A payment after its booking: a rule the names imply (inferred), nothing a constraint of the table holds.
RULE_ONLY_DDL = "CREATE TABLE stays (stay_id INTEGER PRIMARY KEY, booked DATE, paid DATE);"


@pytest.mark.parametrize(
    ("paid", "rule_violations", "ok"),
    [("2020-01-02", 0, True), ("2020-01-01", 1, False)],
    ids=["clean", "a-rule-broken"],
)
def test_ok_needs_no_table_violation_and_no_rule_violation(
    tmp_path: Path, write_ddl, paid: str, rule_violations: int, ok: bool
):
    """Every constraint of the table holds; only the rule can break, and alone it makes the report not ok."""
    prepared = prepare(write_ddl(RULE_ONLY_DDL), RelationalConfig(rows=2), seed=1)
    files = write_parquet(
        tmp_path,
        {
            # row 1 paid on the day it was booked (holds) or the day before; row 2 not paid: not checked
            "stays": "SELECT i::INTEGER AS stay_id, b::DATE AS booked, p::DATE AS paid FROM (VALUES "
            f"(1, '2020-01-02', '{paid}'), (2, '2020-01-01', NULL)) AS t(i, b, p)"
        },
    )
    report = build_report(prepared.schema, prepared.plan, prepared.generator, files, 1, "v")
    assert [(r["rule"], r["rows_checked"], r["violations"]) for r in report["rules"]] == [
        ("paid >= booked", 1, rule_violations)
    ]
    assert (report["violations"], report["rule_violations"], report["ok"]) == (0, rule_violations, ok)


def test_the_ai_outcome_is_reported_between_the_rules_and_the_tables(tmp_path: Path, write_ddl):
    """The AI hybrid's outcome (set by a model run; here written by hand) is copied whole; offline runs have none."""
    prepared = prepare(write_ddl(RULE_ONLY_DDL), RelationalConfig(rows=2), seed=1)
    files = write_parquet(tmp_path, {"stays": "SELECT 1::INTEGER AS stay_id, NULL::DATE AS booked, NULL::DATE AS paid"})
    offline = build_report(prepared.schema, prepared.plan, prepared.generator, files, 1, "v")
    assert "ai" not in offline
    outcome = {"model": "stub", "applied": 1, "fallback": 0, "tables": {"stays": {"status": "applied"}}}
    prepared.generator.resolved.ai = outcome
    report = build_report(prepared.schema, prepared.plan, prepared.generator, files, 1, "v")
    assert report["ai"] == outcome
    assert list(report)[-3:] == ["rules", "ai", "tables"]
    assert report == {**offline, "ai": outcome}


SHOPS_CLERKS_DDL = """
CREATE TABLE shops (
    shop_region INTEGER NOT NULL,
    shop_no INTEGER NOT NULL,
    opened DATE NOT NULL,
    audited DATE,
    PRIMARY KEY (shop_region, shop_no)
);
CREATE TABLE clerks (clerk_id INTEGER PRIMARY KEY, born DATE);
CREATE TABLE sales (
    sale_id INTEGER PRIMARY KEY,
    shop_region INTEGER,
    shop_no INTEGER,
    clerk_id INTEGER REFERENCES clerks (clerk_id),
    sold DATE,
    FOREIGN KEY (shop_region, shop_no) REFERENCES shops (shop_region, shop_no)
);
"""


def test_a_rule_through_a_second_parent_after_two_through_the_first(tmp_path: Path, write_ddl):
    """The rules read shops, shops, then clerks: the second rule through shops reuses its join, and the join to
    clerks is still made. (A birth date is no first event, so no rule through clerks is inferred before them.)"""
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "tables:\n  sales:\n    rules:\n    - {check: 'sold >= shops.audited'}\n    - {check: 'sold >= clerks.born'}\n"
    )
    prepared = prepare(write_ddl(SHOPS_CLERKS_DDL), RelationalConfig(rows=3, spec=str(spec)), seed=1)
    assert [r.check for r in prepared.generator.resolved.rules["sales"]] == [
        "sold >= shops.opened",  # inferred: a sale after its shop opened
        "sold >= shops.audited",
        "sold >= clerks.born",
    ]
    files = write_parquet(
        tmp_path,
        {
            "shops": "SELECT 1::INTEGER AS shop_region, 1::INTEGER AS shop_no, DATE '2020-01-01' AS opened, "
            "DATE '2020-06-01' AS audited",
            "clerks": "SELECT c::INTEGER AS clerk_id, b::DATE AS born FROM (VALUES (1, '2000-01-01'), "
            "(2, '2020-03-01')) AS t(c, b)",
            # 1: after the opening, before the audit; 2: after everything; 3: no shop, sold before clerk 2 was
            # born; 4: not sold, nothing to check.
            "sales": "SELECT i::INTEGER AS sale_id, r::INTEGER AS shop_region, n::INTEGER AS shop_no, "
            "c::INTEGER AS clerk_id, s::DATE AS sold FROM (VALUES (1, 1, 1, 1, '2020-02-01'), "
            "(2, 1, 1, 2, '2020-07-01'), (3, NULL, NULL, 2, '2020-01-01'), (4, 1, 1, NULL, NULL)) AS t(i, r, n, c, s)",
        },
    )
    report = build_report(prepared.schema, prepared.plan, prepared.generator, files, 1, "v")
    assert [(r["rule"], r["origin"], r["rows_checked"], r["violations"]) for r in report["rules"]] == [
        ("sold >= shops.opened", "inferred", 2, 0),
        ("sold >= shops.audited", "spec", 2, 1),
        ("sold >= clerks.born", "spec", 3, 1),
    ]


PLACES_DDL = "CREATE TABLE sites (site_id INTEGER PRIMARY KEY, city VARCHAR(60), country VARCHAR(60));"


def test_a_table_with_an_address_gets_its_place_rules_counted(tmp_path: Path, write_ddl):
    """city and country are a place group: the country must be a real one, the city one of that country."""
    prepared = prepare(write_ddl(PLACES_DDL), RelationalConfig(rows=3), seed=1)
    assert [dict(g.fields) for g in prepared.generator.models["sites"].places] == [
        {"city": "city", "country": "country"}
    ]
    files = write_parquet(
        tmp_path,
        {
            # Paris is in France, not in Japan; Atlantis is no country; a NULL country checks nothing
            "sites": "SELECT i::INTEGER AS site_id, c::VARCHAR AS city, k::VARCHAR AS country FROM (VALUES "
            "(1, 'Paris', 'France'), (2, 'Paris', 'Japan'), (3, NULL, 'Atlantis'), (4, 'Tokyo', NULL)) AS t(i, c, k)"
        },
    )
    report = build_report(prepared.schema, prepared.plan, prepared.generator, files, 1, "v")
    assert [(r["rule"], r["kind"], r["rows_checked"], r["violations"]) for r in report["rules"]] == [
        ("real(country)", "place", 3, 1),
        ("agree(city, country)", "place", 2, 1),
    ]
    assert (report["violations"], report["rule_violations"], report["ok"]) == (0, 2, False)


LIMITS_DDL = """
CREATE TYPE shade AS ENUM ('red', 'blue');
CREATE TABLE limits (
    id INTEGER PRIMARY KEY,
    tiny SMALLINT,
    whole INTEGER,
    big BIGINT,
    price NUMERIC(4, 1),
    code CHAR(2),
    name VARCHAR(3),
    tint shade,
    token UUID
);
"""
# Rows 1 and 2 sit exactly at each type's limits; rows 3 and 5 are one step past them (above, below); row 4 has
# a second decimal digit, which NUMERIC(4, 1) cannot hold.
LIMITS = """SELECT id::INTEGER AS id, tiny::INTEGER AS tiny, whole::BIGINT AS whole, big::DECIMAL(38, 0) AS big,
    price::DECIMAL(6, 2) AS price, code::VARCHAR AS code, name::VARCHAR AS name, tint::VARCHAR AS tint,
    token::VARCHAR AS token FROM (VALUES
    (1, -32768, -2147483648, -9223372036854775808, -999.9, 'ab', 'abc', 'red', '123e4567-e89b-12d3-a456-426614174000'),
    (2, 32767, 2147483647, 9223372036854775807, 999.9, 'a', '', 'blue', NULL),
    (3, 32768, 2147483648, 9223372036854775808, 1000.0, 'abc', 'abcd', 'Red', 'not-a-uuid'),
    (4, NULL, NULL, NULL, 0.05, NULL, NULL, NULL, NULL),
    (5, -32769, -2147483649, -9223372036854775809, -1000.0, NULL, NULL, NULL, NULL)
) AS t(id, tiny, whole, big, price, code, name, tint, token)"""


def test_type_checks_at_their_exact_limits_read_from_parquet(tmp_path: Path, write_ddl):
    prepared = prepare(write_ddl(LIMITS_DDL), RelationalConfig(rows=3), seed=1)
    files = write_parquet(tmp_path, {"limits": LIMITS})
    report = build_report(prepared.schema, prepared.plan, prepared.generator, files, 1, "v")
    types = {c["columns"][0]: c["violations"] for c in report["tables"]["limits"]["constraints"] if c["type"] == "TYPE"}
    assert types == {
        "id": 0,
        "tiny": 2,  # 32768, -32769
        "whole": 2,  # 2^31, -2^31 - 1
        "big": 2,  # 2^63, -2^63 - 1
        "price": 3,  # 1000.0, 0.05, -1000.0
        "code": 1,  # "abc"
        "name": 1,  # "abcd"
        "tint": 1,  # "Red": labels are case-sensitive
        "token": 1,  # "not-a-uuid"
    }
    assert report["tables"]["limits"]["violations"] == 13


DEFERRED_DDL = """
CREATE TABLE depts (dept_id INTEGER PRIMARY KEY, head_site INTEGER, head_no INTEGER);
CREATE TABLE staff (
    site INTEGER NOT NULL,
    staff_no INTEGER NOT NULL,
    dept_id INTEGER NOT NULL REFERENCES depts (dept_id),
    PRIMARY KEY (site, staff_no)
);
ALTER TABLE depts ADD CONSTRAINT head FOREIGN KEY (head_site, head_no) REFERENCES staff (site, staff_no);
"""


def test_a_composite_foreign_key_deferred_to_break_a_cycle_is_named_with_all_its_columns(tmp_path: Path, write_ddl):
    """depts and staff reference each other; the nullable composite head key is the one loaded later."""
    prepared = prepare(write_ddl(DEFERRED_DDL), RelationalConfig(rows=3), seed=1)
    files = write_parquet(
        tmp_path,
        {
            # dept 1 is headed by staff (1, 1); dept 2 has no head yet
            "depts": "SELECT d::INTEGER AS dept_id, s::INTEGER AS head_site, n::INTEGER AS head_no FROM (VALUES "
            "(1, 1, 1), (2, NULL, NULL)) AS t(d, s, n)",
            "staff": "SELECT s::INTEGER AS site, n::INTEGER AS staff_no, d::INTEGER AS dept_id FROM (VALUES "
            "(1, 1, 1), (1, 2, 1), (2, 1, 2)) AS t(s, n, d)",
        },
    )
    report = build_report(prepared.schema, prepared.plan, prepared.generator, files, 1, "v")
    assert report["insert_order"] == ["depts", "staff"]
    assert report["deferred_foreign_keys"] == [
        {"table": "depts", "columns": ["head_site", "head_no"], "references": "staff(site, staff_no)"}
    ]
    head = next(c for c in report["tables"]["depts"]["constraints"] if c["type"] == "FOREIGN KEY")
    # staff is read after depts, so its 3 rows are counted by a query: 1 head of 3 staff is 33.33%
    assert head == {
        "type": "FOREIGN KEY",
        "columns": ["head_site", "head_no"],
        "references": "staff(site, staff_no)",
        "orphans": 0,
        "violations": 0,
        "coverage_pct": 33.33,
        "deferred_in_load": True,
    }
    assert report["ok"] is True


def test_a_shard_set_s_parts_are_read_in_order_with_their_file_names(tmp_path: Path):
    """A table may be several Parquet parts (a shard set): read as one, rows in part order; with ``filename``
    each row names its part. A folder called like a hive partition (day=1) adds no column."""
    folder = tmp_path / "it's" / "day=1"
    folder.mkdir(parents=True)
    parts = [folder / "part-0.parquet", folder / "part-1.parquet"]
    pl.DataFrame({"x": [3, 1]}, schema={"x": pl.Int32}).write_parquet(parts[0])
    pl.DataFrame({"x": [2]}, schema={"x": pl.Int32}).write_parquet(parts[1])
    con = duckdb.connect()
    assert con.execute(f"SELECT x, filename FROM {parquet_sql(parts, filename=True)}").fetchall() == [
        (3, str(parts[0])),
        (1, str(parts[0])),
        (2, str(parts[1])),
    ]
    assert con.execute(f"SELECT * FROM {parquet_sql(parts[1], filename=True)}").fetchall() == [(2, str(parts[1]))]
    con.close()
    report_con = connect_sources({"whole": parts, "last": parts[1]})
    assert report_con.execute("SELECT * FROM whole").fetchall() == [(3,), (1,), (2,)]
    assert [d[0] for d in report_con.description] == ["x"]
    assert report_con.execute("SELECT * FROM last").fetchall() == [(2,)]
