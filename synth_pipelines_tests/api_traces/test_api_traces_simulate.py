"""The simulation: deterministic, realistic per call, labelled cascades, honest retries."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from api_traces_support import small_config, support_desk

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.api_traces.simulate import (
    CALLS_SCHEMA,
    SESSION_BLOCK,
    compile_workflow,
    draw_users,
    simulate_block,
    simulate_calls,
)
from synth_pipelines.domains.api_traces.truth import session_path_violations
from synth_pipelines.domains.api_traces.workflow import load_workflow, parse_workflow


@pytest.fixture(scope="module")
def shop_calls() -> pl.DataFrame:
    cfg = small_config(users=1500, cascade_failure_rate=0.15)
    return simulate_calls(load_workflow("ecommerce"), cfg, 42)


def test_same_seed_same_calls_other_seed_other_calls() -> None:
    cfg = small_config()
    first = simulate_calls(support_desk(), cfg, 7)
    assert first.equals(simulate_calls(support_desk(), cfg, 7))
    assert not first.equals(simulate_calls(support_desk(), cfg, 8))


def test_calls_have_the_promised_columns(shop_calls: pl.DataFrame) -> None:
    assert shop_calls.schema == pl.Schema(CALLS_SCHEMA)
    assert shop_calls.height > 10_000
    assert shop_calls["endpoint"].is_in(load_workflow("ecommerce").endpoints).all()


def test_every_session_is_a_legal_walk(shop_calls: pl.DataFrame) -> None:
    assert session_path_violations(shop_calls, load_workflow("ecommerce")).height == 0


def test_user_type_shares_within_tolerance() -> None:
    cfg = ApiTracesConfig(users=20_000, premium_share=0.1, free_share=0.6, guest_share=0.3)
    users = draw_users(cfg, 3)
    shares = np.bincount(users.user_type, minlength=3) / users.user_type.size
    # 4 standard errors of a share estimated from 20,000 users is under 0.015.
    assert np.allclose(shares, [0.1, 0.6, 0.3], atol=0.015)
    calls = simulate_calls(support_desk(), cfg, 3)
    per_user = calls.group_by("user_id").agg(pl.col("user_type").first())
    assert per_user.height == cfg.users  # every user has at least one session
    observed = per_user["user_type"].value_counts(normalize=True).sort("user_type")
    assert dict(observed.iter_rows()) == pytest.approx({"premium": 0.1, "free": 0.6, "guest": 0.3}, abs=0.015)


def test_sessions_per_user_follow_mean_and_std() -> None:
    users = draw_users(ApiTracesConfig(users=20_000, sessions_per_user_mean=5, sessions_per_user_std=2), 1)
    assert users.sessions.min() >= 1
    assert users.sessions.mean() == pytest.approx(5, abs=0.1)
    assert users.sessions.std() == pytest.approx(2, abs=0.15)


def test_timestamps_in_range_and_ordered_within_sessions(shop_calls: pl.DataFrame) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    firsts = shop_calls.filter(pl.col("seq") == 0)["timestamp"]
    assert firsts.min() >= start and firsts.max() < start + dt.timedelta(days=7)
    gaps = shop_calls.select(pl.col("timestamp").diff().over("session_id").dt.total_milliseconds().alias("gap"))
    # The next call starts after the previous response (and a think time or backoff).
    nxt = shop_calls.with_columns(gaps["gap"]).filter(pl.col("seq") > 0)
    prev_response = shop_calls["response_time_ms"].shift(1).filter(shop_calls["seq"] > 0)
    assert (nxt["gap"] >= prev_response.round(0) - 1).all()


def test_some_pauses_are_long_thinking_pauses(shop_calls: pl.DataFrame) -> None:
    gaps_s = shop_calls.select(pl.col("timestamp").diff().over("session_id").dt.total_seconds()).to_series()
    gaps_s = gaps_s.drop_nulls()
    assert gaps_s.median() < 10
    assert 0.02 < (gaps_s > 30).mean() < 0.2


def test_methods_fit_endpoints(shop_calls: pl.DataFrame) -> None:
    methods = dict(shop_calls.group_by("endpoint").agg(pl.col("method").unique()).iter_rows())
    assert methods["/api/checkout"] == ["POST"]
    assert methods["/api/payments"] == ["POST"]
    assert methods["/api/products/{product_id}"] == ["GET"]


def test_paths_fill_parameters(shop_calls: pl.DataFrame) -> None:
    assert not shop_calls["path"].str.contains(r"[{}]").any()
    profile = shop_calls.filter(pl.col("endpoint") == "/api/users/{user_id}/profile")
    assert profile.select(
        (pl.col("path") == pl.concat_str(pl.lit("/api/users/"), pl.col("user_id"), pl.lit("/profile"))).all()
    ).item()
    search = shop_calls.filter(pl.col("endpoint") == "/api/search")["path"]
    assert search.str.contains(r"^/api/search\?q=[a-z0-9+\-]+&page=\d+$").all()
    products = shop_calls.filter(pl.col("endpoint") == "/api/products/{product_id}")["path"]
    ids = products.str.extract(r"/api/products/(\d+)$").cast(pl.Int64)
    assert ids.min() >= 1 and ids.max() <= 50_000 and ids.n_unique() > 100


def test_success_rate_near_the_configured_share() -> None:
    cfg = small_config(users=3000, cascade_failure_rate=0.0, success_rate=0.95)
    calls = simulate_calls(support_desk(), cfg, 11).filter(~pl.col("is_retry"))
    assert (calls["status_code"] < 400).mean() == pytest.approx(0.95, abs=0.01)
    assert not calls["is_anomalous"].any()


def test_response_times_are_log_normal_around_the_endpoint_average() -> None:
    cfg = small_config(users=3000, cascade_failure_rate=0.0, success_rate=1.0)
    calls = simulate_calls(support_desk(), cfg, 5)
    means = dict(calls.group_by("endpoint").agg(pl.col("response_time_ms").mean()).iter_rows())
    for endpoint, avg in support_desk().avg_response_times.items():
        assert means[endpoint] == pytest.approx(avg, rel=0.05)
    logs = np.log(calls.filter(pl.col("endpoint") == "/tickets")["response_time_ms"].to_numpy())
    assert logs.std() == pytest.approx(cfg.response_time_sigma, abs=0.02)


def test_cascade_labels_only_in_affected_sessions(shop_calls: pl.DataFrame) -> None:
    per_session = shop_calls.group_by("session_id").agg(
        pl.col("failure_start_seq").first().alias("start"),
        pl.col("failure_start_seq").n_unique().alias("distinct_starts"),
        pl.col("is_anomalous").any().alias("any_anomalous"),
    )
    assert (per_session["distinct_starts"] == 1).all()
    affected = per_session.filter(pl.col("start").is_not_null())
    assert affected.height / per_session.height == pytest.approx(0.15, abs=0.03)
    assert affected["any_anomalous"].all()
    healthy = per_session.filter(pl.col("start").is_null())
    assert not healthy["any_anomalous"].any()
    # From the failure start on, every call of an affected session is labelled; before it, none.
    labelled = shop_calls.filter(pl.col("failure_start_seq").is_not_null())
    after = labelled["seq"] >= labelled["failure_start_seq"]
    assert (labelled["is_anomalous"] == after).all()
    assert labelled.filter(after)["failure_kind"].is_in(["slow", "timeout", "unavailable"]).all()
    assert shop_calls.filter(~pl.col("is_anomalous"))["failure_kind"].is_null().all()
    # failure_started_at is the timestamp of the call at failure_start_seq.
    starts = labelled.filter(pl.col("seq") == pl.col("failure_start_seq"))
    assert (starts["timestamp"] == starts["failure_started_at"]).all()


def test_cascade_failure_kinds_look_like_their_names(shop_calls: pl.DataFrame) -> None:
    by_kind = {k: f for (k,), f in shop_calls.filter(pl.col("is_anomalous")).group_by("failure_kind")}
    assert (by_kind["timeout"]["status_code"] == 504).all()
    assert by_kind["timeout"]["response_time_ms"].min() >= 30_000
    assert (by_kind["unavailable"]["status_code"] == 503).all()
    slow = by_kind["slow"].join(
        shop_calls.filter(~pl.col("is_anomalous")).group_by("endpoint").agg(pl.col("response_time_ms").median()),
        on="endpoint",
        suffix="_healthy",
    )
    assert (slow["response_time_ms"] / slow["response_time_ms_healthy"]).median() > 3
    assert (slow["status_code"] < 400).all()


def test_retries_duplicate_the_failed_call(shop_calls: pl.DataFrame) -> None:
    ordered = shop_calls.with_columns(
        pl.col("endpoint").shift(1).alias("prev_endpoint"),
        pl.col("path").shift(1).alias("prev_path"),
        pl.col("status_code").shift(1).alias("prev_status"),
    )
    retries = ordered.filter(pl.col("is_retry"))
    assert retries.height > 100
    assert (retries["endpoint"] == retries["prev_endpoint"]).all()
    assert (retries["path"] == retries["prev_path"]).all()
    assert retries["prev_status"].is_in([502, 503, 504]).all()
    assert retries["attempt"].max() <= 2


def test_walk_is_independent_of_failures() -> None:
    wf = support_desk()
    healthy = simulate_calls(wf, small_config(cascade_failure_rate=0.0), 9).filter(~pl.col("is_retry"))
    failing = simulate_calls(wf, small_config(cascade_failure_rate=1.0), 9).filter(~pl.col("is_retry"))
    assert healthy["endpoint"].equals(failing["endpoint"])
    assert failing["is_anomalous"].any()


def test_blocks_are_independent_of_each_other() -> None:
    """A block drawn alone equals the same block inside a larger run."""
    wf = support_desk()
    cfg = small_config(users=SESSION_BLOCK + 500, sessions_per_user_mean=1.0, sessions_per_user_std=0.0)
    calls = simulate_calls(wf, cfg, 4)
    assert calls["session_id"].max() == SESSION_BLOCK + 500
    users = draw_users(cfg, 4)
    owners = np.arange(SESSION_BLOCK, SESSION_BLOCK + 500)
    alone = simulate_block(
        compile_workflow(wf, cfg),
        cfg,
        4,
        1,
        SESSION_BLOCK + 1,
        users.user_id[owners],
        users.user_type[owners],
    )
    assert alone.equals(calls.filter(pl.col("session_id") > SESSION_BLOCK))


def test_endless_sessions_are_refused_not_truncated() -> None:
    loop = parse_workflow(
        "name: sticky\nentry_points: {/a: 1}\ntransitions: {/a: {/a: 0.999, /b: 0.001}}\nexit_points: [/b]\n"
        "avg_response_times: {/a: 5, /b: 5}\n"
    )
    with pytest.raises(ConstraintViolation, match="had not reached an exit point after 50 calls"):
        simulate_calls(loop, small_config(max_calls_per_session=50), 1)


def _outcome_probabilities(jumps) -> np.ndarray:
    """What the alias tables draw: P(outcome) per cell, rows of ``width`` cells per state."""
    implied = jumps.accept.copy()
    rows = np.arange(jumps.accept.size) // jumps.width
    np.add.at(implied, rows * jumps.width + jumps.other, 1.0 - jumps.accept)
    return implied / jumps.width


@pytest.mark.parametrize("name", ["support_desk", "ecommerce", "microservices"])
def test_multi_step_jumps_are_exactly_the_chain(name: str) -> None:
    """Drawing k steps at once has the declared law: first and second steps match the matrix."""
    wf = support_desk() if name == "support_desk" else load_workflow(name)
    model = compile_workflow(wf, ApiTracesConfig())
    jumps = model.jumps
    assert jumps.k > 1
    index = {e: i for i, e in enumerate(model.endpoints)}
    p = np.zeros((len(index), len(index)))
    for src, row in wf.transitions.items():
        for dst, prob in row.items():
            p[index[src], index[dst]] = prob
    outcome = _outcome_probabilities(jumps).reshape(len(index), jumps.width)
    paths = jumps.states.reshape(len(index), jumps.width, jumps.k)
    for s in np.flatnonzero(~model.is_exit):
        assert outcome[s].sum() == pytest.approx(1.0, abs=1e-12)
        for a in range(len(index)):
            first = paths[s, :, 0] == a
            assert outcome[s, first].sum() == pytest.approx(p[s, a], abs=1e-12)
            for b in range(len(index)):
                both = first & (paths[s, :, 1] == b)
                assert outcome[s, both].sum() == pytest.approx(p[s, a] * p[a, b], abs=1e-12)


def test_session_length_limit_is_exact_with_multi_step_jumps() -> None:
    line = parse_workflow(
        "name: line\nentry_points: {/a: 1}\ntransitions: {/a: {/b: 1}, /b: {/c: 1}, /c: {/d: 1}, /d: {/e: 1}}\n"
        "exit_points: [/e]\navg_response_times: {/a: 5, /b: 5, /c: 5, /d: 5, /e: 5}\n"
    )
    calls = simulate_calls(line, small_config(users=20, max_calls_per_session=5), 1)
    assert calls.filter(~pl.col("is_retry")).group_by("session_id").len()["len"].unique().to_list() == [5]
    with pytest.raises(ConstraintViolation, match="after 4 calls"):
        simulate_calls(line, small_config(users=20, max_calls_per_session=4), 1)


def test_wide_workflows_fall_back_to_single_steps() -> None:
    names = [f"/s{i}" for i in range(40)]
    rows = "\n".join(f"  {a}: {{{', '.join(f'{b}: 0.025' for b in names[:39])}, /end: 0.025}}" for a in names)
    times = ", ".join(f"{e}: 5" for e in [*names, "/end"])
    wide = parse_workflow(
        f"name: wide\nentry_points: {{/s0: 1}}\ntransitions:\n{rows}\nexit_points: [/end]\n"
        f"avg_response_times: {{{times}}}\n"
    )
    assert compile_workflow(wide, ApiTracesConfig()).jumps.k == 1
    calls = simulate_calls(wide, small_config(users=200), 3)
    assert session_path_violations(calls, wide).height == 0


def test_threads_do_not_change_the_bytes() -> None:
    """Blocks drawn concurrently are yielded in order: the same frame whatever the worker count."""
    cfg = small_config(users=70_000, sessions_per_user_mean=2.0, cascade_failure_rate=0.1)
    wf = load_workflow("ecommerce")
    one = simulate_calls(wf, cfg, 11, workers=1)
    assert one["session_id"].max() > 2 * SESSION_BLOCK  # several blocks
    assert one.equals(simulate_calls(wf, cfg, 11, workers=3))
