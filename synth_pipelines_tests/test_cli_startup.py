"""``synth`` start-up: the command list without importing any domain, one module per command run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from synth_pipelines import cli
from synth_pipelines.core.cli_support import CliError, Terminated
from synth_pipelines.domains.registry import DOMAIN_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("polars", "pandas", "numpy", "pyarrow", "dagster", "langchain_core", "langchain", "pydantic", "duckdb")

# Runs main(argv) in a fresh interpreter; prints what it wrote, its exit status and the modules then loaded.
PROBE = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from synth_pipelines.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(json.loads(sys.argv[1]))
        except SystemExit as exc:
            code = exc.code
    print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue(), "modules": sorted(sys.modules)}))
    """
)


def probe(*argv: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(done.stdout)


def loaded(modules: object, roots: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in roots})


def domain_modules(modules: object) -> list[str]:
    assert isinstance(modules, list)
    light = {"synth_pipelines.domains", "synth_pipelines.domains.registry"}
    return [m for m in modules if m.startswith("synth_pipelines.domains") and m not in light]


def test_help_lists_every_command_without_importing_a_domain_or_a_heavy_library() -> None:
    result = probe("--help")
    assert result["code"] == 0
    assert loaded(result["modules"], HEAVY) == []
    assert domain_modules(result["modules"]) == []
    assert "synth_pipelines.orchestration" not in result["modules"]
    text = " ".join(str(result["out"]).split())  # argparse wraps long help lines
    for package in DOMAIN_PACKAGES:
        for name, help_text in package.commands:
            assert f"{name} {help_text}" in text, name
    assert "seed register seed partitions" in text


def test_help_does_not_import_them_under_python_x_importtime_either() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "synth_pipelines.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "synth_pipelines.core.cli_support" in imported  # the probe sees the package's imports
    assert loaded(sorted(imported), HEAVY) == []


def test_running_a_command_imports_its_own_cli_module_only() -> None:
    result = probe("relational", "--help")
    assert result["code"] == 0 and "Examples:" in str(result["out"])
    modules = result["modules"]
    assert "synth_pipelines.domains.relational.cli" in modules  # type: ignore[operator]
    others = {p.package for p in DOMAIN_PACKAGES} - {"relational"}
    assert [m for m in domain_modules(modules) if m.split(".")[2] in others] == []
    assert loaded(modules, ("dagster", "langchain_core", "langchain")) == []


def test_version_and_unknown_command() -> None:
    version = probe("--version")
    assert version["code"] == 0 and str(version["out"]).startswith("synth-pipelines ")
    unknown = probe("frobnicate", "--count", "3")
    assert unknown["code"] == 2
    lines = str(unknown["err"]).strip().splitlines()
    assert len(lines) == 1 and "unknown command 'frobnicate'" in lines[0]
    assert all(name in lines[0] for name in cli.commands())
    assert domain_modules(unknown["modules"]) == []


def test_the_command_table_names_a_module_for_every_command() -> None:
    for name in cli.commands():
        module = cli.cli_module(name)
        assert module.startswith("synth_pipelines.") and module.endswith("cli"), name
    assert cli.cli_module("cv-logs") in ("synth_pipelines.domains.cv_logs.cli", "synth_pipelines.domains.logs.cli")
    assert cli.cli_module("seed") == "synth_pipelines.orchestration.seed_cli"


# main's exit statuses, through a stand-in command registered the way a domain's is.


def register(sub) -> None:  # type: ignore[no-untyped-def]
    """``register(subparsers)`` of the stand-in command ``fake``: ``fake WHAT`` raises or signals WHAT."""
    parser = sub.add_parser("fake")
    parser.add_argument("what")
    parser.set_defaults(func=_fake)


def _fake(args) -> int:  # type: ignore[no-untyped-def]
    import os

    match args.what:
        case "ok":
            return 0
        case "cli-error":
            raise CliError("bad input", code=4)
        case "value-error":
            raise ValueError("a bad value")
        case "constraint":
            from synth_pipelines.core.domain import ConstraintViolation

            raise ConstraintViolation("3 rows break the key; nothing was written")
        case "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()  # never reached: the handler raises Terminated first
        case "sigint":
            raise KeyboardInterrupt
        case "bug":
            raise RuntimeError("a bug")
    raise AssertionError(args.what)


@pytest.fixture
def fake_command(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(cli.NON_DOMAIN_COMMANDS, "fake", (__name__, "a stand-in command"))
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize(
    ("what", "code", "message"),
    [
        ("ok", 0, ""),
        ("cli-error", 4, "synth: error: bad input"),
        ("value-error", 1, "synth: error: a bad value"),
        ("constraint", 1, "synth: error: 3 rows break the key; nothing was written"),
        ("sigterm", 143, "synth: interrupted (SIGTERM); nothing was written"),
        ("sigint", 130, "synth: interrupted (SIGINT); nothing was written"),
    ],
)
def test_main_maps_errors_and_signals_to_one_line_and_an_exit_status(
    fake_command: None, capsys: pytest.CaptureFixture[str], what: str, code: int, message: str
) -> None:
    assert cli.main(["fake", what]) == code
    assert capsys.readouterr().err.strip() == message
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # main put the default back


def test_a_bug_is_not_hidden_behind_a_one_line_error(fake_command: None) -> None:
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["fake", "bug"])


def test_terminated_is_a_keyboard_interrupt() -> None:
    assert issubclass(Terminated, KeyboardInterrupt)
