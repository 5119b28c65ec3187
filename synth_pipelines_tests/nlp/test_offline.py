"""The offline provider: extractive samples from documents, labelled templates from a bare query."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from synth_pipelines.core.domain import RunContext, run_domain
from synth_pipelines.domains.nlp.domain import NLPConfig, NLPDomain
from synth_pipelines.domains.nlp.formats import BUILTIN_FORMATS, check_sample
from synth_pipelines.domains.nlp.indexed import SampleSpaceError
from synth_pipelines.domains.nlp.sources import SourceError, load_passages
from synth_pipelines.llm.session import LLMSession
from synth_pipelines.llm.settings import LLMSettings


def run(cfg: NLPConfig, data_dir: Path, out: Path, seed: int = 7) -> tuple[pl.DataFrame, dict, dict]:
    with LLMSession(LLMSettings(), data_dir) as session:  # the offline provider, as the CLI opens it
        ctx = RunContext(data_dir=data_dir, llm=session)
        result = run_domain(NLPDomain(), cfg, seed, out, ctx)
    return result.tables["samples"], result.files, ctx.metadata


def test_documents_of_every_type_are_read(doc_folder: Path):
    files, passages = load_passages(doc_folder)
    assert [f.name for f in files] == ["a_lighthouses.md", "b_bread.txt", "c_rivers.html", "d_moon.pdf"]
    texts = " ".join(p.text for p in passages)
    assert "384400 kilometres" in texts  # the PDF
    assert "var x" not in texts and "# Lighthouses" not in texts  # scripts and markdown syntax dropped
    assert {p.doc for p in passages} == {0, 1, 2, 3}


@pytest.mark.parametrize("fmt", list(BUILTIN_FORMATS))
def test_offline_makes_exactly_n_unique_valid_extractive_samples(
    doc_folder: Path, data_dir: Path, tmp_path: Path, fmt: str
):
    cfg = NLPConfig(documents=str(doc_folder), format=fmt, samples=9, output_prefix="train")
    clean, files, meta = run(cfg, data_dir, tmp_path / "out")
    assert clean.height == 9
    assert clean.select(BUILTIN_FORMATS[fmt].field_names).is_unique().all()
    assert (clean["source"] == "offline").all() and (clean["method"] == "extractive").all()
    for record in clean.drop("source", "method").to_dicts():
        assert check_sample(BUILTIN_FORMATS[fmt], record) is None
    assert sorted(p.name for p in files.values()) == [f"train_{fmt}_offline.{e}" for e in ("csv", "jsonl", "parquet")]
    assert meta["llm_requests"] == 0 and meta["llm_offline_results"] > 0 and meta["shortfall"] == 0
    texts = " ".join(p.text for p in load_passages(doc_folder)[1])
    if fmt == "qa":  # contexts are real passages, answers are spans of them
        assert all(c in texts for c in clean["context"])
    if fmt == "pair-class":
        assert sorted(clean["label"].value_counts()["count"].to_list()) == [3, 3, 3]
        assert meta["class_balance_ok"] is True


def test_offline_is_deterministic_per_seed(doc_folder: Path, data_dir: Path, tmp_path: Path):
    cfg = NLPConfig(documents=str(doc_folder), format="triplet", samples=8)
    _, first, _ = run(cfg, data_dir, tmp_path / "one")
    _, second, _ = run(cfg, data_dir, tmp_path / "two")
    for ext in first:
        assert first[ext].read_bytes() == second[ext].read_bytes()
    _, other, _ = run(cfg, data_dir, tmp_path / "three", seed=8)
    assert other["jsonl"].read_bytes() != first["jsonl"].read_bytes()


def test_bare_query_gives_clearly_labelled_templates(data_dir: Path, tmp_path: Path):
    cfg = NLPConfig(query="urban beekeeping", format="qa", samples=25)
    clean, _, meta = run(cfg, data_dir, tmp_path / "out")
    assert clean.height == 25 and (clean["method"] == "template").all()
    assert all("template" in c for c in clean["context"])
    assert meta["query_refinement"] == "skipped (offline provider)"


def test_default_config_uses_the_bundled_sample_documents(data_dir: Path, tmp_path: Path):
    clean, _, meta = run(NLPConfig(), data_dir, tmp_path / "out")
    assert clean.height == 50 and meta["document_files"] == 3


def test_more_samples_than_the_documents_can_make_unique_are_refused(doc_folder: Path, data_dir: Path, tmp_path: Path):
    """Samples are unique by construction: a target beyond the slot space is refused up front, naming the file."""
    bread = doc_folder / "b_bread.txt"
    cfg = NLPConfig(documents=str(bread), format="pair", samples=50)
    with pytest.raises(SampleSpaceError, match=rf"--samples 50 is more than the \d+ unique pair samples .*{bread}"):
        run(cfg, data_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_valid_sample_at_all_is_an_error_not_an_empty_file(doc_folder: Path, data_dir: Path, tmp_path: Path):
    cfg = NLPConfig(documents=str(doc_folder / "d_moon.pdf"), format="pair", samples=5)
    with pytest.raises(SampleSpaceError, match="more than the 0 unique pair samples"):
        run(cfg, data_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("path", "message"), [("missing", "does not exist"), ("ignored.csv", "unsupported file type")])
def test_bad_document_paths_fail_clearly(doc_folder: Path, path: str, message: str):
    with pytest.raises(SourceError, match=message):
        load_passages(doc_folder / path)
