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

``run_shard`` is a plain function of its arguments: a Dagster op (one per shard, a static graph:
``orchestration/shard_job.py``) calls it the way the process pool does (docs/scale-out.md).
"""

from __future__ import annotations

import argparse
import json
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

MANIFEST_FORMAT = "synth-pipelines/shard-manifest/1"
SET_FORMAT = "synth-pipelines/shard-set/1"
SHARD_MANIFESTS = "_shards"
SET_MANIFEST = "_manifest.json"
MAX_SHARDS = 99_999  # five digits in a part name


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


def commit_shards(domain: Domain, cfg: Any, shards: int, out_dir: Path, *, seed: int) -> dict[str, Any]:
    """Prove the K shards in ``out_dir`` form the whole dataset; write and return ``_manifest.json``.

    Raises ``ShardError`` naming the first shard or part that is missing, foreign or altered.
    """
    total = require_shardable(domain, cfg)
    expected_config = config_json(domain, cfg)
    blocking = {spec.name for spec in domain.check_specs if spec.blocking}
    manifests = []
    next_unit = 0
    roles: dict[str, str] | None = None
    for shard in range(shards):
        path = out_dir / manifest_path(shards, shard)
        if not path.is_file():
            raise ShardError(f"{path}: missing: shard {shard} of {shards} was not written")
        manifest = json.loads(path.read_text())
        fields = ("format", "domain", "version", "seed", "config", "shards", "shard")
        expected = (MANIFEST_FORMAT, domain.name, domain.version, seed, expected_config, shards, shard)
        for name, want in zip(fields, expected, strict=True):
            if manifest.get(name) != want:
                raise ShardError(f"{path}: {name} is {manifest.get(name)!r}, the set needs {want!r}")
        start, stop = manifest["units"]
        if start != next_unit:
            raise ShardError(f"{path}: units start at {start}, the previous shard ended at {next_unit}")
        next_unit = stop
        these = {role: f["file"] for role, f in manifest["files"].items()}
        if roles is None:
            roles = these
        elif these != roles:
            raise ShardError(f"{path}: files {sorted(these.values())}, shard 0 has {sorted(roles.values())}")
        for role, part in manifest["files"].items():
            part_file = out_dir / part["part"]
            if not part_file.is_file():
                raise ShardError(f"{part_file}: missing ({role} of shard {shard})")
            if part_file.stat().st_size != part["bytes"] or file_sha256(part_file) != part["sha256"]:
                raise ShardError(f"{part_file}: sha256 differs from {path} (changed after it was written)")
        failed = [name for name, check in manifest["checks"].items() if name in blocking and not check["passed"]]
        if failed:
            raise ShardError(f"{path}: blocking checks failed: {', '.join(failed)}")
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
            with tempfile.TemporaryDirectory(prefix=".compact-", dir=staging) as scratch:
                compact(domain, cfg, summary, staging, Path(scratch))
                for child in list(staging.iterdir()):
                    if child.name != Path(scratch).name:
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
                for child in list(Path(scratch).iterdir()):
                    os.replace(child, staging / child.name)
    if not compacted:
        remove_stale_parts(out, summary)
    return summary


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


def publish_one_shard(domain: Domain, cfg: Any, shards: int, shard: int, out: Path, *, seed: int) -> dict[str, Any]:
    """Shard ``shard`` alone into ``out`` (its part files and manifest appear together)."""
    with output_set(out) as staging:
        return run_shard(domain, cfg, shards, shard, staging, seed=seed)


def run_shards_from_args(domain: Domain, cfg: Any, seed: int, out: Path | str, args: argparse.Namespace) -> int | None:
    """Run the sharded form the flags ask for and print what was written; ``None`` when no shard flag is set."""
    shards, shard = getattr(args, "shards", None), getattr(args, "shard", None)
    if shards is None:
        for flag, value in (("--shard", shard), ("--compact", getattr(args, "compact", False))):
            if value not in (None, False):
                raise CliError(f"{flag} needs --shards K")
        return None
    if not isinstance(out, Path):  # an object-store URL: parts and the commit are local-only so far
        raise CliError("--shards writes to a local directory only (yet): give --out a local path, not a URL")
    try:
        if shard is not None:
            if args.compact:
                raise CliError("--compact needs every shard: leave out --shard")
            manifest = publish_one_shard(domain, cfg, shards, shard, out, seed=seed)
            for role, part in manifest["files"].items():
                print(f"{role:17} {out / part['part']} ({part['rows']} rows)")
            return 0
        summary = publish_sharded(domain, cfg, shards, out, seed=seed, workers=args.workers, compacted=args.compact)
    except ShardError as exc:
        raise CliError(str(exc)) from exc
    for role, entry in summary["files"].items():
        where = out / entry["file"] if args.compact else out / Path(entry["parts"][0]).parent
        print(f"{role:17} {where} ({entry['rows']} rows{'' if args.compact else f' in {shards} parts'})")
    if not args.compact:
        for role, entry in summary.get("set_files", {}).items():  # written once for the whole set
            print(f"{role:17} {out / entry['file']} (over all parts)")
    return 0
