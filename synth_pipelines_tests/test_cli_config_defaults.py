"""The CLI flags come from each domain's config model: a bare command gets the Dagster run config's defaults.

For every domain of the registry, its ``synth`` command is parsed with only the arguments it requires;
the config it builds (``args.config_of(args)``, what the command runs with) must equal
``domain.parse_config(required values)``, i.e. what a Dagster run with an empty run config uses. One
flag per domain is then shown to reach the model.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from synth_pipelines.cli import build_parser
from synth_pipelines.core.cli_support import (
    CliError,
    Flag,
    HelpFormatter,
    SynthArgumentParser,
    add_model_flags,
    model_from_args,
)
from synth_pipelines.core.domain import Domain
from synth_pipelines.domains.registry import all_domains

DOMAINS = all_domains()


def required_arguments(domain: Domain) -> tuple[list[str], dict[str, Any]]:
    """The command line a domain's command needs at least, and the config values it sets."""
    match domain.cli_name:
        case "relational":
            return ["--ddl", str(domain.ddl), "--out", "unused"], {}  # type: ignore[attr-defined]
        case "nlp":
            return ["--query", "kitchen safety", "--format", "qa", "--samples", "3"], {
                "query": "kitchen safety",
                "format": "qa",
                "samples": 3,
            }
        case "scenario":
            return ["--scenario", domain.scenario.name], {}  # type: ignore[attr-defined]
    return [], {}


# One flag per command, and the config field it must reach.
A_FLAG: dict[str, tuple[list[str], dict[str, Any]]] = {
    "cv-logs": (["--count", "17"], {"count": 17}),
    "api-logs": (["--name", "calls"], {"name": "calls"}),
    "agent-logs": (["--start", "2027-03-04T05:06:07Z"], {"start": "2027-03-04T05:06:07Z"}),
    "api-traces": (
        ["--sessions-per-user", "4,2", "--guest-share", "0.5", "--free-share", "0.3"],
        {"sessions_per_user_mean": 4.0, "sessions_per_user_std": 2.0, "guest_share": 0.5, "free_share": 0.3},
    ),
    "relational": (["--table-rows", "loans=5,reviews=7"], {"table_rows": {"loans": 5, "reviews": 7}}),
    "nlp": (["--no-refine", "--output-format", "jsonl", "csv"], {"refine": False, "output_formats": ["jsonl", "csv"]}),
    "scenario": (["--count", "3"], {"count": 3}),
}


def parse(domain: Domain, *extra: str) -> Any:
    argv, _ = required_arguments(domain)
    args = build_parser(only=(domain.cli_name,)).parse_args([domain.cli_name, *argv, *extra])
    return args.config_of(args)


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda d: d.name)
def test_a_bare_command_runs_with_the_dagster_defaults(domain: Domain) -> None:
    _, values = required_arguments(domain)
    cfg = parse(domain)
    expected = domain.parse_config(values)
    assert type(cfg) is type(expected)
    assert cfg.model_dump() == expected.model_dump()


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda d: d.name)
def test_a_flag_reaches_the_config(domain: Domain) -> None:
    flags, fields = A_FLAG[domain.cli_name]
    _, values = required_arguments(domain)
    cfg = parse(domain, *flags)
    assert cfg.model_dump() == domain.parse_config(values | fields).model_dump()
    assert all(getattr(cfg, name) == value for name, value in fields.items())


def test_every_command_of_the_registry_is_covered() -> None:
    assert {d.cli_name for d in DOMAINS} == set(A_FLAG)


def test_the_log_domains_count_default_is_the_models() -> None:
    """The CLI used 1000 and Dagster 5000: now both use the model's."""
    cv_logs = next(d for d in DOMAINS if d.cli_name == "cv-logs")
    assert parse(cv_logs).count == cv_logs.parse_config({}).count == 5000


# The helper on a model of its own.


class Example(BaseModel):
    count: int = Field(5, ge=1, le=10, description="how many")
    ratio: float = Field(0.5, ge=0, le=1, description="a share")
    label: str | None = Field(None, description="a label")
    mode: Literal["fast", "slow"] = Field("fast", description="how")
    on: bool = Field(True, description="switch")
    tags: list[str] = Field(default_factory=lambda: ["a", "b"], description="tags")
    sizes: dict[str, int] = Field(default_factory=dict, description="sizes")


def example_parser(**overrides: Flag) -> tuple[argparse.ArgumentParser, Any]:
    parser = SynthArgumentParser(prog="example", formatter_class=HelpFormatter)
    return parser, add_model_flags(parser, Example, overrides=overrides)


def test_the_helper_reads_types_defaults_and_help_from_the_model() -> None:
    parser, flags = example_parser(label=Flag(flag="--name", metavar="TEXT"))
    assert model_from_args(flags, parser.parse_args([])) == Example()
    argv = ["--count", "7", "--ratio", "0.25", "--name", "x", "--mode", "slow", "--no-on"]
    args = parser.parse_args([*argv, "--tags", "c", "d", "--sizes", "a=1,b=2"])
    assert model_from_args(flags, args) == Example(
        count=7, ratio=0.25, label="x", mode="slow", on=False, tags=["c", "d"], sizes={"a": 1, "b": 2}
    )
    text = " ".join(parser.format_help().split())
    assert "--count COUNT how many (default: 5)" in text and "--name TEXT a label" in text
    assert "--mode {fast,slow}" in text and "--tags TAGS [TAGS ...] tags (default: a b)" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--count", "0"], "argument --count: must be >= 1, got 0"),
        (["--count", "11"], "argument --count: must be <= 10, got 11"),
        (["--count", "x"], "argument --count: expected a whole number, got 'x'"),
        (["--ratio", "2"], "argument --ratio: must be <= 1, got 2.0"),
        (["--mode", "slowest"], "argument --mode: invalid choice: 'slowest'"),
        (["--sizes", "a"], "argument --sizes: expected KEY=VALUE,..., got 'a'"),
    ],
)
def test_a_value_outside_the_model_is_a_usage_error(argv: list[str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    parser, _ = example_parser()
    with pytest.raises(SystemExit) as info:
        parser.parse_args(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_a_model_error_is_one_cli_error_naming_the_flag() -> None:
    parser, flags = example_parser(count=Flag(parse=int))  # no bounds checked while parsing
    with pytest.raises(CliError) as info:
        model_from_args(flags, parser.parse_args(["--count", "0"]))
    assert str(info.value) == "--count: Input should be greater than or equal to 1"


def test_unknown_override_or_exclude_is_refused() -> None:
    with pytest.raises(TypeError, match="no field"):
        add_model_flags(argparse.ArgumentParser(), Example, exclude={"nope"})


def test_the_nlp_output_prefix_keeps_its_folder_on_the_cli(tmp_path: Path) -> None:
    nlp = next(d for d in DOMAINS if d.cli_name == "nlp")
    cfg = parse(nlp, "--output-prefix", str(tmp_path / "sets" / "train"))
    assert cfg.output_prefix == "train"  # the file name prefix; the folder is where the CLI writes
