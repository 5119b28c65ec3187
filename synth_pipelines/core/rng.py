"""Keyed counter-based random streams.

Every random number in the project comes from here. A stream is identified by
``(seed, domain, stream)`` and split into fixed-size *blocks*; block ``b`` of a stream is a
numpy ``Generator`` over a Philox bit generator whose key is a hash of the identity and whose
counter starts at ``b * 2**192``. Blocks are therefore independent of each other and of the order
in which they are drawn: a worker can draw block 7 without drawing blocks 0-6, and the bytes of a
dataset never depend on how the work was split.

Philox (a counter-based generator) and SHA-256 keys give the same numbers on every platform
for a pinned numpy version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

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


def block_spans(count: int, block_rows: int = BLOCK_ROWS) -> Iterator[tuple[int, int, int]]:
    """Yield ``(block_index, start_row, n_rows)`` covering ``count`` rows in fixed-size blocks."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    for block, start in enumerate(range(0, count, block_rows)):
        yield block, start, min(block_rows, count - start)
