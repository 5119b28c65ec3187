"""Insert order, FK cycles and row counts.

Tables are inserted parents first. A cycle of foreign keys is broken at an edge that can wait:
a nullable FK (filled after the parents exist, the way ``pg_dump`` adds such constraints after the
data) or a DEFERRABLE one (checked at commit). A cycle made only of NOT NULL, non-deferrable FKs
cannot be loaded by any insert order, and is reported as a DDL error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from synth_pipelines.domains.relational.ddl import DdlError, ForeignKey, Schema
from synth_pipelines.domains.relational.roles import infer_roles, role_counts


@dataclass(frozen=True)
class Plan:
    insert_order: tuple[str, ...]
    deferred: tuple[ForeignKey, ...]  # FKs that close a cycle: loaded after all tables
    rows: dict[str, int]
    roles: dict[str, str] = field(default_factory=dict)  # table -> lookup | entity | event | junction

    def is_deferred(self, fk: ForeignKey) -> bool:
        return any(fk is d for d in self.deferred)


def _fk_nullable(schema: Schema, fk: ForeignKey) -> bool:
    table = schema.tables[fk.table]
    return any(table.columns[c].nullable for c in fk.columns)


def _fk_graph(names: list[str], fks: list[ForeignKey]) -> nx.DiGraph:
    """Child -> parent, tables in DDL order and FKs in declaration order (networkx keeps insertion order)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from((fk.table, fk.ref_table) for fk in fks)
    return graph


def insert_order(schema: Schema) -> tuple[tuple[str, ...], tuple[ForeignKey, ...]]:
    """Parents-first order of the tables and the FKs deferred to break cycles."""
    names = list(schema.tables)
    active = [fk for t in schema.tables.values() for fk in t.foreign_keys if fk.ref_table != fk.table]
    deferred: list[ForeignKey] = []
    while True:
        # A whole component, not one cycle (all graphlib reports), decides which FK waits. networkx finds
        # components by Tarjan's depth-first search in insertion order, so the first cyclic one is fixed
        # by the DDL, and so is the order of the deferred FKs in validation_report.json (test_plan_order).
        components = nx.strongly_connected_components(_fk_graph(names, active))
        comp = next((c for c in components if len(c) > 1), None)
        if comp is None:
            break
        inside = [fk for fk in active if fk.table in comp and fk.ref_table in comp]
        breakable = [fk for fk in inside if fk.deferrable or _fk_nullable(schema, fk)]
        if not breakable:
            cycle = " -> ".join(_cycle_path(inside))
            first = min(inside, key=lambda f: f.line)
            stmt = schema.statements[first.statement]
            raise DdlError(
                f"{schema.source}:{first.line}: statement {stmt.index + 1} ({stmt.summary}): foreign keys form a "
                f"cycle of NOT NULL, non-deferrable references ({cycle}); no insert order can satisfy it. "
                "Make one of them nullable or DEFERRABLE."
            )
        # Prefer the edge the DDL itself added later (ALTER TABLE), then the latest declared one.
        chosen = max(breakable, key=lambda f: (f.via_alter, f.deferrable, f.statement, f.line))
        deferred.append(chosen)
        active = [fk for fk in active if fk is not chosen]
    # Of the tables whose parents are all in, the first in the DDL goes next: a stable, readable order.
    position = {name: i for i, name in enumerate(names)}
    parents_first = _fk_graph(names, active).reverse(copy=False)
    order = nx.lexicographical_topological_sort(parents_first, key=position.__getitem__)
    return tuple(order), tuple(deferred)


def _cycle_path(fks: list[ForeignKey]) -> list[str]:
    return [f"{fk.table}({', '.join(fk.columns)}) -> {fk.ref_table}" for fk in fks]


def parse_table_rows(text: str | None) -> dict[str, int]:
    """``loans=50000,reviews=20000`` -> {"loans": 50000, "reviews": 20000}."""
    result: dict[str, int] = {}
    if not text:
        return result
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise ValueError(f"--table-rows: expected TABLE=N, got {item!r}")
        result[name.strip()] = int(value)
    return result


def row_counts(
    schema: Schema,
    rows: int,
    overrides: dict[str, int] | None = None,
    fanout: float = 2.0,
    deferred: tuple[ForeignKey, ...] = (),
    roles: dict[str, str] | None = None,
    order: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Rows per table: the override, else by the table's role (``roles.role_counts``): lookups tens,
    entities ``rows``, events a multiple (``fanout``) of their parents, junctions a share of the pairs."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(schema.tables))
    if unknown:
        raise ValueError(
            f"{schema.source}: --table-rows names unknown table(s) {', '.join(unknown)}; "
            f"tables are: {', '.join(schema.tables)}"
        )
    roles = roles if roles is not None else infer_roles(schema, deferred)
    order = order if order is not None else insert_order(schema)[0]
    return role_counts(schema, order, roles, rows, overrides, fanout, deferred)


def make_plan(
    schema: Schema,
    rows: int,
    overrides: dict[str, int] | None = None,
    fanout: float = 2.0,
    roles: dict[str, str] | None = None,
) -> Plan:
    """The insert order and row counts; ``roles`` (a spec's) over the inferred ones."""
    order, deferred = insert_order(schema)
    all_roles = {**infer_roles(schema, deferred), **(roles or {})}
    return Plan(order, deferred, row_counts(schema, rows, overrides, fanout, deferred, all_roles, order), all_roles)
