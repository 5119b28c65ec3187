"""Vectorized draws shared by the built-in scenarios: vocabularies, templates, timestamps, checks.

Everything takes a numpy ``Generator`` from ``synth_pipelines.core.rng`` and returns whole columns;
nothing loops over records in Python.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandera.polars as pa
import polars as pl

from synth_pipelines.core.rng import BLOCK_ROWS, record_rng
from synth_pipelines.domains.scenarios.records import TIMESTAMP

# Every built-in dataset lives in a fixed window so the same seed gives the same dates on any day.
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


# Rows drawn per "scenario/stream" by ``draw_blocks`` in this process: what a test or a bench reads to
# measure how much a shard draws (a shard of a block-drawn scenario draws only its blocks). Never read by a draw.
ROWS_DRAWN: Counter[str] = Counter()


def blocks_from(start: int, stop: int, block_rows: int) -> Iterator[tuple[int, int, int]]:
    """``(block, first_row, n_rows)`` of the fixed blocks that rows ``start .. stop`` overlap, each from its first
    row (a prefix-stable block is drawn from its start) up to ``stop``; ``start`` is a multiple of ``block_rows``."""
    if block_rows < 1 or start < 0 or start % block_rows or stop < start:
        raise ValueError(f"rows {start}..{stop} do not start a block of {block_rows} rows")
    for first in range(start, stop, block_rows):
        yield first // block_rows, first, min(block_rows, stop - first)


def draw_blocks(
    seed: int,
    scenario: str,
    stream: str,
    count: int,
    draw: Callable[[np.random.Generator, int, int], pl.DataFrame],
    *,
    start: int = 0,
    block_rows: int = BLOCK_ROWS,
) -> pl.DataFrame:
    """Rows ``start .. start + count``: ``draw(rng, n, first_row)`` concatenated over the fixed blocks of
    ``block_rows`` rows they cover (``start`` is a block's first row): rows never depend on how work is split.

    ``rng`` is prefix-stable (``core.rng.record_rng``): row ``i`` depends only on the seed and ``i`` as
    long as ``draw`` makes the same draw calls whatever ``n`` and sizes them by rows.
    """
    key = f"scenario/{scenario}"
    frames = []
    for block, first, n in blocks_from(start, start + count, block_rows):
        ROWS_DRAWN[f"{scenario}/{stream}"] += n
        frames.append(draw(record_rng(seed, key, stream, block), n, first))
    return pl.concat(frames) if frames else draw(record_rng(seed, key, stream, start // block_rows), 0, start)


def pick(rng: np.random.Generator, values: Sequence[Any], n: int, p: Sequence[float] | None = None) -> np.ndarray:
    """``n`` draws from ``values`` (with probabilities ``p``, normalised)."""
    return np.asarray(values, dtype=object)[pick_codes(rng, len(values), n, p)]


def pick_within(
    rng: np.random.Generator, keys: np.ndarray | pl.Series, table: Mapping[str, Sequence[str]]
) -> np.ndarray:
    """For each row, one option from ``table[key of that row]`` (uniformly)."""
    return pick_within_codes(rng, codes_of(keys, list(table)), table)


def pick_within_codes(rng: np.random.Generator, codes: np.ndarray, table: Mapping[str, Sequence[str]]) -> np.ndarray:
    """``pick_within`` with each row's key given as its position in ``table`` (the same draws)."""
    names = list(table)
    flat = np.asarray([option for name in names for option in table[name]], dtype=object)
    lens = np.asarray([len(table[name]) for name in names])
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
    u = rng.random(len(codes))
    return flat[offsets[codes] + np.minimum((u * lens[codes]).astype(np.int64), lens[codes] - 1)]


def pick_codes(rng: np.random.Generator, k: int, n: int, p: Sequence[float] | None = None) -> np.ndarray:
    """The positions ``pick(rng, values, n, p)`` draws among ``k`` values (the same draw)."""
    probs = None if p is None else np.asarray(p, dtype=float) / np.sum(p)
    return rng.choice(k, size=n, p=probs)


def codes_of(values: np.ndarray | pl.Series | Sequence[Any], names: Sequence[Any]) -> np.ndarray:
    """The position of each value in ``names``; a value not in ``names`` is a ``ValueError``."""
    series = values if isinstance(values, pl.Series) else pl.Series(np.asarray(values, dtype=object).tolist())
    if not len(series):
        return np.zeros(0, dtype=np.int64)
    try:
        codes = series.replace_strict(list(names), list(range(len(names))), return_dtype=pl.Int64)
    except pl.exceptions.InvalidOperationError:
        missing = series.filter(~series.is_in(list(names)))[0]
        raise ValueError(f"{missing!r} is not one of {list(names)}") from None
    return codes.to_numpy()


def fill(template: pl.Expr, slots: Mapping[str, pl.Expr]) -> pl.Expr:
    """Replace ``{slot}`` placeholders in a template column with other columns."""
    for slot, value in slots.items():
        template = template.str.replace_all("{" + slot + "}", value.cast(pl.String), literal=True)
    return template


def timestamps(seconds_since_epoch: np.ndarray) -> pl.Series:
    """UTC millisecond timestamps from float seconds after ``EPOCH``."""
    base_ms = int(EPOCH.timestamp() * 1000)
    return pl.Series(base_ms + np.floor(seconds_since_epoch * 1000).astype(np.int64)).cast(TIMESTAMP)


def ids(prefix: str, start: int, n: int, width: int = 7) -> pl.Series:
    """``prefix`` + zero-padded sequence numbers ``start .. start+n-1``."""
    return ids_of(prefix, np.arange(start, start + n, dtype=np.int64), width)


def ids_of(prefix: str, numbers: np.ndarray, width: int = 7) -> pl.Series:
    """``prefix`` + each of ``numbers`` zero-padded to ``width`` digits."""
    padded = pl.Series(np.asarray(numbers, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return pl.select(pl.concat_str(pl.lit(prefix), padded)).to_series()


def id_numbers(values: pl.Series, prefix: str) -> np.ndarray:
    """The numbers of ids made by ``ids_of(prefix, ...)`` (``ACC-00000017`` -> 17)."""
    return values.str.strip_prefix(prefix).cast(pl.Int64).to_numpy()


def row_check(expr: pl.Expr, name: str) -> pa.Check:
    """A row-wise pandera check from a boolean polars expression (null counts as passing)."""
    return pa.Check(lambda data: data.lazyframe.select(expr.fill_null(True)), name=name, error=name)


def column_check(fn: Callable[[pl.Expr], pl.Expr], name: str) -> pa.Check:
    """A pandera column check from ``fn(column) -> boolean expression``."""
    return pa.Check(lambda data: data.lazyframe.select(fn(pl.col(data.key)).fill_null(True)), name=name, error=name)


def non_blank() -> pa.Check:
    return column_check(lambda c: c.str.strip_chars().str.len_chars() > 0, "non_blank")


def non_empty_list() -> pa.Check:
    return column_check(lambda c: c.list.len() > 0, "non_empty_list")


def all_non_blank() -> pa.Check:
    return column_check(
        lambda c: c.list.eval(pl.element().str.strip_chars().str.len_chars() > 0).list.all(),
        "items_non_blank",
    )
