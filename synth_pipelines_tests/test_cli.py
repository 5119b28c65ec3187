"""The `synth` CLI: clear one-line errors, non-zero exits, nothing half-written, examples in --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from synth_pipelines.cli import build_parser, main
from synth_pipelines.core.validate import ValidationOutcome
from synth_pipelines.domains.cv_logs.domain import CvLogsDomain


def run_synth(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synth_pipelines.cli", *args], capture_output=True, text=True)


def test_unknown_domain_exits_2_with_one_line() -> None:
    result = run_synth("validate", "no-such-domain", "file.jsonl")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "invalid choice: 'no-such-domain'" in lines[0]
    top = run_synth("no-such-command")
    assert top.returncode == 2 and len(top.stderr.strip().splitlines()) == 1


def test_negative_count_exits_2_naming_the_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["cv-logs", "--count", "-5"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "synth cv-logs: error: argument --count: must be >= 1, got -5 (see synth cv-logs --help)"


def test_unwritable_output_dir_exits_1_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code = main(["cv-logs", "--count", "10", "--out", str(blocker / "out")])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not writable" in err[0] and str(blocker / "out") in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_a_failure_mid_run_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(CvLogsDomain, "block_records", 100)
    monkeypatch.setattr(CvLogsDomain, "validate_rows", 100)  # one block per pandera call
    original = CvLogsDomain.validate
    calls = {"n": 0}

    def fail_on_third_block(self: CvLogsDomain, clean):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        outcome = original(self, clean)
        return outcome if calls["n"] < 3 else ValidationOutcome(outcome.rows, 1, outcome.failure_cases)

    monkeypatch.setattr(CvLogsDomain, "validate", fail_on_third_block)
    out = tmp_path / "out"
    assert main(["cv-logs", "--count", "500", "--out", str(out)]) == 1
    assert "block 2" in capsys.readouterr().err
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_validate_reports_each_line_and_exits_1_on_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cv-logs", "--count", "20", "--seed", "3", "--name", "log", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["validate", "cv-logs", str(tmp_path / "log_valid.jsonl")]) == 0
    assert "20 lines, 20 valid, 0 invalid" in capsys.readouterr().out
    assert main(["validate", "cv-logs", str(tmp_path / "raw" / "log_invalid.jsonl")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if ": invalid: " in line]) == 20
    assert main(["validate", "cv-logs", str(tmp_path / "missing.jsonl")]) == 1
    assert "missing.jsonl: no such file" in capsys.readouterr().err


def test_every_command_shows_examples_in_help() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert subparsers.choices
    for name, sub in subparsers.choices.items():  # type: ignore[union-attr]
        assert "Examples:" in sub.format_help(), name
