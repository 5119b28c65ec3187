"""The README's "Coming from..." tables: a section per seed generator, and every flag they name is a real flag.

A flag in either column (theirs "accepted as written", or ours) that the command does not take would
send a newcomer to an exit 2; this reads the tables and asks each command's own parser.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import synth_pipelines.cli as cli

README = Path(__file__).resolve().parents[2] / "README.md"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*")
GENERATORS = ("Azure scenario generator", "Gemini NLP generator", "CV-log generator", "API-trace generator")


def coming_from_tables() -> dict[str, tuple[str, list[str]]]:
    """Generator -> (its synth command, the rows of its table)."""
    section = README.read_text().split("## Coming from...")[1].split("\n## ")[0]
    tables: dict[str, tuple[str, list[str]]] = {}
    for part in section.split("**...the ")[1:]:
        header = re.match(r"(.+?)\*\* \(`synth ([a-z-]+)`\)", part)
        assert header, part[:80]
        rows = [line for line in part.splitlines() if line.startswith("| ") and not line.startswith("| there |")]
        tables[header[1]] = (header[2], rows)
    return tables


def flags_of(command: str) -> set[str]:
    parser = cli.build_parser(only=(command,))
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices[command]._option_string_actions)


def test_a_section_per_seed_generator_and_every_flag_named_is_taken() -> None:
    tables = coming_from_tables()
    assert sorted(tables) == sorted(GENERATORS)
    for generator, (command, rows) in tables.items():
        assert rows, generator
        spans = [span for row in rows for span in re.findall(r"`([^`]+)`", row)]
        named = {flag for span in spans for flag in FLAG.findall(span)}
        assert named, generator
        missing = sorted(named - flags_of(command))
        assert not missing, f"{generator}: synth {command} does not take {missing}"
