"""Atomic writes: a file (``atomic_path``) or a whole set of files (``output_set``).

A crash, a full disk, a validation error, Ctrl-C or SIGTERM never leaves a half-written file at a
final path, nor half of a new set beside half of the old one. Temporary names carry the writer's
PID and host (``.synth-staging.<pid>@<host>.<random>``, ``.<name>.<pid>@<host>.<random>.tmp``), so
the next run removes what a killed run (SIGKILL, power loss) left behind, and only that.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

from synth_pipelines.core.cli_support import OUTPUT_COMPLETE


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files as 0600; finished files get the usual mode (0666 minus the umask).
FILE_MODE = 0o666 & ~_current_umask()

STAGING_PREFIX = ".synth-staging."
BACKUP_PREFIX = ".synth-backup."
# The host as a name-safe token: a PID only identifies a process on the host that made it (an
# output folder on a network share can hold temporary folders of runs on other machines).
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0])[:40] or "localhost"
# "<pid>@<host>.<random>" at the end of a staging or backup folder's name, before ".tmp" in a temp file's.
_OWNER = re.compile(r"\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]+)\.[A-Za-z0-9_]+(?:\.tmp)?$")
_DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


# Output folders this process created (check_writable_dir, output_set): a run that fails removes them again
# when they are still empty, so a refused or failed run leaves no empty folder behind.
_CREATED_DIRS: set[Path] = set()
_CREATED_LOCK = threading.Lock()


def _make_dirs(path: Path) -> None:
    """``path.mkdir(parents=True, exist_ok=True)``, remembering which of the folders were new."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    with _CREATED_LOCK:
        _CREATED_DIRS.update(p.absolute() for p in missing)


def remove_created_if_empty(path: str | os.PathLike[str]) -> None:
    """Remove ``path`` and its parents that this process created, innermost first, while they are empty."""
    for folder in (Path(path).absolute(), *Path(path).absolute().parents):
        with _CREATED_LOCK:
            if folder not in _CREATED_DIRS:
                return
            try:
                folder.rmdir()
            except OSError:  # not empty (another run's files, or ours from before): it stays
                return
            _CREATED_DIRS.discard(folder)


def settle_created_dirs(failed: bool) -> None:
    """End of a command: after a failure remove every folder it created that is still empty; forget them."""
    with _CREATED_LOCK:
        created = sorted(_CREATED_DIRS, key=lambda p: len(p.parts), reverse=True)  # innermost first
        _CREATED_DIRS.clear()
    if failed:
        for folder in created:
            with suppress(OSError):  # not empty: it stays
                folder.rmdir()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, read in chunks (the digest manifests and version records carry)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def owner_tag() -> str:
    """``<pid>@<host>``: who owns a temporary name (read back by ``clean_stale``)."""
    return f"{os.getpid()}@{HOST}"


def _pid_alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return pid > 0
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _dead_owner(name: str) -> bool:
    found = _OWNER.search(name)
    return found is not None and found["host"] == HOST and not _pid_alive(int(found["pid"]))


def clean_stale(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove what dead runs of this host left directly in ``directory``; return what was removed.

    That is staging and backup folders of ``output_set`` and temp files of ``atomic_path``. A killed
    run's backup only ever holds copies (hard links) or files its commit was replacing, so removing it
    loses nothing a finished set still refers to. Folders of live runs, of other hosts and names
    without an owner are left alone.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or not _dead_owner(name):
            continue
        path = Path(entry.path)
        if name.startswith((STAGING_PREFIX, BACKUP_PREFIX)) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        elif name.endswith(".tmp") and entry.is_file(follow_symlinks=False):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{owner_tag()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM that arrive inside are held, then handled on the way out.

    A handler swap rather than ``pthread_sigmask``: a mask covers one thread, and a signal delivered to
    any other thread (tqdm's monitor, a writer pool) would still run the Python handler in the main
    thread, in the middle of the block. Only the main thread may set handlers; elsewhere (a Dagster
    worker thread) no Python handler can interrupt this thread anyway.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    previous: dict[int, Any] = {}
    for signum in _DEFERRED_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not None:  # None: a handler set outside Python, which could not be put back
            previous[signum] = signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:
            handler = previous[held[0]]
            if callable(handler):
                handler(held[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(held[0])


def _set_files(root: Path) -> list[Path]:
    """Files (and symlinks) below ``root``, relative to it, outside every staging or backup folder."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith((STAGING_PREFIX, BACKUP_PREFIX))]
        here = Path(folder)
        found += [(here / name).relative_to(root) for name in files]
        # os.walk lists a symlink to a folder among dirs and does not follow it: it is one entry of the set.
        found += [(here / d).relative_to(root) for d in dirs if (here / d).is_symlink()]
    return sorted(found)


def _prune_empty_dirs(root: Path) -> None:
    """Remove the folders below ``root`` that hold nothing, leaving staging and backup folders alone."""
    folders: list[Path] = []
    for folder, dirs, _ in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith((STAGING_PREFIX, BACKUP_PREFIX))]
        folders += [Path(folder) / d for d in dirs]
    for folder in reversed(folders):  # deepest first: a parent empties once its children are gone
        with suppress(OSError):  # not empty (or a symlink, which is a member of the set)
            folder.rmdir()


def _commit(staging: Path, out_dir: Path, exclusive: bool) -> list[Path]:
    """Move every file of ``staging`` into ``out_dir``; on any failure put ``out_dir`` back as it was.

    A previous file is first hard-linked into a backup folder, then the new one renamed over it, so
    the final path never goes missing; the backup is what a rollback restores. Returns the files
    moved, relative to ``out_dir``.
    """
    new = _set_files(staging)
    old_only = sorted(set(_set_files(out_dir)) - set(new)) if exclusive else []
    backup: Path | None = None
    undo: list[Callable[[], object]] = []
    made_dirs: list[Path] = []
    keep_backup = False

    def save(rel: Path, *, keep_target: bool) -> Path:
        nonlocal backup
        if backup is None:
            backup = Path(tempfile.mkdtemp(prefix=f"{BACKUP_PREFIX}{owner_tag()}.", dir=out_dir))
        saved = backup / rel
        saved.parent.mkdir(parents=True, exist_ok=True)
        if keep_target:
            try:
                os.link(out_dir / rel, saved, follow_symlinks=False)
                return saved
            except OSError:  # no hard links on this filesystem: move it aside instead
                pass
        os.replace(out_dir / rel, saved)
        return saved

    def make_parents(target: Path) -> None:
        missing = [p for p in target.parents if out_dir in p.parents and not p.exists()]
        for folder in reversed(missing):  # outermost first
            folder.mkdir()
            made_dirs.append(folder)

    try:
        for rel in new:
            target = out_dir / rel
            make_parents(target)
            if os.path.lexists(target):
                saved = save(rel, keep_target=True)
                undo.append(lambda saved=saved, target=target: os.replace(saved, target))
            else:
                undo.append(lambda target=target: target.unlink(missing_ok=True))
            os.replace(staging / rel, target)
        for rel in old_only:
            saved = save(rel, keep_target=False)
            undo.append(lambda saved=saved, target=out_dir / rel: os.replace(saved, target))
    except BaseException as exc:
        # Every step is tried even if one fails, so as much of the previous set as possible is back.
        failed: list[str] = []
        for step in reversed(undo):
            try:
                step()
            except OSError as undo_exc:
                failed.append(str(undo_exc))
        for folder in reversed(made_dirs):
            with suppress(OSError):  # something else was put there meanwhile: not ours to remove
                folder.rmdir()
        if failed:
            keep_backup = True  # it holds the previous files that could not be put back
            exc.add_note(f"could not restore {len(failed)} previous file(s), kept in {backup}: {failed[0]}")
        raise
    finally:
        if backup is not None and not keep_backup:
            shutil.rmtree(backup, ignore_errors=True)
    if exclusive:
        _prune_empty_dirs(out_dir)
    return new


@contextmanager
def output_set(out_dir: str | os.PathLike[str], *, exclusive: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; on success its files move into ``out_dir`` as one unit.

    The staging folder is hidden inside ``out_dir`` (same filesystem, so every move is a rename).
    On success every file written below it moves into ``out_dir``, subfolders kept, same-named files
    replaced; on any exception, ``KeyboardInterrupt`` or SIGTERM (see ``cli_support.Terminated``)
    nothing in ``out_dir`` changes and the staging folder is removed. SIGINT and SIGTERM are held
    during the short commit, so they land before it or after it, never in the middle.

    ``exclusive=True``: ``out_dir`` holds this set only, so files of the previous set that the new
    set does not have are removed too (the Dagster export folder ``exports/<group>/seed=<k>/``).

    On entry, staging, backup and temp files of dead runs in ``out_dir`` are removed (``clean_stale``).
    """
    out_dir = Path(out_dir)
    _make_dirs(out_dir)
    clean_stale(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{owner_tag()}.", dir=out_dir))
    committed = False
    try:
        yield staging
        moved: list[Path] | None = None
        try:
            with _signals_deferred():
                moved = _commit(staging, out_dir, exclusive)
        except KeyboardInterrupt as exc:
            if moved is not None:  # the signal waited for the commit: the new set is in place, whole
                exc.add_note(OUTPUT_COMPLETE)
            raise
        # Temp files of dead runs that wrote straight into a subfolder (``raw/``) before staging existed.
        committed = True
        for folder in {(out_dir / rel).parent for rel in moved} - {out_dir}:
            clean_stale(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not committed:
            remove_created_if_empty(out_dir)


@contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a staging folder whose files replace ``target``'s as a whole (``output_set(exclusive=True)``).

    Used when several files form one result (a dataset's exports): readers see either the old set or
    the new set, never a mix.
    """
    with output_set(target, exclusive=True) as staging:
        yield staging


def check_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and prove it is writable, or raise ``PermissionError`` naming it."""
    path = Path(path)
    try:
        _make_dirs(path)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise PermissionError(f"output directory {str(path)!r} is not writable: {exc.strerror or exc}") from exc
    return path
