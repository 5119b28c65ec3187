"""Sharded sets on a real S3 endpoint (moto_server on loopback, the ``s3`` fixture of conftest.py), and the
commit step for shards made apart (``--shard i`` runs, then ``--commit``) on a folder and on S3.

The contract (docs/scale-out.md "Sharded sets on an object store"): ``<prefix>/_manifest.json`` is the
object store's manifest, written last; the shard set's own ``_manifest.json`` is one of the set's files;
``download_set`` gives back exactly the files of the local sharded run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from synth_pipelines.cli import main as synth_main
from synth_pipelines.core import objstore
from synth_pipelines.core.paths import PROJECT_ROOT
from synth_pipelines.core.shards import INCOMING, SET_FORMAT, SET_MANIFEST, incoming_key
from synth_pipelines.domains.cv_logs.domain import CvLogsDomain
from synth_pipelines_tests.dagster_helpers import files_under
from synth_pipelines_tests.s3_server import BUCKET

SAMPLE_DOCS = PROJECT_ROOT / "synth_pipelines" / "domains" / "nlp" / "sample_docs"
# Every command that shards, with small counts: the point is where the bytes go.
COMMANDS = {
    "cv-logs": ["cv-logs", "--count", "150"],
    "api-logs": ["api-logs", "--count", "150"],
    "agent-logs": ["agent-logs", "--count", "20"],
    "api-traces": ["api-traces", "--users", "15"],
    "nlp": ["nlp", "--documents", str(SAMPLE_DOCS), "--format", "qa", "--samples", "4", "--provider", "offline"],
    "scenario": [
        *("scenario", "--scenario", "financial", "--count", "5", "--provider", "offline"),
        *("--output-format", "jsonl"),
    ],
    # relational: the parts and the constraint report the commit writes once for the set
    "relational": ["relational", "--ddl", str(PROJECT_ROOT / "data" / "schemas" / "library.sql"), "--rows", "20"],
}
OUT_FLAGS = {"nlp": "--output-prefix", "scenario": "--out-dir"}


def synth(command: str, *extra: str, out: str | Path) -> int:
    """``synth COMMAND`` with the small counts; ``out`` goes to the command's output flag (nlp: a folder prefix)."""
    where = str(out) + "/" if command == "nlp" else str(out)
    return synth_main([*COMMANDS[command], *extra, OUT_FLAGS.get(command, "--out"), where])


def objects(fs: Any, prefix: str) -> set[str]:
    fs.invalidate_cache()
    return {key.removeprefix(f"{BUCKET}/{prefix}/") for key in fs.find(f"{BUCKET}/{prefix}")}


def listed(manifest: dict[str, Any]) -> set[str]:
    """What a published prefix may hold: the objects its manifest lists, and the manifest."""
    return {entry["key"] for entry in manifest["files"]} | {objstore.MANIFEST_NAME}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_sharded_cli_run_to_s3_reads_back_as_the_local_sharded_run(command: str, s3: Any, tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/sets/{command}"
    assert synth(command, "--seed", "5", "--shards", "2", out=tmp_path / "local") == 0
    assert synth(command, "--seed", "5", "--shards", "2", out=url) == 0

    manifest = objstore.download_set(url, tmp_path / "read")
    remote, local = files_under(tmp_path / "read"), files_under(tmp_path / "local")
    assert remote == local  # every part, every shard manifest and the set's summary, byte for byte
    # the two manifests: the store's (the reader's entry point) names the set's own as one of its files
    assert manifest["format"] == objstore.MANIFEST_FORMAT and manifest["shards"] == 2 and manifest["seed"] == 5
    summary = json.loads(remote[SET_MANIFEST])
    assert summary["format"] == SET_FORMAT and summary["shards"] == 2
    assert {e["path"] for e in manifest["files"] if e["key"].endswith(f"/{SET_MANIFEST}")} == {SET_MANIFEST}
    assert objects(s3, f"sets/{command}") == listed(manifest)  # no staging debris, no probe


def test_a_compacted_sharded_run_to_s3_is_the_unsharded_runs_set(s3: Any, tmp_path: Path) -> None:
    compacted, plain = f"s3://{BUCKET}/compacted", f"s3://{BUCKET}/plain"
    assert synth("cv-logs", "--seed", "5", "--shards", "3", "--compact", out=compacted) == 0
    assert synth("cv-logs", "--seed", "5", out=plain) == 0
    # the same files, seed, config and version: the same manifest, set id and keys
    assert objstore.read_manifest(compacted) == objstore.read_manifest(plain)
    assert "shards" not in (objstore.read_manifest(compacted) or {})


def test_a_rerun_with_another_k_and_seed_replaces_the_sharded_set(s3: Any, tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/traces"
    assert synth("api-traces", "--seed", "1", "--shards", "3", out=url) == 0
    first = objstore.read_manifest(url)
    assert synth("api-traces", "--seed", "2", "--shards", "2", out=url) == 0
    second = objstore.download_set(url, tmp_path / "read")

    assert synth("api-traces", "--seed", "2", "--shards", "2", out=tmp_path / "local") == 0
    assert files_under(tmp_path / "read") == files_under(tmp_path / "local")
    assert first is not None and second["set_id"] != first["set_id"]
    # nothing of the 3-shard set is left, listed or not
    assert objects(s3, "traces") == listed(second)
    assert not any("-of-00003" in key for key in objects(s3, "traces"))


def test_a_failure_mid_upload_leaves_the_previous_sharded_set_readable(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"s3://{BUCKET}/logs"
    assert synth("cv-logs", "--seed", "1", "--shards", "2", out=url) == 0
    before_manifest = objstore.download_set(url, tmp_path / "before")
    capsys.readouterr()

    uploads: list[str] = []
    real_put = s3.put_file

    def put_then_fail(lpath: str, rpath: str, *args: Any, **kwargs: Any) -> Any:
        uploads.append(rpath)
        if len(uploads) == 4:  # the connection drops after three parts of the new set
            raise ConnectionResetError("connection reset by peer")
        return real_put(lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(s3, "put_file", put_then_fail)  # fsspec hands every s3:// URL this cached instance
    assert synth("cv-logs", "--seed", "2", "--shards", "3", out=url) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"synth: error: output {url}: connection reset by peer"]
    monkeypatch.undo()

    after_manifest = objstore.download_set(url, tmp_path / "after")
    assert after_manifest == before_manifest
    assert files_under(tmp_path / "after") == files_under(tmp_path / "before")


def test_shards_made_by_separate_processes_on_s3_are_published_by_the_commit(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, args = f"s3://{BUCKET}/cluster", ["cv-logs", "--count", "150", "--seed", "7", "--shards", "3"]
    assert synth("cv-logs", "--seed", "1", "--shards", "2", out=url) == 0  # a set readers use meanwhile
    previous = objstore.read_manifest(url)
    # Three processes, as three machines would be: each makes its shard and uploads it, all at once.
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "synth_pipelines.cli", *args, "--shard", str(i), "--out", url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert f"{url}/{INCOMING}/" in out
    # Uploaded shards are not published: the prefix's manifest is still the previous set's.
    assert objstore.read_manifest(url) == previous
    incoming = {k for k in objects(s3, "cluster") if k.startswith(f"{INCOMING}/")}
    assert len([k for k in incoming if "/_shards/part-" in k]) == 3

    assert synth_main([*args, "--commit", "--out", url]) == 0
    committed = objstore.download_set(url, tmp_path / "read")
    assert synth_main([*args, "--out", str(tmp_path / "local")]) == 0
    assert files_under(tmp_path / "read") == files_under(tmp_path / "local")
    assert objects(s3, "cluster") == listed(committed)  # the previous set and the incoming area are gone
    capsys.readouterr()


# ---- the commit refuses, on a folder and on S3: one line, nothing published, the previous set intact ----

CASES = {
    "missing": ([0, 1], [], "_shards/part-00002-of-00003.json: missing: shard 2 of 3 was not written"),
    "tampered": ([0, 1, 2], [], "cv_logs_valid/part-00001-of-00003.jsonl: sha256 differs from"),
    "config": ([0, 1, 2], ["--count", "151"], "of another set: "),
    "seed": ([0, 1, 2], ["--seed", "8"], "seed is 7, the set needs 8"),
    "k": ([0, 1, 2], ["--shards", "4"], "shards is 3, the set needs 4"),
}


def _published(location: str | Path, tmp_path: Path, name: str) -> dict[str, bytes]:
    """What readers get at ``location``: the downloaded set, or the folder less the incoming area."""
    if isinstance(location, str):
        objstore.download_set(location, tmp_path / name)
        return files_under(tmp_path / name)
    return {n: b for n, b in files_under(location).items() if not n.startswith(f"{INCOMING}/")}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("where", ["folder", "s3"])
def test_the_commit_refuses_a_missing_altered_or_foreign_shard_and_publishes_nothing(
    where: str, case: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    location: str | Path = tmp_path / "set"
    if where == "s3":
        s3 = request.getfixturevalue("s3")
        location = f"s3://{BUCKET}/set"
    made, commit_flags, expected = CASES[case]
    base = ["cv-logs", "--count", "150", "--seed", "7", "--shards", "3"]
    assert synth_main([*base, "--seed", "1", "--out", str(location)]) == 0  # the set readers use
    before = _published(location, tmp_path, "before")
    for shard in made:
        assert synth_main([*base, "--shard", str(shard), "--out", str(location)]) == 0
    key = incoming_key(CvLogsDomain(), CvLogsDomain().parse_config({"count": 150}), 3, seed=7)
    if case == "tampered":
        part = f"{key}/cv_logs_valid/part-00001-of-00003.jsonl"
        if isinstance(location, str):
            s3.pipe(f"{BUCKET}/set/{part}", s3.cat(f"{BUCKET}/set/{part}").replace(b'"', b"'", 1))
        else:
            data = (location / part).read_bytes()
            (location / part).write_bytes(data.replace(b'"', b"'", 1))
    capsys.readouterr()

    assert synth_main([*base, *commit_flags, "--commit", "--out", str(location)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("synth: error: ") and expected in err[0], err
    assert f"{location}/{INCOMING}/" in err[0]  # it names where the shard is (or is not)
    assert _published(location, tmp_path, "after") == before
    # the shards stay where they were: the commit can run again once the cause is fixed
    if isinstance(location, str):
        assert any(k.startswith(f"{key}/_shards/") for k in objects(s3, "set"))
    else:
        assert (location / key / "_shards").is_dir()


def test_the_commit_on_a_folder_publishes_the_pooled_runs_bytes_and_removes_the_incoming_area(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["cv-logs", "--count", "150", "--seed", "7"]
    out = tmp_path / "set"
    assert synth_main([*base, "--shards", "4", "--out", str(out)]) == 0  # an earlier set with another K
    for shard in (2, 0, 1):  # any order, as machines finish
        assert synth_main([*base, "--shards", "3", "--shard", str(shard), "--out", str(out)]) == 0
    assert not (out / "cv_logs_valid" / "part-00000-of-00003.jsonl").exists()  # not published yet
    assert synth_main([*base, "--shards", "3", "--commit", "--out", str(out)]) == 0
    assert synth_main([*base, "--shards", "3", "--out", str(tmp_path / "pooled")]) == 0
    assert files_under(out) == files_under(tmp_path / "pooled")  # no 4-shard part, no incoming area left
    assert synth_main([*base, "--shards", "3", "--commit", "--compact", "--out", str(out)]) == 1  # consumed
    capsys.readouterr()


def test_the_dagster_shard_job_publishes_to_synth_exports_url(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from synth_pipelines.orchestration.resources import default_resources
    from synth_pipelines.orchestration.shard_job import SCRATCH, sharded_job

    seed, exports = 42, f"s3://{BUCKET}/exports"
    monkeypatch.setenv("SYNTH_EXPORTS_URL", exports)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [str(seed)])
        result = sharded_job("cv_logs").execute_in_process(
            run_config={"ops": {"cv_logs__shard_config": {"config": {"count": 150, "shards": 2}}}},
            instance=instance,
            partition_key=str(seed),
            resources=default_resources(str(tmp_path / "data")),  # exports from SYNTH_EXPORTS_URL
        )
        assert result.success
    url = f"{exports}/cv_logs/seed={seed}"
    manifest = objstore.download_set(url, tmp_path / "read")
    # the same set the CLI publishes for (seed, config, K): same files, same store manifest
    cli = f"s3://{BUCKET}/cli"
    assert synth_main(["cv-logs", "--count", "150", "--seed", str(seed), "--shards", "2", "--out", cli]) == 0
    assert manifest == objstore.read_manifest(cli)
    assert (
        synth_main(["cv-logs", "--count", "150", "--seed", str(seed), "--shards", "2", "--out", str(tmp_path / "l")])
        == 0
    )
    assert files_under(tmp_path / "read") == files_under(tmp_path / "l")
    assert objects(s3, "exports/cv_logs/seed=42") == listed(manifest)
    assert not (tmp_path / "data" / "exports").exists()
    assert not any((tmp_path / "data" / "storage" / SCRATCH / "cv_logs" / f"seed={seed}").iterdir())
    assert result.output_for_node("cv_logs__shard_commit")["shards"] == 2


def test_a_shard_upload_cut_short_leaves_no_shard_manifest_and_the_commit_compacts_the_rest(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, base = f"s3://{BUCKET}/apart", ["cv-logs", "--count", "150", "--seed", "7", "--shards", "2"]
    key = incoming_key(CvLogsDomain(), CvLogsDomain().parse_config({"count": 150}), 2, seed=7)
    uploads: list[str] = []
    real_put = s3.put_file

    def put_then_fail(lpath: str, rpath: str, *args: Any, **kwargs: Any) -> Any:
        uploads.append(rpath)
        if len(uploads) == 2:
            raise ConnectionResetError("connection reset by peer")
        return real_put(lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(s3, "put_file", put_then_fail)
    assert synth_main([*base, "--shard", "1", "--out", url]) == 1
    monkeypatch.undo()
    # a part arrived, the shard's manifest (uploaded last) did not: the shard does not count
    assert [k for k in objects(s3, "apart") if k.startswith(f"{key}/_shards/")] == []
    assert synth_main([*base, "--commit", "--out", url]) == 1
    assert "part-00000-of-00002.json: missing: shard 0 of 2" in capsys.readouterr().err
    assert objstore.read_manifest(url) is None  # nothing published

    for shard in (0, 1):  # run again, whole this time
        assert synth_main([*base, "--shard", str(shard), "--out", url]) == 0
    assert synth_main([*base, "--commit", "--compact", "--out", url]) == 0
    plain = f"s3://{BUCKET}/plain"
    assert synth_main(["cv-logs", "--count", "150", "--seed", "7", "--out", plain]) == 0
    assert objstore.read_manifest(url) == objstore.read_manifest(plain)  # the unsharded run's set
    assert objects(s3, "apart") == listed(objstore.read_manifest(url) or {"files": []})
    capsys.readouterr()
