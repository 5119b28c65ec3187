"""Randomness comes from one place, keyed by (seed, domain, stream, block)."""

import numpy as np
import pytest

from synth_pipelines.core.ids import mix64, unique_ids, unique_ints
from synth_pipelines.core.rng import block_rng, block_spans, record_rng, stream_key


def test_same_key_same_numbers_and_blocks_are_independent() -> None:
    a = block_rng(42, "cv_logs", "records", 3).random(1000)
    b = block_rng(42, "cv_logs", "records", 3).random(1000)
    assert np.array_equal(a, b)
    # drawing other blocks first changes nothing
    block_rng(42, "cv_logs", "records", 2).random(10_000)
    assert np.array_equal(a, block_rng(42, "cv_logs", "records", 3).random(1000))


def test_streams_differ_by_seed_domain_stream_and_block() -> None:
    base = block_rng(42, "cv_logs", "records", 0).random(8)
    for other in (
        block_rng(43, "cv_logs", "records", 0),
        block_rng(42, "api_logs", "records", 0),
        block_rng(42, "cv_logs", "mirror", 0),
        block_rng(42, "cv_logs", "records", 1),
    ):
        assert not np.array_equal(base, other.random(8))


def test_known_values_pin_the_generator_across_machines() -> None:
    # Philox + SHA-256 keys are platform independent; this pins them for the pinned numpy.
    # Changing either is a new generator version: every dataset's bytes change.
    assert block_rng(42, "cv_logs", "records", 0).integers(0, 1000, 5).tolist() == [359, 295, 572, 225, 829]
    assert block_rng(42, "cv_logs", "records", 0).random(2).tolist() == [0.2957650652061117, 0.22558405659449376]


def test_block_spans_cover_count_exactly() -> None:
    spans = list(block_spans(150_000))
    assert [s[0] for s in spans] == [0, 1, 2]
    assert sum(s[2] for s in spans) == 150_000
    assert list(block_spans(0)) == []
    assert list(block_spans(10, block_rows=4)) == [(0, 0, 4), (1, 4, 4), (2, 8, 2)]
    with pytest.raises(ValueError, match="count must be >= 0, got -1"):
        list(block_spans(-1))
    # Without a block number it is block 0, the block every small stream draws from.
    assert np.array_equal(
        block_rng(42, "cv_logs", "records").random(4), block_rng(42, "cv_logs", "records", 0).random(4)
    )
    with pytest.raises(ValueError, match="block must be >= 0, got -2"):
        block_rng(42, "cv_logs", "records", -2)


def test_ids_are_unique_by_construction_and_chunk_independent() -> None:
    whole = unique_ints(7, "cv_logs", "run", 0, 200_000)
    assert len(np.unique(whole)) == 200_000
    parts = np.concatenate([unique_ints(7, "cv_logs", "run", s, 50_000) for s in range(0, 200_000, 50_000)])
    assert np.array_equal(whole, parts)
    ids = unique_ids(7, "cv_logs", "run", 0, 3, "run-")
    assert all(len(i) == 20 and i.startswith("run-") for i in ids.to_list())


def test_mix64_is_splitmix64() -> None:
    # The published splitmix64 outputs for state 0: the finalizer of k * 0x9E3779B97F4A7C15, k = 1, 2, 3.
    gamma = 0x9E3779B97F4A7C15
    states = np.array([(k * gamma) % 2**64 for k in (1, 2, 3)], dtype=np.uint64)
    before = states.copy()
    assert mix64(states).tolist() == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert np.array_equal(states, before)  # the caller's array is left alone


def test_ids_are_pinned_and_keyed_by_seed_domain_and_kind() -> None:
    # unique_ints is mix64(row + stream key): row 0 gives mix64(key), so the key is the only input.
    key = stream_key(7, "cv_logs", "ids/run") & 0xFFFF_FFFF_FFFF_FFFF
    rows = np.arange(5, 8, dtype=np.uint64)
    with np.errstate(over="ignore"):
        expected = mix64(rows + np.uint64(key))
    assert unique_ints(7, "cv_logs", "run", 5, 3).tolist() == expected.tolist()
    ids = unique_ids(7, "cv_logs", "run", 5, 3, "run-").to_list()
    assert ids == [f"run-{int(v):016x}" for v in expected.tolist()]
    others = (unique_ints(8, "cv_logs", "run", 5, 3), unique_ints(7, "api_logs", "run", 5, 3),
              unique_ints(7, "cv_logs", "step", 5, 3))  # fmt: skip
    assert all(not np.array_equal(other, expected) for other in others)


def test_record_rng_gives_each_call_its_own_counter_range() -> None:
    """Call c of block b draws from Philox(key, counter = [0, 0, c, b]) (the module doc's layout)."""
    key = stream_key(42, "cv_logs", "records")

    def philox(call: int, block: int) -> np.random.Generator:
        return np.random.Generator(np.random.Philox(key=key, counter=np.array([0, 0, call, block], dtype=np.uint64)))

    rng = record_rng(42, "cv_logs", "records", 3)
    assert np.array_equal(rng.random(5), philox(0, 3).random(5))
    assert np.array_equal(rng.integers(0, 1000, 4), philox(1, 3).integers(0, 1000, 4))
    assert np.array_equal(rng.normal(0.0, 1.0, 3), philox(2, 3).normal(0.0, 1.0, 3))
    # Call 0 of a block starts where block_rng's block starts: the values pinned above.
    assert record_rng(42, "cv_logs", "records").random(2).tolist() == [0.2957650652061117, 0.22558405659449376]
    # Each generator numbers its own calls from 0.
    assert np.array_equal(record_rng(42, "cv_logs", "records", 3).random(5), philox(0, 3).random(5))
    with pytest.raises(ValueError, match="block must be >= 0, got -1"):
        record_rng(42, "cv_logs", "records", -1)
