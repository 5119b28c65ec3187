"""``synth``: the same pipeline code as the Dagster assets, from a terminal.

Each domain adds its own subcommand through a ``register(subparsers)`` function in its folder
(``domains/<domain>/cli.py``); handlers return an exit code or raise ``CliError`` for a clear
one-line message. Nothing is half-written: every file goes to a temporary path first.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from synth_pipelines.core.domain import ConstraintViolation


class CliError(Exception):
    """A user error: printed as ``synth: error: <message>``, exit code 1 (or ``code``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples in epilogs as written and shows defaults."""


def package_version() -> str:
    try:
        return version("synth-pipelines")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0+unknown"


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def show_progress() -> bool:
    """A progress bar on a terminal; quiet when output is piped or under CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def _domain_registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    from synth_pipelines.domains.api_traces.cli import register as register_api_traces
    from synth_pipelines.domains.logs.cli import register as register_logs
    from synth_pipelines.domains.nlp.cli import register as register_nlp
    from synth_pipelines.domains.relational.cli import register as register_relational
    from synth_pipelines.domains.scenarios.cli import register as register_scenario
    from synth_pipelines.orchestration.seed_cli import register as register_seed

    return [register_logs, register_relational, register_nlp, register_scenario, register_api_traces, register_seed]


class SynthArgumentParser(argparse.ArgumentParser):
    """Usage errors as one line (``synth cv-logs: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = SynthArgumentParser(
        prog="synth",
        description="Deterministic synthetic datasets: the same code as the Dagster assets, from a terminal.",
        epilog="Examples:\n  synth cv-logs --count 100 --seed 42 --name log --out data/synthetic\n"
        "  synth validate cv-logs data/synthetic/log_valid.jsonl\n  synth seed add 7",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"synth-pipelines {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=SynthArgumentParser)
    for register in _domain_registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"synth: error: {exc}", file=sys.stderr)
        return exc.code
    except (ConstraintViolation, OSError, ValueError) as exc:
        print(f"synth: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("synth: interrupted; no partial files were left", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run the imported module's main: under `python -m`, this file is `__main__`, and a domain's
    # `CliError` (imported from `synth_pipelines.cli`) would not match this copy's class.
    from synth_pipelines.cli import main as package_main

    sys.exit(package_main())
