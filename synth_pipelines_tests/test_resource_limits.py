"""Issue #15 item 12: size flags are capped and memory is estimated before allocating; YAML alias bombs
and deep nesting are refused with one line, never a MemoryError or RecursionError.

The oversize commands run in a subprocess under a 3 GiB address-space limit, so a regression fails
with a MemoryError instead of exhausting the machine.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from synth_pipelines.cli import main
from synth_pipelines.core.limits import require_memory
from synth_pipelines.core.safe_yaml import MAX_ALIASES, MAX_DEPTH, load_yaml
from synth_pipelines.domains.api_traces.workflow import WorkflowError, parse_workflow
from synth_pipelines.domains.logs.cli import log_domains
from synth_pipelines.domains.logs.mirror import LINE_FIELD, MALFORMED_JSON
from synth_pipelines.domains.logs.validator import validate_lines

ADDRESS_SPACE = 3 * 2**30


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def synth(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synth_pipelines.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limited,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["api-traces", "--users", "10000000000000"], "--users: must be <= 100000000, got 10000000000000"),
        (["api-traces", "--sessions-per-user", "1e9,0"], "--sessions-per-user-mean: Input should be less than"),
        (["api-traces", "--users", "100000000", "--sessions-per-user", "1000,0"], "GiB of memory"),
        (["api-traces", "--users", "100000000", "--sessions-per-user", "100,0"], "GiB of memory"),
        (["scenario", "--scenario", "financial", "--count", "100000000000"], "--count: Input should be less than"),
        (["scenario", "--scenario", "financial", "--count", "90000000"], "GiB of memory"),
        (["nlp", "--samples", "1e10"], "--samples: expected a whole number, got '1e10'"),
        (["nlp", "--samples", "10000000000"], "--samples: must be <= 1000000"),
    ],
    ids=["users-1e13", "sessions-1e9", "api-traces-memory", "api-traces-memory-2", "scenario-1e11",
         "scenario-memory", "nlp-1e10-text", "nlp-1e10"],
)  # fmt: skip
def test_an_oversized_run_is_refused_up_front_with_the_figure(args: list[str], expected: str, tmp_path: Path) -> None:
    out = {"scenario": ["--out-dir", "o"], "api-traces": ["--out", "o"], "nlp": ["--output-prefix", "o/x"]}
    done = synth([*args, *out[args[0]]], tmp_path)
    assert done.returncode in (1, 2), done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert expected in lines[0]
    assert not list(tmp_path.rglob("*.parquet"))


def test_require_memory_names_the_figure_and_the_machine() -> None:
    require_memory("a small thing", 1024)
    with pytest.raises(ValueError, match=r"needs about 1,024\.0 GiB of memory") as info:
        require_memory("--users 7", 1024 * 2**30, "lower --users")
    assert str(info.value).startswith("--users 7: needs about") and "lower --users" in str(info.value)


# ---- YAML ---------------------------------------------------------------------------------------


def alias_bomb(levels: int = 10) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 12) + "]")
    return "\n".join(lines) + f"\nname: bomb\ndescription: *a{levels - 1}\n"


def test_a_yaml_alias_bomb_is_refused_naming_the_line() -> None:
    with pytest.raises(WorkflowError) as info:
        parse_workflow(alias_bomb(), "bomb.yaml")
    message = str(info.value)
    assert "bomb.yaml" in message and f"more than {MAX_ALIASES} aliases" in message and "line " in message
    assert len(message) < 400 and "lol" not in message


def test_a_few_aliases_still_load() -> None:
    assert load_yaml("a: &x [1, 2]\nb: *x\nc: *x\n") == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}


@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_yaml_is_refused_without_recursion_error(style: str) -> None:
    depth = 5000
    text = "x: " + "[" * depth + "]" * depth if style == "flow" else "".join(f"{' ' * i}k:\n" for i in range(depth))
    with pytest.raises(WorkflowError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_workflow(text, "deep.yaml")


def test_yaml_at_the_depth_limit_loads() -> None:
    text = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    value = load_yaml(text)
    for _ in range(MAX_DEPTH - 2):
        (value,) = value
    assert value == []


def test_the_workflow_cli_names_the_file_for_a_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert main(["api-traces", "--workflow", str(path), "--users", "2", "--out", str(tmp_path / "out")]) == 1
    first, *problems = capsys.readouterr().err.strip().splitlines()
    assert first == f"synth: error: {path}: invalid workflow (1 problem)"  # a workflow error lists its problems
    assert problems == ["  - line 10, column 26: not valid YAML (more than 100 aliases)"]


# ---- deep JSON in validate ------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_a_deeply_nested_json_line_is_one_invalid_line(depth: int) -> None:
    domain = log_domains()[0]
    [defects] = validate_lines(["[" * depth + "]" * depth], domain.inventory)
    assert [(d.field, d.defect) for d in defects] == [(LINE_FIELD, MALFORMED_JSON)]
    assert "nested too deeply" in defects[0].detail


def test_validate_cli_reports_a_deep_line_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    domain = log_domains()[0]
    path = tmp_path / "deep.jsonl"
    path.write_text('{"a": ' * 100_000 + "1" + "}" * 100_000 + "\nnull\n")
    assert main(["validate", domain.cli_name, str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:1: invalid: {LINE_FIELD}: {MALFORMED_JSON} (JSON nested too deeply" in out
    assert "2 lines, 0 valid, 2 invalid" in out


@pytest.mark.parametrize("field", ["description", "transitions", "exit_points", "methods", "parameters"])
def test_a_bomb_under_the_alias_budget_is_refused_without_building_its_value(field: str) -> None:
    """85 aliases (within the budget) still expand to 12**8 leaves: no message may build that repr."""
    text = alias_bomb(levels=8).replace("description: ", f"{field}: ")
    with pytest.raises(WorkflowError) as info:
        parse_workflow(text, "bomb.yaml")
    assert len(str(info.value)) < 2_000


@pytest.mark.parametrize(
    ("name", "text"),
    [("deep.json", "[" * 100_000 + "]" * 100_000), ("deep.yaml", "x: " + "[" * 5_000 + "]" * 5_000)],
)
def test_a_deep_generation_spec_is_refused_in_one_line(name: str, text: str, tmp_path: Path) -> None:
    from synth_pipelines.domains.relational.spec import SpecError, load_spec

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SpecError, match="nested") as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: ")
