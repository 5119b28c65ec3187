"""``--log-level`` and ``--log-format text|json`` for every ``synth`` command.

Standard library only (``synth --help`` imports this). The handler sits on the ``synth_pipelines``
logger and writes to stderr: text (the level coloured only on a terminal, never with ``NO_COLOR``) or
JSON lines (``time``, ``level``, ``logger``, ``message``, and ``task_id`` for anything logged about one
LLM request). Every line passes a filter that replaces the values of the key variables
(``OPENAI_API_KEY``...) with ``[REDACTED]``: a secret never reaches a log, whatever a library prints.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")
DEFAULT_LEVEL = "WARNING"
LOGGER = "synth_pipelines"
# Variables that hold credentials: their values are scrubbed from every log line.
SECRET_VARIABLES = (
    "SYNTH_LLM_API_KEY", "OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN",
    "GOOGLE_API_KEY", "GEMINI_API_KEY", "AZURE_CLIENT_SECRET",
)  # fmt: skip
_COLOURS = {"DEBUG": "\x1b[2m", "INFO": "\x1b[36m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m", "CRITICAL": "\x1b[31m"}


def _level(text: str) -> str:
    level = text.upper()
    if level not in LEVELS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LEVELS)} (any case), got {text!r}")
    return level


def add_log_flags(parser: argparse.ArgumentParser) -> None:
    """The two logging flags (and the Gemini generator's ``--log_level`` spelling); unset means the default."""
    group = parser.add_argument_group("logging")
    group.add_argument(
        "--log-level",
        "--log_level",
        dest="log_level",
        type=_level,
        metavar="LEVEL",
        default=argparse.SUPPRESS,
        help=f"{', '.join(LEVELS)} (default: {DEFAULT_LEVEL})",
    )
    group.add_argument(
        "--log-format",
        "--log_format",
        dest="log_format",
        choices=FORMATS,
        default=argparse.SUPPRESS,
        help="text, or json: one JSON object per line with a task_id per LLM request (default: text)",
    )


class RedactSecrets(logging.Filter):
    """Replaces the value of every set key variable in the formatted message with ``[REDACTED]``."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        env = os.environ if environ is None else environ
        self.secrets = sorted({v for name in SECRET_VARIABLES if len(v := env.get(name, "")) >= 6}, key=len)[::-1]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "[REDACTED]")
            record.msg, record.args = message, None
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        task_id = getattr(record, "task_id", None)
        if task_id is not None:
            line["task_id"] = task_id
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(line, ensure_ascii=False)


class Text(logging.Formatter):
    def __init__(self, colour: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        task_id = getattr(record, "task_id", None)
        if task_id is not None:
            text += f" [task {task_id}]"
        if self.colour:
            name = record.levelname
            text = text.replace(f" {name} ", f" {_COLOURS.get(name, '')}{name}\x1b[0m ", 1)
        return text


def configure_logging(
    level: str = DEFAULT_LEVEL,
    fmt: str = "text",
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """One handler on the ``synth_pipelines`` logger (replacing the one a previous call installed)."""
    stream = sys.stderr if stream is None else stream
    env = os.environ if environ is None else environ
    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if getattr(h, "_synth_cli", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream)
    handler._synth_cli = True  # type: ignore[attr-defined]
    colour = fmt == "text" and bool(getattr(stream, "isatty", lambda: False)()) and not env.get("NO_COLOR")
    handler.setFormatter(JsonLines() if fmt == "json" else Text(colour))
    handler.addFilter(RedactSecrets(env))
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


def configure_from_args(args: argparse.Namespace) -> logging.Handler:
    return configure_logging(getattr(args, "log_level", DEFAULT_LEVEL), getattr(args, "log_format", "text"))
