"""--log-level / --log-format text|json on every command; a task id per LLM request; no secret; colour on a tty."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import synth_pipelines.cli as cli
from synth_pipelines.core.log_setup import configure_logging
from synth_pipelines_tests.llm_stub import Fault, LLMStub

KEY = "sk-log-test-KEY-9f8e7d6c5b4a3210"


@pytest.mark.parametrize("command", [*cli.commands(), "seed add"])
def test_every_command_takes_both_logging_flags(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([*command.split(), "--log-level", "debug", "--log-format", "json", "--help"])
    assert done.value.code == 0
    assert "--log-format" in capsys.readouterr().out


def test_json_lines_carry_a_task_id_per_request_and_never_the_key(
    llm_stub: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("SYNTH_LLM_BACKOFF_S", "0")
    llm_stub.inject(Fault(status=500, echo_key=True))  # an error body repeating the key it got
    argv = [
        "--log-level", "DEBUG",  # before the command, as well as after it
        "scenario", "--scenario", "financial", "--count", "3", "--provider", "openai", "--base-url",
        llm_stub.openai_url, "--model", "stub", "--out-dir", str(tmp_path / "out"), "--log_format", "json",
    ]  # fmt: skip
    try:
        assert cli.main(argv) == 0
    finally:
        logging.getLogger("synth_pipelines").setLevel(logging.NOTSET)
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    answered = [line for line in lines if "answered" in line["message"]]
    assert len(answered) == 3 and len({line["task_id"] for line in answered}) == 3
    retried = [line for line in lines if "failed" in line["message"] or "retry" in line["message"]]
    assert retried and all(line["task_id"] in {a["task_id"] for a in answered} for line in retried)
    assert KEY not in err and KEY[:12] not in err


def test_colour_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    log = logging.getLogger("synth_pipelines.test")
    piped, terminal = io.StringIO(), Terminal()
    try:
        for stream in (piped, terminal):
            configure_logging("INFO", "text", stream, environ={})
            log.warning("careful")
        configure_logging("INFO", "text", Terminal(), environ={"NO_COLOR": "1"}).stream.write("")
    finally:
        configure_logging()
        logging.getLogger("synth_pipelines").setLevel(logging.NOTSET)
    assert "careful" in piped.getvalue() and "\x1b[" not in piped.getvalue()
    assert "\x1b[33mWARNING\x1b[0m" in terminal.getvalue()


def test_python_dash_m_synth_pipelines_is_the_synth_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "synth_pipelines", "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.startswith("synth-pipelines ")
    done = subprocess.run([sys.executable, "-m", "synth_pipelines", "nope"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown command 'nope'" in done.stderr
