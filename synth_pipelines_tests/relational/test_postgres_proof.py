"""The proof: a real PostgreSQL creates each schema from its own DDL and COPYs the generated CSVs.

Every constraint in the DDL is created exactly as written. Foreign keys that close a cycle are
added after the data (as pg_dump does; ADD CONSTRAINT validates every existing row) unless they are
DEFERRABLE, in which case they stay in place and are checked at COMMIT. Zero errors allowed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare
from synth_pipelines_tests.relational.conftest import SAMPLES, TRICKY
from synth_pipelines_tests.relational.postgres import PostgresServer, running_postgres

PG_SCHEMAS = [
    *SAMPLES,
    TRICKY / "tricky_postgres.sql",
    TRICKY / "music_store.sql",
    TRICKY / "ecommerce.sql",
    TRICKY / "hr.sql",
    TRICKY / "course_catalog.sql",
    TRICKY / "hotel.sql",
]


@pytest.fixture(scope="module")
def postgres() -> PostgresServer:
    with running_postgres() as server:
        yield server


def load_into_postgres(server: PostgresServer, dbname: str, prepared, files: dict[str, Path]) -> dict[str, int]:
    schema, plan = prepared.schema, prepared.plan
    with server.connect() as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    after_load = {fk.statement for fk in plan.deferred if not fk.deferrable}
    with server.connect(dbname) as conn:
        for stmt in schema.statements:
            if stmt.index not in after_load:
                conn.execute(stmt.text)
        with conn.transaction():
            conn.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in plan.insert_order:
                with (
                    conn.cursor() as cur,
                    cur.copy(f'COPY "{table}" FROM STDIN WITH (FORMAT csv, HEADER true)') as copy,
                ):
                    copy.write(files[f"csv:{table}"].read_bytes())
        for stmt in schema.statements:
            if stmt.index in after_load:
                conn.execute(stmt.text)  # validates every loaded row against the FK
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in plan.insert_order}


@pytest.mark.parametrize("ddl", PG_SCHEMAS, ids=lambda p: p.stem)
def test_postgres_accepts_every_row(postgres: PostgresServer, ddl: Path, tmp_path: Path):
    prepared = prepare(ddl, RelationalConfig(rows=1500), seed=42)
    report, files = export_dataset(prepared, 42, tmp_path, formats=("csv",))
    counts = load_into_postgres(postgres, f"proof_{ddl.stem}", prepared, files)
    assert counts == report["rows"] == prepared.plan.rows


def test_postgres_rejects_a_broken_row(postgres: PostgresServer, tmp_path: Path):
    """The proof can fail: an orphan FK row injected into the CSV is refused by PostgreSQL."""
    import psycopg

    ddl = next(p for p in SAMPLES if p.stem == "library")
    prepared = prepare(ddl, RelationalConfig(rows=50), seed=1)
    _, files = export_dataset(prepared, 1, tmp_path, formats=("csv",))
    loans = files["csv:loans"]
    lines = loans.read_text().splitlines()
    fields = lines[1].split(",")
    fields[1] = "999999"  # book_id with no book
    loans.write_text("\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        load_into_postgres(postgres, "proof_broken", prepared, files)
