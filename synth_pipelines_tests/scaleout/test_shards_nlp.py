"""NLP shards by sample index: every shard draws the whole set offline, checks it, writes its rows;
parts in order are the unsharded files and ``--compact`` is byte-identical."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from synth_pipelines.cli import main
from synth_pipelines.core.domain import RunContext, run_domain
from synth_pipelines.core.shards import ShardError, manifest_path, publish_sharded, run_shard
from synth_pipelines.domains.nlp.domain import NLPDomain, schema_for

SEED = 5
# pair-class: balanced over the whole set (what makes samples depend on each other); qa: extractive.
CASES: list[dict[str, Any]] = [
    {"format": "pair-class", "samples": 30},
    {"format": "qa", "samples": 24, "output_formats": ["jsonl", "csv"]},
]
IDS = [case["format"] for case in CASES]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("unsharded")
    domain = NLPDomain()
    for values in CASES:
        ctx = RunContext(data_dir=root / "data")
        run_domain(domain, domain.parse_config(values), SEED, root / values["format"], ctx)
    return {values["format"]: root / values["format"] for values in CASES}


@pytest.mark.parametrize("shards", [1, 2, 7])
@pytest.mark.parametrize("values", CASES, ids=IDS)
def test_parts_in_order_are_the_unsharded_rows_and_compact_is_byte_identical(
    values: dict[str, Any], shards: int, references: dict[str, Path], tmp_path: Path
) -> None:
    domain = NLPDomain()
    cfg = domain.parse_config(values)
    reference = references[values["format"]]
    summary = publish_sharded(domain, cfg, shards, tmp_path / "parts", seed=SEED)
    assert sorted(summary["files"]) == sorted(cfg.output_formats)
    columns = domain.columns(cfg)
    for ext, entry in summary["files"].items():
        parts = [tmp_path / "parts" / p for p in entry["parts"]]
        assert len(parts) == shards
        whole = reference / entry["file"]
        if ext == "parquet":
            read = pl.concat([pl.read_parquet(p) for p in parts])
            assert read.equals(pl.read_parquet(whole))
        else:
            texts = [p.read_bytes() for p in parts]
            if ext == "csv":  # the header once, from the first part with rows
                header = whole.read_bytes().split(b"\n", 1)[0] + b"\n"
                texts = [header] + [t.removeprefix(header) for t in texts]
            assert b"".join(texts) == whole.read_bytes(), ext
        if ext == "jsonl":  # the claims over all parts: schema, unique samples, pair-class labels
            read = pl.concat([pl.read_ndjson(p, schema=columns) for p in parts if p.stat().st_size])
            assert read.height == cfg.samples == entry["rows"]
            schema_for(list(columns), columns).validate(read)
    assert summary["checks"]["no_invalid_rows"] == {"passed": True, "rows": cfg.samples}
    publish_sharded(domain, cfg, shards, tmp_path / "compact", seed=SEED, compacted=True)
    assert _files(tmp_path / "compact") == _files(reference)


def test_a_part_depends_only_on_seed_config_k_and_i(tmp_path: Path) -> None:
    domain = NLPDomain()
    cfg = domain.parse_config(CASES[0])
    pooled = publish_sharded(domain, cfg, 7, tmp_path / "all", seed=SEED)
    alone = run_shard(NLPDomain(), cfg, 7, 4, tmp_path / "alone", seed=SEED)
    for ext, part in alone["files"].items():
        assert (tmp_path / "alone" / part["part"]).read_bytes() == (tmp_path / "all" / part["part"]).read_bytes()
        assert part["part"] == pooled["files"][ext]["parts"][4]
    assert alone == json.loads((tmp_path / "all" / manifest_path(7, 4)).read_text())


def test_incremental_save_is_refused_with_shards(tmp_path: Path) -> None:
    domain = NLPDomain()
    cfg = domain.parse_config({"format": "qa", "samples": 5, "incremental_save": True})
    with pytest.raises(ShardError, match="--incremental-save cannot be combined with --shards"):
        run_shard(domain, cfg, 2, 0, tmp_path, seed=SEED)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_cli_shards_compact_equals_the_plain_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")  # a sharded run stays offline regardless
    args = ["nlp", "--format", "pair-score", "--samples", "12", "--seed", str(SEED), "--documents"]
    args.append(str(Path(__file__).parents[2] / "synth_pipelines" / "domains" / "nlp" / "sample_docs"))
    assert main([*args, "--shards", "3", "--compact", "--output-prefix", f"{tmp_path / 'compact'}/"]) == 0
    assert main([*args, "--provider", "offline", "--output-prefix", f"{tmp_path / 'plain'}/"]) == 0
    assert _files(tmp_path / "compact") == _files(tmp_path / "plain")
    code = main([*args, "--shards", "2", "--provider", "openai", "--output-prefix", f"{tmp_path / 'llm'}/"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and "--shards runs offline only" in err[-1]
    assert not (tmp_path / "llm").exists()
