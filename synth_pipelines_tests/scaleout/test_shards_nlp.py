"""NLP shards by sample index: offline, sample ``i`` is a function of (seed, config, i), so a shard builds only
its own samples; parts in order are the unsharded files, ``--compact`` is byte-identical, and the claims (unique
samples, pair-class shares, answers in their contexts) are counted over all parts at the commit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from synth_pipelines.cli import main
from synth_pipelines.core.domain import RunContext, run_domain
from synth_pipelines.core.rng import BLOCK_ROWS
from synth_pipelines.core.shards import ShardError, manifest_path, publish_sharded, run_shard, shard_range
from synth_pipelines.domains.nlp.domain import NLPDomain, schema_for
from synth_pipelines.domains.nlp.formats import normalize_text
from synth_pipelines.domains.nlp.indexed import SampleSpaceError, pair_class_labels

SEED = 5
SAMPLE_DOCS = Path(__file__).parents[2] / "synth_pipelines" / "domains" / "nlp" / "sample_docs"
# pair-class: labels from the per-triple schedule; qa: extractive spans; triplet: the widest slot space;
# a bare query: templates.
CASES: list[dict[str, Any]] = [
    {"format": "pair-class", "samples": 30},
    {"format": "qa", "samples": 24, "output_formats": ["jsonl", "csv"]},
    {"format": "triplet", "samples": 20, "output_formats": ["parquet"]},
    {"format": "pair", "samples": 16, "query": "urban beekeeping", "output_formats": ["csv", "parquet"]},
]
IDS = [f"{case['format']}-{'query' if 'query' in case else 'docs'}" for case in CASES]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _unsharded(values: dict[str, Any], root: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    domain = NLPDomain()
    ctx = RunContext(data_dir=root / "data")
    run = run_domain(domain, domain.parse_config(values), SEED, root / "out", ctx)
    return run.tables["samples"], ctx.metadata


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for values, name in zip(CASES, IDS, strict=True):
        root = tmp_path_factory.mktemp(name)
        _unsharded(values, root)
        out[name] = root / "out"
    return out


def _read_parts(parts: list[Path], ext: str, columns: dict[str, Any]) -> pl.DataFrame:
    nonempty = [p for p in parts if p.stat().st_size]
    if ext == "parquet":
        return pl.concat([pl.read_parquet(p) for p in nonempty])
    if ext == "jsonl":
        return pl.concat([pl.read_ndjson(p, schema=columns) for p in nonempty])
    return pl.concat([pl.read_csv(p, schema=columns) for p in nonempty])


@pytest.mark.parametrize("shards", [1, 2, 7])
@pytest.mark.parametrize("values", CASES, ids=IDS)
def test_parts_in_order_are_the_unsharded_rows_and_compact_is_byte_identical(
    values: dict[str, Any], shards: int, references: dict[str, Path], tmp_path: Path
) -> None:
    domain = NLPDomain()
    cfg = domain.parse_config(values)
    reference = references[IDS[CASES.index(values)]]
    summary = publish_sharded(domain, cfg, shards, tmp_path / "parts", seed=SEED)
    assert sorted(summary["files"]) == sorted(cfg.output_formats)
    columns = domain.columns(cfg)
    fields = [c for c in columns if c not in ("source", "method")]
    for ext, entry in summary["files"].items():
        parts = [tmp_path / "parts" / p for p in entry["parts"]]
        assert len(parts) == shards
        whole = reference / entry["file"]
        if ext == "parquet":
            assert _read_parts(parts, ext, columns).equals(pl.read_parquet(whole))
        else:
            texts = [p.read_bytes() for p in parts]
            if ext == "csv":  # the header once, from the first part with rows
                header = whole.read_bytes().split(b"\n", 1)[0] + b"\n"
                texts = [header] + [t.removeprefix(header) for t in texts]
            assert b"".join(texts) == whole.read_bytes(), ext
        # The claims, counted over all parts read back: schema (answers in contexts, labels), unique samples.
        read = _read_parts(parts, ext, columns)
        assert read.height == cfg.samples == entry["rows"]
        schema_for(list(columns), columns).validate(read)
        keys = read.select(pl.concat_str([pl.col(f).cast(pl.String) for f in fields], separator="\x1f"))
        assert len({normalize_text(k) for k in keys.to_series()}) == cfg.samples
        if "label" in read.columns:  # exact shares: floor or ceil of N/3 per class
            assert sorted(read["label"].value_counts()["count"].to_list()) == [10, 10, 10]
    schema = summary["checks"]["no_invalid_rows"]
    assert schema["passed"] and schema["rows"] == cfg.samples
    assert schema["unique_over_parts"] == {"rows": cfg.samples, "distinct": cfg.samples}
    publish_sharded(domain, cfg, shards, tmp_path / "compact", seed=SEED, compacted=True)
    assert _files(tmp_path / "compact") == _files(reference)


@pytest.mark.parametrize("values", CASES[:2], ids=IDS[:2])
def test_a_part_depends_only_on_seed_config_k_and_i(values: dict[str, Any], tmp_path: Path) -> None:
    domain = NLPDomain()
    cfg = domain.parse_config(values)
    pooled = publish_sharded(domain, cfg, 7, tmp_path / "all", seed=SEED)
    alone = run_shard(NLPDomain(), cfg, 7, 4, tmp_path / "alone", seed=SEED)
    for ext, part in alone["files"].items():
        assert (tmp_path / "alone" / part["part"]).read_bytes() == (tmp_path / "all" / part["part"]).read_bytes()
        assert part["part"] == pooled["files"][ext]["parts"][4]
    assert alone == json.loads((tmp_path / "all" / manifest_path(7, 4)).read_text())


@pytest.mark.parametrize(
    "values",
    [
        {"format": "qa"},
        {"format": "pair"},
        {"format": "triplet"},
        {"format": "pair-class"},
        {"format": "pair-score"},
        {"format": "triplet", "query": "kitchen safety"},
        {"format": "pair-class", "query": "kitchen safety"},
        {"custom_format": "CUSTOM"},
        {"custom_format": "CUSTOM", "query": "a fantasy novel"},
    ],
    ids=lambda v: f"{v.get('format', 'custom')}-{'query' if 'query' in v else 'docs'}",
)
def test_samples_are_prefix_stable(values: dict[str, Any], tmp_path: Path) -> None:
    """Samples 0..n of a run of N are the run of n, for every task type (so a shard needs no sample before it)."""
    if values.get("custom_format") == "CUSTOM":
        spec = {
            "fields": [
                {"name": "message", "type": "string", "description": "what was said"},
                {"name": "reply", "type": "string", "description": "the answer"},
                {"name": "urgency", "type": "integer", "description": "1 to 5"},
                {"name": "score", "type": "float", "description": "a score"},
                {"name": "solved", "type": "boolean", "description": "solved or not"},
            ]
        }
        (tmp_path / "support.json").write_text(json.dumps(spec))
        values = values | {"custom_format": str(tmp_path / "support.json")}
    long, meta = _unsharded(values | {"samples": 45}, tmp_path / "long")
    short, _ = _unsharded(values | {"samples": 17}, tmp_path / "short")
    assert short.equals(long.head(17))
    assert meta["samples_built"] == 45 and meta["duplicates_dropped"] == 0
    assert long.drop("source", "method").is_unique().all()


def test_a_shard_builds_only_its_own_samples(tmp_path: Path) -> None:
    """Counted, not timed: each shard's manifest reports how many samples it built, and that is its range."""
    domain = NLPDomain()
    cfg = domain.parse_config({"format": "pair-score", "samples": 300, "output_formats": ["parquet"]})
    summary = publish_sharded(domain, cfg, 7, tmp_path / "parts", seed=SEED)
    for shard in range(7):
        manifest = json.loads((tmp_path / "parts" / manifest_path(7, shard)).read_text())
        start, stop = shard_range(300, 7, shard)
        assert manifest["units"] == [start, stop]
        assert manifest["checks"]["offline_draw"]["samples_built"] == stop - start
    assert summary["checks"]["offline_draw"]["samples_built"] == 300  # summed: each sample built once
    # A late shard of a much larger set builds as few samples as its range holds (a bare query: 10^6 slots).
    big = domain.parse_config({"format": "qa", "query": "tides", "samples": 900_000, "output_formats": ["jsonl"]})
    manifest = run_shard(domain, big, 3000, 2999, tmp_path / "late", seed=SEED)
    assert manifest["units"] == [899_700, 900_000]
    assert manifest["checks"]["offline_draw"]["samples_built"] == 300


def test_pair_class_labels_are_exact_per_triple_and_per_block() -> None:
    labels = pair_class_labels(SEED, 0, 2 * BLOCK_ROWS + 5)
    counts = np.stack([np.cumsum(labels == label) for label in (0, 1, 2)])
    n = np.arange(1, labels.size + 1)
    assert ((counts == n // 3) | (counts == -(-n // 3))).all()  # every prefix: floor or ceil of n/3 per class
    for block in range(2):
        one = labels[block * BLOCK_ROWS : (block + 1) * BLOCK_ROWS]
        assert sorted(np.bincount(one).tolist()) == [21845, 21845, 21846]
    assert (pair_class_labels(SEED, BLOCK_ROWS - 4, BLOCK_ROWS + 5) == labels[BLOCK_ROWS - 4 : BLOCK_ROWS + 5]).all()
    assert not (pair_class_labels(SEED + 1, 0, 300) == labels[:300]).all()  # the order is drawn, per seed


@pytest.mark.parametrize("ext", ["parquet", "jsonl", "csv"])
def test_the_commit_counts_duplicates_across_parts(ext: str, tmp_path: Path) -> None:
    """The whole-set uniqueness check reads the parts back: two parts holding one sample fail it."""
    domain = NLPDomain()
    cfg = domain.parse_config({"format": "qa", "samples": 6, "output_formats": [ext]})
    rows, _ = _unsharded({"format": "qa", "samples": 6}, tmp_path / "ref")
    first, second = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
    write = {"parquet": pl.DataFrame.write_parquet, "jsonl": pl.DataFrame.write_ndjson, "csv": pl.DataFrame.write_csv}
    write[ext](rows.head(4), first)
    write[ext](rows.slice(3, 3).with_columns(pl.col("answer").str.to_uppercase()), second)  # row 3 again
    checks = {"no_invalid_rows": {"passed": True, "rows": 7}}
    out = domain.check_set_parts(cfg, {ext: [first, second]}, checks)["no_invalid_rows"]
    assert out["passed"] is False and out["unique_over_parts"] == {"rows": 7, "distinct": 6}
    assert "1 duplicate samples across parts" in out["reason"]
    clean = domain.check_set_parts(cfg, {ext: [first]}, {"no_invalid_rows": {"passed": True, "rows": 4}})
    assert clean["no_invalid_rows"]["passed"] is True


def test_pair_class_shares_are_decided_over_the_set_from_summed_counts() -> None:
    domain = NLPDomain()
    cfg = domain.parse_config({"format": "pair-class", "samples": 30})
    good = {
        "no_invalid_rows": {"passed": True, "rows": 30},
        "class_counts": {"passed": True, "0": 10, "1": 10, "2": 10},
    }
    assert domain.summarize_shard_checks(cfg, good)["no_invalid_rows"]["passed"] is True
    bad = {"no_invalid_rows": {"passed": True, "rows": 30}, "class_counts": {"passed": True, "0": 14, "1": 8, "2": 8}}
    decided = domain.summarize_shard_checks(cfg, bad)
    assert decided["no_invalid_rows"]["passed"] is False and decided["class_counts"]["passed"] is False


def test_more_samples_than_the_slot_space_holds_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    domain = NLPDomain()
    cfg = domain.parse_config({"format": "pair", "samples": 101})  # the sample documents hold 100 pairs
    with pytest.raises(SampleSpaceError, match="more than the 100 unique pair samples"):
        run_shard(domain, cfg, 2, 1, tmp_path / "shard", seed=SEED)
    assert not any(p.is_file() for p in (tmp_path / "shard").rglob("*"))
    args = ["nlp", "--format", "pair-class", "--samples", "151", "--documents", str(SAMPLE_DOCS)]
    for extra in ([], ["--shards", "3"]):
        assert main([*args, *extra, "--output-prefix", f"{tmp_path / 'cli'}/"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "needs 51 unique pair-class samples of each label" in err[0], err
        assert not (tmp_path / "cli").exists()
    assert main([*args[:4], "150", *args[5:], "--output-prefix", f"{tmp_path / 'fits'}/"]) == 0


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
    args = ["nlp", "--format", "pair-score", "--samples", "12", "--seed", str(SEED), "--documents", str(SAMPLE_DOCS)]
    assert main([*args, "--shards", "3", "--compact", "--output-prefix", f"{tmp_path / 'compact'}/"]) == 0
    assert main([*args, "--provider", "offline", "--output-prefix", f"{tmp_path / 'plain'}/"]) == 0
    assert _files(tmp_path / "compact") == _files(tmp_path / "plain")
    code = main([*args, "--shards", "2", "--provider", "openai", "--output-prefix", f"{tmp_path / 'llm'}/"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and "--shards runs offline only" in err[-1]
    assert not (tmp_path / "llm").exists()


def test_the_slot_spaces_of_the_sample_documents_are_the_documented_ones() -> None:
    """docs/nlp.md states these capacities; a target one past them is refused, one at them is made."""
    from synth_pipelines.domains.nlp.domain import sample_builder
    from synth_pipelines.domains.nlp.formats import BUILTIN_FORMATS
    from synth_pipelines.domains.nlp.sources import load_passages

    passages = load_passages(SAMPLE_DOCS)[1]
    domain = NLPDomain()
    documented = {"qa": 94, "pair": 100, "pair-class": 50, "pair-score": 1144}
    for name, capacity in documented.items():
        cfg = domain.parse_config({"format": name})
        builder = sample_builder(cfg, BUILTIN_FORMATS[name], SEED, passages)
        assert builder.capacity() == capacity, name
        target = capacity * 3 if name == "pair-class" else capacity
        builder.check_target(target, "sample_docs")
        with pytest.raises(SampleSpaceError):
            builder.check_target(target + 1, "sample_docs")
