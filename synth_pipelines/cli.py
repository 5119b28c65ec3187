"""``synth``: the same pipeline code as the Dagster assets, from a terminal.

The command list comes from the domain registry (``domains/registry.py``, the list ``defs`` is
built from) plus ``NON_DOMAIN_COMMANDS``; ``synth --help`` reads names and one-line helps from
there and imports no domain. ``synth COMMAND`` imports only the ``cli.py`` that adds COMMAND and
calls its ``register(subparsers)``. Handlers return an exit code or raise ``CliError`` for a clear
one-line message. Nothing is half-written: a run's files appear together (``core/atomic.output_set``),
also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from synth_pipelines.core.cli_support import (
    CliError,
    HelpFormatter,
    SynthArgumentParser,
    Terminated,
    as_interrupt,
    non_negative_int,
    package_version,
    positive_int,
    report_interrupt,
    show_progress,
    sigterm_as_interrupt,
)
from synth_pipelines.core.log_setup import add_log_flags, configure_from_args
from synth_pipelines.domains.registry import DOMAIN_PACKAGES

# Re-exported for domain CLIs that still import them from here; new code imports core.cli_support.
__all__ = [
    "CliError",
    "HelpFormatter",
    "SynthArgumentParser",
    "Terminated",
    "build_parser",
    "cli_module",
    "commands",
    "main",
    "non_negative_int",
    "package_version",
    "positive_int",
    "show_progress",
]

# Commands that are not a domain's: command -> (module with ``register(subparsers)``, one-line help).
NON_DOMAIN_COMMANDS: dict[str, tuple[str, str]] = {
    "seed": ("synth_pipelines.orchestration.seed_cli", "register seed partitions in the Dagster instance"),
    "datasets": ("synth_pipelines.store.cli", "kept datasets: list, show, export, versions, undo, delete"),
    "modify": ("synth_pipelines.store.cli", "edit a kept dataset: SQL, a spec patch, or feedback through the LLM"),
    "db": ("synth_pipelines.store.cli", "the dataset catalog's migrations: check or apply"),
    "ask": ("synth_pipelines.ask.cli", "ask a kept dataset in words (with a provider) or SQL, through the safety gate"),
    "materialize": (
        "synth_pipelines.orchestration.materialize_cli",
        "materialize asset groups for one registered seed (dagster asset materialize)",
    ),
    "serve": ("synth_pipelines.studio.cli", "the studio's REST + Socket.IO API (FastAPI), default 127.0.0.1:4000"),
    "studio": (
        "synth_pipelines.studio.cli",
        "the studio web app (Streamlit): Data Generation and Talk to your data, default 127.0.0.1:8501",
    ),
}

# Domain packages without a cli.py of their own -> the package whose cli.py adds their commands: the
# three log domains share domains/logs/cli.py today. A package's own cli.py wins once it has one.
_CLI_OF_PACKAGE = {"cv_logs": "logs", "api_logs": "logs", "agent_traces": "logs"}


def commands() -> dict[str, str]:
    """Every command -> its one-line help, in ``synth --help`` order; imports nothing."""
    found = {name: help_text for package in DOMAIN_PACKAGES for name, help_text in package.commands}
    return found | {name: help_text for name, (_, help_text) in NON_DOMAIN_COMMANDS.items()}


def cli_module(command: str) -> str:
    """The module whose ``register(subparsers)`` adds ``command``.

    Looking for a package's own ``cli.py`` imports that package's ``__init__``: only done for the
    command that runs.
    """
    if command in NON_DOMAIN_COMMANDS:
        return NON_DOMAIN_COMMANDS[command][0]
    package = next(p.package for p in DOMAIN_PACKAGES if command in dict(p.commands))
    own = f"synth_pipelines.domains.{package}.cli"
    if package not in _CLI_OF_PACKAGE or importlib.util.find_spec(own) is not None:
        return own
    return f"synth_pipelines.domains.{_CLI_OF_PACKAGE[package]}.cli"


class _VersionAction(argparse.Action):
    """``--version``, reading the installed metadata only when asked (it costs start-up time)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"synth-pipelines {package_version()}")  # stdout, as argparse's own version action
        parser.exit()


def build_parser(only: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The ``synth`` parser: full sub-parsers for the commands in ``only`` (every command when None).

    Every other command gets a bare entry (name and one-line help), enough for ``synth --help``
    without importing its module.
    """
    table = commands()
    wanted = list(table) if only is None else list(only)
    parser = SynthArgumentParser(
        prog="synth",
        description="Deterministic synthetic datasets: the same code as the Dagster assets, from a terminal.",
        epilog="Examples:\n  synth cv-logs --count 100 --seed 42 --name log --out data/synthetic\n"
        "  synth validate cv-logs data/synthetic/log_valid.jsonl\n  synth seed add 7",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=SynthArgumentParser)
    for module_name in dict.fromkeys(cli_module(name) for name in wanted):
        importlib.import_module(module_name).register(sub)
    missing = [name for name in wanted if name not in sub.choices]  # type: ignore[operator]
    if missing:
        raise RuntimeError(f"{cli_module(missing[0])}.register() did not add the command {missing[0]!r}")
    # A module may add more commands than asked for (logs adds four): only the others get a bare entry.
    for name, help_text in table.items():
        if name not in sub.choices:  # type: ignore[operator]
            sub.add_parser(name, help=help_text, add_help=False)
    _add_log_flags_everywhere(parser)
    return parser


def _add_log_flags_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--log-level`` / ``--log-format`` on ``synth`` and on every (nested) subcommand, before or after its words."""
    add_log_flags(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                if child.add_help:  # bare entries (commands not running) get nothing
                    _add_log_flags_everywhere(child)


# ``synth``'s own options that take a value (the logging flags): the word after them is not the command.
_VALUE_OPTIONS = ("--log-level", "--log_level", "--log-format", "--log_format")


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command)
    return None


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand word: the first argument that is neither an option nor a value of one of ``synth``'s."""
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--":
            return argv[i + 1] if i + 1 < len(argv) else None
        if arg in _VALUE_OPTIONS:
            skip = True
            continue
        if not arg.startswith("-"):
            return arg
    return None


def _run(argv: list[str]) -> int:
    command = _command_of(argv)
    table = commands()
    if command is not None and command not in table:
        parser = build_parser(only=())
        parser.error(f"unknown command {command!r}; commands: {', '.join(table)}")
    parser = build_parser(only=() if command is None else (command,))
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the subcommand's parser, so the message points at its --help
        owner = _subparser(parser, command) if command is not None else None
        (owner or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    configure_from_args(args)
    return int(args.func(args) or 0)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors shown as one line: ``ConstraintViolation`` counts once its module is loaded.

    Looked up rather than imported: ``core.domain`` imports polars, and if no command imported it,
    none of its exceptions can have been raised.
    """
    domain = sys.modules.get("synth_pipelines.core.domain")
    violation = getattr(domain, "ConstraintViolation", None)
    # DuckDB's own disk-full and memory errors are the machine's state, not a bug: one line naming the file.
    duckdb = sys.modules.get("duckdb")
    machine = tuple(
        error for error in (getattr(duckdb, "IOException", None), getattr(duckdb, "OutOfMemoryException", None))
        if isinstance(error, type)
    )  # fmt: skip
    return (OSError, ValueError, *machine) + ((violation,) if isinstance(violation, type) else ())


def main(argv: Sequence[str] | None = None) -> int:
    code = 1  # stays 1 when an unexpected error escapes
    try:
        code = _main(argv)
        return code
    finally:
        # A failed or refused run leaves no empty output folder it created (looked up, not imported:
        # a command that never loaded the module created none).
        atomic = sys.modules.get("synth_pipelines.core.atomic")
        if atomic is not None:
            atomic.settle_created_dirs(failed=code != 0)


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    with sigterm_as_interrupt():
        try:
            return _run(arguments)
        except CliError as exc:
            print(f"synth: error: {exc}", file=sys.stderr)
            return exc.code
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as Terminated
            return report_interrupt(exc)
        except Exception as exc:
            interrupt = as_interrupt(exc)
            if interrupt is not None:
                return report_interrupt(interrupt)
            if not isinstance(exc, _user_errors()):
                raise
            print(f"synth: error: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    # Run the imported module's main: under `python -m`, this file is `__main__`, and a class defined
    # here would not be the one the domain modules see through `synth_pipelines.cli`.
    from synth_pipelines.cli import main as package_main

    sys.exit(package_main())
