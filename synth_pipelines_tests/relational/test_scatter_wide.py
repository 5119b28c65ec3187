"""`_scatter` spreads a parent's row numbers with a bijection of [0, n) for parents of any size: beyond 2^32 rows
the product in uint64 used to wrap (n = 2^33 + 1 sent row n - 1 to 8,082,982,480 instead of 5,935,498,832), so
rows collided and the first child lines no longer covered every parent. Expected values: Python's exact
integers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synth_pipelines.domains.relational.generate import _scatter


def exact(rows: list[int], n: int) -> list[int]:
    a = 0x9E3779B1
    while math.gcd(a, n) != 1:
        a += 2
    return [r * (a % n or 1) % n for r in rows]


@pytest.mark.parametrize("n", [7, 2**32 - 1, 2**32, 2**32 + 1, 2**33 + 1, 10**12 + 39, 2**47 + 5])
def test_scatter_is_the_exact_product_mod_n_at_every_size(n: int):
    rows = sorted({0, 1, 2, n // 3, n // 2, n - 2, n - 1})
    assert _scatter(np.array(rows, dtype=np.int64), n).tolist() == exact(rows, n)


def test_scatter_of_a_parent_beyond_2_to_the_33_rows_keeps_its_last_rows_apart():
    n = 2**33 + 1
    assert _scatter(np.array([n - 1], dtype=np.int64), n).tolist() == [5_935_498_832]
    last = np.arange(n - 100_000, n, dtype=np.int64)
    assert np.unique(_scatter(last, n)).size == 100_000
