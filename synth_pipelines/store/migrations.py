"""The catalog's schema, as numbered migrations applied in lexicographic order and recorded in ``schema_migrations``.

Add a migration by adding an entry with the next number; never edit or renumber one that shipped (a
catalog records the names it applied, and ``synth db check`` reports any it does not know).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

MIGRATIONS: dict[str, str] = {
    "0001_generated_datasets": """
        CREATE TABLE generated_datasets (
            id              VARCHAR PRIMARY KEY,
            name            VARCHAR,
            created_at      TIMESTAMP NOT NULL,
            ddl             VARCHAR NOT NULL,
            ddl_sha256      VARCHAR NOT NULL,
            dialect         VARCHAR NOT NULL,
            seed            BIGINT NOT NULL,
            spec            VARCHAR NOT NULL,   -- the full generation spec (YAML) the data was drawn from
            config          VARCHAR NOT NULL,   -- RelationalConfig as JSON (rows, table_rows, fanout, dialect)
            generation_meta VARCHAR NOT NULL    -- JSON: table order, PKs, FK counts, column stats, report
        );
    """,
    "0002_dataset_versions": """
        CREATE TABLE dataset_versions (
            dataset_id      VARCHAR NOT NULL,
            version         INTEGER NOT NULL,
            created_at      TIMESTAMP NOT NULL,
            created_by      VARCHAR NOT NULL,
            kind            VARCHAR NOT NULL,   -- generate, sql, spec_patch, feedback, undo
            parent_version  INTEGER,
            feedback        VARCHAR,
            plan            VARCHAR,            -- JSON: the edit plan that made the version
            diff            VARCHAR,            -- JSON: rows added/changed/deleted per table, samples
            files           VARCHAR NOT NULL,   -- JSON: table -> sha256 of its Parquet file
            PRIMARY KEY (dataset_id, version)
        );
        ALTER TABLE generated_datasets ADD COLUMN current_version INTEGER;
    """,
    "0003_dataset_source": """
        -- Which DDL file (data/schemas/ -> asset group) made the dataset, when it came from one.
        ALTER TABLE generated_datasets ADD COLUMN asset_group VARCHAR;
    """,
    "0004_ask_questions": """
        -- synth ask: the question log; the rows of one conversation_id are that conversation's turns.
        CREATE TABLE ask_questions (
            conversation_id VARCHAR NOT NULL,
            turn            INTEGER NOT NULL,
            dataset_id      VARCHAR NOT NULL,
            version         INTEGER NOT NULL,
            asked_at        TIMESTAMP NOT NULL,
            question        VARCHAR NOT NULL,
            sql             VARCHAR,            -- the SQL that ran (or was refused / failed last)
            explanation     VARCHAR,
            row_count       BIGINT,
            outcome         VARCHAR NOT NULL,   -- answered, refused, failed
            reason          VARCHAR,            -- why refused / failed
            attempts        INTEGER NOT NULL,   -- model answers used (1 + self-corrections)
            input_tokens    BIGINT NOT NULL,
            output_tokens   BIGINT NOT NULL,
            latency_ms      DOUBLE NOT NULL,
            provider        VARCHAR,
            model           VARCHAR,
            PRIMARY KEY (conversation_id, turn)
        );
    """,
}


@dataclass(frozen=True)
class MigrationState:
    applied: list[str]
    pending: list[str]
    unknown: list[str]  # recorded in the catalog but not known to this code (a newer version wrote it)

    @property
    def ok(self) -> bool:
        return not self.pending and not self.unknown


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")


def applied_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()
    if not found or not found[0]:
        return []
    return [row[0] for row in con.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]


def migration_state(con: duckdb.DuckDBPyConnection | None) -> MigrationState:
    """What is applied, pending and unknown; ``con`` None stands for a catalog not created yet."""
    applied = applied_migrations(con) if con is not None else []
    known = sorted(MIGRATIONS)
    return MigrationState(
        applied=applied,
        pending=[m for m in known if m not in applied],
        unknown=[m for m in applied if m not in MIGRATIONS],
    )


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the pending migrations in name order, each in its own transaction with its record."""
    _ensure_table(con)
    state = migration_state(con)
    if state.unknown:
        raise RuntimeError(
            f"the dataset catalog has migrations this version does not know ({', '.join(state.unknown)}): "
            "it was written by a newer synth-pipelines"
        )
    for name in state.pending:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(MIGRATIONS[name])
            con.execute("INSERT INTO schema_migrations VALUES (?, now()::TIMESTAMP)", [name])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return state.pending
