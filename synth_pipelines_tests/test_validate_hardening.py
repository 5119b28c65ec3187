"""``synth validate``: a line must be a JSON object, and a timestamp must fit the calendar (year <= 9999)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth_pipelines.cli import main
from synth_pipelines.domains.logs.cli import log_domains
from synth_pipelines.domains.logs.domain import LogDomain
from synth_pipelines.domains.logs.mirror import LINE_FIELD, MALFORMED_JSON, OUT_OF_RANGE
from synth_pipelines.domains.logs.validator import validate_lines

DOMAINS = {d.cli_name: d for d in log_domains()}
NOT_OBJECTS = ["null", "0", "1.5", "-3", '"text"', '""', "[]", "[{}]", "true", "false", " null ", "1e400"]


@pytest.fixture(scope="module")
def valid_lines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """A few clean lines of each log domain, written by the CLI."""
    out: dict[str, list[str]] = {}
    for cli_name in DOMAINS:
        folder = tmp_path_factory.mktemp(cli_name)
        assert main([cli_name, "--count", "3", "--seed", "5", "--name", "log", "--out", str(folder)]) == 0
        out[cli_name] = (folder / "log_valid.jsonl").read_text().splitlines()
    return out


def _timestamp_path(domain: LogDomain) -> str:
    return next(f.path for f in domain.inventory.fields if f.kind == "timestamp")


@pytest.mark.parametrize("cli_name", list(DOMAINS))
@pytest.mark.parametrize("text", NOT_OBJECTS)
def test_a_json_value_that_is_not_an_object_is_invalid(cli_name: str, text: str) -> None:
    [defects] = validate_lines([text], DOMAINS[cli_name].inventory)
    assert [(d.line, d.field, d.defect) for d in defects] == [(1, LINE_FIELD, MALFORMED_JSON)]
    assert "not a JSON object" in defects[0].detail


@pytest.mark.parametrize("cli_name", list(DOMAINS))
def test_cli_exits_1_on_a_null_line(cli_name: str, tmp_path: Path, valid_lines, capsys) -> None:
    good = valid_lines[cli_name]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([*good, "null", "[1]", '"x"']) + "\n")
    assert main(["validate", cli_name, str(path)]) == 1
    out = capsys.readouterr().out
    n = len(good)
    for number in (n + 1, n + 2, n + 3):
        assert f"{path}:{number}: invalid: {LINE_FIELD}: {MALFORMED_JSON} (line is not a JSON object" in out
    assert out.count(": invalid: ") == 3
    assert f"{n + 3} lines, {n} valid, 3 invalid" in out


@pytest.mark.parametrize("cli_name", list(DOMAINS))
@pytest.mark.parametrize(
    "stamp",
    ["+10000-01-01T00:00:00.000Z", "9999-12-31T23:30:00.000-01:00", "+12345-06-07T08:09:10.000Z"],
    ids=["year-10000", "past-9999-in-utc", "year-12345"],
)
def test_a_timestamp_past_9999_is_invalid(cli_name: str, stamp: str, valid_lines, tmp_path: Path, capsys) -> None:
    domain = DOMAINS[cli_name]
    field = _timestamp_path(domain)
    record = json.loads(valid_lines[cli_name][0])
    record[field] = stamp
    [defects] = validate_lines([json.dumps(record)], domain.inventory)
    hits = [d for d in defects if d.field == field]
    assert [d.defect for d in hits] == [OUT_OF_RANGE], defects
    assert "9999-12-31" in hits[0].detail

    path = tmp_path / "late.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert main(["validate", cli_name, str(path)]) == 1
    assert "0 valid, 1 invalid" in capsys.readouterr().out


@pytest.mark.parametrize("cli_name", ["cv-logs", "api-logs"])
def test_the_last_millisecond_of_9999_is_valid(cli_name: str, valid_lines) -> None:
    domain = DOMAINS[cli_name]
    record = json.loads(valid_lines[cli_name][0])
    for stamp in ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999+00:00", "9999-12-31T23:30:00.000+01:00"):
        record[_timestamp_path(domain)] = stamp
        assert validate_lines([json.dumps(record)], domain.inventory) == [[]], stamp


def test_valid_files_still_pass(valid_lines, tmp_path: Path, capsys) -> None:
    for cli_name, lines in valid_lines.items():
        path = tmp_path / f"{cli_name}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        assert main(["validate", cli_name, str(path)]) == 0, capsys.readouterr().out
        assert f"{len(lines)} valid, 0 invalid" in capsys.readouterr().out
