"""One writer per (group, seed partition): a run-owned lock file under ``data/storage/.locks/``.

Two runs of one partition share every path they write (the config, the Parquet steps, the export
folder), so a second run interleaved with a first leaves a config that does not describe the data.
Every asset of a group claims ``<group>/seed=<k>.lock`` for its run before writing; a claim held by
another run that is still in progress fails at once, naming that run.

The lock belongs to a *run*, not a process: with the multiprocess executor each step is its own
process (a resource's setup/teardown is per step there), so a process lock or a resource lifecycle
could not span the run. The file holds the owner's run id; the group's last asset (``exported``)
releases it, and a lock whose run has finished (failed, canceled) or is unknown to the instance is
stale and taken over. The read-check-write of a claim happens under a short ``filelock`` so two
claims never both see the lock free.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
from filelock import FileLock, Timeout

LOCK_DIR = ".locks"
# The guard only covers reading and writing a tiny JSON file; waiting longer means something is wrong.
GUARD_TIMEOUT_S = 10.0


class PartitionBusy(Exception):
    """Another run is writing this (group, seed) partition."""


def lock_path(storage: Path, group: str, seed: int) -> Path:
    return storage / LOCK_DIR / group / f"seed={seed}.lock"


def _owner(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text())["run_id"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None  # absent or unreadable (a crash mid-write): nobody holds it


def _in_progress(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is not None and not run.is_finished


def claim(instance: dg.DagsterInstance, storage: Path, group: str, seed: int, run_id: str) -> Path:
    """Make ``run_id`` the writer of (group, seed), or raise ``PartitionBusy`` naming the run that is."""
    path = lock_path(storage, group, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(path) + ".guard", timeout=GUARD_TIMEOUT_S):
            owner = _owner(path)
            if owner is not None and owner != run_id and _in_progress(instance, owner):
                raise PartitionBusy(
                    f"{group} seed={seed} is being written by run {owner}; wait for it to finish or cancel it "
                    f"(lock {path})"
                )
            if owner != run_id:
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps({"run_id": run_id, "group": group, "seed": seed}))
                os.replace(tmp, path)
    except Timeout:
        message = f"{group} seed={seed}: could not check the lock {path} within {GUARD_TIMEOUT_S:g} s"
        raise PartitionBusy(message) from None
    return path


def release(storage: Path, group: str, seed: int, run_id: str) -> None:
    """Drop the lock if ``run_id`` holds it (a lock taken over by another run is left alone)."""
    path = lock_path(storage, group, seed)
    with FileLock(str(path) + ".guard", timeout=GUARD_TIMEOUT_S):
        if _owner(path) == run_id:
            path.unlink(missing_ok=True)
