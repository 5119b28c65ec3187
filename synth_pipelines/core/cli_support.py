"""What every ``synth`` subcommand shares: the error type, argument parsing, the interrupt handling.

A leaf module (standard library only): ``synth_pipelines.cli`` and each ``domains/*/cli.py``
import it, so neither imports the other and ``synth --help`` stays light.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

EXIT_SIGINT = 128 + signal.SIGINT  # 130, what a shell reports for a Ctrl-C'd command
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143
# Added (PEP 678 note) to an interrupt that ``core.atomic.output_set`` held until its commit was done.
OUTPUT_COMPLETE = "the output set was complete when the interrupt was handled"


class CliError(Exception):
    """A user error: printed as ``synth: error: <message>``, exit code 1 (or ``code``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C: every ``finally`` and staging cleanup runs.

    Python's default for SIGTERM ends the process at once, leaving temporary files behind, as SIGKILL does.
    """


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples in epilogs as written and shows defaults."""


class SynthArgumentParser(argparse.ArgumentParser):
    """Usage errors as one line (``synth cv-logs: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def package_version() -> str:
    # Imported here: reading the installed metadata costs start-up time that only --version needs.
    from importlib.metadata import PackageNotFoundError, version

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


def _raise_terminated(signum: int, frame: FrameType | None) -> NoReturn:
    raise Terminated(signal.Signals(signum).name)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises ``Terminated`` in the main thread instead of killing the process.

    Left alone where it cannot apply: outside the main thread (only it may set handlers), and when
    SIGTERM already has a handler or is ignored (a parent that ignores it means it).
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def report_interrupt(exc: KeyboardInterrupt) -> int:
    """One line on stderr for Ctrl-C or SIGTERM; the exit status a shell expects (130 or 143)."""
    name, code = ("SIGTERM", EXIT_SIGTERM) if isinstance(exc, Terminated) else ("SIGINT", EXIT_SIGINT)
    if OUTPUT_COMPLETE in getattr(exc, "__notes__", ()):
        print(f"synth: interrupted ({name}) after the output was written in full", file=sys.stderr)
    else:
        print(f"synth: interrupted ({name}); nothing was written", file=sys.stderr)
    return code
