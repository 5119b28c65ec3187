"""Shards: one dataset made as K parts, each alone (any process, any machine), published as one set.

A domain that can be sharded has *units* (records, runs, sessions) whose values depend only on the
seed and their number (prefix-stable records, docs/architecture.md "Determinism"). Shard ``i`` of
``K`` is the units ``total * i // K .. total * (i + 1) // K``; ``Domain.write_units`` writes the
files the unsharded run writes, for those units only, and ``run_shard`` renames each to its part
path (``raw/x.jsonl`` -> ``raw/x/part-00003-of-00016.jsonl``) and writes the shard's manifest
(``_shards/part-00003-of-00016.json``: seed, config, K, i, units, rows and sha256 of each part, the
checks) last. So a part's bytes depend only on (seed, config, K, i), never on the worker, the
machine or how many ran at once; the parts read in order are the unsharded rows.

``run_sharded`` runs the K shards on a process pool into the staging folder of
``core/atomic.output_set``; ``commit_shards`` then proves the set whole (every shard present, same
seed, config and K, ranges tiling the units, every part's size and sha256 as its manifest says,
every check passed) and writes ``_manifest.json``; the whole set is published at once or not at
all. ``compact`` rewrites the parts as the single files of the unsharded run, byte for byte.

An object-store URL as the output (``s3://bucket/prefix``): the set is made and committed in a local
staging folder the same way, then published by ``core/objstore.publish_set`` (files, then the store's
``_manifest.json`` last; the set's own ``_manifest.json`` is one of its files). Shards made apart
(``--shard i`` on several machines) wait in ``<out>/_incoming/<key>/`` until ``commit_incoming``
(``--commit``) proves and publishes them (see "shards made apart" below).

``run_shard`` is a plain function of its arguments: a Dagster op (one per shard, a static graph:
``orchestration/shard_job.py``) calls it the way the process pool does (docs/scale-out.md).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow.parquet as pq

from synth_pipelines.core.atomic import atomic_path, file_sha256, output_set
from synth_pipelines.core.cli_support import CliError
from synth_pipelines.core.domain import Domain, RunContext
from synth_pipelines.core.objstore import (
    SetInfo,
    filesystem,
    redact,
    remote_output_set,
    shown,
    translated,
    upload_files,
)

MANIFEST_FORMAT = "synth-pipelines/shard-manifest/1"
SET_FORMAT = "synth-pipelines/shard-set/1"
SHARD_MANIFESTS = "_shards"
SET_MANIFEST = "_manifest.json"
MAX_SHARDS = 99_999  # five digits in a part name

log = logging.getLogger(__name__)


class ShardError(ValueError):
    """A shard request or a shard set that cannot be right (one line, names what is wrong)."""


def shard_range(total: int, shards: int, shard: int) -> tuple[int, int]:
    """Units ``start .. stop`` of shard ``shard`` of ``shards`` (sizes differ by at most one)."""
    check_shard_args(shards, shard)
    return total * shard // shards, total * (shard + 1) // shards


def check_shard_args(shards: int, shard: int | None) -> None:
    if not 1 <= shards <= MAX_SHARDS:
        raise ShardError(f"--shards must be 1 .. {MAX_SHARDS}, got {shards}")
    if shard is not None and not 0 <= shard < shards:
        raise ShardError(f"--shard must be 0 .. {shards - 1} (of --shards {shards}), got {shard}")


def part_stem(shards: int, shard: int) -> str:
    return f"part-{shard:05d}-of-{shards:05d}"


def part_path(file: str, shards: int, shard: int) -> str:
    """``raw/x_invalid.jsonl`` -> ``raw/x_invalid/part-00003-of-00016.jsonl``."""
    rel = PurePosixPath(file)
    return str(rel.with_suffix("") / f"{part_stem(shards, shard)}{rel.suffix}")


def manifest_path(shards: int, shard: int) -> str:
    return f"{SHARD_MANIFESTS}/{part_stem(shards, shard)}.json"


def file_rows(path: Path) -> int:
    """Rows of a part: Parquet from its footer, CSV lines less the header, other text by lines."""
    if path.suffix == ".parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return max(0, lines - 1) if path.suffix == ".csv" else lines


def config_json(domain: Domain, cfg: Any) -> dict[str, Any]:
    return json.loads(domain.config_model.model_validate(cfg).model_dump_json())


def require_shardable(domain: Domain, cfg: Any) -> int:
    units = domain.shard_units(cfg)
    if units is None:
        raise ShardError(f"{domain.cli_name}: --shards is not supported for this domain yet (docs/scale-out.md)")
    return units


def run_shard(
    domain: Domain,
    cfg: Any,
    shards: int,
    shard: int,
    out_dir: str | os.PathLike[str],
    *,
    seed: int,
    ctx: RunContext | None = None,
) -> dict[str, Any]:
    """Write shard ``shard`` of ``shards`` into ``out_dir`` (part files, then its manifest); return the manifest.

    Raises ``ConstraintViolation`` when a check of the shard fails (no part of it is left behind).
    """
    total = require_shardable(domain, cfg)
    start, stop = shard_range(total, shards, shard)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".shard-{part_stem(shards, shard)}.", dir=out_dir))
    try:
        written = domain.write_units(cfg, seed, start, stop, scratch, ctx or RunContext())
        files: dict[str, dict[str, Any]] = {}
        for role, path in sorted(written.files.items()):
            rel = Path(path).relative_to(scratch).as_posix()
            target = out_dir / part_path(rel, shards, shard)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            files[role] = {
                "file": rel,
                "part": part_path(rel, shards, shard),
                "rows": file_rows(target),
                "bytes": target.stat().st_size,
                "sha256": file_sha256(target),
            }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    manifest = {
        "format": MANIFEST_FORMAT,
        "domain": domain.name,
        "version": domain.version,
        "seed": seed,
        "config": config_json(domain, cfg),
        "shards": shards,
        "shard": shard,
        "units": [start, stop],
        "files": files,
        "checks": written.checks,
    }
    with atomic_path(out_dir / manifest_path(shards, shard)) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def _pool_shard(domain: Domain, cfg: Any, shards: int, shard: int, out_dir: str, seed: int) -> dict[str, Any]:
    return run_shard(domain, cfg, shards, shard, out_dir, seed=seed)


def run_shards(
    domain: Domain,
    cfg: Any,
    shards: int,
    out_dir: Path,
    *,
    seed: int,
    workers: int = 1,
    on_shard: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Every shard into ``out_dir``: in this process (``workers=1``) or on a pool of ``workers`` processes.

    Processes are spawned (not forked: polars and numpy run threads a fork would copy mid-state).
    """
    require_shardable(domain, cfg)
    check_shard_args(shards, None)
    if workers <= 1 or shards == 1:
        manifests = []
        for shard in range(shards):
            manifests.append(run_shard(domain, cfg, shards, shard, out_dir, seed=seed))
            if on_shard:
                on_shard(manifests[-1])
        return manifests
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, shards), mp_context=context) as pool:
        futures = [pool.submit(_pool_shard, domain, cfg, shards, shard, str(out_dir), seed) for shard in range(shards)]
        manifests = []
        try:
            for future in futures:
                manifests.append(future.result())
                if on_shard:
                    on_shard(manifests[-1])
        except BaseException:
            # One shard failed (or Ctrl-C): the set cannot be published, so shards not started never start.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return manifests


def sum_check(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """One check over all shards: passed when every shard's passed; its numbers (and dicts of numbers) summed."""

    def add(values: list[Any]) -> Any:
        if all(isinstance(v, dict) for v in values):
            keys = sorted({k for v in values for k in v})
            return {k: add([v[k] for v in values if k in v]) for k in keys}
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return sum(values)
        return values[0]

    summed = add([{k: v for k, v in o.items() if k != "passed"} for o in outcomes])
    return {"passed": all(o["passed"] for o in outcomes), **summed}


def check_shard_identity(
    manifest: Mapping[str, Any], where: str, domain: Domain, config: Any, *, seed: int, shards: int, shard: int
) -> None:
    """Raise ``ShardError`` naming the first field of a shard manifest that is not the set's."""
    fields = ("format", "domain", "version", "seed", "config", "shards", "shard")
    expected = (MANIFEST_FORMAT, domain.name, domain.version, seed, config, shards, shard)
    for name, want in zip(fields, expected, strict=True):
        if manifest.get(name) != want:
            raise ShardError(f"{where}: {name} is {manifest.get(name)!r}, the set needs {want!r}")


def commit_shards(
    domain: Domain, cfg: Any, shards: int, out_dir: Path, *, seed: int, shown_as: str | None = None
) -> dict[str, Any]:
    """Prove the K shards in ``out_dir`` form the whole dataset; write and return ``_manifest.json``.

    Raises ``ShardError`` naming the first shard or part that is missing, foreign or altered;
    ``shown_as`` is where messages say ``out_dir`` is (the URL shards were downloaded from).
    """
    total = require_shardable(domain, cfg)
    expected_config = config_json(domain, cfg)
    blocking = {spec.name for spec in domain.check_specs if spec.blocking}

    def named(rel: str) -> str:
        return f"{shown_as}/{rel}" if shown_as else str(out_dir / rel)

    manifests = []
    next_unit = 0
    roles: dict[str, str] | None = None
    for shard in range(shards):
        path = out_dir / manifest_path(shards, shard)
        where = named(manifest_path(shards, shard))
        if not path.is_file():
            raise ShardError(f"{where}: missing: shard {shard} of {shards} was not written")
        manifest = json.loads(path.read_text())
        check_shard_identity(manifest, where, domain, expected_config, seed=seed, shards=shards, shard=shard)
        start, stop = manifest["units"]
        if start != next_unit:
            raise ShardError(f"{where}: units start at {start}, the previous shard ended at {next_unit}")
        next_unit = stop
        these = {role: f["file"] for role, f in manifest["files"].items()}
        if roles is None:
            roles = these
        elif these != roles:
            raise ShardError(f"{where}: files {sorted(these.values())}, shard 0 has {sorted(roles.values())}")
        for role, part in manifest["files"].items():
            part_file = out_dir / part["part"]
            if not part_file.is_file():
                raise ShardError(f"{named(part['part'])}: missing ({role} of shard {shard})")
            if part_file.stat().st_size != part["bytes"] or file_sha256(part_file) != part["sha256"]:
                raise ShardError(f"{named(part['part'])}: sha256 differs from {where} (changed after it was written)")
        failed = [name for name, check in manifest["checks"].items() if name in blocking and not check["passed"]]
        if failed:
            raise ShardError(f"{where}: blocking checks failed: {', '.join(failed)}")
        manifests.append(manifest)
    if next_unit != total:
        raise ShardError(f"shards cover units 0 .. {next_unit}, the dataset has {total}")
    files = {
        role: {
            "file": file,
            "parts": [m["files"][role]["part"] for m in manifests],
            "rows": sum(m["files"][role]["rows"] for m in manifests),
        }
        for role, file in (roles or {}).items()
    }
    checks = {name: sum_check([m["checks"][name] for m in manifests]) for name in manifests[0]["checks"]}
    parts = {role: [out_dir / p for p in entry["parts"]] for role, entry in files.items()}
    # The domain decides the checks over the whole set (from the summed numbers, or reading the parts:
    # relational proves keys and foreign keys over all parts) and may write files once for the set.
    checks, written = domain.commit_shard_set(cfg, seed, checks, parts, out_dir)
    failed = [name for name, check in checks.items() if name in blocking and not check["passed"]]
    if failed:
        for path in written.values():
            Path(path).unlink(missing_ok=True)
        raise ShardError(f"blocking checks failed over all shards: {', '.join(failed)}")
    set_files = {
        role: {
            "file": Path(path).relative_to(out_dir).as_posix(),
            "bytes": Path(path).stat().st_size,
            "sha256": file_sha256(Path(path)),
        }
        for role, path in sorted(written.items())
    }
    summary = {
        "format": SET_FORMAT,
        "domain": domain.name,
        "version": domain.version,
        "seed": seed,
        "config": expected_config,
        "shards": shards,
        "units": total,
        "files": files,
        "checks": checks,
        "shard_manifests": [manifest_path(shards, s) for s in range(shards)],
    }
    if set_files:  # only for a domain that writes files for the set: the others' manifests keep their bytes
        summary["set_files"] = set_files
    with atomic_path(out_dir / SET_MANIFEST) as tmp:
        tmp.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary


def compact(domain: Domain, cfg: Any, summary: Mapping[str, Any], parts_dir: Path, out_dir: Path) -> dict[str, Path]:
    """The single files of the unsharded run, from the parts (byte-identical to that run's files)."""
    written = {}
    for role, entry in summary["files"].items():
        target = out_dir / entry["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        domain.compact_parts(cfg, role, [parts_dir / p for p in entry["parts"]], target)
        written[role] = target
    for role, entry in summary.get("set_files", {}).items():  # written once by the commit: already whole
        target = out_dir / entry["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(parts_dir / entry["file"], target)
        written[role] = target
    return written | domain.compact_set(cfg, summary["seed"], written, out_dir)


def publish_sharded(
    domain: Domain,
    cfg: Any,
    shards: int,
    out: Path,
    *,
    seed: int,
    workers: int = 1,
    compacted: bool = False,
    on_shard: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run every shard, commit the set, publish it into ``out`` atomically (the whole set or nothing).

    ``compacted``: publish the single files of the unsharded run instead of the parts and manifests.
    """
    with output_set(out) as staging:
        run_shards(domain, cfg, shards, staging, seed=seed, workers=workers, on_shard=on_shard)
        summary = commit_shards(domain, cfg, shards, staging, seed=seed)
        if compacted:
            compact_in_place(domain, cfg, summary, staging)
    if not compacted:
        remove_stale_parts(out, summary)
    return summary


def compact_in_place(domain: Domain, cfg: Any, summary: Mapping[str, Any], staging: Path) -> None:
    """Replace the committed parts and manifests in ``staging`` by the single files of the unsharded run."""
    with tempfile.TemporaryDirectory(prefix=".compact-", dir=staging) as scratch:
        compact(domain, cfg, summary, staging, Path(scratch))
        for child in list(staging.iterdir()):
            if child.name != Path(scratch).name:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        for child in list(Path(scratch).iterdir()):
            os.replace(child, staging / child.name)


_PART_NAME = re.compile(r"^part-\d{5}-of-\d{5}\.")


def remove_stale_parts(out: Path, summary: Mapping[str, Any]) -> list[Path]:
    """After a set is published: parts and shard manifests of an earlier run with another K, in the
    set's own part folders, go (the new ``_manifest.json`` already names the set; this only tidies)."""
    keep = {out / p for entry in summary["files"].values() for p in entry["parts"]}
    keep |= {out / m for m in summary["shard_manifests"]}
    folders = {p.parent for p in keep}
    removed = []
    for folder in folders:
        for path in folder.iterdir():
            if path.is_file() and _PART_NAME.match(path.name) and path not in keep:
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


# ---- shards made apart (machines of a cluster), committed later: `--shard i`, then `--commit` ----------------
#
# A `--shard i` run never writes where readers look: its parts and manifest go to the *incoming area*
# ``<out>/_incoming/<key>/`` (a local folder or an object-store prefix), in the layout ``run_shard``
# writes. The key names the set the shard belongs to (domain, seed, K, a digest of the version and the
# config), so shards of two different runs never overwrite each other there. `--commit` proves the K
# shards of its key whole (``commit_shards``) and publishes them the way a pooled run does, then removes
# the area; any failure publishes nothing and leaves the previous set and the area as they were.

INCOMING = "_incoming"


def incoming_key(domain: Domain, cfg: Any, shards: int, *, seed: int) -> str:
    """``_incoming/<domain>.seed-<seed>.k-<K>.<digest>``: where `--shard i` runs of one set put their shards."""
    identity = {"domain": domain.name, "version": domain.version, "config": config_json(domain, cfg)}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return f"{INCOMING}/{domain.name}.seed-{seed}.k-{shards}.{digest}"


def sharded_set_info(domain: Domain, cfg: Any, seed: int, shards: int, *, compacted: bool = False) -> SetInfo:
    """The object-store manifest facts of a sharded set (a compacted set is the unsharded run's files)."""
    return SetInfo(domain.name, str(domain.version), seed, config_json(domain, cfg), None if compacted else shards)


def publish_one_shard(domain: Domain, cfg: Any, shards: int, shard: int, out: Path, *, seed: int) -> dict[str, Any]:
    """Shard ``shard`` alone into the folder ``out`` (its part files and manifest appear together)."""
    with output_set(out) as staging:
        return run_shard(domain, cfg, shards, shard, staging, seed=seed)


def upload_one_shard(domain: Domain, cfg: Any, shards: int, shard: int, area_url: str, *, seed: int) -> dict[str, Any]:
    """Shard ``shard`` alone, made locally, then uploaded under ``area_url``: its parts first, its manifest last
    (a manifest present there means its parts are complete, as in a folder)."""
    with tempfile.TemporaryDirectory(prefix="synth-shard.") as scratch:
        manifest = run_shard(domain, cfg, shards, shard, scratch, seed=seed)
        parts = [f["part"] for _, f in sorted(manifest["files"].items())]
        upload_files(Path(scratch), area_url, [*parts, manifest_path(shards, shard)])
    return manifest


def _explain_missing(fs: Any, area: str, shown_area: str, domain: Domain, cfg: Any, shards: int, *, seed: int) -> None:
    """Before a commit: a missing shard manifest is one line naming the shard, and naming why when another
    incoming area holds shards of this domain made with another seed, config, version or K."""
    present = {PurePosixPath(p).name for p in _listing(fs, f"{area}/{SHARD_MANIFESTS}")}
    missing = [s for s in range(shards) if f"{part_stem(shards, s)}.json" not in present]
    if not missing:
        return
    first = f"{shown_area}/{manifest_path(shards, missing[0])}: missing: shard {missing[0]} of {shards} was not written"
    if len(missing) > 1:
        first += f" (nor {len(missing) - 1} more)"
    base = area.rsplit("/", 2)[0]
    own = PurePosixPath(area).name
    for other in sorted(_listing(fs, f"{base}/{INCOMING}")):
        name = PurePosixPath(other).name
        if name == own or not name.startswith(f"{domain.name}."):
            continue
        manifests = sorted(_listing(fs, f"{other}/{SHARD_MANIFESTS}"))
        if not manifests:
            continue
        found = json.loads(fs.cat_file(manifests[0]))
        where = f"{shown_area.rsplit('/', 1)[0]}/{name}/{SHARD_MANIFESTS}/{PurePosixPath(manifests[0]).name}"
        try:
            check_shard_identity(
                found, where, domain, config_json(domain, cfg), seed=seed, shards=shards, shard=found.get("shard")
            )
        except ShardError as exc:
            raise ShardError(f"{first}; the shards there are of another set: {exc}") from None
    raise ShardError(first)


def _listing(fs: Any, path: str) -> list[str]:
    try:
        fs.invalidate_cache(path)
        return [str(p) for p in fs.ls(path, detail=False)]
    except FileNotFoundError:
        return []


def commit_incoming(
    domain: Domain, cfg: Any, shards: int, out: Path | str, *, seed: int, compacted: bool = False
) -> dict[str, Any]:
    """Commit the K shards that `--shard i` runs put in ``out``'s incoming area and publish them as one set.

    A folder: the parts are hard-linked into ``core/atomic.output_set``'s staging, committed there and
    published at once (parts of an earlier K removed afterwards, as ``publish_sharded`` does). A URL: the
    shards are downloaded into a local staging folder, committed there and published as an object-store
    set (``core/objstore.publish_set``: files, then ``_manifest.json`` last). Either way the area is
    removed only after the set is published; a ``ShardError`` (missing shard, another seed/config/K,
    a part whose sha256 differs) publishes nothing.
    """
    key = incoming_key(domain, cfg, shards, seed=seed)
    if isinstance(out, Path):
        import fsspec

        fs, area, shown_area = fsspec.filesystem("file"), str((out / key).absolute()), str(out / key)
        _explain_missing(fs, area, shown_area, domain, cfg, shards, seed=seed)
        with output_set(out) as staging:
            for file in sorted(p for p in (out / key).rglob("*") if p.is_file()):
                target = staging / file.relative_to(out / key)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(file, target)  # the area keeps its files until the set is published
                except OSError:
                    shutil.copy2(file, target)
            summary = commit_shards(domain, cfg, shards, staging, seed=seed, shown_as=shown_area)
            if compacted:
                compact_in_place(domain, cfg, summary, staging)
        if not compacted:
            remove_stale_parts(out, summary)
        shutil.rmtree(out / key, ignore_errors=True)
        with contextlib.suppress(OSError):  # other sets' shards may still wait there
            (out / INCOMING).rmdir()
        return summary

    fs, root = filesystem(out)
    area, shown_area = f"{root}/{key}", f"{redact(out)}/{key}"
    with remote_output_set(out, sharded_set_info(domain, cfg, seed, shards, compacted=compacted)) as staging:
        try:
            _explain_missing(fs, area, shown_area, domain, cfg, shards, seed=seed)
            fs.invalidate_cache(area)
            for obj in fs.find(area):
                target = staging / PurePosixPath(obj).relative_to(area)
                target.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(obj, str(target))
        except (ShardError, ValueError):
            raise
        except Exception as exc:  # the network, credentials: one line naming the area
            raise translated(shown_area, "input", exc) from None
        summary = commit_shards(domain, cfg, shards, staging, seed=seed, shown_as=shown_area)
        if compacted:
            compact_in_place(domain, cfg, summary, staging)
    try:
        fs.rm(area, recursive=True)
    except Exception as exc:  # the set is published; the shards left there are never read
        log.warning(f"{shown_area}: committed; the incoming shards not removed ({exc})")
    return summary


def run_shards_from_args(domain: Domain, cfg: Any, seed: int, out: Path | str, args: argparse.Namespace) -> int | None:
    """Run the sharded form the flags ask for and print what was written; ``None`` when no shard flag is set.

    ``out`` is a folder (``Path``) or an object-store URL (``str``, already proven writable).
    """
    shards, shard = getattr(args, "shards", None), getattr(args, "shard", None)
    compacted, commit = getattr(args, "compact", False), getattr(args, "commit", False)
    if shards is None:
        for flag, value in (("--shard", shard), ("--compact", compacted), ("--commit", commit)):
            if value not in (None, False):
                raise CliError(f"{flag} needs --shards K")
        return None
    if shard is not None and compacted:
        raise CliError("--compact needs every shard: leave out --shard")
    if shard is not None and commit:
        raise CliError("--commit publishes the shards --shard runs wrote: leave out --shard")
    try:
        if shard is not None:
            check_shard_args(shards, shard)
            key = incoming_key(domain, cfg, shards, seed=seed)
            if isinstance(out, Path):
                manifest = publish_one_shard(domain, cfg, shards, shard, out / key, seed=seed)
            else:
                manifest = upload_one_shard(domain, cfg, shards, shard, f"{out}/{key}", seed=seed)
            for role, part in manifest["files"].items():
                print(f"{role:17} {shown(out, key + '/' + part['part'])} ({part['rows']} rows)")
            print(f"{'shard manifest':17} {shown(out, key + '/' + manifest_path(shards, shard))} (commit: --commit)")
            return 0
        if commit:
            summary = commit_incoming(domain, cfg, shards, out, seed=seed, compacted=compacted)
        elif isinstance(out, Path):
            summary = publish_sharded(domain, cfg, shards, out, seed=seed, workers=args.workers, compacted=compacted)
        else:
            # Made and committed exactly as into a folder, then published as one object-store set.
            info = sharded_set_info(domain, cfg, seed, shards, compacted=compacted)
            with remote_output_set(out, info) as staging:
                summary = publish_sharded(
                    domain, cfg, shards, staging, seed=seed, workers=args.workers, compacted=compacted
                )
    except ShardError as exc:
        raise CliError(str(exc)) from exc
    for role, entry in summary["files"].items():
        where = shown(out, entry["file"] if compacted else PurePosixPath(entry["parts"][0]).parent)
        print(f"{role:17} {where} ({entry['rows']} rows{'' if compacted else f' in {shards} parts'})")
    if not compacted:
        for role, entry in summary.get("set_files", {}).items():  # written once for the whole set
            print(f"{role:17} {shown(out, entry['file'])} (over all parts)")
    return 0
