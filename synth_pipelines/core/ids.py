"""Synthetic identifiers that are unique by construction, not by luck.

``unique_ids`` maps row numbers through the splitmix64 finalizer, a bijection on 64-bit integers,
after adding a per-(seed, domain, kind) key: distinct rows always get distinct ids, any block of
rows can be computed alone, and the ids look random.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from synth_pipelines.core.rng import stream_key

_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection of uint64."""
    z = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= _C1
        z ^= z >> np.uint64(27)
        z *= _C2
        z ^= z >> np.uint64(31)
    return z


def unique_ints(seed: int, domain: str, kind: str, start: int, n: int) -> np.ndarray:
    key = np.uint64(stream_key(seed, domain, f"ids/{kind}") & 0xFFFF_FFFF_FFFF_FFFF)
    with np.errstate(over="ignore"):
        return mix64(np.arange(start, start + n, dtype=np.uint64) + key)


def hex16(values: np.ndarray) -> pl.Series:
    """uint64 values as 16 lowercase hex digits, vectorized (through a fixed-size binary array)."""
    big_endian = np.ascontiguousarray(values.astype(">u8"))
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(8), len(values), [None, pa.py_buffer(big_endian.tobytes())])
    return pl.from_arrow(arr).cast(pl.Binary).bin.encode("hex")  # type: ignore[union-attr]


def unique_ids(seed: int, domain: str, kind: str, start: int, n: int, prefix: str) -> pl.Series:
    """``prefix`` + 16 hex digits, unique for every row number of this (seed, domain, kind)."""
    hexed = hex16(unique_ints(seed, domain, kind, start, n)).to_frame("h")
    return hexed.select(pl.concat_str([pl.lit(prefix), pl.col("h")])).to_series().alias(kind)
