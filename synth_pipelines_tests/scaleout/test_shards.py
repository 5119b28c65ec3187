"""Shards: K parts whose bytes depend only on (seed, config, K, i), equal in order to the unsharded run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from synth_pipelines.cli import main
from synth_pipelines.core.domain import ConstraintViolation, Domain, RunContext, run_domain
from synth_pipelines.core.shards import (
    INCOMING,
    SET_MANIFEST,
    ShardError,
    commit_shards,
    incoming_key,
    manifest_path,
    publish_sharded,
    run_shard,
    shard_range,
)
from synth_pipelines.domains.agent_traces.domain import AgentTracesDomain
from synth_pipelines.domains.api_logs.domain import ApiLogsDomain
from synth_pipelines.domains.api_traces.domain import ApiTracesDomain, transitions_outcome
from synth_pipelines.domains.cv_logs.domain import CvLogsDomain
from synth_pipelines.domains.logs.domain import LogDomain

SEED = 13
# Small sets that still give K = 7 several blocks' worth of edge cases (a shard inside a block).
CASES: list[tuple[Domain, dict[str, Any]]] = [
    (CvLogsDomain(), {"count": 700}),
    (ApiLogsDomain(), {"count": 700}),
    (AgentTracesDomain(), {"count": 90}),
    (ApiTracesDomain(), {"users": 120, "cascade_failure_rate": 0.3}),
]
IDS = [domain.name for domain, _ in CASES]


def _unsharded(domain: Domain, cfg: Any, out: Path) -> Path:
    """What the CLI writes without shards."""
    if isinstance(domain, LogDomain):
        domain.stream(cfg, SEED, out)
    else:
        run_domain(domain, cfg, SEED, out, RunContext())
    return out


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("unsharded")
    return {domain.name: _unsharded(domain, domain.parse_config(v), root / domain.name) for domain, v in CASES}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("shards", [1, 2, 7])
@pytest.mark.parametrize(("domain", "values"), CASES, ids=IDS)
def test_parts_in_order_are_the_unsharded_rows_and_compact_is_byte_identical(
    domain: Domain, values: dict[str, Any], shards: int, references: dict[str, Path], tmp_path: Path
) -> None:
    cfg = domain.parse_config(values)
    reference = references[domain.name]
    summary = publish_sharded(domain, cfg, shards, tmp_path / "parts", seed=SEED)
    assert json.loads((tmp_path / "parts" / SET_MANIFEST).read_text()) == summary
    for role, entry in summary["files"].items():
        parts = [tmp_path / "parts" / p for p in entry["parts"]]
        assert len(parts) == shards
        whole = reference / entry["file"]
        if whole.suffix == ".parquet":
            read = pl.concat([pl.read_parquet(p) for p in parts])
            assert read.equals(pl.read_parquet(whole)), role
            assert entry["rows"] == read.height
        elif role not in ("invalid_manifest", "ground_truth"):  # numbered per part / one per part
            assert b"".join(p.read_bytes() for p in parts) == whole.read_bytes(), role
    # The mirror's manifest numbers each part's lines from 1: its records, in order, are the whole one's.
    if "invalid_manifest" in summary["files"]:
        parts = [pl.read_ndjson(tmp_path / "parts" / p) for p in summary["files"]["invalid_manifest"]["parts"]]
        whole = pl.read_ndjson(reference / summary["files"]["invalid_manifest"]["file"])
        assert pl.concat([p.drop("line") for p in parts]).equals(whole.drop("line"))
        assert all(p["line"].to_list() == list(range(1, p.height + 1)) for p in parts)
    # Every check holds over the whole set; the row count is the unsharded one.
    assert all(check["passed"] for check in summary["checks"].values())
    compacted = publish_sharded(domain, cfg, shards, tmp_path / "compact", seed=SEED, compacted=True)
    assert compacted == summary
    assert _files(tmp_path / "compact") == _files(reference)


@pytest.mark.parametrize(("domain", "values"), CASES, ids=IDS)
def test_a_part_depends_only_on_seed_config_k_and_i(domain: Domain, values: dict[str, Any], tmp_path: Path) -> None:
    """Shard 4 of 7 alone has the bytes of shard 4 of a whole run: of a pool of 2 processes (api-traces;
    a pool costs seconds to start, the CLI test runs cv-logs on one) or of all shards in this process."""
    cfg = domain.parse_config(values)
    workers = 2 if isinstance(domain, ApiTracesDomain) else 1
    pooled = publish_sharded(domain, cfg, 7, tmp_path / "pool", seed=SEED, workers=workers)
    alone = run_shard(type(domain)(), cfg, 7, 4, tmp_path / "alone", seed=SEED)
    for role, part in alone["files"].items():
        assert (tmp_path / "alone" / part["part"]).read_bytes() == (tmp_path / "pool" / part["part"]).read_bytes()
        assert part["part"] == pooled["files"][role]["parts"][4]
    assert alone == json.loads((tmp_path / "pool" / manifest_path(7, 4)).read_text())
    assert alone["units"] == list(shard_range(domain.shard_units(cfg) or 0, 7, 4))


def test_api_traces_transition_check_over_shards_is_the_unsharded_one(tmp_path: Path) -> None:
    domain = ApiTracesDomain()
    cfg = domain.parse_config({"users": 120, "cascade_failure_rate": 0.3})
    summary = publish_sharded(domain, cfg, 7, tmp_path, seed=SEED)
    calls = pl.read_parquet(tmp_path / "calls" / "*.parquet")
    whole = transitions_outcome(calls, domain_workflow(cfg))
    over_shards = summary["checks"]["transition_probabilities_recovered"]
    assert over_shards["passed"] == whole.passed
    assert over_shards["max_abs_error"] == pytest.approx(whole.metadata["max_abs_error"], abs=1e-15)
    assert over_shards["sessions"] == whole.metadata["sessions"] == calls["session_id"].n_unique()


def domain_workflow(cfg: Any) -> Any:
    from synth_pipelines.domains.api_traces.workflow import load_workflow

    return load_workflow(cfg.workflow)


def test_commit_refuses_a_missing_foreign_or_altered_shard(tmp_path: Path) -> None:
    domain = CvLogsDomain()
    cfg = domain.parse_config({"count": 300})
    for shard in range(3):
        run_shard(domain, cfg, 3, shard, tmp_path, seed=SEED)
    commit_shards(domain, cfg, 3, tmp_path, seed=SEED)  # whole: no error

    part = tmp_path / "cv_logs_valid" / "part-00001-of-00003.jsonl"
    saved = part.read_bytes()
    part.write_bytes(saved.replace(b'"', b"'", 1))
    with pytest.raises(ShardError, match=r"part-00001-of-00003\.jsonl: sha256 differs"):
        commit_shards(domain, cfg, 3, tmp_path, seed=SEED)
    part.write_bytes(saved)

    with pytest.raises(ShardError, match=r"seed is 13, the set needs 14"):
        commit_shards(domain, cfg, 3, tmp_path, seed=SEED + 1)
    other = domain.parse_config({"count": 301})
    with pytest.raises(ShardError, match="config is"):
        commit_shards(domain, other, 3, tmp_path, seed=SEED)

    shutil.move(tmp_path / manifest_path(3, 2), tmp_path / "elsewhere.json")
    with pytest.raises(ShardError, match="shard 2 of 3 was not written"):
        commit_shards(domain, cfg, 3, tmp_path, seed=SEED)


def test_cli_writes_one_shard_alone_or_the_whole_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["cv-logs", "--count", "200", "--seed", str(SEED)]
    assert main([*args, "--shards", "4", "--shard", "1", "--out", str(tmp_path / "one")]) == 0
    # A shard made alone waits in the incoming area of its set (readers never look there) for --commit.
    key = incoming_key(CvLogsDomain(), CvLogsDomain().parse_config({"count": 200}), 4, seed=SEED)
    assert [p.name for p in (tmp_path / "one").iterdir()] == [INCOMING]
    alone = tmp_path / "one" / key
    written = sorted(p.relative_to(alone).as_posix() for p in alone.rglob("*") if p.is_file())
    assert written == [
        "_shards/part-00001-of-00004.json",
        "cv_logs_valid/part-00001-of-00004.jsonl",
        "cv_logs_valid/part-00001-of-00004.parquet",
        "raw/cv_logs_invalid/part-00001-of-00004.jsonl",
        "raw/cv_logs_invalid_manifest/part-00001-of-00004.jsonl",
    ]
    assert main([*args, "--shards", "4", "--workers", "2", "--out", str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / SET_MANIFEST).is_file()
    one, whole = _files(alone), _files(tmp_path / "all")
    assert all(whole[name] == data for name, data in one.items())
    # A rerun with another K replaces the set: no part of the 4-shard run is left beside the 3 new ones.
    assert main([*args, "--shards", "3", "--out", str(tmp_path / "all")]) == 0
    parts = sorted(p.name for p in (tmp_path / "all" / "cv_logs_valid").iterdir())
    assert parts == [f"part-0000{i}-of-00003.{ext}" for i in range(3) for ext in ("jsonl", "parquet")]
    assert len(list((tmp_path / "all" / "_shards").iterdir())) == 3
    assert main([*args, "--shards", "4", "--compact", "--out", str(tmp_path / "compact")]) == 0
    assert main([*args, "--out", str(tmp_path / "plain")]) == 0
    assert _files(tmp_path / "compact") == _files(tmp_path / "plain")
    capsys.readouterr()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--shard", "1"], "--shard needs --shards K"),
        (["--compact"], "--compact needs --shards K"),
        (["--shards", "2", "--shard", "2"], "--shard must be 0 .. 1 (of --shards 2), got 2"),
        (["--shards", "2", "--shard", "0", "--compact"], "--compact needs every shard: leave out --shard"),
        (["--commit"], "--commit needs --shards K"),
        (["--shards", "2", "--shard", "0", "--commit"], "--commit publishes the shards --shard runs wrote"),
        (["--shards", "2", "--commit"], "missing: shard 0 of 2 was not written (nor 1 more)"),
        (["--shards", "2", "--no-mirror"], "--no-mirror and --check-round-trip cannot be combined with --shards"),
    ],
)
def test_bad_shard_flags_get_one_line_and_write_nothing(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["cv-logs", "--count", "20", "--out", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and message in err[0]
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_failing_shard_leaves_nothing_and_the_previous_set_intact(tmp_path: Path) -> None:
    """A walk longer than max_calls_per_session is a ConstraintViolation: no part, no manifest, no new set."""
    domain = ApiTracesDomain()
    good = domain.parse_config({"users": 40})
    publish_sharded(domain, good, 2, tmp_path / "set", seed=SEED)
    before = _files(tmp_path / "set")
    bad = domain.parse_config({"users": 40, "max_calls_per_session": 2})
    with pytest.raises(ConstraintViolation, match="had not reached an exit point"):
        run_shard(domain, bad, 2, 1, tmp_path / "alone", seed=SEED)
    assert not any(p.is_file() for p in (tmp_path / "alone").rglob("*"))
    with pytest.raises(ConstraintViolation):
        publish_sharded(domain, bad, 2, tmp_path / "set", seed=SEED, workers=2)
    assert _files(tmp_path / "set") == before
    assert [p.name for p in (tmp_path / "set").iterdir() if p.name.startswith(".")] == []
