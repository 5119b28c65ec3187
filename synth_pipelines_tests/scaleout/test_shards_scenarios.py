"""Scenario shards: records by range, entity tables by proportional row range; parts in order are the
unsharded files, ``--compact`` is byte-identical, a part depends only on (seed, config, K, i)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from synth_pipelines.cli import main
from synth_pipelines.core.domain import RunContext, run_domain
from synth_pipelines.core.shards import INCOMING, ShardError, manifest_path, publish_sharded, run_shard
from synth_pipelines.domains.scenarios.domain import ScenarioDomain
from synth_pipelines.domains.scenarios.formats import read_table
from synth_pipelines.domains.scenarios.registry import load_catalog
from synth_pipelines.domains.scenarios.run import dataset_problems, draw_entities

SEED = 21
# Counts that put shard edges inside an account's run of transactions and a pool's patients; a fraud
# rate high enough that several shards hold fraud; one format per scenario so each writer is covered.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("tech-support", {"count": 90, "output_format": "csv"}),
    ("financial", {"count": 120, "output_format": "parquet", "fraud_rate": 0.1, "transaction_count_max": 9}),
    ("healthcare", {"count": 80, "output_format": "jsonl", "speciality": ["pediatrics", "cardiology"]}),
]
IDS = [name for name, _ in CASES]


def _domain(name: str) -> ScenarioDomain:
    return ScenarioDomain(load_catalog().get(name))


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What ``synth scenario`` writes without shards (offline)."""
    root = tmp_path_factory.mktemp("unsharded")
    for name, values in CASES:
        domain = _domain(name)
        run_domain(domain, domain.parse_config(values), SEED, root / name, RunContext())
    return {name: root / name for name, _ in CASES}


@pytest.mark.parametrize("shards", [1, 2, 7])
@pytest.mark.parametrize(("name", "values"), CASES, ids=IDS)
def test_parts_in_order_are_the_unsharded_rows_and_compact_is_byte_identical(
    name: str, values: dict[str, Any], shards: int, references: dict[str, Path], tmp_path: Path
) -> None:
    domain = _domain(name)
    scenario = domain.scenario
    cfg = domain.parse_config(values)
    reference = references[name]
    summary = publish_sharded(domain, cfg, shards, tmp_path / "parts", seed=SEED)
    assert set(summary["files"]) == {scenario.record_name, *scenario.entity_tables}
    schemas = {scenario.record_name: scenario.record_schema()} | {
        table: frame.schema for table, frame in draw_entities(scenario, cfg, SEED).items()
    }
    tables: dict[str, pl.DataFrame] = {}
    for table, entry in summary["files"].items():
        parts = [tmp_path / "parts" / p for p in entry["parts"]]
        assert len(parts) == shards
        whole = reference / entry["file"]
        if cfg.output_format == "parquet":
            read = pl.concat([pl.read_parquet(p) for p in parts])
            assert read.equals(pl.read_parquet(whole)), table
        else:  # text: header once, then every part's rows in order
            texts = [p.read_bytes() for p in parts]
            if cfg.output_format == "csv":
                header = whole.read_bytes().split(b"\n", 1)[0] + b"\n"
                assert all(t == b"" or t.startswith(header) for t in texts)
                texts = [header] + [t.removeprefix(header) for t in texts]
            assert b"".join(texts) == whole.read_bytes(), table
        read = pl.concat([read_table(p, cfg.output_format, schemas[table]) for p in parts])
        assert read.height == entry["rows"], table
        tables[table] = read
    assert tables[scenario.record_name].height == cfg.count
    # The claims hold over all parts together (references resolve across parts, per-account caps...).
    records = tables.pop(scenario.record_name)
    assert dataset_problems(scenario, cfg, records, tables) == []
    assert summary["checks"]["claims_hold"]["passed"]
    assert summary["checks"]["claims_hold"]["rows"][scenario.record_name] == cfg.count
    compacted = publish_sharded(domain, cfg, shards, tmp_path / "compact", seed=SEED, compacted=True)
    assert compacted == summary
    assert _files(tmp_path / "compact") == _files(reference)


@pytest.mark.parametrize(("name", "values"), CASES, ids=IDS)
def test_a_part_depends_only_on_seed_config_k_and_i(name: str, values: dict[str, Any], tmp_path: Path) -> None:
    """Shard 4 of 7 alone has the bytes of shard 4 of a whole run: of a pool of 2 spawned processes
    (financial: a pool costs seconds to start) or of all shards in this process."""
    domain = _domain(name)
    cfg = domain.parse_config(values)
    workers = 2 if name == "financial" else 1
    pooled = publish_sharded(domain, cfg, 7, tmp_path / "pool", seed=SEED, workers=workers)
    alone = run_shard(_domain(name), cfg, 7, 4, tmp_path / "alone", seed=SEED)
    for role, part in alone["files"].items():
        assert (tmp_path / "alone" / part["part"]).read_bytes() == (tmp_path / "pool" / part["part"]).read_bytes()
        assert part["part"] == pooled["files"][role]["parts"][4]
    assert alone == json.loads((tmp_path / "pool" / manifest_path(7, 4)).read_text())


def test_more_shards_than_records_gives_empty_parts_and_the_same_compact_file(tmp_path: Path) -> None:
    domain = _domain("tech-support")
    cfg = domain.parse_config({"count": 3, "output_format": "csv"})
    run_domain(domain, cfg, SEED, tmp_path / "plain", RunContext())
    summary = publish_sharded(domain, cfg, 5, tmp_path / "parts", seed=SEED)
    sizes = [(tmp_path / "parts" / p).stat().st_size for p in summary["files"]["tickets"]["parts"]]
    assert sizes.count(0) == 2
    publish_sharded(domain, cfg, 5, tmp_path / "compact", seed=SEED, compacted=True)
    assert _files(tmp_path / "compact") == _files(tmp_path / "plain")


def test_a_document_format_is_refused_in_one_line(tmp_path: Path) -> None:
    domain = _domain("healthcare")
    cfg = domain.parse_config({"count": 10, "output_format": "json"})
    with pytest.raises(ShardError, match="--shards writes parquet, jsonl, csv parts, not --output-format json"):
        run_shard(domain, cfg, 2, 0, tmp_path, seed=SEED)


def test_cli_shards_compact_equals_the_plain_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["scenario", "--scenario", "financial", "--count", "60", "--seed", str(SEED), "--output-format", "jsonl"]
    assert main([*args, "--shards", "3", "--shard", "2", "--out-dir", str(tmp_path / "one")]) == 0
    (area,) = (tmp_path / "one" / INCOMING).iterdir()  # the shard waits there for --commit, unpublished
    assert (area / manifest_path(3, 2)).is_file()
    assert main([*args, "--shards", "3", "--out-dir", str(tmp_path / "all")]) == 0
    one, whole = _files(area), _files(tmp_path / "all")
    assert one and all(whole[name] == data for name, data in one.items())
    assert main([*args, "--shards", "3", "--compact", "--out-dir", str(tmp_path / "compact")]) == 0
    assert main([*args, "--out-dir", str(tmp_path / "plain")]) == 0
    assert _files(tmp_path / "compact") == _files(tmp_path / "plain")
    capsys.readouterr()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--shard", "1"], "--shard needs --shards K"),
        (["--shards", "2", "--output-format", "yaml"], "not --output-format yaml"),
        (["--shards", "2", "--provider", "openai", "--model", "m"], "--shards runs offline only"),
    ],
)
def test_cli_bad_shard_flags_get_one_line_and_write_nothing(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    code = main(["scenario", "--scenario", "tech-support", "--count", "10", "--out-dir", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and message in err[0], err
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_transactions_per_account_are_capped_over_all_shards(references: dict[str, Path], tmp_path: Path) -> None:
    """An account whose transactions straddle shards is counted whole at the commit (edge counts summed)."""
    name, values = CASES[1]
    domain = _domain(name)
    cfg = domain.parse_config(values)
    summary = publish_sharded(domain, cfg, 7, tmp_path, seed=SEED)
    summed = summary["checks"]["claims_hold"]["set_numbers"]["edge_account_counts"]
    whole = pl.read_parquet(references[name] / "financial_transactions.parquet").group_by("account_id").len()
    truth = dict(whole.iter_rows())
    assert summed and all(truth[account] == n for account, n in summed.items())
    # The largest straddling account, under a cap one below its count: every shard holds fewer, the set fails.
    account, n = max(summed.items(), key=lambda item: (item[1], item[0]))
    parts = [pl.read_parquet(tmp_path / p) for p in summary["files"]["transactions"]["parts"]]
    per_part = [part.filter(pl.col("account_id") == account).height for part in parts]
    assert sum(1 for k in per_part if k) >= 2 and max(per_part) <= n - 1
    shard_checks = [json.loads((tmp_path / manifest_path(7, i)).read_text())["checks"] for i in range(7)]
    from synth_pipelines.core.shards import sum_check

    checks = {"claims_hold": sum_check([c["claims_hold"] for c in shard_checks])}
    capped = cfg.model_copy(update={"transaction_count_max": n - 1})
    decided = domain.summarize_shard_checks(capped, checks)["claims_hold"]
    assert not decided["passed"]
    assert f"exceed --transaction-count-max {n - 1} over all shards" in decided["set_problems"][0]


def test_overlapping_unique_ranges_fail_the_set(tmp_path: Path) -> None:
    domain = _domain("tech-support")
    cfg = domain.parse_config({"count": 40, "output_format": "jsonl"})
    summary = publish_sharded(domain, cfg, 2, tmp_path, seed=SEED)
    claims = summary["checks"]["claims_hold"]
    assert claims["passed"] and claims["set_problems"] == []
    ranges = claims["unique_ranges"]
    assert ranges == {"000000000000": {"ticket_id": ["TCK-0000001", "TCK-0000020"]},
                      "000000000020": {"ticket_id": ["TCK-0000021", "TCK-0000040"]}}  # fmt: skip
    ranges["000000000020"]["ticket_id"][0] = "TCK-0000020"  # as if two shards both held ticket 20
    decided = domain.summarize_shard_checks(cfg, {"claims_hold": claims | {"passed": True}})["claims_hold"]
    assert not decided["passed"]
    assert "ticket_id: the values of the shards at units 0 and 20 overlap" in decided["set_problems"][0]
