"""Issue #15, the remaining "one clear line" rows: each through the real ``synth`` main, with the exit code,
the line naming the thing, no traceback, nothing written and no empty output folder left behind."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from synth_pipelines import cli

TINY_WORKFLOW = """\
name: tiny
entry_points: {/api/a: 1.0}
transitions:
  /api/a: {/api/b: 1.0}
exit_points: [/api/b]
avg_response_times: {/api/a: 100, /api/b: 50}
"""


def run(args: list[str]) -> int:
    try:
        return cli.main(args)
    except SystemExit as exit_:  # argparse usage errors
        return int(exit_.code or 0)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name in ("SYNTH_LLM_PROVIDER", "OPENAI_BASE_URL", "SYNTH_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def refused(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run a command that must be refused: its stderr lines (no traceback), nothing written below out/."""
    capsys.readouterr()
    assert run(args) != 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert lines and lines[0].startswith("synth"), lines
    assert not any("Traceback" in line for line in lines), lines
    assert not (tmp_path / "out").exists(), "a refused run left its output folder"
    return lines


DDL_CASES = {
    "no-columns": ("CREATE TABLE t ();\n", "schema.sql:1:", "table t has no columns"),
    "check-1-eq-0": ("CREATE TABLE t (id INT PRIMARY KEY, CHECK (1 = 0));\n", "schema.sql:1:", "names no column"),
    "partition-of": (
        "CREATE TABLE m (id INT PRIMARY KEY, d DATE);\nCREATE TABLE m1 PARTITION OF m FOR VALUES FROM (1) TO (2);\n",
        "schema.sql:2:",
        "table m1: PARTITION OF m is not supported",
    ),
    "two-schemas": (
        "CREATE TABLE s1.t (id INT PRIMARY KEY);\nCREATE TABLE s2.t (id INT PRIMARY KEY);\n",
        "schema.sql:2:",
        "tables s1.t and s2.t: schemas are not supported",
    ),
}


@pytest.mark.parametrize("case", list(DDL_CASES))
def test_ddl_refusals_are_one_line(
    case: str, tmp_path: Path, write_ddl, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    text, where, expected = DDL_CASES[case]
    ddl = write_ddl(text)
    lines = refused(
        ["relational", "--ddl", str(ddl), "--rows", "5", "--out", str(tmp_path / "out" / "deep")], tmp_path, capsys
    )
    assert len(lines) == 1, lines
    assert where in lines[0] and expected in lines[0], lines[0]


def test_a_narrower_integer_fk_to_a_bigint_key_is_accepted_as_postgresql_does(tmp_path: Path, write_ddl) -> None:
    ddl = write_ddl(
        "CREATE TABLE p (id BIGINT PRIMARY KEY);\n"
        "CREATE TABLE c (id INT PRIMARY KEY, p_id SMALLINT NOT NULL REFERENCES p(id));\n"
        "CREATE TABLE d (id INT PRIMARY KEY, p_id INT REFERENCES p(id));\n"
    )
    out = tmp_path / "out"
    assert run(["relational", "--ddl", str(ddl), "--rows", "30", "--out", str(out)]) == 0
    report = json.loads((out / "validation_report.json").read_text())
    assert report["ok"] and report["violations"] == 0
    # Independently: every child key is a parent key and fits a SMALLINT.
    con = duckdb.connect()
    orphans = con.execute(
        f"SELECT count(*) FROM read_csv('{out / 'c.csv'}') c ANTI JOIN read_csv('{out / 'p.csv'}') p ON c.p_id = p.id"
    ).fetchone()[0]
    widest = con.execute(f"SELECT max(abs(p_id)) FROM read_csv('{out / 'c.csv'}')").fetchone()[0]
    assert orphans == 0 and widest <= 32767


def test_numeric_38_10_passes_the_report_step(tmp_path: Path, write_ddl) -> None:
    ddl = write_ddl("CREATE TABLE t (id INT PRIMARY KEY, amount NUMERIC(38,10) NOT NULL CHECK (amount >= 0));\n")
    out = tmp_path / "out"
    assert run(["relational", "--ddl", str(ddl), "--rows", "20", "--out", str(out)]) == 0
    report = json.loads((out / "validation_report.json").read_text())
    assert report["ok"] and report["violations"] == 0


def test_skipped_statements_get_one_warning_line_each(
    tmp_path: Path, write_ddl, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    ddl = write_ddl(
        "CREATE TABLE t (id INT PRIMARY KEY);\nDROP TABLE x;\nINSERT INTO t VALUES (1);\n"
        "CREATE VIEW v AS SELECT 1;\nGRANT SELECT ON t TO bob;\nCREATE INDEX t_id ON t (id);\n"
    )
    assert run(["relational", "--ddl", str(ddl), "--rows", "5", "--out", str(tmp_path / "out")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    words = ["DROP", "INSERT", "CREATE VIEW", "GRANT"]
    assert len(warnings) == 4, warnings  # a plain index changes no data: no warning
    for line_no, (word, line) in enumerate(zip(words, warnings, strict=True), start=2):
        assert f"schema.sql:{line_no}: warning:" in line and f"{word} statements" in line and "skipped" in line


WORKFLOW_CASES = {
    "methods-list": ("methods: [GET, POST]\n", "methods: expected a mapping"),
    "error-rates-list": ("error_rates: [0.1]\n", "error_rates: expected a mapping"),
    "query-params-list": ("query_params: [page]\n", "query_params: expected a mapping"),
    "parameters-list": ("parameters: [user_id]\n", "parameters: expected a mapping"),
    "think-time-1e12": ("think_time_mean_s: 1.0e+12\n", "think_time_mean_s: expected seconds from 0 to 86400"),
}


@pytest.mark.parametrize("case", [*WORKFLOW_CASES, "response-time-1e308", "binary"])
def test_workflow_refusals_name_the_file_and_the_field(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    path = tmp_path / "flow.yaml"
    if case == "binary":
        path.write_bytes(bytes(range(256)) * 4)
        expected = "not a UTF-8 text file"
    elif case == "response-time-1e308":
        path.write_text(TINY_WORKFLOW.replace("/api/a: 100,", "/api/a: 1.0e+308,"))
        expected = "avg_response_times of /api/a: expected a positive number of ms up to 3600000"
    else:
        extra, expected = WORKFLOW_CASES[case]
        path.write_text(TINY_WORKFLOW + extra)
    lines = refused(["api-traces", "--workflow", str(path), "--users", "3", "--out", str(tmp_path / "out")], tmp_path,
                    capsys)  # fmt: skip
    # The workflow error format: one error line naming the file, then one line per problem.
    assert lines[0] == f"synth: error: {path}: invalid workflow (1 problem)"
    assert len(lines) == 2 and expected in lines[1], lines


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[::1/v1", "not a valid URL"),
        ("ftp://models.example/v1", "the scheme must be http or https, got 'ftp'"),
        ("localhost:8000/v1", "the scheme must be http or https"),
        ("http:///v1", "the URL names no host"),
        ("http://127.0.0.1:99999/v1", "Port out of range"),
    ],
)
def test_a_bad_base_url_is_refused_up_front(
    url: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    args = ["nlp", "--format", "qa", "--query", "tides", "--samples", "3", "--provider", "openai",
            "--base-url", url, "--output-prefix", str(tmp_path / "out" / "x")]  # fmt: skip
    lines = refused(args, tmp_path, capsys)
    assert len(lines) == 1 and "--base-url" in lines[0] and expected in lines[0], lines


def test_a_trailing_slash_output_prefix_writes_inside_the_folder(tmp_path: Path) -> None:
    assert run(["nlp", "--format", "qa", "--query", "tides", "--samples", "3", "--output-prefix", "made/"]) == 0
    inside = sorted(p.name for p in (tmp_path / "made").iterdir())
    assert inside == [f"nlp_qa_offline_from_query.{ext}" for ext in ("csv", "jsonl", "parquet")]
    assert not list(tmp_path.glob("nlp_*")) and not list(tmp_path.glob("made_*"))


def test_a_run_failing_inside_the_output_set_leaves_no_empty_folder(
    tmp_path: Path, write_ddl, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    from synth_pipelines.domains.relational import pipeline

    def full_disk(*args: object, **kwargs: object) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "build_report", full_disk)
    ddl = write_ddl("CREATE TABLE t (id INT PRIMARY KEY);\n")
    lines = refused(["relational", "--ddl", str(ddl), "--rows", "5", "--out", str(tmp_path / "out" / "a" / "b")],
                    tmp_path, capsys)  # fmt: skip
    assert len(lines) == 1 and "No space left on device" in lines[0]
    # A folder that existed before is kept, empty or not.
    (tmp_path / "kept").mkdir()
    refused(["relational", "--ddl", str(ddl), "--rows", "5", "--out", str(tmp_path / "kept")], tmp_path, capsys)
    assert (tmp_path / "kept").is_dir()


def test_a_full_disk_while_duckdb_writes_is_one_line(
    tmp_path: Path, write_ddl, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    from synth_pipelines.domains.relational import pipeline

    def full_disk(*args: object, **kwargs: object) -> object:
        raise duckdb.IOException('IO Error: Could not write to file "dataset.duckdb": No space left on device')

    monkeypatch.setattr(pipeline, "write_duckdb", full_disk)
    ddl = write_ddl("CREATE TABLE t (id INT PRIMARY KEY);\n")
    lines = refused(["relational", "--ddl", str(ddl), "--rows", "5", "--out", str(tmp_path / "out")], tmp_path, capsys)
    assert len(lines) == 1 and "dataset.duckdb" in lines[0] and "No space left on device" in lines[0], lines


def test_negative_sessions_per_user_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = refused(["api-traces", "--sessions-per-user=-1,1", "--out", str(tmp_path / "out")], tmp_path, capsys)
    assert len(lines) == 1 and "--sessions-per-user" in lines[0] and "'-1,1'" in lines[0], lines
