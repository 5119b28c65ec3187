"""Entry-point plugins appear in the CLI and as asset groups; the CLI fails clearly.

Record failures, summaries and the provider flags are tested through the stub in ``test_llm_e2e.py``."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import synth_pipelines.cli as cli
from synth_pipelines.domains.registry import all_domains
from synth_pipelines.domains.scenarios.registry import load_catalog
from synth_pipelines.orchestration.factory import build_domain_assets
from synth_pipelines_tests.scenarios.plugin_package import install_plugin


@pytest.fixture
def synth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``synth`` with the scenario subcommand (other domains are tested elsewhere)."""
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))

    def run(*argv: str) -> int:
        return cli.main(list(argv))

    return run


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    root = install_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    yield root
    sys.modules.pop("acme_stock", None)


def test_an_entry_point_plugin_is_discovered_and_a_broken_one_reported(plugin: Path) -> None:
    catalog = load_catalog()
    assert catalog.scenarios["stock-count"].origin == "plugin acme-stock (acme_stock:StockCountScenario)"
    assert [b.entry_point for b in catalog.broken] == ["broken-one = acme_stock:DoesNotExist"]


def test_a_plugin_appears_in_the_cli_and_runs(plugin: Path, synth, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert synth("scenario", "--list") == 0
    listing = capsys.readouterr().out
    assert "stock-count  [plugin acme-stock" in listing and "(broken plugin) broken-one" in listing
    out = tmp_path / "out"
    code = synth("scenario", "--scenario", "stock-count", "--count", "5", "--max-quantity", "9", "--out-dir", str(out))
    assert code == 0
    rows = [json.loads(line) for line in (out / "stock_count_counts.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and all(0 <= r["quantity"] <= 9 for r in rows)
    assert "stock-count: 5 of 5 records generated (offline), none failed" in capsys.readouterr().err


def test_a_plugin_becomes_its_own_asset_group(plugin: Path) -> None:
    assets = [a for domain in all_domains() for a in build_domain_assets(domain)]
    groups = {a.group_names_by_key[k] for a in assets for k in a.keys}
    assert {
        "scenario_stock_count",
        "scenario_tech_support",
        "scenario_financial",
        "scenario_healthcare",
    } <= groups
    keys = {k.to_user_string() for a in assets for k in a.keys if k.path[0] == "scenario_stock_count"}
    assert keys == {f"scenario_stock_count/{step}" for step in ("config", "normalized", "exported")}


def test_the_cli_writes_every_table_in_the_chosen_format(synth, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "fin"
    argv = [
        "scenario",
        "--scenario",
        "financial",
        "--count",
        "40",
        "--out-dir",
        str(out),
        "--output-format",
        "yaml",
    ]
    assert synth(*argv, "--transaction-type", "credit-card", "--transaction-count-max", "25") == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["financial_accounts.yaml", "financial_merchants.yaml", "financial_transactions.yaml"]
    assert "40 of 40 records generated" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--scenario", "financial", "--speciality", "cardiology"],
            "--speciality is not an argument of scenario financial",
        ),
        (["--scenario", "healthcare", "--speciality", "astrology"], "'astrology' is not one of"),
        (
            ["--scenario", "financial", "--transaction-count-max", "lots"],
            "--transaction-count-max: Input should be",
        ),
        (["--scenario", "financial", "--count", "1", "--fraud-rate", "0.5"], "--count 1"),
        (
            ["--scenario", "nope"],
            "unknown scenario 'nope'; known scenarios: financial, healthcare, tech-support",
        ),
        ([], "give --scenario NAME"),
    ],
)
def test_invalid_cli_arguments_fail_with_one_clear_line(
    synth, argv: list[str], message: str, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert synth("scenario", *argv, "--out-dir", str(tmp_path / "never")) == 1
    err = capsys.readouterr().err
    assert err.startswith("synth: error: ") and message in err
    assert not (tmp_path / "never").exists() or not any((tmp_path / "never").iterdir())


@pytest.mark.parametrize(("scenario", "largest", "width"), [("financial", 99_999_999, 8), ("healthcare", 9_999_999, 7)])
def test_a_count_past_what_the_ids_can_number_is_refused_before_anything_is_drawn(
    scenario: str, largest: int, width: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # TXN-%08d, ENC-%07d / SYN-P%07d are numbered from 1: the largest count is the largest id of that width.
    assert largest == 10**width - 1
    out = tmp_path / "out"
    code = cli.main(["scenario", "--scenario", scenario, "--count", str(largest + 1), "--out-dir", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert f"--count: Input should be less than or equal to {largest}" in err[0]
    assert not out.exists()
