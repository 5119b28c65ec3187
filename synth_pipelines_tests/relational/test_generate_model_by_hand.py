"""relational/generate.py's table model, blocks, row ranges, CHECK connection and per-stream generators, on tiny
schemas, against values worked out by hand or counted with DuckDB/polars (never recomputed with the generator).

Every test builds its own generator (no module fixtures: mutation testing links a test to the functions it calls).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from synth_pipelines.cli import main
from synth_pipelines.domains.relational.generate import _clip
from synth_pipelines.domains.relational.pipeline import Prepared, RelationalConfig, prepare

BLOCK = 65_536  # the generator's fixed block (core/rng.BLOCK_ROWS), written out: ranges are cut at its edges

LIBRARY = """\
CREATE TABLE members (member_id SERIAL PRIMARY KEY, joined_at TIMESTAMP NOT NULL);
CREATE TABLE loans (
  loan_id SERIAL PRIMARY KEY,
  member_id INT NOT NULL REFERENCES members(member_id),
  loaned_at TIMESTAMP NOT NULL,
  a INT NOT NULL CHECK (a BETWEEN 0 AND 99),
  b INT NOT NULL CHECK (b BETWEEN 0 AND 99),
  CHECK ((a * b) % 3 <> 0)
);
CREATE TABLE tracks (track_id SERIAL PRIMARY KEY, milliseconds INT, bytes INT, unit_price NUMERIC(4,2) NOT NULL);
CREATE TABLE lines (
  line_id SERIAL PRIMARY KEY,
  track_id INT NOT NULL REFERENCES tracks(track_id),
  unit_price NUMERIC(4,2) NOT NULL
);
CREATE TABLE plain (
  id SERIAL PRIMARY KEY,
  n INT NOT NULL CHECK (n BETWEEN 1 AND 9),
  m INT NOT NULL CHECK (m BETWEEN 1 AND 9),
  note VARCHAR(10),
  CHECK ((n * m) % 3 <> 0)
);
"""


def library(tmp_path: Path, seed: int = 3, **rows: int) -> Prepared:
    ddl = tmp_path / "library.sql"
    ddl.write_text(LIBRARY)
    return prepare(ddl, RelationalConfig(rows=10, table_rows=rows), seed)


def counted(frames: dict[str, pl.DataFrame], sql: str) -> tuple:
    """One row counted by DuckDB over the frames, registered under their table names."""
    con = duckdb.connect()
    try:
        for name, frame in frames.items():
            con.register(name, frame.to_arrow())
        return con.execute(sql).fetchone()
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------
# The CHECK connection


def test_the_check_connection_is_one_locked_in_memory_duckdb_with_one_thread(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("x\n1\n")
    generator = library(tmp_path).generator
    con = generator.check_connection()
    try:
        assert generator.check_connection() is con  # one connection for every table's CHECKs
        assert con.execute("SELECT current_setting('threads')").fetchone() == (1,)
        assert con.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
        assert con.execute("SELECT current_setting('lock_configuration')").fetchone() == (True,)
        assert con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone() == (None,)
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT * FROM read_csv('{secret}')").fetchall()
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT content FROM read_text('{secret}')").fetchall()
        for statement in ("SET enable_external_access = true", "SET threads = 2", "RESET lock_configuration"):
            with pytest.raises(duckdb.Error, match="locked"):
                con.execute(statement)
    finally:
        generator.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["library.sql", "secret.csv"]  # no database file


def test_close_closes_the_check_connection_and_the_next_one_is_new(tmp_path: Path) -> None:
    generator = library(tmp_path).generator
    generator.close()  # nothing open yet: nothing to close
    first = generator.check_connection()
    generator.close()
    with pytest.raises(duckdb.ConnectionException):
        first.execute("SELECT 1")
    second = generator.check_connection()
    assert second is not first
    assert second.execute("SELECT 41 + 1").fetchone() == (42,)
    assert second.execute("SELECT current_setting('lock_configuration')").fetchone() == (True,)
    generator.close()
    generator.close()  # twice: still fine


def test_checks_still_hold_after_the_connection_was_closed_between_tables(tmp_path: Path) -> None:
    generator = library(tmp_path, loans=300).generator
    generator.check_connection()
    generator.close()
    loans = generator.table_frame("loans")
    assert counted({"loans": loans}, "SELECT count(*), count(*) FILTER (WHERE (a * b) % 3 = 0) FROM loans") == (300, 0)
    generator.close()


# --------------------------------------------------------------------------------------------------
# Blocks


@pytest.mark.parametrize(
    ("block_rows", "heights"), [(1, [1] * 10), (3, [3, 3, 3, 1]), (7, [7, 3]), (10, [10]), (64, [10])]
)
def test_blocks_cut_the_table_into_block_rows_slices_and_keys_are_the_row_numbers(
    tmp_path: Path, block_rows: int, heights: list[int]
) -> None:
    generator = library(tmp_path, loans=10).generator
    blocks = list(generator.iter_blocks("loans", block_rows=block_rows))
    assert [b.height for b in blocks] == heights
    whole = pl.concat(blocks)
    assert whole["loan_id"].to_list() == list(range(1, 11))
    assert whole.columns == ["loan_id", "member_id", "loaned_at", "a", "b"]
    assert counted(
        {"loans": whole}, "SELECT count(*) FILTER (WHERE (a * b) % 3 = 0 OR a NOT BETWEEN 0 AND 99) FROM loans"
    ) == (0,)
    # the same cut drawn again is the same rows
    again = pl.concat(list(library(tmp_path, loans=10).generator.iter_blocks("loans", block_rows=block_rows)))
    assert again.equals(whole)


def test_default_blocks_concatenated_are_the_whole_table(tmp_path: Path) -> None:
    generator = library(tmp_path, plain=BLOCK + 9).generator
    blocks = list(generator.iter_blocks("plain"))
    assert [b.height for b in blocks] == [BLOCK, 9]
    whole = library(tmp_path, plain=BLOCK + 9).generator.table_frame("plain")
    assert pl.concat(blocks).equals(whole)
    assert whole["id"].to_list() == list(range(1, BLOCK + 10))
    # n and m are 1..9 and neither is a multiple of 3: 6 values each
    sql = "SELECT count(*) FILTER (WHERE n NOT BETWEEN 1 AND 9 OR (n * m) % 3 = 0), count(DISTINCT (n, m)) FROM plain"
    assert counted({"plain": whole}, sql) == (0, 36)


def test_every_redrawn_block_satisfies_the_check(tmp_path: Path) -> None:
    # (a * b) % 3 <> 0 is no bound on either column: 5 in 9 first draws break it and are redrawn
    generator = library(tmp_path, loans=2_000).generator
    loans = pl.concat(list(generator.iter_blocks("loans", block_rows=250)))
    sql = "SELECT count(*), count(*) FILTER (WHERE (a * b) % 3 = 0) FROM loans"
    assert counted({"loans": loans}, sql) == (2_000, 0)
    unchecked = library(tmp_path, loans=2_000).generator.block("loans", 0, 0, 250, None)  # no CHECK evaluator
    assert counted({"loans": unchecked}, sql)[1] > 50  # the first draw does break it


def test_anchors_kept_from_blocks_of_any_size_put_every_loan_after_its_member_joined(tmp_path: Path) -> None:
    for block_rows in (1, 7, 1_000):
        generator = library(tmp_path, members=40, loans=400).generator
        members = pl.concat(list(generator.iter_blocks("members", block_rows=block_rows)))
        loans = generator.table_frame("loans")
        frames = {"members": members, "loans": loans}
        sql = (
            "SELECT count(*), count(*) FILTER (WHERE l.loaned_at < m.joined_at), count(DISTINCT l.member_id)"
            " FROM loans l JOIN members m USING (member_id)"
        )
        assert counted(frames, sql) == (400, 0, 40), block_rows


def test_copies_kept_from_blocks_of_any_size_give_each_line_its_tracks_price(tmp_path: Path) -> None:
    for block_rows in (1, 6, 1_000):
        generator = library(tmp_path, tracks=30, lines=200).generator
        tracks = pl.concat(list(generator.iter_blocks("tracks", block_rows=block_rows)))
        lines = generator.table_frame("lines")
        sql = (
            "SELECT count(*), count(*) FILTER (WHERE l.unit_price IS DISTINCT FROM t.unit_price),"
            " count(DISTINCT l.unit_price) FROM lines l JOIN tracks t USING (track_id)"
        )
        assert counted({"tracks": tracks, "lines": lines}, sql)[:2] == (200, 0), block_rows
        assert counted({"lines": lines}, "SELECT count(DISTINCT unit_price) FROM lines")[0] > 1


def test_a_child_whose_parent_was_not_drawn_yet_draws_it_whole(tmp_path: Path) -> None:
    generator = library(tmp_path, members=30, loans=100, tracks=20, lines=50).generator
    loans, lines = generator.table_frame("loans"), generator.table_frame("lines")
    fresh = library(tmp_path, members=30, loans=100, tracks=20, lines=50).generator
    members, tracks = fresh.table_frame("members"), fresh.table_frame("tracks")
    frames = {"members": members, "loans": loans, "tracks": tracks, "lines": lines}
    late = "SELECT count(*) FILTER (WHERE l.loaned_at < m.joined_at) FROM loans l JOIN members m USING (member_id)"
    price = "SELECT count(*) FILTER (WHERE l.unit_price <> t.unit_price) FROM lines l JOIN tracks t USING (track_id)"
    assert counted(frames, late) == (0,)
    assert counted(frames, price) == (0,)
    assert generator.rows_drawn == {"members": 30, "loans": 100, "tracks": 20, "lines": 50, "plain": 0}


# --------------------------------------------------------------------------------------------------
# Row ranges (a shard's rows)

BIG = BLOCK + 4_464  # 70,000 rows: block 0 is rows 0..65,535, block 1 rows 65,536..69,999
RANGES = [
    (0, BIG),
    (0, 0),
    (5, 5),
    (BIG, BIG),
    (0, 1),
    (17, 30),
    (BLOCK - 6, BLOCK + 4),  # crosses the block edge
    (BLOCK - 1, BLOCK),  # the last row of block 0
    (BLOCK, BLOCK + 1),  # the first row of block 1
    (100, BLOCK),  # ends on the edge
    (BLOCK, BIG),  # starts on the edge
    (BIG - 3, BIG),
]
# frames yielded per range: one per block the range overlaps, none for an empty range
PARTS = {
    (0, BIG): [BLOCK, 4_464],
    (0, 0): [],
    (5, 5): [],
    (BIG, BIG): [],
    (0, 1): [1],
    (17, 30): [13],
    (BLOCK - 6, BLOCK + 4): [6, 4],
    (BLOCK - 1, BLOCK): [1],
    (BLOCK, BLOCK + 1): [1],
    (100, BLOCK): [BLOCK - 100],
    (BLOCK, BIG): [4_464],
    (BIG - 3, BIG): [3],
}


def test_a_range_of_a_plain_table_is_those_rows_and_draws_only_the_blocks_it_overlaps(tmp_path: Path) -> None:
    whole = library(tmp_path, plain=BIG).generator.table_frame("plain")
    for start, stop in RANGES:
        generator = library(tmp_path, plain=BIG).generator
        parts = list(generator.iter_range("plain", start, stop))
        assert [p.height for p in parts] == PARTS[(start, stop)], (start, stop)
        got = pl.concat(parts) if parts else whole.clear()
        assert got.equals(whole.slice(start, stop - start)), (start, stop)
        assert got["id"].to_list() == list(range(start + 1, stop + 1))
        blocks = {b for b in (0, 1) if start < min((b + 1) * BLOCK, BIG) and stop > b * BLOCK}
        drawn = sum(min((b + 1) * BLOCK, BIG) - b * BLOCK for b in blocks)
        assert generator.rows_drawn["plain"] == drawn, (start, stop)


@pytest.mark.parametrize("table", ["members", "tracks"])
def test_a_range_of_a_table_children_read_is_those_rows_and_keeps_the_whole_table_for_them(
    tmp_path: Path, table: str
) -> None:
    whole = library(tmp_path, **{table: BIG}).generator.table_frame(table)
    for start, stop in [(0, 0), (3, 9), (BLOCK - 2, BLOCK + 3), (BLOCK, BIG), (BIG, BIG), (0, BIG)]:
        generator = library(tmp_path, **{table: BIG}).generator
        parts = list(generator.iter_range(table, start, stop))
        assert [p.height for p in parts] == {**PARTS, (3, 9): [6], (BLOCK - 2, BLOCK + 3): [2, 3]}[(start, stop)]
        got = pl.concat(parts) if parts else whole.clear()
        assert got.equals(whole.slice(start, stop - start)), (start, stop)
        assert generator.rows_drawn[table] == BIG  # drawn whole: its children read it
    # a child drawn after a range of its parent reads the whole parent
    generator = library(tmp_path, **{table: BIG}).generator
    list(generator.iter_range(table, BLOCK - 2, BLOCK + 3))
    child = generator.table_frame("loans" if table == "members" else "lines")
    if table == "members":
        sql = "SELECT count(*) FILTER (WHERE l.loaned_at < m.joined_at) FROM loans l JOIN members m USING (member_id)"
        assert counted({"members": whole, "loans": child}, sql) == (0,)
    else:
        sql = "SELECT count(*) FILTER (WHERE l.unit_price <> t.unit_price) FROM lines l JOIN tracks t USING (track_id)"
        assert counted({"tracks": whole, "lines": child}, sql) == (0,)
    assert generator.rows_drawn[table] == BIG


def test_ranges_of_a_table_with_a_check_redraw_like_the_whole_table(tmp_path: Path) -> None:
    whole = library(tmp_path, loans=500).generator.table_frame("loans")
    parts = [
        pl.concat(list(library(tmp_path, loans=500).generator.iter_range("loans", a, b)))
        for a, b in [(0, 123), (123, 500)]
    ]
    assert pl.concat(parts).equals(whole)


def test_clip_keeps_the_rows_of_a_frame_inside_the_range() -> None:
    frame = pl.DataFrame({"row": list(range(100, 110))})  # rows 100..109 of some table
    assert _clip(frame, 100, 0, 1000)["row"].to_list() == list(range(100, 110))
    assert _clip(frame, 100, 103, 106)["row"].to_list() == [103, 104, 105]
    assert _clip(frame, 100, 90, 102)["row"].to_list() == [100, 101]
    assert _clip(frame, 100, 108, 200)["row"].to_list() == [108, 109]
    assert _clip(frame, 100, 109, 110)["row"].to_list() == [109]
    assert _clip(frame, 100, 100, 101)["row"].to_list() == [100]
    for start, stop in [(0, 100), (110, 120), (105, 105), (0, 0), (106, 103), (90, 99)]:
        assert _clip(frame, 100, start, stop) is None, (start, stop)


# --------------------------------------------------------------------------------------------------
# Empty tables


def test_an_empty_table_has_no_blocks_no_range_and_a_frame_of_the_declared_types(tmp_path: Path) -> None:
    ddl = tmp_path / "types.sql"
    ddl.write_text(
        "CREATE TABLE t (id SERIAL PRIMARY KEY, big BIGINT, small SMALLINT, price NUMERIC(6,2), name VARCHAR(20),"
        " born DATE, seen TIMESTAMP, ok BOOLEAN, ratio DOUBLE PRECISION);\n"
    )
    generator = prepare(ddl, RelationalConfig(rows=0), 1).generator
    assert list(generator.iter_blocks("t")) == []
    assert list(generator.iter_range("t", 0, 0)) == []
    frame = generator.table_frame("t")
    assert frame.height == 0
    assert frame.schema == pl.Schema(
        {
            "id": pl.Int32,
            "big": pl.Int64,
            "small": pl.Int16,
            "price": pl.Decimal(6, 2),
            "name": pl.String,
            "born": pl.Date,
            "seen": pl.Datetime("us"),
            "ok": pl.Boolean,
            "ratio": pl.Float64,
        }
    )
    assert generator.empty_frame("t").schema == frame.schema
    assert generator.rows_drawn == {"t": 0}


def test_children_of_empty_parents_read_empty_anchors_and_copies(tmp_path: Path) -> None:
    ddl = tmp_path / "empty_parents.sql"
    ddl.write_text(
        LIBRARY.replace("member_id INT NOT NULL REFERENCES", "member_id INT REFERENCES").replace(
            "track_id INT NOT NULL REFERENCES", "track_id INT REFERENCES"
        )
    )
    rows = {"members": 0, "tracks": 0, "loans": 5, "lines": 5}
    generator = prepare(ddl, RelationalConfig(rows=5, table_rows=rows), 1).generator
    assert generator.table_frame("members").height == 0
    assert generator.table_frame("tracks").height == 0
    loans, lines = generator.table_frame("loans"), generator.table_frame("lines")
    assert loans.height == 5 and loans["member_id"].null_count() == 5 and loans["loaned_at"].null_count() == 0
    assert lines.height == 5 and lines["track_id"].null_count() == 5
    assert lines.schema["unit_price"] == pl.Decimal(4, 2)


# --------------------------------------------------------------------------------------------------
# Per-stream generators


def _philox(seed: int, stream: str, block: int) -> np.ndarray:
    """The first draws of a stream, from its documented identity (core/rng: sha256 of the stream name, the
    block in the counter's top word), written out here rather than asked of the generator."""
    digest = hashlib.sha256(f"synth-pipelines/v1\x00{seed}\x00relational\x00{stream}".encode()).digest()
    bits = np.random.Philox(key=int.from_bytes(digest[:16], "little"), counter=np.array([0, 0, 0, block], np.uint64))
    return np.random.Generator(bits).integers(0, 2**62, 4)


def test_each_table_stream_and_block_has_its_own_generator_repeated_per_seed(tmp_path: Path) -> None:
    prepared = library(tmp_path, seed=7)
    generator = prepared.generator
    schema_id = hashlib.sha256(LIBRARY.encode()).hexdigest()[:16]
    assert prepared.schema.sha256[:16] == schema_id
    for table, stream, block in [("loans", "a", 0), ("loans", "b", 0), ("plain", "a", 0), ("loans", "a", 1)]:
        drawn = generator.rng(table, stream, block).integers(0, 2**62, 4)
        assert drawn.tolist() == _philox(7, f"{schema_id}/{table}/{stream}", block).tolist(), (table, stream, block)
        assert generator.rng(table, stream, block).integers(0, 2**62, 4).tolist() == drawn.tolist()
    firsts = {
        (t, s, b, seed): library(tmp_path, seed=seed).generator.rng(t, s, b).integers(0, 2**62)
        for t in ("loans", "plain")
        for s in ("a", "b")
        for b in (0, 1)
        for seed in (7, 8)
    }
    assert len(set(firsts.values())) == len(firsts)


# --------------------------------------------------------------------------------------------------
# A size in bytes follows the row's duration

MEDIA = """\
CREATE TABLE tracks (
  track_id SERIAL PRIMARY KEY, milliseconds INT, bytes INT CHECK (bytes BETWEEN 4000000 AND 9000000)
);
CREATE TABLE podcasts (podcast_id SERIAL PRIMARY KEY, seconds INT NOT NULL, file_size BIGINT NOT NULL);
"""


def media(tmp_path: Path) -> dict[str, pl.DataFrame]:
    ddl = tmp_path / "media.sql"
    ddl.write_text(MEDIA)
    generator = prepare(ddl, RelationalConfig(rows=2_000), 1).generator
    return {t: generator.table_frame(t) for t in ("tracks", "podcasts")}


def test_bytes_are_the_duration_times_16_to_40_bytes_per_millisecond_within_the_check(tmp_path: Path) -> None:
    frames = media(tmp_path)
    assert frames["tracks"].schema["bytes"] == pl.Int32 and frames["podcasts"].schema["file_size"] == pl.Int64
    # inside the CHECK's bounds: a whole number between 16 and 40 bytes per millisecond
    inside = (
        "SELECT count(*),"
        " count(*) FILTER (WHERE bytes NOT BETWEEN floor(16 * milliseconds) AND ceil(40 * milliseconds)),"
        " min(bytes / milliseconds) < 16.5, max(bytes / milliseconds) > 39.5"
        " FROM tracks WHERE bytes > 4000000 AND bytes < 9000000 AND milliseconds IS NOT NULL"
    )
    n, off_rate, low_rates, high_rates = counted(frames, inside)
    assert n > 500 and off_rate == 0 and low_rates and high_rates
    # outside them: clipped to the bound the rate would have crossed
    clipped = (
        "SELECT count(*) FILTER (WHERE bytes = 4000000), count(*) FILTER (WHERE bytes = 9000000),"
        " count(*) FILTER (WHERE bytes = 4000000 AND floor(16 * milliseconds) > 4000000),"
        " count(*) FILTER (WHERE bytes = 9000000 AND ceil(40 * milliseconds) < 9000000),"
        " count(*) FILTER (WHERE bytes NOT BETWEEN 4000000 AND 9000000)"
        " FROM tracks WHERE milliseconds IS NOT NULL"
    )
    at_low, at_high, wrong_low, wrong_high, outside = counted(frames, clipped)
    assert at_low > 0 and at_high > 0 and (wrong_low, wrong_high, outside) == (0, 0, 0)


def test_a_duration_in_seconds_is_1000_milliseconds(tmp_path: Path) -> None:
    frames = media(tmp_path)
    sql = (
        "SELECT count(*),"
        " count(*) FILTER (WHERE file_size NOT BETWEEN floor(16000 * seconds) AND ceil(40000 * seconds)),"
        " min(file_size / seconds) < 16500, max(file_size / seconds) > 39500 FROM podcasts"
    )
    assert counted(frames, sql) == (2_000, 0, True, True)


def test_rows_without_a_duration_keep_their_drawn_size_and_a_null_size_stays_null(tmp_path: Path) -> None:
    tracks = media(tmp_path)["tracks"]
    sql = (
        "SELECT count(*) FILTER (WHERE milliseconds IS NULL AND bytes IS NOT NULL),"
        " count(DISTINCT bytes) FILTER (WHERE milliseconds IS NULL),"
        " count(*) FILTER (WHERE milliseconds IS NOT NULL AND bytes IS NULL)"
        " FROM tracks"
    )
    without_duration, their_sizes, null_sizes = counted({"tracks": tracks}, sql)
    # about 10% of 2,000 rows each (the nullable columns' NULL share); the sizes are drawn, not clipped zeros
    assert 100 < without_duration < 300 and their_sizes > without_duration - 10 and 100 < null_sizes < 300


# --------------------------------------------------------------------------------------------------
# The table model: what each table's columns are drawn from

PEOPLE = """\
CREATE TABLE people (
  person_id SERIAL PRIMARY KEY,
  first_name VARCHAR(20) NOT NULL CHECK (first_name ~ '^[A-Z]{2}[0-9]$'),
  last_name VARCHAR(30) NOT NULL,
  code VARCHAR(8) NOT NULL CHECK (code LIKE 'AB-%'),
  odd INT NOT NULL CHECK (odd % 4 = 1),
  birth_year INT,
  age INT
);
CREATE TABLE ages (age_id SERIAL PRIMARY KEY, birth_year INT NOT NULL, age INT NOT NULL UNIQUE);
"""


def people(tmp_path: Path, rows: int = 200) -> Prepared:
    ddl = tmp_path / "people.sql"
    ddl.write_text(PEOPLE)
    return prepare(ddl, RelationalConfig(rows=rows), 2)


def test_like_regex_and_modulo_checks_shape_the_draws_even_of_a_person_column(tmp_path: Path) -> None:
    generator = people(tmp_path).generator
    frame = generator.table_frame("people")
    sql = (
        "SELECT count(*), count(*) FILTER (WHERE NOT regexp_full_match(first_name, '[A-Z]{2}[0-9]')),"
        " count(*) FILTER (WHERE code NOT LIKE 'AB-%'), count(*) FILTER (WHERE odd % 4 <> 1),"
        " count(DISTINCT first_name) > 100, count(DISTINCT last_name) > 50"
        " FROM people"
    )
    assert counted({"people": frame}, sql) == (200, 0, 0, 0, True, True)
    # drawn that way, not redrawn into shape: a draw without the CHECK evaluator holds them too
    unchecked = people(tmp_path).generator.block("people", 0, 0, 200, None)
    assert counted({"people": unchecked}, sql) == (200, 0, 0, 0, True, True)


def test_an_age_is_the_reference_year_minus_the_birth_year_unless_a_key_holds_it(tmp_path: Path) -> None:
    generator = people(tmp_path).generator
    person, ages = generator.table_frame("people"), generator.table_frame("ages")
    sql = (
        "SELECT count(*) FILTER (WHERE birth_year IS NOT NULL AND age IS NOT NULL),"
        " count(*) FILTER (WHERE age <> 2025 - birth_year) FROM people"
    )
    both, off = counted({"people": person}, sql)
    assert both > 100 and off == 0
    # UNIQUE (age): the key draws distinct ages by row; 2025 - birth_year would repeat them
    assert counted({"ages": ages}, "SELECT count(*), count(DISTINCT age) FROM ages") == (200, 200)
    assert counted({"ages": ages}, "SELECT count(*) FILTER (WHERE age = 2025 - birth_year) < 20 FROM ages") == (True,)
    assert generator.models["ages"].age_from == {}  # nor does the report count such a rule
    assert generator.models["people"].age_from == {"age": "birth_year"}


def test_emails_take_the_domains_given_to_an_email_column(tmp_path: Path) -> None:
    ddl = tmp_path / "users.sql"
    ddl.write_text("CREATE TABLE users (user_id SERIAL PRIMARY KEY, username VARCHAR(40), email VARCHAR(80));\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "tables:\n  users:\n    columns:\n"
        "      username: {generator: person, part: username, domains: [not-for-emails.test]}\n"
        "      email: {generator: person, part: email, domains: [mail.test]}\n"
    )
    users = prepare(ddl, RelationalConfig(rows=50, spec=str(spec)), 1).generator.table_frame("users")
    emails = users["email"].drop_nulls()
    assert emails.len() > 30 and emails.str.ends_with("@mail.test").all()


def test_a_generator_given_no_spec_infers_the_one_prepare_builds(tmp_path: Path) -> None:
    from synth_pipelines.domains.relational.generate import RelationalGenerator

    prepared = library(tmp_path, members=20, loans=60, tracks=10, lines=30, plain=15)
    inferred = RelationalGenerator(prepared.schema, prepared.plan, 3)
    for table in ("members", "loans", "tracks", "lines", "plain"):
        assert inferred.table_frame(table).equals(prepared.generator.table_frame(table)), table
    late = "SELECT count(*) FILTER (WHERE l.loaned_at < m.joined_at) FROM loans l JOIN members m USING (member_id)"
    frames = {t: inferred.table_frame(t) for t in ("members", "loans")}
    assert counted(frames, late) == (0,)


def test_a_generator_draws_the_spec_it_is_given(tmp_path: Path) -> None:
    ddl = tmp_path / "library.sql"
    ddl.write_text(LIBRARY)
    spec = tmp_path / "spec.yaml"
    spec.write_text("tables:\n  plain:\n    columns:\n      note: {generator: vocabulary, values: [alpha, beta]}\n")
    frame = prepare(ddl, RelationalConfig(rows=100, spec=str(spec)), 1).generator.table_frame("plain")
    assert set(frame["note"].drop_nulls()) == {"alpha", "beta"}


def test_a_chain_of_32_tables_each_keyed_by_the_previous_ones_key_is_drawn(tmp_path: Path) -> None:
    # t2.id is t1's id, t3.id is t2's, ...: each key is a permutation of its parent's 1..5
    ddl = tmp_path / "chain.sql"
    ddl.write_text(
        "CREATE TABLE t1 (id INT PRIMARY KEY);\n"
        + "".join(f"CREATE TABLE t{i} (id INT PRIMARY KEY REFERENCES t{i - 1}(id));\n" for i in range(2, 33))
    )
    generator = prepare(ddl, RelationalConfig(rows=5), 1).generator
    assert sorted(generator.table_frame("t32")["id"]) == [1, 2, 3, 4, 5]


def test_a_key_the_generator_cannot_build_is_held_or_refused_in_one_line_never_written_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # UNIQUE (a) inside PRIMARY KEY (a, b): the pair is drawn by permutation, `a` alone is not (the model records
    # it as a key not held by construction); the constraint report must then catch any repeat before writing.
    ddl = tmp_path / "inner.sql"
    ddl.write_text("CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, PRIMARY KEY (a, b), UNIQUE (a));\n")
    out = tmp_path / "out"
    code = main(["relational", "--ddl", str(ddl), "--rows", "200", "--seed", "1", "--out", str(out)])
    err = capsys.readouterr().err
    if code == 0:
        written = pl.read_parquet(out / "t.parquet")
        assert written.height == 200 and written["a"].n_unique() == 200
    else:
        assert err.count("\n") == 1 and "UNIQUE (a)" in err and "nothing was written" in err and "Traceback" not in err
        assert not out.exists()
