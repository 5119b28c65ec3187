"""Issue #15, "one clear line instead of a traceback": each command or input from the issue -> its exit
code and one stderr line naming the flag, file or table."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth_pipelines import cli

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = str(ROOT / "data" / "schemas" / "library.sql")


def run(args: list[str]) -> int:
    try:
        return cli.main(args)
    except SystemExit as exit_:  # argparse usage errors
        return int(exit_.code or 0)


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["relational", "--ddl", LIBRARY, "--fanout", "inf"], 1, "--fanout: Input should be a finite number"),
        (["relational", "--ddl", LIBRARY, "--fanout", "nan"], 2, "argument --fanout: must be >= 0, got nan"),
        (["relational", "--ddl", LIBRARY, "--table-rows", "loans=5,loans=7"], 2, "'loans' is given twice"),
        (["api-traces", "--sessions-per-user", "inf,1"], 1, "--sessions-per-user-mean: Input should be a finite"),
        (["scenario", "--scenario", "financial", "--days", "100000000"], 1, "--days: Input should be less than or"),
        (["validate", "cv-logs", "{tmp}"], 1, "{tmp}: is a directory"),
        (["validate", "cv-logs", "/dev/null"], 1, "/dev/null: not a regular file"),
        (["nlp", "--samples", "1e10"], 2, "--samples: expected a whole number, got '1e10'"),
        (["seed", "add", str(2**80)], 2, "seed must be between 0 and 2**63-1"),
    ],
    ids=["fanout-inf", "fanout-nan", "table-rows-twice", "sessions-inf", "scenario-days-1e8", "validate-dir",
         "validate-dev-null", "nlp-samples-1e10", "seed-2**80"],
)  # fmt: skip
def test_bad_input_gives_one_line_and_an_exit_code(
    args: list[str], code: int, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out_flag = {"scenario": ["--out-dir", str(tmp_path / "o")], "relational": ["--out", str(tmp_path / "o")],
                "api-traces": ["--out", str(tmp_path / "o")]}.get(args[0], [])  # fmt: skip
    assert run([*args, *out_flag]) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert expected.replace("{tmp}", str(tmp_path)) in lines[0]
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
