"""What confused a newcomer: --help defaults, scenario groups, unknown flags, output folders, schemas, seeds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import synth_pipelines.cli as cli
from synth_pipelines.core.paths import SCHEMAS_DIR


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        cli.main([*command.split(), "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", [c for c in cli.commands() if c != "seed"])
def test_help_shows_one_default_per_flag_and_never_none(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(command, capsys)
    assert "(default: None)" not in text
    assert not re.search(r"\(default: [^)]*\) \(default:", text)


def test_a_flag_of_several_scenarios_is_not_listed_under_one_of_them(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of("scenario", capsys)
    financial = text.split("financial arguments:")[1].split("healthcare arguments:")[0]
    assert "--days" not in financial
    shared = text.split("arguments of several scenarios:")[1].split("financial arguments:")[0]
    assert "--days" in shared and "(tech-support; default: 90)" in shared


def test_an_unknown_flag_points_at_the_subcommands_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["cv-logs", "--count", "5", "--bogus", "1"])
    err = capsys.readouterr().err.strip()
    assert done.value.code == 2
    assert err == "synth cv-logs: error: unrecognized arguments: --bogus 1 (see synth cv-logs --help)"


def test_every_command_writes_under_the_data_dirs_synthetic_folder_by_default(project: Path) -> None:
    assert cli.main(["cv-logs", "--count", "20", "--name", "log"]) == 0
    assert cli.main(["scenario", "--scenario", "financial", "--count", "3"]) == 0
    assert cli.main(["nlp", "--query", "tides", "--format", "qa", "--samples", "4"]) == 0
    assert cli.main(["api-traces", "--users", "5", "--days", "1"]) == 0
    assert cli.main(["relational", "--ddl", str(SCHEMAS_DIR / "library.sql"), "--rows", "20"]) == 0
    found = project / "synthetic"
    assert (found / "log_valid.jsonl").is_file()
    assert any((found / "financial").iterdir())
    assert (found / "nlp_qa_offline_from_query.jsonl").is_file()
    assert any((found / "api_traces").iterdir())
    assert any((found / "library").iterdir())
    assert sorted(p.name for p in project.iterdir() if p.name != "llm_cache.sqlite") in (
        ["synthetic"],
        ["nlp", "synthetic"],  # the nlp checkpoint folder (removed files, the folder may stay)
    )


def test_a_ddl_in_the_data_dirs_schemas_folder_is_an_asset_group(project: Path) -> None:
    from synth_pipelines.domains.relational.domain import domains

    (project / "schemas").mkdir(parents=True)
    shutil.copy(SCHEMAS_DIR / "library.sql", project / "schemas" / "lending.sql")
    names = [d.name for d in domains()]
    assert "lending" in names and "library" in names  # the user's and the source tree's


def test_materialize_refuses_an_unregistered_seed_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    assert cli.main(["materialize", "--select", "group:cv_logs", "--seed", "99"]) == 1
    assert capsys.readouterr().err.strip() == "synth: error: seed 99 is not registered: run synth seed add 99"
