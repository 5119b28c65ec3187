"""Issue #15 item 8: Ctrl-C while DuckDB works (the report check, dataset.duckdb) exits 130 with one line,
and nothing of the run is left. A real subprocess gets a real SIGINT once the database file appears."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from synth_pipelines import cli
from synth_pipelines.core.cli_support import EXIT_SIGINT, EXIT_SIGTERM, as_interrupt

ROOT = Path(__file__).resolve().parents[2]


def default_signals() -> None:
    # A background shell starts its children with SIGINT ignored; a user's terminal does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(("signum", "code", "name"), [(signal.SIGINT, EXIT_SIGINT, "SIGINT"),
                                                      (signal.SIGTERM, EXIT_SIGTERM, "SIGTERM")])  # fmt: skip
def test_a_signal_during_the_duckdb_phase_exits_cleanly(signum: int, code: int, name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "keep.txt").parent.mkdir()
    (out / "keep.txt").write_text("a previous file")
    args = ["relational", "--ddl", str(ROOT / "data/schemas/library.sql"), "--rows", "200000"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "synth_pipelines.cli", *args, "--format", "duckdb", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(ROOT), "SYNTH_DATA_DIR": str(tmp_path / "data")},
        preexec_fn=default_signals,
    )
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob(".synth-staging.*/.dataset.duckdb.*")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the DuckDB phase never started"
            time.sleep(0.02)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err[-3000:]
    assert err.strip().splitlines() == [f"synth: interrupted ({name}); nothing was written"]
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]  # no staging, no temp file, no new file


def test_a_duckdb_interrupt_in_process_is_reported_as_the_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from synth_pipelines.domains.relational import pipeline

    def interrupted(*args: object, **kwargs: object) -> None:
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(pipeline, "build_report", interrupted)
    args = ["relational", "--ddl", str(ROOT / "data/schemas/library.sql"), "--rows", "5", "--out", str(tmp_path)]
    assert cli.main(args) == EXIT_SIGINT
    assert capsys.readouterr().err == "synth: interrupted (SIGINT); nothing was written\n"
    assert list(tmp_path.iterdir()) == []


def test_other_errors_are_not_taken_for_interrupts() -> None:
    assert as_interrupt(duckdb.IOException("disk")) is None
    assert as_interrupt(ValueError("InterruptException")) is None
    assert isinstance(as_interrupt(duckdb.InterruptException("x")), KeyboardInterrupt)


def test_an_interrupt_chained_under_a_query_error_is_reported_as_the_interrupt() -> None:
    # Seen under load: the SIGTERM handler's exception surfaced inside a DuckDB query, which re-raised it
    # as RuntimeError("Query interrupted") chained to it; that must still exit 143, not print a traceback.
    from synth_pipelines.core.cli_support import Terminated, as_interrupt

    try:
        try:
            raise Terminated("SIGTERM")
        except Terminated as cause:
            raise RuntimeError("Query interrupted") from cause
    except RuntimeError as exc:
        found = as_interrupt(exc)
    assert isinstance(found, Terminated)
    assert as_interrupt(ValueError("bad value")) is None
