"""Vectorized draws shared by the built-in scenarios: vocabularies, templates, timestamps, checks.

Everything takes a numpy ``Generator`` from ``synth_pipelines.core.rng`` and returns whole columns;
nothing loops over records in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandera.polars as pa
import polars as pl

from synth_pipelines.core.rng import block_spans, record_rng
from synth_pipelines.domains.scenarios.records import TIMESTAMP

# Every built-in dataset lives in a fixed window so the same seed gives the same dates on any day.
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def draw_blocks(
    seed: int,
    scenario: str,
    stream: str,
    count: int,
    draw: Callable[[np.random.Generator, int, int], pl.DataFrame],
) -> pl.DataFrame:
    """Concatenate ``draw(rng, n, start)`` over fixed blocks: rows never depend on how work is split.

    ``rng`` is prefix-stable (``core.rng.record_rng``): row ``i`` depends only on the seed and ``i`` as
    long as ``draw`` makes the same draw calls whatever ``n`` and sizes them by rows.
    """
    key = f"scenario/{scenario}"
    frames = [draw(record_rng(seed, key, stream, b), n, start) for b, start, n in block_spans(count)]
    return pl.concat(frames) if frames else draw(record_rng(seed, key, stream, 0), 0, 0)


def pick(rng: np.random.Generator, values: Sequence[Any], n: int, p: Sequence[float] | None = None) -> np.ndarray:
    """``n`` draws from ``values`` (with probabilities ``p``, normalised)."""
    probs = None if p is None else np.asarray(p, dtype=float) / np.sum(p)
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=probs)]


def pick_within(
    rng: np.random.Generator, keys: np.ndarray | pl.Series, table: Mapping[str, Sequence[str]]
) -> np.ndarray:
    """For each row, one option from ``table[key of that row]`` (uniformly)."""
    names = list(table)
    flat = np.asarray([option for name in names for option in table[name]], dtype=object)
    lens = np.asarray([len(table[name]) for name in names])
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
    codes = pl.Series(keys, dtype=pl.String).replace_strict(names, list(range(len(names))), return_dtype=pl.Int64)
    codes_np = codes.to_numpy()
    u = rng.random(len(codes_np))
    return flat[offsets[codes_np] + np.minimum((u * lens[codes_np]).astype(np.int64), lens[codes_np] - 1)]


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
    numbers = pl.Series(np.arange(start, start + n, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return pl.select(pl.concat_str(pl.lit(prefix), numbers)).to_series()


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
