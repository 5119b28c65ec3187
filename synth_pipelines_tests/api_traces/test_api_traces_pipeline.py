"""Exports, the CLI, and the Dagster group: same bytes either way, checks on ``api_traces/normalized`` that can fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml
from api_traces_support import SUPPORT_DESK_YAML

from synth_pipelines.core.domain import CheckOutcome, ConstraintViolation, Markdown, RunContext, draw_tables
from synth_pipelines.core.validate import validate_frame
from synth_pipelines.domains.api_traces.cli import main as cli_main
from synth_pipelines.domains.api_traces.domain import (
    EXPORT_FILES,
    TRANSITIONS_CHECK,
    WALKS_CHECK,
    ApiTracesDomain,
)
from synth_pipelines.domains.api_traces.truth import ground_truth
from synth_pipelines.domains.api_traces.workflow import load_workflow
from synth_pipelines.orchestration.factory import build_domain_assets
from synth_pipelines_tests.dagster_helpers import materialize_group

SEED = "42"
BUILTIN_ECOMMERCE = Path(__file__).resolve().parents[2] / "synth_pipelines/domains/api_traces/workflows/ecommerce.yaml"
SETTINGS = {"users": 300, "sessions_per_user_mean": 2.0, "sessions_per_user_std": 1.0, "days": 3}
CLI_SETTINGS = ["--users", "300", "--sessions-per-user", "2,1", "--days", "3"]


@pytest.fixture(scope="module")
def workflow_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wf") / "support_desk.yaml"
    path.write_text(SUPPORT_DESK_YAML)
    return path


def dagster_config(workflow_file: Path) -> dict:
    config = {**SETTINGS, "workflow": str(workflow_file), "cascade_failure_rate": 0.2}
    return {"ops": {"api_traces__config": {"config": config}}}


@pytest.fixture(scope="module")
def dagster_run(tmp_path_factory: pytest.TempPathFactory, workflow_file: Path):
    data = tmp_path_factory.mktemp("dagster_data")
    with dg.instance_for_test() as instance:
        result = materialize_group("api_traces", int(SEED), data, instance, dagster_config(workflow_file))
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


def transition_errors(calls: pl.DataFrame, workflow: dict) -> dict[str, list[float]]:
    """|declared - observed| per edge, by state ("(entry)" for the first call), retries not counted."""
    walks: dict[str, list[str]] = {}
    for session, endpoint in (
        calls.filter(~pl.col("is_retry")).sort("session_id", "seq").select("session_id", "endpoint").iter_rows()
    ):
        walks.setdefault(session, []).append(endpoint)
    counts: dict[str, dict[str, int]] = {}
    for walk in walks.values():
        for src, dst in zip(["(entry)", *walk], walk, strict=False):
            counts.setdefault(src, {})[dst] = counts.setdefault(src, {}).get(dst, 0) + 1
    declared = {"(entry)": workflow["entry_points"], **workflow["transitions"]}
    errors: dict[str, list[float]] = {}
    for state, row in declared.items():
        seen = counts.get(state, {})
        total = sum(seen.values())
        errors[state] = [abs(p - seen.get(dst, 0) / total) for dst, p in row.items()]
        errors[state] += [n / total for dst, n in seen.items() if dst not in row]
    return errors


def test_checks_pass_and_report_errors_per_state(dagster_run) -> None:
    result, export_dir = dagster_run
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations.keys() == {"no_invalid_rows", TRANSITIONS_CHECK.name, WALKS_CHECK.name}
    assert {e.asset_key for e in evaluations.values()} == {dg.AssetKey(["api_traces", "normalized"])}
    assert all(e.passed for e in evaluations.values())
    meta = {k: v.value for k, v in evaluations[TRANSITIONS_CHECK.name].metadata.items()}
    # The errors the check reports are the ones counted here from the exported calls and the YAML text.
    errors = transition_errors(pl.read_parquet(export_dir / "calls.parquet"), yaml.safe_load(SUPPORT_DESK_YAML))
    everything = [e for per_state in errors.values() for e in per_state]
    assert meta["max_abs_error"] == pytest.approx(max(everything), abs=1e-12) and meta["max_abs_error"] > 0
    assert meta["mean_abs_error"] == pytest.approx(sum(everything) / len(everything), abs=1e-12)
    # A small partition is judged by sampling error; the 0.01 bound needs 100,000 sessions.
    assert meta["within_bound"] == "n/a" and meta["within_sampling_error"] is True
    assert "standard errors" in meta["criterion"]
    for state, per_state in errors.items():
        assert meta[f"max_abs_error {state}"] == pytest.approx(max(per_state), abs=1e-12), state
        assert meta[f"mean_abs_error {state}"] == pytest.approx(sum(per_state) / len(per_state), abs=1e-12), state
    # what the workflow_fit asset used to show, as markdown tables on the check
    assert meta["edges_compared"] > 0 and meta["edges_outside_tolerance"] == 0
    for table in ("per_state", "worst_edges", "edges"):
        assert "/kb/search" in meta[table] and meta[table].lstrip().startswith("|"), table
    assert evaluations[WALKS_CHECK.name].metadata["violations"].value == 0


def test_only_the_walks_check_blocks_the_export() -> None:
    specs = {s.key.name: s for a in build_domain_assets(ApiTracesDomain()) for s in a.check_specs}
    assert {name: spec.blocking for name, spec in specs.items()} == {
        "no_invalid_rows": True,
        WALKS_CHECK.name: True,
        TRANSITIONS_CHECK.name: False,  # a statistical bound can miss on a small run without a wrong row
    }


def tampered_calls(workflow_file: Path) -> tuple[ApiTracesDomain, object, pl.DataFrame]:
    """Calls that contradict the workflow: every second /tickets/{id} call goes to an article instead."""
    domain = ApiTracesDomain()
    settings = domain.parse_config({**SETTINGS, "workflow": str(workflow_file)})
    calls = draw_tables(domain, settings, 42, RunContext())["calls"]
    tampered = calls.with_columns(
        pl.when((pl.col("endpoint") == "/tickets/{ticket_id}") & (pl.col("session_id") % 2 == 0))
        .then(pl.lit("/kb/articles/{article_id}"))
        .otherwise("endpoint")
        .alias("endpoint")
    )
    return domain, settings, tampered


def test_checks_fail_on_calls_that_do_not_fit(workflow_file: Path) -> None:
    """The checks are real: calls that contradict the workflow fail both (skewed probabilities, undeclared edges)."""
    domain, settings, tampered = tampered_calls(workflow_file)
    checks = {o.name: o for o in domain.checks({"calls": tampered}, settings, 42)}
    assert not checks[TRANSITIONS_CHECK.name].passed
    assert not checks[WALKS_CHECK.name].passed
    assert checks[WALKS_CHECK.name].metadata["violations"] > 0
    assert checks["no_invalid_rows"].passed  # every row is well-formed; only the walks are wrong


def test_a_partition_that_breaks_the_workflow_is_not_exported(
    workflow_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # normalize refuses such calls itself; here it hands them on, so the blocking check must stop them
    _, _, tampered = tampered_calls(workflow_file)
    monkeypatch.setattr(ApiTracesDomain, "normalize", lambda self, raw, cfg: {"calls": tampered})
    with dg.instance_for_test() as instance:
        result = materialize_group(
            "api_traces", 42, tmp_path, instance, dagster_config(workflow_file), raise_on_error=False
        )
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations[WALKS_CHECK.name].passed and not evaluations[TRANSITIONS_CHECK.name].passed
    assert not result.asset_materializations_for_node("api_traces__exported")
    assert not (tmp_path / "exports" / "api_traces").exists()


def test_a_failed_non_blocking_check_alone_does_not_stop_the_export(
    workflow_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ApiTracesDomain.checks

    def transitions_missed(self, tables, cfg, seed):  # type: ignore[no-untyped-def]
        return [
            CheckOutcome(o.name, False, "forced miss", o.metadata) if o.name == TRANSITIONS_CHECK.name else o
            for o in original(self, tables, cfg, seed)
        ]

    monkeypatch.setattr(ApiTracesDomain, "checks", transitions_missed)
    with dg.instance_for_test() as instance:
        result = materialize_group("api_traces", 42, tmp_path, instance, dagster_config(workflow_file))
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"no_invalid_rows": True, WALKS_CHECK.name: True, TRANSITIONS_CHECK.name: False}
    exported = tmp_path / "exports" / "api_traces" / f"seed={SEED}"
    assert sorted(p.name for p in exported.iterdir()) == sorted(EXPORT_FILES.values())


def test_transition_check_states_the_hard_bound_at_100k_sessions() -> None:
    """On a 100,000-session partition of a built-in the check applies (and passes) the 0.01 bound."""
    domain = ApiTracesDomain()
    settings = domain.parse_config(
        {"workflow": "ecommerce", "users": 100_000, "sessions_per_user_mean": 1.0, "sessions_per_user_std": 0.0}
    )
    tables = draw_tables(domain, settings, 42, RunContext())
    outcomes = {o.name: o for o in domain.checks(tables, settings, 42)}
    check = outcomes[TRANSITIONS_CHECK.name]
    meta = check.metadata
    assert check.passed
    assert meta["sessions"] == 100_000 and meta["within_bound"] is True and meta["within_sampling_error"] is True
    assert "max abs error < 0.01" in meta["criterion"]
    errors = transition_errors(tables["calls"], yaml.safe_load(BUILTIN_ECOMMERCE.read_text()))
    assert meta["max_abs_error"] == pytest.approx(max(max(e) for e in errors.values()), abs=1e-12)
    assert meta["max_abs_error"] < 0.01
    settings_errors = errors["/api/users/{user_id}/settings"]
    assert meta["mean_abs_error /api/users/{user_id}/settings"] == pytest.approx(
        sum(settings_errors) / len(settings_errors), abs=1e-12
    )
    assert isinstance(meta["per_state"], Markdown) and isinstance(meta["edges"], Markdown)


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
    calls = domain.draw(cfg, 1, RunContext())["calls"]
    broken = calls.with_columns(
        pl.when(pl.col("seq") == 0).then(pl.lit("/api/checkout")).otherwise("endpoint").alias("endpoint")
    )
    with pytest.raises(ConstraintViolation, match="starts at /api/checkout, which is not an entry point"):
        domain.normalize({"calls": broken}, cfg)


def test_schema_catches_labels_that_contradict_each_other() -> None:
    domain = ApiTracesDomain()
    cfg = domain.parse_config({"users": 20})
    clean = draw_tables(domain, cfg, 1, RunContext())
    assert domain.schema_outcome(clean, cfg).passed
    mislabelled = clean["calls"].with_columns(
        pl.when(pl.col("seq") == 0).then(True).otherwise("is_anomalous").alias("is_anomalous")
    )
    outcome = validate_frame(domain.schemas(cfg)["calls"], mislabelled)
    assert not outcome.ok
    assert "is_anomalous_iff_failure_kind" in outcome.failure_cases["check"].to_list()
    # the schema check of the domain says so too, with the failing rule among its failure cases
    check = domain.schema_outcome({"calls": mislabelled}, cfg)
    assert not check.passed and check.metadata["invalid_rows"] == outcome.invalid_rows > 0
    assert "is_anomalous_iff_failure_kind" in check.metadata["failure_cases"].text


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
