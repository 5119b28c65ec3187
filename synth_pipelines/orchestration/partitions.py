"""Seed partitions.

Dynamic, not static: a user adds a seed from the UI ("Add partition") or with ``synth seed add``
without a code change, and the nightly schedule fans out over whatever is registered. The price is
that a seed must be registered in a persistent instance (DAGSTER_HOME) before it is materialized;
``make run`` and ``.ci/run`` do that with ``synth seed add``.
"""

from __future__ import annotations

import dagster as dg

from synth_pipelines.core.cli_support import MAX_SEED
from synth_pipelines.core.paths import DEFAULT_SEED  # noqa: F401  (re-exported for the Makefile and tests)

seed_partitions = dg.DynamicPartitionsDefinition(name="seed")


def register_seeds(instance: dg.DagsterInstance, seeds: list[int]) -> list[str]:
    """Add seeds that are not registered yet; return the ones added."""
    keys = [str(int(s)) for s in seeds]
    new = [k for k in dict.fromkeys(keys) if not instance.has_dynamic_partition(seed_partitions.name, k)]
    if new:
        instance.add_dynamic_partitions(seed_partitions.name, new)
    return new


def parse_seed(key: str) -> int:
    try:
        seed = int(key)
    except ValueError as exc:
        raise ValueError(f"seed partition key must be a non-negative integer, got {key!r}") from exc
    if seed < 0 or str(seed) != key:
        raise ValueError(f"seed partition key must be a non-negative integer in canonical form, got {key!r}")
    if seed > MAX_SEED:
        raise ValueError(f"seed partition key must be <= {MAX_SEED} (a seed is a 64-bit integer), got {key!r}")
    return seed
