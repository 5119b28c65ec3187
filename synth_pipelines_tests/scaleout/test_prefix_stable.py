"""Prefix-stable seeds: record i depends only on the seed and i, so a smaller count is a prefix of a larger one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synth_pipelines.core.rng import BLOCK_ROWS, record_rng
from synth_pipelines.domains.agent_traces.domain import AgentTracesDomain
from synth_pipelines.domains.api_logs.domain import ApiLogsDomain
from synth_pipelines.domains.cv_logs.domain import CvLogsDomain
from synth_pipelines.domains.logs.domain import LogDomain

LOG_DOMAINS = [CvLogsDomain(), ApiLogsDomain(), AgentTracesDomain()]


def test_each_call_of_a_record_rng_is_prefix_stable() -> None:
    """Every Generator method the domains use gives the same first values whatever the call's size."""
    draws = {
        "random": lambda r, n: r.random((n, 3)),
        "integers": lambda r, n: r.integers(0, 1000, n),
        "choice_p": lambda r, n: r.choice(3, size=n, p=[0.2, 0.5, 0.3]),
        "lognormal": lambda r, n: r.lognormal(0.0, 0.5, n),
        "normal": lambda r, n: r.normal(1.0, 2.0, n),
        "beta": lambda r, n: r.beta(12, 2.5, n),
        "geometric": lambda r, n: r.geometric(0.35, n),
        "standard_exponential": lambda r, n: r.standard_exponential(n),
    }
    small, large = record_rng(7, "d", "s", 3), record_rng(7, "d", "s", 3)
    for name, draw in draws.items():
        first, longer = draw(small, 100), draw(large, 5_000)
        assert np.array_equal(first, longer[:100]), name
    # Calls are numbered: the second call is not the first call again, and another block differs.
    rng = record_rng(7, "d", "s", 3)
    assert not np.array_equal(rng.random(10), rng.random(10))
    assert not np.array_equal(record_rng(7, "d", "s", 3).random(10), record_rng(7, "d", "s", 4).random(10))


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _stream(domain: LogDomain, count: int, out: Path) -> dict[str, Path]:
    cfg = domain.parse_config({"count": count})
    return domain.stream(cfg, 11, out)


def _record_lines(domain: LogDomain, paths: dict[str, Path], role: str, records: int) -> list[bytes]:
    """The lines of the first ``records`` records (agent traces: one line per step of a run)."""
    lines = _lines(paths[role])
    if domain.block_records == BLOCK_ROWS:
        return lines[:records]
    clean = pl.read_parquet(paths["valid_parquet"])
    run_ordinal = (clean["run_id"] != clean["run_id"].shift(1)).fill_null(True).cum_sum()
    return lines[: int((run_ordinal <= records).sum())]


@pytest.mark.parametrize("domain", LOG_DOMAINS, ids=lambda d: d.name)
def test_count_100_is_the_first_100_records_of_count_300(domain: LogDomain, tmp_path: Path) -> None:
    small = _stream(domain, 100, tmp_path / "small")
    large = _stream(domain, 300, tmp_path / "large")
    for role in ("valid_jsonl", "invalid_jsonl"):
        head = _record_lines(domain, large, role, 100)
        assert _lines(small[role]) == head, role
    # The manifest numbers mirror lines from 1: the small run's manifest is the large one's head.
    manifest = _lines(small["invalid_manifest"])
    assert manifest == _lines(large["invalid_manifest"])[: len(manifest)]


@pytest.mark.parametrize("domain", LOG_DOMAINS, ids=lambda d: d.name)
def test_a_count_straddling_a_block_boundary_is_a_prefix(domain: LogDomain, tmp_path: Path) -> None:
    block = domain.block_records
    small = _stream(domain, block + 20, tmp_path / "small")
    large = _stream(domain, block + 90, tmp_path / "large")
    for role in ("valid_jsonl", "invalid_jsonl"):
        assert _lines(small[role]) == _record_lines(domain, large, role, block + 20), role
