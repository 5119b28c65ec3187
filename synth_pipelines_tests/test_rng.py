"""Randomness comes from one place, keyed by (seed, domain, stream, block)."""

import numpy as np

from synth_pipelines.core.ids import unique_ids, unique_ints
from synth_pipelines.core.rng import block_rng, block_spans


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


def test_ids_are_unique_by_construction_and_chunk_independent() -> None:
    whole = unique_ints(7, "cv_logs", "run", 0, 200_000)
    assert len(np.unique(whole)) == 200_000
    parts = np.concatenate([unique_ints(7, "cv_logs", "run", s, 50_000) for s in range(0, 200_000, 50_000)])
    assert np.array_equal(whole, parts)
    ids = unique_ids(7, "cv_logs", "run", 0, 3, "run-")
    assert all(len(i) == 20 and i.startswith("run-") for i in ids.to_list())
