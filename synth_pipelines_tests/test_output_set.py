"""``output_set``: a run's files appear together or not at all, also on Ctrl-C and SIGTERM."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synth_pipelines.core import atomic
from synth_pipelines.core.atomic import HOST, atomic_dir, atomic_path, clean_stale, output_set
from synth_pipelines.core.cli_support import OUTPUT_COMPLETE, Terminated, report_interrupt, sigterm_as_interrupt

ROOT = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, str]:
    """Every file below ``root`` (hidden ones too) -> sha256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def hidden(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))


def write_set(out: Path, files: dict[str, str], *, exclusive: bool = False) -> None:
    with output_set(out, exclusive=exclusive) as staging:
        for rel, text in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(text)


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    write_set(out, {"a.jsonl": "old a\n", "raw/b.jsonl": "old b\n", "keep.txt": "not in the new set\n"})
    return out


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_set_appears_whole_with_subfolders_and_replaces_same_named_files(previous: Path) -> None:
    with output_set(previous) as staging:
        (staging / "a.jsonl").write_text("new a\n")
        (staging / "raw").mkdir()
        (staging / "raw" / "b.jsonl").write_text("new b\n")
        (staging / "raw" / "c.parquet").write_bytes(b"new c")
        # Nothing of the new set is visible before the block ends.
        assert (previous / "a.jsonl").read_text() == "old a\n"
        assert not (previous / "raw" / "c.parquet").exists()
    assert (previous / "a.jsonl").read_text() == "new a\n"
    assert (previous / "raw" / "b.jsonl").read_text() == "new b\n"
    assert (previous / "raw" / "c.parquet").read_bytes() == b"new c"
    assert (previous / "keep.txt").read_text() == "not in the new set\n"  # not exclusive: others stay
    assert hidden(previous) == []


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt(), Terminated("SIGTERM")])
def test_an_error_mid_write_leaves_the_previous_set_byte_identical(previous: Path, error: BaseException) -> None:
    before = snapshot(previous)
    with pytest.raises(type(error)), output_set(previous, exclusive=True) as staging:
        (staging / "a.jsonl").write_text("new a\n")
        raise error
    assert snapshot(previous) == before
    assert hidden(previous) == []


def test_a_failure_inside_the_commit_puts_every_previous_file_back(
    previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(previous)
    real_replace = os.replace
    calls = {"n": 0}

    def fail_on_third(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", fail_on_third)
    with pytest.raises(OSError, match="No space left"), output_set(previous, exclusive=True) as staging:
        for name in ("a.jsonl", "new.jsonl", "z.jsonl"):
            (staging / name).write_text(f"new {name}\n")
    monkeypatch.undo()
    assert calls["n"] >= 3
    assert snapshot(previous) == before
    assert hidden(previous) == []


def test_exclusive_removes_what_the_new_set_lacks(previous: Path) -> None:
    write_set(previous, {"a.jsonl": "new a\n"}, exclusive=True)
    assert snapshot(previous) == {"a.jsonl": hashlib.sha256(b"new a\n").hexdigest()}
    assert sorted(p.name for p in previous.iterdir()) == ["a.jsonl"]  # the emptied raw/ is gone too


def test_atomic_dir_replaces_the_folder_content_as_a_whole(previous: Path) -> None:
    with atomic_dir(previous) as tmp:
        (tmp / "only.txt").write_text("x")
    assert sorted(p.name for p in previous.iterdir()) == ["only.txt"]


def test_atomic_path_names_its_temp_file_after_the_owner(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "f.txt") as tmp:
        assert tmp.name.startswith(f".f.txt.{os.getpid()}@{HOST}.") and tmp.name.endswith(".tmp")
        tmp.write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_leftovers_of_dead_runs_are_cleaned_and_live_or_foreign_ones_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "raw").mkdir(parents=True)
    dead, live = dead_pid(), os.getpid()
    leftovers = {
        "dead staging": out / f".synth-staging.{dead}@{HOST}.k2j4_x9a",
        "dead backup": out / f".synth-backup.{dead}@{HOST}.abcdefgh",
        "live staging": out / f".synth-staging.{live}@{HOST}.abcdefgh",
        "other host": out / f".synth-staging.{dead}@elsewhere-{HOST}.abcdefgh",
    }
    for folder in leftovers.values():
        folder.mkdir()
        (folder / "part.jsonl").write_text("half")
    dead_tmp = out / f".log_valid.jsonl.{dead}@{HOST}.u7w_2kqz.tmp"
    dead_tmp_in_sub = out / "raw" / f".log_invalid.jsonl.{dead}@{HOST}.u7w_2kqz.tmp"
    live_tmp = out / f".log_valid.parquet.{live}@{HOST}.u7w_2kqz.tmp"
    unowned = out / ".log_valid.jsonl.u7w_2kqz.tmp"  # an old-style name: whose it is is unknown
    for path in (dead_tmp, dead_tmp_in_sub, live_tmp, unowned):
        path.write_text("half")

    write_set(out, {"log_valid.jsonl": "x\n", "raw/log_invalid.jsonl": "y\n"})

    assert not leftovers["dead staging"].exists() and not leftovers["dead backup"].exists()
    assert not dead_tmp.exists() and not dead_tmp_in_sub.exists()
    assert leftovers["live staging"].exists() and leftovers["other host"].exists()
    assert live_tmp.exists() and unowned.exists()


def test_clean_stale_on_a_missing_folder_removes_nothing(tmp_path: Path) -> None:
    assert clean_stale(tmp_path / "missing") == []


@pytest.fixture
def sigterm_default() -> Iterator[None]:
    """SIGTERM at its default, whatever the test runner set, and put back afterwards."""
    previous_handler = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_handler)


def test_a_sigterm_during_the_commit_lands_after_it(
    sigterm_default: None, previous: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_replace: Callable[..., None] = os.replace
    sent = {"done": False}

    def signal_on_first(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if not sent["done"]:
            sent["done"] = True
            os.kill(os.getpid(), signal.SIGTERM)
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", signal_on_first)
    with pytest.raises(Terminated) as raised, sigterm_as_interrupt(), output_set(previous, exclusive=True) as staging:
        for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
            (staging / name).write_text(f"new {name}\n")
    monkeypatch.undo()
    assert sent["done"] and OUTPUT_COMPLETE in raised.value.__notes__
    assert report_interrupt(raised.value) == 143
    assert capsys.readouterr().err == "synth: interrupted (SIGTERM) after the output was written in full\n"
    # The whole new set, not a mix: the signal waited for the commit to finish.
    assert {p: (previous / p).read_text() for p in sorted(snapshot(previous))} == {
        "a.jsonl": "new a.jsonl\n",
        "b.jsonl": "new b.jsonl\n",
        "c.jsonl": "new c.jsonl\n",
    }
    assert hidden(previous) == []
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from synth_pipelines.core.atomic import output_set
    from synth_pipelines.core.cli_support import report_interrupt, sigterm_as_interrupt

    with sigterm_as_interrupt():
        try:
            with output_set(Path(sys.argv[1])) as staging:
                (staging / "a.jsonl").write_text("new a\\n")
                print("ready", flush=True)
                time.sleep(60)
                (staging / "b.jsonl").write_text("new b\\n")
        except KeyboardInterrupt as exc:
            sys.exit(report_interrupt(exc))
    """
)


def test_a_process_killed_with_sigterm_mid_write_exits_143_and_leaves_the_previous_set(previous: Path) -> None:
    before = snapshot(previous)
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(previous)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert err.strip().splitlines() == ["synth: interrupted (SIGTERM); nothing was written"]
    assert snapshot(previous) == before
    assert hidden(previous) == []


def wait_for_staged_file(out: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.is_file() and p.stat().st_size for p in out.glob(".synth-staging.*/**/*")):
            return
        assert proc.poll() is None, "synth ended before anything was staged"
        time.sleep(0.05)
    pytest.fail("nothing was staged in time")


def test_synth_killed_with_sigterm_mid_run_exits_143_and_leaves_the_previous_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    synth = [sys.executable, "-m", "synth_pipelines.cli", "cv-logs", "--seed", "3", "--out", str(out)]
    subprocess.run([*synth, "--count", "50"], check=True, capture_output=True, cwd=ROOT)
    before = snapshot(out)
    assert before and hidden(out) == []
    proc = subprocess.Popen(
        [*synth, "--count", "3000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        wait_for_staged_file(out, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["synth: interrupted (SIGTERM); nothing was written"]
    assert snapshot(out) == before
    assert hidden(out) == []


# ---------------------------------------------------------------------------------------------
# The edges mutation testing found unproven (README "Mutation testing").


def test_current_umask_reads_the_umask_and_leaves_it_as_it_was() -> None:
    previous_mask = os.umask(0o027)
    try:
        assert atomic._current_umask() == 0o027
        assert os.umask(0o027) == 0o027  # still set after the read
    finally:
        os.umask(previous_mask)


def test_pid_alive_for_invalid_own_running_and_dead_pids(monkeypatch: pytest.MonkeyPatch) -> None:
    assert atomic._pid_alive(0) is False  # 0 and negatives name process groups, never a run
    assert atomic._pid_alive(-1) is False
    assert atomic._pid_alive(os.getpid()) is True
    assert atomic._pid_alive(dead_pid()) is False
    # The child echoes one line once asked: it answers only if asking whether it is alive did not signal it.
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.readline())"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # SIGHUP at its default (it ends the process) even under nohup, which would make the child ignore it.
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    try:
        assert atomic._pid_alive(child.pid) is True
        out, _ = child.communicate("still here\n", timeout=60)
        assert (out, child.returncode) == ("still here\n", 0)
    finally:
        child.kill()
        child.wait()
    # A run that is PID 1 (a container's init) is alive to itself.
    monkeypatch.setattr(atomic.os, "getpid", lambda: 1)
    assert atomic._pid_alive(1) is True


def test_pid_alive_counts_another_users_process_as_alive() -> None:
    """Without the right to signal it (``PermissionError``), a process still exists."""
    assert atomic._pid_alive(os.getpid())  # (a call in this process: mutation testing maps the test to it)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked child reports through the pipe
        try:
            os.close(read_end)
            os.setuid(65534)  # nobody: may not signal PID 1
            os.write(write_end, b"1" if atomic._pid_alive(1) else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 1)
    os.close(read_end)
    os.waitpid(child, 0)
    assert answer == b"1"


def test_clean_stale_returns_what_it_removed_and_touches_nothing_else_of_a_dead_owner(tmp_path: Path) -> None:
    dead = dead_pid()
    staging = tmp_path / f".synth-staging.{dead}@{HOST}.abcdefgh"
    staging.mkdir()
    (staging / "part").write_text("half")
    temp_file = tmp_path / f".a.jsonl.{dead}@{HOST}.u7w_2kqz.tmp"
    temp_file.write_text("half")
    # Dead owner in the name, but neither a staging/backup folder nor a temp file: not ours to remove.
    other_folder = tmp_path / f".cache.{dead}@{HOST}.abcdefgh.tmp"
    other_folder.mkdir()
    other_file = tmp_path / f".notes.{dead}@{HOST}.abcdefgh"
    other_file.write_text("keep")
    # Symlinks with owner names: the link is not a staging folder or a temp file, and its target is not ours.
    target_dir = tmp_path / "target_dir"
    target_dir.mkdir()
    (target_dir / "data").write_text("keep")
    link_to_dir = tmp_path / f".synth-staging.{dead}@{HOST}.linkdir1"
    link_to_dir.symlink_to(target_dir)
    target_file = tmp_path / "target_file"
    target_file.write_text("keep")
    link_to_file = tmp_path / f".b.jsonl.{dead}@{HOST}.linkfil1.tmp"
    link_to_file.symlink_to(target_file)

    removed = clean_stale(tmp_path)

    assert sorted(removed) == sorted([staging, temp_file])
    assert not staging.exists() and not temp_file.exists()
    assert other_folder.is_dir() and other_file.read_text() == "keep"
    assert link_to_dir.is_symlink() and (target_dir / "data").read_text() == "keep"
    assert link_to_file.is_symlink() and target_file.read_text() == "keep"


def test_a_symlink_to_a_folder_is_one_member_of_the_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_set(out) as staging:
        (staging / "data").mkdir()
        (staging / "data" / "x.txt").write_text("x")
        (staging / "latest").symlink_to("data")
    assert (out / "latest").is_symlink() and os.readlink(out / "latest") == "data"
    assert (out / "latest" / "x.txt").read_text() == "x"


def test_exclusive_keeps_a_subfolder_that_still_holds_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_set(out, {"sub/old.txt": "old", "sub/deep/kept.txt": "old"}, exclusive=True)
    write_set(out, {"sub/deep/kept.txt": "new"}, exclusive=True)
    assert snapshot(out) == {"sub/deep/kept.txt": hashlib.sha256(b"new").hexdigest()}


def test_replacing_nested_files_keeps_the_final_path_and_writes_nothing_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a file is replaced its previous version stays at the final path (hard-linked aside, not moved),
    and the backup lives inside the output folder (not the working directory, not /tmp)."""
    out = tmp_path / "out"
    write_set(out, {"a/b/f.txt": "old"})
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    real_replace = os.replace
    seen: list[tuple[Path, Path, bool]] = []

    def observe(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen.append((Path(src), Path(dst), os.path.lexists(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", observe)
    write_set(out, {"a/b/f.txt": "new"})
    monkeypatch.undo()
    assert (out / "a" / "b" / "f.txt").read_text() == "new"
    # The one rename: the new file over the previous one, which was still there.
    assert [(dst, present) for _, dst, present in seen] == [(out / "a" / "b" / "f.txt", True)]
    assert list(elsewhere.iterdir()) == []
    assert hidden(out) == []


def failing_replace(monkeypatch: pytest.MonkeyPatch, fail: Callable[[Path, Path], bool]) -> None:
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if fail(Path(src), Path(dst)):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)


def test_a_failure_while_removing_old_files_puts_them_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_set(out, {"a.txt": "old a", "b.txt": "old b", "c.txt": "old c"})
    before = snapshot(out)
    # Moving c.txt aside (the second file the new set lacks) fails, after b.txt was moved aside.
    failing_replace(monkeypatch, lambda src, dst: src == out / "c.txt")
    with pytest.raises(OSError, match="No space left"):
        write_set(out, {"a.txt": "new a"}, exclusive=True)
    monkeypatch.undo()
    assert snapshot(out) == before
    assert hidden(out) == []


def test_a_failure_removes_the_folders_the_commit_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_set(out, {"a.txt": "old a"})
    before = snapshot(out)
    failing_replace(monkeypatch, lambda src, dst: dst == out / "z.txt")
    with pytest.raises(OSError, match="No space left"):
        write_set(out, {"new/deeper/n.txt": "n", "z.txt": "z"})
    monkeypatch.undo()
    assert snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]


def test_a_folder_someone_else_wrote_into_during_the_commit_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_set(out, {"a.txt": "old a"})

    def other_writer_then_fail(src: Path, dst: Path) -> bool:
        if dst == out / "z.txt":
            (out / "new" / "theirs.txt").write_text("another process")
            return True
        return False

    failing_replace(monkeypatch, other_writer_then_fail)
    with pytest.raises(OSError, match="No space left"):  # the commit's own error, not one of the rollback
        write_set(out, {"new/n.txt": "n", "z.txt": "z"})
    monkeypatch.undo()
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a.txt", "new", "new/theirs.txt"]


def refuse_rmdir(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    """Folders named ``prefix...`` cannot be removed (busy: a mount inside, another process's handle)."""
    real_rmdir = os.rmdir

    def rmdir(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> None:
        if os.path.basename(os.fspath(path)).startswith(prefix):
            raise OSError(16, "Device or resource busy", os.fspath(path))
        real_rmdir(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "rmdir", rmdir)


def test_a_backup_that_cannot_be_removed_does_not_fail_a_finished_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_set(out, {"a.txt": "old a"})
    refuse_rmdir(monkeypatch, ".synth-backup.")
    write_set(out, {"a.txt": "new a"})
    monkeypatch.undo()
    assert (out / "a.txt").read_text() == "new a"


def test_clean_stale_goes_on_past_what_it_cannot_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = dead_pid()
    busy = tmp_path / f".synth-staging.{dead}@{HOST}.busybusy"
    busy.mkdir()
    stale_files = [tmp_path / f".{name}.{dead}@{HOST}.u7w_2kqz.tmp" for name in ("a", "b", "c")]
    for path in stale_files:
        path.write_text("half")
    refuse_rmdir(monkeypatch, ".synth-staging.")
    # Another cleaner (a second run starting at the same time) removes one temp file first.
    real_scandir = os.scandir

    def scandir_then_other_cleaner(directory: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
        entries = list(real_scandir(directory))
        stale_files[1].unlink()
        return iter(entries)

    monkeypatch.setattr(atomic.os, "scandir", scandir_then_other_cleaner)
    removed = clean_stale(tmp_path)
    monkeypatch.undo()
    assert not any(path.exists() for path in stale_files)
    assert set(stale_files) <= set(removed)


def test_a_symlink_of_the_previous_set_comes_back_as_a_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    with output_set(out) as staging:
        (staging / "data.txt").write_text("data")
        (staging / "latest").symlink_to("data.txt")
    failing_replace(monkeypatch, lambda src, dst: dst == out / "z.txt")
    with pytest.raises(OSError, match="No space left"):
        write_set(out, {"latest": "a file now", "z.txt": "z"})
    monkeypatch.undo()
    assert (out / "latest").is_symlink() and os.readlink(out / "latest") == "data.txt"
    assert hidden(out) == []


def test_previous_files_that_cannot_be_put_back_are_kept_in_a_named_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_set(out, {"sub/a.txt": "old a"})
    # The commit fails on z.txt; putting the previous sub/a.txt back (backup -> target) fails too.
    failing_replace(
        monkeypatch,
        lambda src, dst: dst == out / "z.txt" or (src.parent.parent.name.startswith(".synth-backup.")),
    )
    with pytest.raises(OSError, match="No space left") as raised:
        write_set(out, {"sub/a.txt": "new a", "new/n.txt": "n", "z.txt": "z"})
    monkeypatch.undo()
    (note,) = raised.value.__notes__
    backup = Path(note.split("kept in ")[1].split(": ")[0])
    assert note == f"could not restore 1 previous file(s), kept in {backup}: [Errno 28] No space left on device"
    assert backup.parent == out and backup.name.startswith(f".synth-backup.{os.getpid()}@{HOST}.")
    assert (backup / "sub" / "a.txt").read_text() == "old a"
    # The new file stayed where it could not be taken back from; the folder made for new/ is gone.
    assert (out / "sub" / "a.txt").read_text() == "new a"
    assert not (out / "new").exists()


def test_check_writable_dir_creates_the_folder_and_leaves_no_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a" / "b"
    real_unlink = os.unlink
    probes: list[Path] = []

    def unlink(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> None:
        probes.append(Path(path))
        real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(atomic.os, "unlink", unlink)
    assert atomic.check_writable_dir(target) == target
    monkeypatch.undo()
    (probe,) = probes
    assert probe.parent == target  # the probe proves the folder itself writable, not /tmp
    assert target.is_dir() and list(target.iterdir()) == []
    assert atomic.check_writable_dir(str(target)) == target  # an existing folder is fine
    assert list(target.iterdir()) == []


def test_check_writable_dir_names_the_folder_and_the_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    bad = tmp_path / "file" / "sub"
    with pytest.raises(PermissionError) as raised:
        atomic.check_writable_dir(bad)
    assert str(raised.value) == f"output directory {str(bad)!r} is not writable: Not a directory"
