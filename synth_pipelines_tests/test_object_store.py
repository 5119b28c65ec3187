"""Exports and intermediates on a real S3-compatible server (moto_server on loopback, started here).

The object-store contract (core/objstore.py, docs/scale-out.md "Object storage"): files first, then
``_manifest.json``, then the previous set's leftovers go; a reader sees the old set or the new one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import s3fs

from synth_pipelines.cli import main as synth_main
from synth_pipelines.core import objstore
from synth_pipelines.core.paths import PROJECT_ROOT, SCHEMAS_DIR
from synth_pipelines.orchestration.resources import default_resources
from synth_pipelines_tests.dagster_helpers import files_under, materialize_group
from synth_pipelines_tests.golden.cases import UNHASHED
from synth_pipelines_tests.s3_server import BUCKET

SAMPLE_DOCS = PROJECT_ROOT / "synth_pipelines" / "domains" / "nlp" / "sample_docs"
# Small runs: each case is a real CLI run; the point is where the bytes go, not how many there are.
COMMANDS = {
    "cv-logs": ["cv-logs", "--count", "150"],
    "api-traces": ["api-traces", "--users", "15"],
    "relational": ["relational", "--ddl", str(SCHEMAS_DIR / "library.sql"), "--rows", "20"],
    "nlp": ["nlp", "--documents", str(SAMPLE_DOCS), "--format", "qa", "--samples", "4", "--provider", "offline"],
    "scenario": ["scenario", "--scenario", "financial", "--count", "5", "--provider", "offline"],
}
# Each command's output flag (the folder, or for nlp a prefix; a trailing slash means "inside this folder").
OUT_FLAGS = {"nlp": "--output-prefix", "scenario": "--out-dir"}


def objects(fs: s3fs.S3FileSystem, prefix: str) -> set[str]:
    fs.invalidate_cache()
    return {key.removeprefix(f"{BUCKET}/{prefix}/") for key in fs.find(f"{BUCKET}/{prefix}")}


def published(url: str, tmp_path: Path, name: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """What a reader gets: the manifest and the files it lists (sizes and sha256 checked)."""
    target = tmp_path / name
    manifest = objstore.download_set(url, target)
    return manifest, files_under(target)


def synth(command: str, *extra: str, out: str | None = None) -> int:
    """``synth COMMAND`` with the test's small counts; ``out`` goes to the command's output flag."""
    where = [OUT_FLAGS.get(command, "--out"), out + "/" if command == "nlp" else out] if out is not None else []
    return synth_main([*COMMANDS[command], *extra, *where])


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_cli_run_writes_the_same_bytes_to_s3_as_to_a_local_folder(
    command: str, s3: s3fs.S3FileSystem, tmp_path: Path
) -> None:
    url = f"s3://{BUCKET}/runs/{command}"
    assert synth(command, "--seed", "5", out=str(tmp_path / "local")) == 0
    assert synth(command, "--seed", "5", out=url) == 0

    manifest, remote = published(url, tmp_path, "read")
    local = files_under(tmp_path / "local")
    assert set(remote) == set(local)
    reproducible = set(local) - set(UNHASHED)  # DuckDB's file layout is not byte-stable (docs/relational.md)
    assert {n: remote[n] for n in reproducible} == {n: local[n] for n in reproducible}
    assert manifest["seed"] == 5 and manifest["config"] and manifest["generator_version"]
    for entry in manifest["files"]:
        assert entry["size"] == len(remote[entry["path"]])
    # exactly the listed objects and the manifest: no staging debris, no probe left behind
    assert objects(s3, f"runs/{command}") == {e["key"] for e in manifest["files"]} | {objstore.MANIFEST_NAME}


def test_a_rerun_over_a_prefix_replaces_the_set_and_removes_the_old_objects(
    s3: s3fs.S3FileSystem, tmp_path: Path
) -> None:
    url = f"s3://{BUCKET}/traces"
    assert synth("api-traces", "--seed", "1", "--out", url) == 0
    first, _ = published(url, tmp_path, "first")
    assert synth("api-traces", "--seed", "2", "--out", url) == 0
    second, remote = published(url, tmp_path, "second")

    assert synth("api-traces", "--seed", "2", "--out", str(tmp_path / "local2")) == 0
    assert remote == files_under(tmp_path / "local2")
    assert second["set_id"] != first["set_id"] and second["seed"] == 2
    assert objects(s3, "traces") == {e["key"] for e in second["files"]} | {objstore.MANIFEST_NAME}

    # the same seed and config again: the same set id, same keys, same bytes; nothing else remains
    assert synth("api-traces", "--seed", "2", "--out", url) == 0
    again, _ = published(url, tmp_path, "again")
    assert again == second
    assert objects(s3, "traces") == {e["key"] for e in second["files"]} | {objstore.MANIFEST_NAME}


def test_a_failure_before_the_manifest_leaves_the_previous_set_whole(
    s3: s3fs.S3FileSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"s3://{BUCKET}/traces"
    assert synth("api-traces", "--seed", "1", "--out", url) == 0
    before_manifest, before = published(url, tmp_path, "before")
    capsys.readouterr()

    uploads: list[str] = []
    real_put = s3.put_file

    def put_then_fail(lpath: str, rpath: str, *args: Any, **kwargs: Any) -> Any:
        uploads.append(rpath)
        if len(uploads) == 2:  # the connection drops after the first file of the new set
            raise ConnectionResetError("connection reset by peer")
        return real_put(lpath, rpath, *args, **kwargs)

    # fsspec hands every s3:// URL with the same settings this one (cached) filesystem instance
    monkeypatch.setattr(s3, "put_file", put_then_fail)
    assert synth("api-traces", "--seed", "2", "--out", url) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"synth: error: output {url}: connection reset by peer"]

    after_manifest, after = published(url, tmp_path, "after")
    assert after_manifest == before_manifest and after == before  # readers still get seed 1, whole
    # the new set's first object landed under its own set id, where no manifest points
    assert uploads[0].split("/_sets/")[1].split("/")[0] != before_manifest["set_id"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://no-such-bucket-here/x", "output s3://no-such-bucket-here/x: not found"),
        ("nosuch://bucket/x", "output nosuch://bucket/x: unknown storage protocol 'nosuch'"),
        ("s3://", "output s3://: give a bucket (and a prefix)"),
        ("gs://bucket/x", "output gs://bucket/x: gs:// needs gcsfs installed"),
    ],
)
def test_a_bad_url_is_one_line_before_anything_is_drawn(
    url: str, expected: str, s3: s3fs.S3FileSystem, capsys: pytest.CaptureFixture[str]
) -> None:
    assert synth("cv-logs", "--out", url) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"synth: error: {expected}"), err


def test_credentials_the_server_refuses_are_one_line(
    s3: s3fs.S3FileSystem, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bucket policy denying everyone PutObject: the write probe is refused like bad credentials would be.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
        ],
    }
    s3.call_s3("put_bucket_policy", Bucket=BUCKET, Policy=json.dumps(policy))
    assert synth("cv-logs", "--out", f"s3://{BUCKET}/denied") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "access denied; check the credentials" in err[0], err
    assert "testing-secret" not in err[0]
    assert objects(s3, "denied") == set()


def test_dagster_materializes_with_intermediates_and_exports_on_s3(
    s3: s3fs.S3FileSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed, run_config = 42, {"ops": {"api_traces__config": {"config": {"users": 15}}}}
    storage, exports = f"s3://{BUCKET}/storage", f"s3://{BUCKET}/exports"
    resources = default_resources(str(tmp_path / "data"), exports_url=exports, storage_url=storage)
    with dg.instance_for_test() as instance:
        result = materialize_group("api_traces", seed, tmp_path / "data", instance, run_config, resources=resources)
        normalized = result.asset_value(dg.AssetKey(["api_traces", "normalized"]))
    assert result.success

    # every step went through the bucket (nothing in the local storage folder but the writer locks)
    for step in ("config", "normalized"):
        assert objstore.read_manifest(f"{storage}/api_traces/{step}/seed={seed}") is not None
    assert [p.name for p in (tmp_path / "data" / "storage").iterdir()] == [".locks"]
    assert not (tmp_path / "data" / "exports").exists()

    _, remote = published(f"{exports}/api_traces/seed={seed}", tmp_path, "read")
    assert synth_main(["api-traces", "--users", "15", "--seed", str(seed), "--out", str(tmp_path / "cli")]) == 0
    assert remote == files_under(tmp_path / "cli")
    assert normalized["calls"].height > 0
    meta = result.asset_materializations_for_node("api_traces__exported")[0].metadata
    assert meta["catalog"].value == "not updated (intermediates are on an object store)"
    assert f"{exports}/api_traces/seed={seed}/" in meta["files"].value


def test_a_manifest_naming_keys_outside_the_sets_never_makes_a_rerun_delete_them(tmp_path: Path) -> None:
    # fsspec's in-memory filesystem: the same publish code, no server needed for what is only key logic
    url = "memory://synth-objstore-test/keys"
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "a.txt").write_text("new")
    fs, root = objstore._filesystem(url, "output")
    fs.pipe_file(f"{root}/user/keep.txt", b"not ours")
    foreign = {
        "format": objstore.MANIFEST_FORMAT,
        "files": [{"path": p, "key": p, "size": 0, "sha256": ""} for p in ("user/keep.txt", "_sets/../user/keep.txt")],
    }
    fs.pipe_file(f"{root}/{objstore.MANIFEST_NAME}", json.dumps(foreign).encode())
    try:
        manifest = objstore.publish_set(staged, url, objstore.SetInfo("d", "1", 1, {}))
        assert fs.cat_file(f"{root}/user/keep.txt") == b"not ours"
        assert objstore.read_manifest(url) == manifest
        assert objstore.read_set_file(url, manifest, "a.txt") == b"new"
    finally:
        fs.rm(root, recursive=True)
