"""What every ``synth`` subcommand shares: the error type, argument parsing, the interrupt handling.

A leaf module (standard library only at import): ``synth_pipelines.cli`` and each ``domains/*/cli.py``
import it, so neither imports the other and ``synth --help`` stays light.

``add_model_flags`` / ``model_from_args``: a domain's flags come from its pydantic config model (the
model the Dagster run config is built from), so CLI and Dagster share fields and defaults by
construction. The model is read through its ``model_fields`` and ``typing`` alone; pydantic itself is
only imported when a model is built.
"""

from __future__ import annotations

import argparse
import copy
import os
import signal
import sys
import threading
import types
import typing
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Literal, NoReturn

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
    """Keeps the examples in epilogs as written and shows defaults (a list as its words, a dict as K=V,...)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # One default per flag: none for "unset" (None), none added where the help already states its own.
        text = action.help or ""
        if action.default is None or "default" in text.lower():
            return text
        return super()._get_help_string(action)

    def _expand_help(self, action: argparse.Action) -> str:
        if isinstance(action.default, list | tuple | dict):
            action = copy.copy(action)
            action.default = _shown(action.default)
        return super()._expand_help(action)


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


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc


def non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def seed_int(text: str) -> int:
    """A seed flag: a whole number in 0 .. 2**63-1 (``core.paths.MAX_SEED``)."""
    from synth_pipelines.core.paths import seed_problem  # standard library only, like this module

    value = _whole_number(text)
    problem = seed_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


# ---- flags from a pydantic config model --------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """How one config field appears on the command line when the default reading does not fit."""

    flag: str | None = None  # default: ``--field-name``
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None  # argparse ``type``; replaces the one read from the annotation
    help: str | None = None  # default: the field's description
    choices: Sequence[Any] | None = None  # default: a ``Literal``'s values
    required: bool = False  # the flag must be given (the model's default is not used)
    group: Any = None  # an argument group (e.g. mutually exclusive) to add the flag to; default: the parser
    aliases: tuple[str, ...] = ()  # more option strings for the same flag (another tool's spelling)


@dataclass(frozen=True)
class ModelFlags:
    """What ``add_model_flags`` added: the model, and each field's flag and ``argparse`` dest."""

    model: Any  # the pydantic model class
    flags: dict[str, str] = field(default_factory=dict)  # field -> "--flag"
    dests: dict[str, str] = field(default_factory=dict)  # field -> attribute of the parsed namespace

    def values(self, args: argparse.Namespace) -> dict[str, Any]:
        """The parsed value of every flag, by field name."""
        return {name: getattr(args, dest) for name, dest in self.dests.items() if hasattr(args, dest)}

    def flag_of(self, name: str) -> str:
        return self.flags.get(name, "--" + name.replace("_", "-"))


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


_BOUNDS: tuple[tuple[str, str, Callable[[Any, Any], bool]], ...] = (
    ("ge", ">=", lambda v, b: v >= b),
    ("gt", ">", lambda v, b: v > b),
    ("le", "<=", lambda v, b: v <= b),
    ("lt", "<", lambda v, b: v < b),
)


def _number(kind: type, metadata: Sequence[Any]) -> Callable[[str], Any]:
    """``int`` or ``float`` from text, checked against the field's bounds (``Field(ge=..., le=...)``)."""
    bounds = [
        (op, limit, ok) for attr, op, ok in _BOUNDS for m in metadata if (limit := getattr(m, attr, None)) is not None
    ]
    what = "a whole number" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from exc
        for op, limit, ok in bounds:
            if not ok(value, limit):
                raise argparse.ArgumentTypeError(f"must be {op} {limit}, got {value}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _scalar(annotation: Any, metadata: Sequence[Any]) -> tuple[Callable[[str], Any] | None, list[Any] | None]:
    """(argparse type, choices) of a scalar annotation; (None, None) when there is no reading."""
    if typing.get_origin(annotation) is Literal:
        values = list(typing.get_args(annotation))
        return type(values[0]), values
    if annotation in (int, float):
        return _number(annotation, metadata), None
    if annotation is str:
        return str, None
    return None, None


def key_values(parse_value: Callable[[str], Any] = int) -> Callable[[str], dict[str, Any]]:
    """A ``K=V,K=V`` parser (``loans=5,reviews=7`` -> ``{"loans": 5, "reviews": 7}``); empty items are skipped."""

    def parse(text: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for item in text.split(","):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            if key.strip() in found:
                raise argparse.ArgumentTypeError(f"{key.strip()!r} is given twice")
            try:
                if not sep or not key.strip():
                    raise ValueError(item)
                found[key.strip()] = parse_value(value.strip())
            except (ValueError, argparse.ArgumentTypeError) as exc:
                raise argparse.ArgumentTypeError(f"expected KEY=VALUE,..., got {item.strip()!r}") from exc
        return found

    parse.__name__ = "key_values"
    return parse


def _shown(value: Any) -> Any:
    """A default as --help shows it: a list as its words, a dict as K=V,..."""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    return value


def add_model_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    model: Any,
    *,
    overrides: Mapping[str, Flag] | None = None,
    exclude: Collection[str] = (),
    dest_prefix: str = "",
) -> ModelFlags:
    """Add a ``--field-name`` flag for every field of the pydantic ``model`` (but those in ``exclude``).

    The flag's default is the model's default and its help the field's description, so ``--help``
    shows what Dagster's run config would use. Its type comes from the annotation: ``int``/``float``
    (checked against ``ge``/``gt``/``le``/``lt``), ``str``, ``bool`` (``--x/--no-x``), ``Literal``
    (choices), ``list[...]`` (several values), ``dict[str, ...]`` (``K=V,...``); ``X | None`` as ``X``.
    ``overrides`` changes one field's flag name, metavar, parse function, help, choices or group.
    Build the model from the parsed arguments with ``model_from_args``.
    """
    overrides = overrides or {}
    unknown = sorted((set(overrides) | set(exclude)) - set(model.model_fields))
    if unknown:
        raise TypeError(f"{model.__name__} has no field(s) {', '.join(unknown)}")
    added = ModelFlags(model)
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        spec = overrides.get(name, Flag())
        flag = spec.flag or "--" + name.replace("_", "-")
        dest = dest_prefix + name
        annotation = _unwrap_optional(info.annotation)
        origin, type_args = typing.get_origin(annotation), typing.get_args(annotation)
        required = spec.required or info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        kwargs: dict[str, Any] = {"dest": dest, "help": spec.help or info.description or name.replace("_", " ")}
        if spec.metavar:
            kwargs["metavar"] = spec.metavar
        if annotation is bool and spec.parse is None:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            if origin in (list, tuple) and type_args:
                kwargs["nargs"] = "+"
                parse, choices = _scalar(type_args[0], info.metadata)
            elif origin is dict and len(type_args) == 2:
                value_parse = _scalar(type_args[1], ())[0] or str
                parse, choices = key_values(value_parse), None
                kwargs.setdefault("metavar", "KEY=VALUE,...")
            else:
                parse, choices = _scalar(annotation, info.metadata)
            parse = spec.parse or parse
            if parse is None:
                raise TypeError(f"{model.__name__}.{name}: no flag type for {info.annotation!r}; pass Flag(parse=...)")
            kwargs["type"] = parse
            if spec.choices is not None or choices is not None:
                kwargs["choices"] = list(spec.choices if spec.choices is not None else choices)  # type: ignore[arg-type]
        if required:
            kwargs |= {"required": True, "default": argparse.SUPPRESS}
        elif isinstance(spec.group, argparse._MutuallyExclusiveGroup):
            # argparse tells a given flag from an absent one by identity with its default, which a
            # given value can share ("qa" is "qa"): such a flag stays unset, and the model's default applies.
            kwargs["default"] = argparse.SUPPRESS
            if default is not None:
                kwargs["help"] += f" (default: {_shown(default)})"
        else:
            kwargs["default"] = default
        (spec.group or parser).add_argument(flag, *spec.aliases, **kwargs)
        added.flags[name] = flag
        added.dests[name] = dest
    return added


def validation_message(exc: Any, flags: ModelFlags | None = None) -> str:
    """A pydantic ``ValidationError`` as one line, each problem naming its flag: ``--count: Input should be ...``."""
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = error.get("loc") or ()
        if not loc:
            problems.append(message)
            continue
        name = str(loc[0])
        flag = flags.flag_of(name) if flags is not None else "--" + name.replace("_", "-")
        problems.append(f"{flag}: {message}")
    return "; ".join(dict.fromkeys(problems))


def model_from_args(flags: ModelFlags, args: argparse.Namespace, /, **values: Any) -> Any:
    """The config model from the parsed flags (``values`` added or replacing); a bad value is one ``CliError``."""
    from pydantic import ValidationError  # here: ``synth --help`` never needs pydantic

    try:
        return flags.model.model_validate(flags.values(args) | values)
    except ValidationError as exc:
        raise CliError(validation_message(exc, flags)) from None


def show_progress() -> bool:
    """A progress bar on a terminal; quiet when output is piped or under CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


_received: list[int] = []  # signals ``_raise_terminated`` handled, for interrupts a library re-wrapped


def _raise_terminated(signum: int, frame: FrameType | None) -> NoReturn:
    _received.append(signum)
    raise Terminated(signal.Signals(signum).name)


def as_interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    """The interrupt behind a library's own error, or None.

    DuckDB checks for signals while a query runs and raises its own exception instead of the
    ``KeyboardInterrupt`` (or our ``Terminated``) the handler raised: an ``InterruptException``, or,
    when the handler's exception surfaced inside a query, a ``RuntimeError("Query interrupted")``
    chained to it. Without this, Ctrl-C or SIGTERM in a DuckDB phase would print a traceback and exit 1.
    """
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:  # the interrupt itself, anywhere in the chain
        if isinstance(link, KeyboardInterrupt):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    duckdb_interrupt = type(exc).__name__ == "InterruptException" and type(exc).__module__.startswith(
        ("duckdb", "_duckdb")
    )
    query_interrupted = isinstance(exc, RuntimeError) and "Query interrupted" in str(exc) and bool(_received)
    if not (duckdb_interrupt or query_interrupted):
        return None
    if _received and _received[-1] == signal.SIGTERM:
        return Terminated("SIGTERM")
    return KeyboardInterrupt()


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


# ---- shards (core/shards.py, docs/scale-out.md): one set of flags for every command that shards ----


def add_shard_flags(cmd: argparse.ArgumentParser) -> None:
    """``--shards K [--shard i | --commit] [--workers N] [--compact]`` on a command whose domain can shard."""
    group = cmd.add_argument_group("scale-out (docs/scale-out.md)")
    group.add_argument(
        "--shards",
        type=positive_int,
        default=None,
        metavar="K",
        help="make the dataset as K shards: part files <name>/part-0000i-of-0000K.<ext> plus a manifest per "
        "shard and _manifest.json for the set (published together; to a folder or an s3://... URL); without "
        "--shard or --commit, all K shards run here",
    )
    group.add_argument(
        "--shard",
        type=non_negative_int,
        default=None,
        metavar="I",
        help="make shard I (0 .. K-1) of --shards alone (a machine of a cluster): its parts and manifest go to "
        "the output's _incoming/<set key>/ area, which readers never read; --commit publishes the K shards",
    )
    group.add_argument(
        "--commit",
        action="store_true",
        help="publish the K shards that --shard runs (same flags and seed) put in the output's _incoming/ area: "
        "every shard present, same seed/config/K, every part's sha256 checked, then the set appears at once",
    )
    group.add_argument(
        "--workers", type=positive_int, default=1, metavar="N", help="processes running the shards at once"
    )
    group.add_argument(
        "--compact",
        action="store_true",
        help="publish the single files of the unsharded run (byte-identical to it) instead of the parts",
    )
