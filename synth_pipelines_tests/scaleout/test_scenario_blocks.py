"""Block-drawn scenarios (financial, healthcare): a shard draws only the blocks its records overlap, so K shards
draw each record once (plus, per shard starting inside a block, that block's records before its start), and
the parts across block edges are still the unsharded rows; the whole-set claims (fraud share per stratum,
transactions per account, entity ids unique) are decided at the commit from what the shards report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from synth_pipelines.core.domain import ConstraintViolation, RunContext, run_domain
from synth_pipelines.core.rng import BLOCK_ROWS
from synth_pipelines.core.shards import manifest_path, publish_sharded, run_shard, shard_range, sum_check
from synth_pipelines.domains.scenarios import draws
from synth_pipelines.domains.scenarios.domain import ScenarioDomain
from synth_pipelines.domains.scenarios.financial import FRAUD_STRATUM, TRANSACTION_BLOCK
from synth_pipelines.domains.scenarios.healthcare import ENCOUNTER_BLOCK
from synth_pipelines.domains.scenarios.registry import load_catalog
from synth_pipelines.domains.scenarios.run import check_dataset, dataset_problems, draw_entities, generate_records

SEED = 5
BLOCKS = {"financial": TRANSACTION_BLOCK, "healthcare": ENCOUNTER_BLOCK}
VALUES: dict[str, dict[str, Any]] = {
    "financial": {"output_format": "parquet", "fraud_rate": 0.05, "transaction_count_max": 30},
    "healthcare": {"output_format": "parquet", "speciality": ["pediatrics", "general-practice"]},
}


def _domain(name: str) -> ScenarioDomain:
    return ScenarioDomain(load_catalog().get(name))


def _drawn(name: str) -> dict[str, int]:
    return {stream: draws.ROWS_DRAWN[f"{name}/{stream}"] for stream in ("plan", "offline-text")}


@pytest.mark.parametrize("name", ["financial", "healthcare"])
@pytest.mark.parametrize(("shards", "blocks"), [(2, 2.0), (7, 3.2)])
def test_k_shards_draw_each_record_once_and_their_parts_are_the_unsharded_rows(
    name: str, shards: int, blocks: float, tmp_path: Path
) -> None:
    """2 shards of 2 whole blocks: every record drawn once. 7 shards over 3.2 blocks: a shard starting inside
    a block draws that block's records before its start too, nothing else (not the ~(K+1)/2 runs of before)."""
    domain = _domain(name)
    count = int(BLOCKS[name] * blocks)
    cfg = domain.parse_config(VALUES[name] | {"count": count})
    draws.ROWS_DRAWN.clear()
    run_domain(domain, cfg, SEED, tmp_path / "plain", RunContext())
    assert _drawn(name) == {"plan": count, "offline-text": count}

    draws.ROWS_DRAWN.clear()
    summary = publish_sharded(domain, cfg, shards, tmp_path / "parts", seed=SEED)
    ranges = [shard_range(count, shards, i) for i in range(shards)]
    before_start = sum(start % BLOCKS[name] for start, _stop in ranges)
    assert _drawn(name) == {"plan": count + before_start, "offline-text": count + before_start}
    if shards == 2:
        assert before_start == 0
    else:  # each shard draws less than a block more than its range; a run of `stop` records per shard drew far more
        assert before_start > 0
        assert count + before_start < sum(stop for _start, stop in ranges)
        # Shard 4 alone (its range inside block 1 .. 2) has the bytes of shard 4 of the whole run.
        alone = run_shard(_domain(name), cfg, shards, 4, tmp_path / "alone", seed=SEED)
        for part in alone["files"].values():
            assert (tmp_path / "alone" / part["part"]).read_bytes() == (tmp_path / "parts" / part["part"]).read_bytes()
    scenario = domain.scenario
    for table, entry in summary["files"].items():
        parts = pl.concat([pl.read_parquet(tmp_path / "parts" / p) for p in entry["parts"]])
        assert parts.equals(pl.read_parquet(tmp_path / "plain" / entry["file"])), table
    assert summary["checks"]["claims_hold"]["passed"], summary["checks"]["claims_hold"]
    assert summary["checks"]["claims_hold"]["rows"][scenario.record_name] == count
    compacted = publish_sharded(domain, cfg, shards, tmp_path / "compact", seed=SEED, compacted=True)
    assert compacted == summary
    plain = {p.name: p.read_bytes() for p in (tmp_path / "plain").iterdir()}
    assert {p.name: p.read_bytes() for p in (tmp_path / "compact").iterdir() if p.is_file()} == plain


@pytest.mark.parametrize("name", ["financial", "healthcare"])
def test_a_record_and_its_entity_rows_come_from_its_block_alone(name: str) -> None:
    """Records of block 1 drawn alone equal those rows of a run; entity rows are numbered by their first record."""
    domain = _domain(name)
    block = BLOCKS[name]
    cfg = domain.parse_config(VALUES[name] | {"count": 2 * block + 10})
    scenario = domain.scenario
    entities = draw_entities(scenario, cfg, SEED)
    whole = generate_records(scenario, cfg, SEED, entities).records
    draws.ROWS_DRAWN.clear()
    records, entity_range = domain.shard_records(cfg, SEED, block + 5, 2 * block)
    assert _drawn(name) == {"plan": block, "offline-text": block}  # block 1 only
    assert records.equals(whole.slice(block + 5, block - 5))
    key, prefix, table = {
        "financial": ("account_id", "ACC-", "accounts"),
        "healthcare": ("patient_id", "SYN-P", "patients"),
    }[name]
    first = draws.id_numbers(entity_range.referenced[table][key], prefix) - 1
    assert first.min() == block and first.max() < 2 * block  # the referenced rows are block 1's
    written = draws.id_numbers(entity_range.written[table][key], prefix) - 1
    assert written.min() >= block + 5 and written.max() < 2 * block
    assert entity_range.written[table].equals(
        entities[table].filter(
            pl.Series(draws.id_numbers(entities[table][key], prefix) - 1).is_between(block + 5, 2 * block - 1)
        )
    )


def test_the_fraud_share_of_every_stratum_is_counted_in_a_shard_and_over_the_set(tmp_path: Path) -> None:
    domain = _domain("financial")
    scenario = domain.scenario
    count = 3 * FRAUD_STRATUM + 400
    cfg = domain.parse_config(VALUES["financial"] | {"count": count})
    entities = draw_entities(scenario, cfg, SEED)
    records = generate_records(scenario, cfg, SEED, entities).records
    assert records.head(3 * FRAUD_STRATUM)["is_fraud"].sum() == 3 * 50
    # One label flipped in stratum 1: the check counts it.
    flipped = records.with_columns(
        pl.when(pl.int_range(pl.len()) == FRAUD_STRATUM + 7).then(~pl.col("is_fraud")).otherwise(pl.col("is_fraud"))
    )
    problems = scenario.check_dataset(flipped, entities, cfg)
    assert any("1 strata of 1000 transactions do not hold exactly 50 frauds" in p for p in problems), problems

    # 7 shards cut strata: each reports the rows and frauds of the strata it holds part of; summed at the commit.
    summary = publish_sharded(domain, cfg, 7, tmp_path, seed=SEED)
    claims = summary["checks"]["claims_hold"]
    edge = claims["set_numbers"]["edge_strata"]
    assert {k: v["rows"] for k, v in edge.items() if v["rows"] == FRAUD_STRATUM} == {
        f"{k:09d}": FRAUD_STRATUM for k in range(3)
    }
    assert all(edge[f"{k:09d}"]["frauds"] == 50 for k in range(3))
    assert claims["passed"] and claims["set_problems"] == []
    # As if a shard had written one fraud too many in a stratum it shares with the next shard.
    shard_checks = [json.loads((tmp_path / manifest_path(7, i)).read_text())["checks"] for i in range(7)]
    cut = next(i for i, c in enumerate(shard_checks) if c["claims_hold"]["set_numbers"]["edge_strata"])
    stratum = next(iter(shard_checks[cut]["claims_hold"]["set_numbers"]["edge_strata"]))
    shard_checks[cut]["claims_hold"]["set_numbers"]["edge_strata"][stratum]["frauds"] += 1
    decided = domain.summarize_shard_checks(cfg, {"claims_hold": sum_check([c["claims_hold"] for c in shard_checks])})
    assert not decided["claims_hold"]["passed"]
    assert f"e.g. stratum {int(stratum)} with 51" in decided["claims_hold"]["set_problems"][0]


def test_entity_ids_written_by_shards_are_proven_disjoint_at_the_commit(tmp_path: Path) -> None:
    domain = _domain("healthcare")
    cfg = domain.parse_config(VALUES["healthcare"] | {"count": 300})
    summary = publish_sharded(domain, cfg, 3, tmp_path, seed=SEED)
    claims = summary["checks"]["claims_hold"]
    assert [sorted(r) for r in claims["unique_ranges"].values()] == [["encounter_id", "patients.patient_id"]] * 3
    ranges = claims["unique_ranges"]
    high = ranges["000000000100"]["patients.patient_id"][1]
    ranges["000000000200"]["patients.patient_id"][0] = high  # as if the third shard wrote a patient of the second
    decided = domain.summarize_shard_checks(cfg, {"claims_hold": claims | {"passed": True}})["claims_hold"]
    assert not decided["passed"]
    assert "patients.patient_id: the values of the shards at units 100 and 200 overlap" in decided["set_problems"][0]


def test_a_patient_outside_its_block_fails_the_claims() -> None:
    domain = _domain("healthcare")
    scenario = domain.scenario
    cfg = domain.parse_config(VALUES["healthcare"] | {"count": ENCOUNTER_BLOCK + 20})
    entities = draw_entities(scenario, cfg, SEED)
    records = generate_records(scenario, cfg, SEED, entities).records
    assert dataset_problems(scenario, cfg, records, entities) == []
    # The first patient of block 0 seen again in block 1 (same sex and birth date: only the block is wrong).
    moved = records.with_columns(
        pl.when(pl.int_range(pl.len()) == ENCOUNTER_BLOCK + 3)
        .then(pl.lit(records["patient_id"][0]))
        .otherwise(pl.col("patient_id"))
        .alias("patient_id"),
        pl.when(pl.int_range(pl.len()) == ENCOUNTER_BLOCK + 3)
        .then(pl.lit(records["patient_sex"][0]))
        .otherwise(pl.col("patient_sex"))
        .alias("patient_sex"),
    )
    problems = scenario.check_dataset(moved, entities, cfg)
    assert "1 encounters precede their patient's first one or lie outside its block" in problems
    with pytest.raises(ConstraintViolation, match="outside its block"):
        check_dataset(scenario, cfg, moved, entities)


def test_tech_support_tickets_of_block_1_are_drawn_from_block_1_alone() -> None:
    """Tech-support is block-drawn with blocks of core.rng.BLOCK_ROWS (its bytes unchanged: see the golden test)."""
    domain = _domain("tech-support")
    cfg = domain.parse_config({"count": BLOCK_ROWS + 60, "output_format": "csv"})
    whole = generate_records(domain.scenario, cfg, SEED, {}).records
    draws.ROWS_DRAWN.clear()
    records, entity_range = domain.shard_records(cfg, SEED, BLOCK_ROWS + 5, BLOCK_ROWS + 50)
    assert _drawn("tech-support") == {"plan": 50, "offline-text": 50}  # block 1 from its start, not 65,586 rows
    assert records.equals(whole.slice(BLOCK_ROWS + 5, 45))
    assert entity_range.referenced == entity_range.written == {}
