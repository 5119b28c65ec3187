"""Habits of the API-trace generator's users: a progress bar, ``generate_session()``, share flags shaping the data."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import synth_pipelines.cli as cli
from synth_pipelines.domains.api_traces import generate_session
from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.api_traces.simulate import SESSION_BLOCK
from synth_pipelines_tests.test_progress_bar import run_on_pipes, run_on_terminal

ROOT = Path(__file__).resolve().parents[2]
BAR = "api-traces: 100%"


def traces_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "synth_pipelines", "api-traces", "--users", "200", "--days", "1", "--seed", "5",
            "--out", str(out), *extra]  # fmt: skip


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_bar_on_a_terminal_or_with_progress_none_when_piped_under_ci_or_with_no_progress(tmp_path: Path) -> None:
    code, terminal = run_on_terminal(traces_command(tmp_path / "tty"), ci=False)
    assert code == 0, terminal
    # The users simulated, then the checking and writing it waited for, named on the last frame.
    assert BAR in terminal and "200/200" in terminal and "\r" in terminal
    assert re.search(r"200/200 \[[^]]*calls checked and written\]", terminal), terminal

    code, piped = run_on_pipes(traces_command(tmp_path / "pipe"))
    assert code == 0, piped
    assert "api-traces:" not in piped and "%|" not in piped and "\r" not in piped

    code, under_ci = run_on_terminal(traces_command(tmp_path / "ci"), ci=True)
    assert code == 0, under_ci
    assert "api-traces:" not in under_ci and "%|" not in under_ci

    code, asked = run_on_pipes(traces_command(tmp_path / "asked", "--progress"))  # the seed's flag, piped to a log
    assert code == 0, asked
    assert BAR in asked and "200/200" in asked

    code, refused = run_on_terminal(traces_command(tmp_path / "refused", "--no-progress"), ci=False)
    assert code == 0, refused
    assert "api-traces:" not in refused and "%|" not in refused

    files = digests(tmp_path / "tty")
    assert len(files) == 4
    assert all(digests(tmp_path / run) == files for run in ("pipe", "ci", "asked", "refused"))


# Enough sessions for two blocks (the second drawn alone by generate_session), cascades and retries in both.
RUN = {"users": 6_600, "sessions_per_user_mean": 10.0, "sessions_per_user_std": 0.0, "days": 1,
       "cascade_failure_rate": 0.3}  # fmt: skip
SEED = 11


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("full_run")
    argv = ["api-traces", "--users", "6600", "--sessions-per-user", "10,0", "--days", "1",
            "--cascade-failure-rate", "0.3", "--seed", str(SEED), "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    return pl.read_parquet(out / "calls.parquet")


def test_generate_session_returns_that_sessions_rows_of_the_full_run(full_run: pl.DataFrame) -> None:
    sessions = full_run["session_id"].max()
    assert isinstance(sessions, int) and sessions > SESSION_BLOCK
    second_block = full_run.filter(pl.col("session_id") > SESSION_BLOCK)
    retried = second_block.filter(pl.col("is_retry") & pl.col("is_anomalous"))["session_id"][0]
    for session_id in (1, SESSION_BLOCK, SESSION_BLOCK + 1, retried, sessions):
        one = generate_session("ecommerce", seed=SEED, session_id=session_id, **RUN)
        assert one.height > 0
        assert_frame_equal(one, full_run.filter(pl.col("session_id") == session_id))
    # The seed's user_type argument: the run's first session of a user of that type.
    for user_type in ("premium", "free", "guest"):
        first = full_run.filter(pl.col("user_type") == user_type)["session_id"][0]
        assert_frame_equal(
            generate_session("ecommerce", seed=SEED, user_type=user_type, **RUN),
            full_run.filter(pl.col("session_id") == first),
        )


def test_generate_session_refuses_what_the_run_does_not_hold() -> None:
    small = {"users": 10, "days": 1}
    first = generate_session(seed=3, **small)
    assert first["session_id"].unique().to_list() == [1]
    kind = first["user_type"][0]
    other = next(t for t in ("premium", "free", "guest") if t != kind)
    with pytest.raises(ValueError, match=f"^session 1 \\(seed 3\\) belongs to a {kind} user, not {other}$"):
        generate_session(seed=3, session_id=1, user_type=other, **small)
    with pytest.raises(ValueError, match=r"^session_id must be 1\.\.\d+ for this run \(seed 3\), got 10000$"):
        generate_session(seed=3, session_id=10_000, **small)
    with pytest.raises(ValueError, match=r"^user_type must be one of premium, free, guest, got 'admin'$"):
        generate_session(seed=3, user_type="admin", **small)
    with pytest.raises(ValueError, match=r"^no premium user in this run"):
        generate_session(seed=3, user_type="premium", premium_share=0.0, free_share=0.5, guest_share=0.5, **small)


def run_traces(out: Path, *flags: str) -> pl.DataFrame:
    assert cli.main(["api-traces", "--users", "400", "--days", "1", "--seed", "9", "--out", str(out), *flags]) == 0
    return pl.read_parquet(out / "calls.parquet")


def test_the_share_flags_shape_the_data(tmp_path: Path) -> None:
    # The trace generator's user mix (premium 0.3, free 0.5, guest 0.2) as flags: the users follow it.
    calls = run_traces(tmp_path / "mix", "--premium-share", "0.3", "--free-share", "0.5", "--guest-share", "0.2")
    users = calls.unique("user_id").group_by("user_type").len()
    shares = {t: n / 400 for t, n in users.iter_rows()}
    assert shares.keys() == {"premium", "free", "guest"}
    assert shares == pytest.approx({"premium": 0.3, "free": 0.5, "guest": 0.2}, abs=0.06)
    only = run_traces(tmp_path / "guests", "--premium-share", "0", "--free-share", "0", "--guest-share", "1")
    assert only["user_type"].unique().to_list() == ["guest"]
    # Every session fails, every failing call is slow (still 2xx), so nothing is ever retried.
    slow = run_traces(tmp_path / "slow", "--cascade-failure-rate", "1", "--slow-share", "1", "--timeout-share", "0",
                      "--unavailable-share", "0")  # fmt: skip
    anomalous = slow.filter(pl.col("is_anomalous"))
    assert slow["failure_start_seq"].null_count() == 0
    assert anomalous.height and anomalous["failure_kind"].unique().to_list() == ["slow"]
    assert (anomalous["status_code"] < 300).all() and not anomalous["is_retry"].any()
    # Every failing call refused (503) and never retried: 503s everywhere, no retry rows.
    refused = run_traces(tmp_path / "refused", "--cascade-failure-rate", "1", "--slow-share", "0", "--timeout-share",
                         "0", "--unavailable-share", "1", "--retry-probability", "0")  # fmt: skip
    failing = refused.filter(pl.col("is_anomalous"))
    assert failing.height and (failing["status_code"] == 503).all() and not refused["is_retry"].any()
    retried = run_traces(tmp_path / "retried", "--cascade-failure-rate", "1", "--slow-share", "0",
                         "--timeout-share", "0", "--unavailable-share", "1", "--retry-probability", "1")  # fmt: skip
    assert retried.filter(pl.col("is_anomalous"))["is_retry"].any()


def documented_defaults() -> dict[str, str]:
    """The flag table of docs/api_traces.md ("Flags and their defaults"): flag -> default as written."""
    text = (ROOT / "docs" / "api_traces.md").read_text()
    section = text.split("### Flags and their defaults")[1].split("\n## ")[0]
    return dict(re.findall(r"^\| `(--[a-z-]+)[^`]*` \| ([^|]+?) \|", section, flags=re.M))


def test_the_docs_state_every_share_flags_default_as_the_model_has_it() -> None:
    documented = documented_defaults()
    defaults = ApiTracesConfig()
    for field in ("premium_share", "free_share", "guest_share", "cascade_failure_rate", "slow_share", "timeout_share",
                  "unavailable_share", "retry_probability", "max_retries"):  # fmt: skip
        flag = "--" + field.replace("_", "-")
        assert flag in documented, flag
        assert float(documented[flag]) == getattr(defaults, field), flag
