"""Exports, the CLI, and the Dagster group: same bytes either way, checks that can fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from api_traces_support import SUPPORT_DESK_YAML
from dagster_duckdb_polars import DuckDBPolarsIOManager

from synth_pipelines.core.domain import ConstraintViolation, RunContext
from synth_pipelines.domains.api_traces.assets import TRANSITIONS_CHECK, WALKS_CHECK, api_traces_assets
from synth_pipelines.domains.api_traces.cli import main as cli_main
from synth_pipelines.domains.api_traces.domain import EXPORT_FILES, ApiTracesDomain
from synth_pipelines.domains.api_traces.truth import ground_truth
from synth_pipelines.domains.api_traces.workflow import load_workflow
from synth_pipelines.orchestration.resources import SynthDataDir

SEED = "42"
SETTINGS = {"users": 300, "sessions_per_user_mean": 2.0, "sessions_per_user_std": 1.0, "days": 3}
CLI_SETTINGS = ["--users", "300", "--sessions-per-user", "2,1", "--days", "3"]


@pytest.fixture(scope="module")
def workflow_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wf") / "support_desk.yaml"
    path.write_text(SUPPORT_DESK_YAML)
    return path


@pytest.fixture(scope="module")
def dagster_run(tmp_path_factory: pytest.TempPathFactory, workflow_file: Path):
    data = tmp_path_factory.mktemp("dagster_data")
    resources = {
        "io_manager": DuckDBPolarsIOManager(database=str(data / "warehouse.duckdb")),
        "synth_data": SynthDataDir(path=str(data)),
    }
    config = {**SETTINGS, "workflow": str(workflow_file), "cascade_failure_rate": 0.2}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("seed", [SEED])
        result = dg.materialize(
            api_traces_assets(),
            partition_key=SEED,
            instance=instance,
            resources=resources,
            run_config={"ops": {"api_traces__config": {"config": config}}},
        )
    assert result.success
    return result, data / "exports" / "api_traces" / f"seed={SEED}"


def run_cli(args: list[str]) -> int:
    return cli_main(args)


def test_dagster_exports_every_file_atomically(dagster_run) -> None:
    _, export_dir = dagster_run
    assert sorted(p.name for p in export_dir.iterdir()) == sorted(EXPORT_FILES.values())
    assert not [p for p in export_dir.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_cli_writes_byte_identical_files_to_dagster(dagster_run, workflow_file: Path, tmp_path: Path) -> None:
    _, export_dir = dagster_run
    args = ["--workflow", str(workflow_file), *CLI_SETTINGS, "--cascade-failure-rate", "0.2", "--seed", SEED]
    assert run_cli([*args, "--out", str(tmp_path)]) == 0
    for name in EXPORT_FILES.values():
        assert (tmp_path / name).read_bytes() == (export_dir / name).read_bytes(), name


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for run, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert run_cli([*CLI_SETTINGS, "--seed", seed, "--out", str(tmp_path / run)]) == 0
    for name in EXPORT_FILES.values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "calls.parquet").read_bytes() != (tmp_path / "c" / "calls.parquet").read_bytes()


def test_exported_files_agree_with_each_other(dagster_run) -> None:
    _, export_dir = dagster_run
    calls = pl.read_parquet(export_dir / "calls.parquet")
    assert pl.read_ndjson(export_dir / "calls.jsonl").height == calls.height
    first = json.loads((export_dir / "calls.jsonl").open().readline())
    for field in ("session_id", "seq", "endpoint", "path", "method", "status_code", "response_time_ms",
                  "timestamp", "user_id", "user_type", "is_retry", "is_anomalous"):  # fmt: skip
        assert field in first
    assert first["timestamp"].endswith("Z")
    sessions = pl.read_parquet(export_dir / "sessions.parquet")
    assert sessions.height == calls["session_id"].n_unique()
    assert sessions["n_calls"].sum() == calls.height
    assert sessions["n_retries"].sum() == calls["is_retry"].sum()
    assert sessions["exit_endpoint"].is_in(["/logout"]).all()
    truth = json.loads((export_dir / "ground_truth.json").read_text())
    assert truth["transitions"]["/kb/search"]["/kb/search"] == 0.35


def test_checks_pass_and_report_errors_per_state(dagster_run) -> None:
    result, _ = dagster_run
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations.keys() == {"no_invalid_rows", TRANSITIONS_CHECK, WALKS_CHECK}
    assert all(e.passed for e in evaluations.values())
    meta = {k: v.value for k, v in evaluations[TRANSITIONS_CHECK].metadata.items()}
    assert isinstance(meta["max_abs_error"], float) and meta["max_abs_error"] < 0.1
    # A small partition is judged by sampling error; the 0.01 bound needs 100,000 sessions.
    assert meta["within_bound"] == "n/a" and meta["within_sampling_error"] is True
    assert "standard errors" in meta["criterion"]
    for state in ("(entry)", "/tickets", "/kb/search"):
        assert isinstance(meta[f"max_abs_error {state}"], float)
        assert isinstance(meta[f"mean_abs_error {state}"], float)
    assert evaluations[WALKS_CHECK].metadata["violations"].value == 0


def test_checks_fail_on_calls_that_do_not_fit(workflow_file: Path) -> None:
    """The checks are real: feed workflow_fit calls that contradict the workflow and both fail."""
    domain = ApiTracesDomain()
    settings = domain.parse_config({**SETTINGS, "workflow": str(workflow_file)})
    calls = domain.normalize(domain.draw(settings, 42, RunContext()), settings).with_columns(pl.lit(42).alias("seed"))
    cfg = pl.DataFrame({"seed": [42], "config_json": [settings.model_dump_json()]})
    # Send every second /tickets call to /logout's place: skewed probabilities and undeclared edges.
    tampered = calls.with_columns(
        pl.when((pl.col("endpoint") == "/tickets/{ticket_id}") & (pl.col("session_id") % 2 == 0))
        .then(pl.lit("/kb/articles/{article_id}"))
        .otherwise("endpoint")
        .alias("endpoint")
    )
    fit = next(a for a in api_traces_assets() if a.key == dg.AssetKey(["api_traces", "workflow_fit"]))
    context = dg.build_asset_context(partition_key=SEED)
    outputs = list(fit(context, cfg=cfg, validated=tampered))
    checks = {o.check_name: o for o in outputs if isinstance(o, dg.AssetCheckResult)}
    assert not checks[TRANSITIONS_CHECK].passed
    assert not checks[WALKS_CHECK].passed
    assert checks[WALKS_CHECK].metadata["violations"].value > 0


def test_transition_check_states_the_hard_bound_at_100k_sessions() -> None:
    """On a 100,000-session partition of a built-in the check applies (and passes) the 0.01 bound."""
    domain = ApiTracesDomain()
    settings = domain.parse_config(
        {"workflow": "ecommerce", "users": 100_000, "sessions_per_user_mean": 1.0, "sessions_per_user_std": 0.0}
    )
    calls = domain.draw(settings, 42, RunContext()).with_columns(pl.lit(42).alias("seed"))
    cfg = pl.DataFrame({"seed": [42], "config_json": [settings.model_dump_json()]})
    fit = next(a for a in api_traces_assets() if a.key == dg.AssetKey(["api_traces", "workflow_fit"]))
    outputs = list(fit(dg.build_asset_context(partition_key=SEED), cfg=cfg, validated=calls))
    check = next(o for o in outputs if isinstance(o, dg.AssetCheckResult) and o.check_name == TRANSITIONS_CHECK)
    meta = {k: v.value for k, v in check.metadata.items()}
    assert check.passed
    assert meta["sessions"] == 100_000 and meta["within_bound"] is True and meta["within_sampling_error"] is True
    assert "max abs error < 0.01" in meta["criterion"]
    assert isinstance(meta["max_abs_error"], float) and meta["max_abs_error"] < 0.01
    assert isinstance(meta["mean_abs_error /api/users/{user_id}/settings"], float)


def test_invalid_workflow_exits_nonzero_with_the_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SUPPORT_DESK_YAML.replace("/kb/search: 0.35", "/kb/search: 0.55"))
    out = tmp_path / "out"
    assert run_cli(["--workflow", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"synth: error: {bad}: invalid workflow" in err
    assert "transitions of /kb/search: probabilities sum to 1.2, not 1" in err
    assert not out.exists()


def test_bad_settings_exit_nonzero(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(["--out", str(tmp_path), "--start-date", "yesterday"]) == 1
    assert "start_date must be YYYY-MM-DD" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        run_cli(["--out", str(tmp_path), "--sessions-per-user", "3"])
    assert info.value.code == 2


def test_list_workflows(capsys: pytest.CaptureFixture) -> None:
    assert run_cli(["--list-workflows"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ecommerce") and "microservices" in out and "15 endpoints" in out


def test_normalize_refuses_calls_that_break_the_workflow() -> None:
    domain = ApiTracesDomain()
    cfg = domain.parse_config({"users": 20})
    calls = domain.draw(cfg, 1, RunContext())
    broken = calls.with_columns(
        pl.when(pl.col("seq") == 0).then(pl.lit("/api/checkout")).otherwise("endpoint").alias("endpoint")
    )
    with pytest.raises(ConstraintViolation, match="starts at /api/checkout, which is not an entry point"):
        domain.normalize(broken, cfg)


def test_schema_catches_labels_that_contradict_each_other() -> None:
    domain = ApiTracesDomain()
    cfg = domain.parse_config({"users": 20})
    clean = domain.normalize(domain.draw(cfg, 1, RunContext()), cfg)
    assert domain.validate(clean).ok
    mislabelled = clean.with_columns(
        pl.when(pl.col("seq") == 0).then(True).otherwise("is_anomalous").alias("is_anomalous")
    )
    outcome = domain.validate(mislabelled)
    assert not outcome.ok
    assert "is_anomalous_iff_failure_kind" in outcome.failure_cases["check"].to_list()


def test_ground_truth_matches_the_workflow_definition() -> None:
    wf = load_workflow("ecommerce")
    truth = ground_truth(wf)
    assert truth["entry_points"] == wf.entry_points and truth["transitions"] == wf.transitions


def test_cli_process_exit_code_on_invalid_workflow(tmp_path: Path) -> None:
    """A real process: non-zero exit status and the validation message on stderr."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(SUPPORT_DESK_YAML.replace("exit_points:\n  - /logout\n", "exit_points: []\n"))
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "synth_pipelines.domains.api_traces.cli",
            "--workflow",
            str(bad),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    assert proc.returncode == 1
    assert "exit_points: expected a non-empty list of endpoints" in proc.stderr
    assert not (tmp_path / "o").exists()
