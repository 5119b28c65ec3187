"""README: "Long runs show a progress bar on a terminal and stay quiet when piped" (and under CI).

``synth cv-logs`` runs in a fresh interpreter three ways: with its stdout and stderr on a pseudo-terminal,
on pipes, and on a pseudo-terminal with ``CI=1``. Only the first draws a bar; all three write the same files.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNT = "3000"
BAR = "cv-logs: 100%"  # tqdm's final frame: the description, then the share done


def environment(ci: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TERM")}  # the CI runner sets CI itself
    env |= {"PYTHONPATH": str(ROOT), "TERM": "xterm"}
    if ci:
        env["CI"] = "1"
    return env


def command(out: Path) -> list[str]:
    return [sys.executable, "-m", "synth_pipelines.cli", "cv-logs", "--count", COUNT, "--seed", "3", "--out", str(out)]


def run_on_terminal(argv: list[str], ci: bool) -> tuple[int, str]:
    """``argv`` in a fresh process whose stdout and stderr are a pseudo-terminal: its exit code and output."""
    controller, terminal = pty.openpty()
    # A fresh pty is 0x0 and tqdm sizes its bar to the terminal: give it the size a real one has.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=environment(ci), cwd=ROOT
    )
    os.close(terminal)
    chunks: list[bytes] = []
    while True:  # read until the child closes its end, so a full pty buffer never blocks it
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child exited and the terminal closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return process.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def run_on_pipes(argv: list[str]) -> tuple[int, str]:
    done = subprocess.run(argv, capture_output=True, text=True, env=environment(False), cwd=ROOT, timeout=120)
    return done.returncode, done.stdout + done.stderr


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.jsonl")}


def test_a_bar_on_a_terminal_none_when_piped_or_under_ci(tmp_path: Path) -> None:
    code, terminal = run_on_terminal(command(tmp_path / "tty"), ci=False)
    assert code == 0, terminal
    assert BAR in terminal and f"{COUNT}/{COUNT}" in terminal and "\r" in terminal

    code, piped = run_on_pipes(command(tmp_path / "pipe"))
    assert code == 0, piped
    assert "cv-logs:" not in piped and "%|" not in piped and "\r" not in piped

    code, under_ci = run_on_terminal(command(tmp_path / "ci"), ci=True)
    assert code == 0, under_ci
    assert "cv-logs:" not in under_ci and "%|" not in under_ci

    files = digests(tmp_path / "tty")
    assert files and digests(tmp_path / "pipe") == files == digests(tmp_path / "ci")
