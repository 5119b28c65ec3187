"""Habits of the CV-log and API-trace generators' users: make targets, share flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import synth_pipelines.cli as cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("target", "raw"), [("generate", False), ("generate.raw", True)])
def test_make_generate_and_generate_raw(target: str, raw: bool, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = os.environ | {"SYNTH_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), target, f"BIN={Path(sys.executable).parent}", "COUNT=30", f"OUT={out}"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "cv_logs_valid.jsonl").read_text().count("\n") == 30
    assert (out / "raw" / "cv_logs_invalid.jsonl").is_file() is raw


def test_api_traces_user_type_and_cascade_shares_are_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["api-traces", "--help"])
    options = " ".join(capsys.readouterr().out.split()).split("options:")[1]
    for flag in ("--premium-share", "--free-share", "--guest-share", "--slow-share", "--timeout-share",
                 "--unavailable-share", "--retry-probability", "--cascade-failure-rate"):  # fmt: skip
        assert "(default: " in options.split(f"{flag} ")[1][:250], flag
    argv = [
        "api-traces", "--users", "20", "--days", "1", "--premium-share", "0.5", "--free-share", "0.3",
        "--guest-share", "0.2", "--cascade-failure-rate", "0.2", "--slow-share", "0.4", "--timeout-share", "0.3",
        "--unavailable-share", "0.3", "--out", str(tmp_path / "traces"),
    ]  # fmt: skip
    assert cli.main(argv) == 0
    shares = ["--premium-share", "0.5", "--free-share", "0.5", "--guest-share", "0.5"]
    assert cli.main([*argv[:5], *shares, "--out", str(tmp_path / "bad")]) == 1  # shares must add up to 1
