"""``core.export``: block-wise writers whose bytes do not depend on how rows were sliced, with exact formats.

Expected values are spelled out (bytes, row-group sizes, encodings), not recomputed with the writers.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import Future
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from synth_pipelines.core.export import (
    CsvBlockWriter,
    JsonlBlockWriter,
    ParquetBlockWriter,
    TextBlockWriter,
    WriteBehind,
    iter_blocks,
    timestamps_as_iso,
    write_frame,
)

BERLIN = "Europe/Berlin"


def numbers(n: int) -> pl.DataFrame:
    return pl.DataFrame({"id": list(range(n)), "name": [f"n{i}" for i in range(n)]})


def test_iter_blocks_cuts_fixed_slices_and_yields_one_empty_block_for_no_rows() -> None:
    blocks = list(iter_blocks(numbers(10), block_rows=4))
    assert [b["id"].to_list() for b in blocks] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    (empty,) = list(iter_blocks(numbers(0), block_rows=4))
    assert empty.height == 0 and empty.columns == ["id", "name"]


def test_timestamps_become_iso_utc_strings_with_milliseconds() -> None:
    frame = pl.DataFrame(
        {
            "naive": [dt.datetime(2024, 1, 2, 3, 4, 5, 6000), None],
            "berlin": pl.Series([dt.datetime(2024, 1, 2, 4, 4, 5, 6000), None]).dt.replace_time_zone(BERLIN),
            "n": [1, 2],
        }
    )
    iso = timestamps_as_iso(frame)
    assert iso.to_dicts() == [
        {"naive": "2024-01-02T03:04:05.006Z", "berlin": "2024-01-02T03:04:05.006Z", "n": 1},
        {"naive": None, "berlin": None, "n": 2},
    ]


def row_groups(path: Path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_parquet_row_groups_are_fixed_however_the_rows_arrive(tmp_path: Path) -> None:
    frame = numbers(10)
    one_block, slices = tmp_path / "one.parquet", tmp_path / "slices.parquet"
    with ParquetBlockWriter(one_block, block_rows=4) as writer:
        writer.write(frame)
    with ParquetBlockWriter(slices, block_rows=4) as writer:
        for start, length in ((0, 3), (3, 3), (6, 1), (7, 3)):
            writer.write(frame.slice(start, length))
    assert writer.rows == 10
    assert row_groups(one_block) == row_groups(slices) == [4, 4, 2]
    assert one_block.read_bytes() == slices.read_bytes()
    assert_frame_equal(pl.read_parquet(slices), frame)
    meta = pq.ParquetFile(slices).metadata
    for group in range(meta.num_row_groups):
        for column in range(meta.num_columns):
            chunk = meta.row_group(group).column(column)
            assert chunk.compression == "ZSTD" and chunk.is_stats_set and chunk.statistics.has_min_max
    assert (meta.row_group(1).column(0).statistics.min, meta.row_group(1).column(0).statistics.max) == (4, 7)
    # write_frame slices by block_rows but the file keeps the default row groups (BLOCK_ROWS): same bytes.
    default_groups = tmp_path / "default.parquet"
    with ParquetBlockWriter(default_groups) as writer:
        writer.write(frame)
    assert row_groups(default_groups) == [10]
    assert write_frame(frame, tmp_path / "frame.parquet", block_rows=3).read_bytes() == default_groups.read_bytes()


def test_parquet_dictionary_per_column_and_its_page_limit(tmp_path: Path) -> None:
    frame = pl.DataFrame({"a": [f"value-{i}" for i in range(5000)], "b": ["same"] * 5000})
    only_a = tmp_path / "only_a.parquet"
    with ParquetBlockWriter(only_a, dictionary=["a"]) as writer:
        writer.write(frame)
    group = pq.ParquetFile(only_a).metadata.row_group(0)
    assert group.column(0).has_dictionary_page and not group.column(1).has_dictionary_page

    def dictionary_page_bytes(limit: int | None) -> int:
        path = tmp_path / f"limit-{limit}.parquet"
        with ParquetBlockWriter(path, dictionary_pagesize_limit=limit) as writer:
            writer.write(frame)
        chunk = pq.ParquetFile(path).metadata.row_group(0).column(0)
        return chunk.data_page_offset - chunk.dictionary_page_offset

    # 5,000 distinct values fill more than 1 KiB of dictionary: with the limit it stops there.
    assert dictionary_page_bytes(1024) < 1024 < dictionary_page_bytes(None)


def test_an_empty_parquet_dataset_still_has_its_columns(tmp_path: Path) -> None:
    schema = pl.Schema({"id": pl.Int32, "name": pl.String})
    path = tmp_path / "empty.parquet"
    with ParquetBlockWriter(path, schema) as writer:
        writer.write(pl.DataFrame(schema=schema))
    back = pl.read_parquet(path)
    assert back.height == 0 and back.schema == schema
    assert write_frame(pl.DataFrame(schema=schema), tmp_path / "frame.parquet").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_a_writer_that_fails_leaves_no_file(tmp_path: Path, suffix: str) -> None:
    writer_cls = {".parquet": ParquetBlockWriter, ".jsonl": JsonlBlockWriter, ".csv": CsvBlockWriter}[suffix]
    with pytest.raises(RuntimeError, match="disk full"), writer_cls(tmp_path / f"f{suffix}") as writer:
        writer.write(numbers(3))
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_text_lines_are_written_as_they_are_without_null_lines(tmp_path: Path) -> None:
    path = tmp_path / "lines.log"
    with TextBlockWriter(path) as writer:
        writer.write_lines(['a,"quoted" b', "plain"])
        writer.write_lines([])
        writer.write(pl.DataFrame({"line": ["from a frame", None, "last"]}))
        assert writer.rows == 5
    assert path.read_bytes() == b'a,"quoted" b\nplain\nfrom a frame\nlast\n'


def test_jsonl_rows_with_iso_timestamps_and_nulls(tmp_path: Path) -> None:
    frame = pl.DataFrame({"id": [1, 2], "s": ["x", None], "t": [dt.datetime(2024, 1, 2, 3, 4, 5, 6000), None]})
    path = tmp_path / "rows.jsonl"
    with JsonlBlockWriter(path) as writer:
        writer.write(frame.head(1))
        writer.write(frame.head(0))
        writer.write(frame.tail(1))
    assert path.read_bytes() == (b'{"id":1,"s":"x","t":"2024-01-02T03:04:05.006Z"}\n{"id":2,"s":null,"t":null}\n')
    assert write_frame(frame, tmp_path / "frame.jsonl").read_bytes() == path.read_bytes()


def test_csv_has_one_header_null_as_empty_and_empty_string_quoted(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"id": [1, 2, 3], "s": ["a,b", None, ""], "t": [dt.datetime(2024, 1, 2, 3, 4, 5, 6000), None, None]}
    )
    path = tmp_path / "rows.csv"
    with CsvBlockWriter(path) as writer:
        writer.write(frame.head(2))
        writer.write(frame.tail(1))
    assert path.read_bytes() == b'id,s,t\n1,"a,b",2024-01-02T03:04:05.006Z\n2,,\n3,"",\n'
    assert write_frame(frame, tmp_path / "frame.csv", block_rows=2).read_bytes() == path.read_bytes()


def test_write_frame_refuses_an_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        write_frame(numbers(1), tmp_path / "f.txt")


def test_write_behind_runs_in_order_and_stays_at_most_depth_behind() -> None:
    done: list[int] = []
    futures: list[Future[None]] = []
    with WriteBehind(depth=2) as behind:
        for i in range(8):
            futures.append(behind.submit(done.append, i))
            # Every call more than two behind the newest has finished when submit returns.
            assert all(f.done() for f in futures[: max(0, len(futures) - 3)])
    assert done == list(range(8))
    assert all(f.done() for f in futures)


def test_write_behind_without_a_depth_never_waits_in_submit() -> None:
    release = threading.Event()
    released: list[bool] = []
    with WriteBehind(depth=None) as behind:
        behind.submit(lambda: released.append(release.wait(timeout=60)))
        for _ in range(10):
            behind.submit(lambda: None)
        release.set()  # reached only if submit did not wait on the blocked first call
    assert released == [True]


def test_write_behind_raises_the_first_failed_write_on_drain_and_on_exit() -> None:
    def fail(message: str) -> None:
        raise OSError(message)

    behind = WriteBehind(depth=4)
    behind.submit(fail, "first")
    behind.submit(fail, "second")
    with pytest.raises(OSError, match="first"):
        behind.drain()
    with pytest.raises(OSError, match=r"^third$"), WriteBehind(depth=4) as other:
        other.submit(fail, "third")
    # An error of the caller wins over a failed write, and the thread is still waited for.
    ran: list[int] = []
    with pytest.raises(ValueError, match="caller"), WriteBehind(depth=4) as third:
        third.submit(fail, "fourth")
        third.submit(ran.append, 1)
        raise ValueError("caller")
    assert ran == [1]


def test_write_behind_runs_every_call_on_one_named_thread() -> None:
    """One thread, so one file's writes can never overlap or swap, even while earlier ones are blocked."""
    release = threading.Event()
    threads: list[tuple[int, str]] = []

    def record() -> None:
        release.wait(timeout=60)
        threads.append((threading.get_ident(), threading.current_thread().name))

    with WriteBehind(name="parquet-writer", depth=None) as behind:
        for _ in range(3):
            behind.submit(record)
        release.set()
    assert len(threads) == 3
    assert len({ident for ident, _ in threads}) == 1
    assert all(name.startswith("parquet-writer") for _, name in threads)


def test_a_row_group_can_be_larger_than_pyarrows_default_cap(tmp_path: Path) -> None:
    """pyarrow cuts row groups at 1 Mi rows unless told otherwise; the writer's block size rules."""
    rows = 1_100_000
    path = tmp_path / "big.parquet"
    with ParquetBlockWriter(path, block_rows=rows) as writer:
        writer.write(pl.DataFrame({"b": pl.zeros(rows, dtype=pl.Int8, eager=True)}))
    assert row_groups(path) == [rows]


def test_write_behind_submit_waits_only_beyond_its_depth() -> None:
    release = threading.Event()
    released: list[bool] = []
    with WriteBehind(depth=2) as behind:
        behind.submit(lambda: released.append(release.wait(timeout=60)))
        behind.submit(lambda: None)  # two pending: at the bound, not beyond it, so no wait
        release.set()
    assert released == [True]
