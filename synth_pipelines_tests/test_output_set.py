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
