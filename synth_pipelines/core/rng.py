"""Keyed counter-based random streams.

Every random number in the project comes from here. A stream is identified by
``(seed, domain, stream)`` and split into fixed-size *blocks*; block ``b`` of a stream is a
numpy ``Generator`` over a Philox bit generator whose key is a hash of the identity and whose
counter starts at ``b * 2**192``. Blocks are therefore independent of each other and of the order
in which they are drawn: a worker can draw block 7 without drawing blocks 0-6, and the bytes of a
dataset never depend on how the work was split.

Prefix-stable records: ``record_rng`` gives a block's generator whose every draw *call* starts
at its own counter (call ``c`` of block ``b`` at ``c * 2**128 + b * 2**192``). numpy draws values
one after the other, so the first ``n`` values of a call are the same whatever its size: a block
drawn for 100 records and one drawn for 65,536 agree on the first 100, and record ``i`` depends
only on the seed and ``i`` (``--count 100`` is the first 100 records of ``--count 300``). What a
caller must keep: the sequence of calls never depends on the data (draw even when a selection is
empty), a call's size is the number of records (or a rank-ordered selection of them, or a
``(records, k)`` shape, never ``(k, records)``), and no permutation of the whole block.

Philox (a counter-based generator) and SHA-256 keys give the same numbers on every platform
for a pinned numpy version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, cast

import numpy as np

# Rows (primary records) per block. Changing it changes every dataset: it is part of the
# generator version, never a tuning knob.
BLOCK_ROWS = 65_536


def stream_key(seed: int, domain: str, stream: str) -> int:
    """128-bit Philox key derived from the stream identity."""
    digest = hashlib.sha256(f"synth-pipelines/v1\x00{seed}\x00{domain}\x00{stream}".encode()).digest()
    return int.from_bytes(digest[:16], "little")


def block_rng(seed: int, domain: str, stream: str, block: int = 0) -> np.random.Generator:
    """The generator for one block of one stream."""
    if block < 0:
        raise ValueError(f"block must be >= 0, got {block}")
    # Counter words are little-endian 64-bit; the top word selects the block, leaving 2**192
    # draws per block before blocks could overlap.
    counter = np.array([0, 0, 0, block], dtype=np.uint64)
    return np.random.Generator(np.random.Philox(key=stream_key(seed, domain, stream), counter=counter))


class CallStreams:
    """A numpy ``Generator`` look-alike for one block: each draw call gets a fresh counter range.

    ``rng.random(n)`` (any ``Generator`` method) draws from a new Philox generator whose counter
    starts at ``(call, block)``; calls are numbered in the order they are made.
    """

    def __init__(self, key: int, block: int) -> None:
        self._key, self._block, self._calls = key, block, 0

    def __getattr__(self, name: str) -> Any:
        # Counter words are little-endian 64-bit: the top word is the block (as in ``block_rng``),
        # the next the call, leaving 2**128 draws per call.
        counter = np.array([0, 0, self._calls, self._block], dtype=np.uint64)
        self._calls += 1
        return getattr(np.random.Generator(np.random.Philox(key=self._key, counter=counter)), name)


def record_rng(seed: int, domain: str, stream: str, block: int = 0) -> np.random.Generator:
    """The prefix-stable generator for one block of records (see the module doc)."""
    if block < 0:
        raise ValueError(f"block must be >= 0, got {block}")
    # Every Generator method is available (``CallStreams.__getattr__``); typed as one for the callers.
    return cast(np.random.Generator, CallStreams(stream_key(seed, domain, stream), block))


def block_spans(count: int, block_rows: int = BLOCK_ROWS) -> Iterator[tuple[int, int, int]]:
    """Yield ``(block_index, start_row, n_rows)`` covering ``count`` rows in fixed-size blocks."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    for block, start in enumerate(range(0, count, block_rows)):
        yield block, start, min(block_rows, count - start)
