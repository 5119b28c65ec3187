"""Vectorized draw of clean agent runs, one row per step, for a whole block of runs at once.

A run is ``plan``, then rounds of ``llm_call -> tool_call -> observation``, then ``final``. A
failed run stops at the step that failed (an llm_call or a tool_call); a tool call may also fail
and be recovered from (its observation records the error and the run goes on). Steps follow each
other in time: a step starts after the previous one ended.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_pipelines.core.ids import unique_ids
from synth_pipelines.domains.agent_traces.catalog import (
    AGENT_MODEL_COUNT,
    AGENT_MODELS,
    AGENT_NAMES,
    AGENT_SHARES,
    AGENT_TOOLS,
    ARGUMENTS_PER_TOOL,
    ERROR_TEMPLATES,
    ERROR_TYPES,
    MODEL_ERRORS,
    MODEL_NAMES,
    MODEL_TIMEOUT_MS,
    MODEL_TOKENS_PER_S,
    MODEL_TTFT_MS,
    MODELS,
    PREFILL_TOKENS_PER_MS,
    STEP_KINDS,
    TOOL_ARGUMENTS,
    TOOL_ERRORS,
    TOOL_LATENCY_MS,
    TOOL_NAMES,
    TOOL_TIMEOUT_MS,
)
from synth_pipelines.domains.logs.messages import error_messages

DOMAIN = "agent_traces"
RUN_INTERVAL_MS = 30_000  # a new run every 30 s on average
MAX_ROUNDS = 12  # llm_call -> tool_call -> observation rounds per run; at most 2 + 3 * 12 = 38 steps
RUN_FAILURE_RATE = 0.08
RECOVERED_TOOL_ERROR_RATE = 0.06
FAILED_AT_TOOL_SHARE = 0.7

PLAN, TOOL_CALL, LLM_CALL, OBSERVATION, FINAL = (STEP_KINDS.index(k) for k in STEP_KINDS)
_ROUND_KINDS = np.array([LLM_CALL, TOOL_CALL, OBSERVATION])
_ERR = {name: i for i, name in enumerate(ERROR_TYPES)}
_TOOL_ERRORS = np.array([_ERR[e] for e in TOOL_ERRORS])
_MODEL_ERRORS = np.array([_ERR[e] for e in MODEL_ERRORS])
_PRICE_IN = np.array([m[1] for m in MODELS])
_PRICE_OUT = np.array([m[2] for m in MODELS])


def _pick(values: tuple[str, ...], idx: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(idx)


def draw_agent_runs(seed: int, rng: np.random.Generator, start: int, n: int, start_ms: int) -> pl.DataFrame:
    """Clean steps of runs ``start .. start+n``, in run order, steps in order within each run."""
    # Per run: agent, model, rounds, and where a failed run stops.
    agent = rng.choice(len(AGENT_NAMES), size=n, p=AGENT_SHARES)
    model = AGENT_MODELS[agent, (rng.random(n) * AGENT_MODEL_COUNT[agent]).astype(np.int64)]
    rounds = np.minimum(rng.geometric(0.35, n), MAX_ROUNDS)
    run_failed = rng.random(n) < RUN_FAILURE_RATE
    fail_round = (rng.random(n) * rounds).astype(np.int64)
    fail_at = 1 + 3 * fail_round + (rng.random(n) < FAILED_AT_TOOL_SHARE)  # the tool_call, else the llm_call
    steps = np.where(run_failed, fail_at + 1, 2 + 3 * rounds)
    context_base = rng.lognormal(np.log(900), 0.3, n)  # system prompt + task, tokens
    run_start = start_ms + np.arange(start, start + n) * RUN_INTERVAL_MS + rng.integers(0, RUN_INTERVAL_MS, n)

    # Rows: one per step.
    total = int(steps.sum())
    run = np.repeat(np.arange(n), steps)
    first_row = np.cumsum(steps) - steps
    step = np.arange(total) - np.repeat(first_row, steps)
    last = step == steps[run] - 1
    failed_run = run_failed[run]
    kind = np.where(
        step == 0,
        PLAN,
        np.where(last & ~failed_run, FINAL, _ROUND_KINDS[(step - 1) % 3]),
    )
    rnd = np.maximum(step - 1, 0) // 3
    is_tool = kind == TOOL_CALL
    is_model = np.isin(kind, [PLAN, LLM_CALL, FINAL])
    row_model = model[run]

    # Failures: the last step of a failed run; recovered errors on other tool calls.
    fatal = last & failed_run
    recovered = is_tool & ~fatal & (rng.random(total) < RECOVERED_TOOL_ERROR_RATE)
    failed = fatal | recovered
    err = np.where(
        is_tool,
        _TOOL_ERRORS[rng.integers(0, len(_TOOL_ERRORS), total)],
        _MODEL_ERRORS[rng.integers(0, len(_MODEL_ERRORS), total)],
    )
    timed_out = failed & (err == _ERR["timeout"])

    # Tokens: the prompt grows with every round's observation; failed calls generate nothing and only
    # a timed-out call was billed for its prompt.
    growth = rng.lognormal(np.log(650), 0.5, n)
    prompt = context_base[run] + rnd * growth[run]
    prompt = np.where(kind == FINAL, context_base[run] + rounds[run] * growth[run], prompt)
    input_tokens = np.round(prompt * rng.lognormal(0.0, 0.1, total)).astype(np.int64)
    output_median = np.select([kind == PLAN, kind == FINAL], [220.0, 380.0], default=90.0)
    output_tokens = np.round(output_median * rng.lognormal(0.0, 0.45, total)).astype(np.int64) + 1
    input_tokens = np.where(failed & ~timed_out, 0, input_tokens)
    output_tokens = np.where(failed, 0, output_tokens)

    # Latency: models read the prompt and then write at their own speed; tools by their own medians.
    model_ms = (
        MODEL_TTFT_MS[row_model] * rng.lognormal(0.0, 0.3, total)
        + input_tokens / PREFILL_TOKENS_PER_MS
        + output_tokens / MODEL_TOKENS_PER_S[row_model] * 1000.0
    )
    tool = AGENT_TOOLS[agent[run], rng.integers(0, AGENT_TOOLS.shape[1], total)]
    tool_ms = TOOL_LATENCY_MS[tool] * rng.lognormal(0.0, 0.6, total)
    latency = np.select([is_model, is_tool], [model_ms, tool_ms], default=0.5 + rng.lognormal(np.log(3.0), 0.5, total))
    limit = np.where(is_tool, TOOL_TIMEOUT_MS, MODEL_TIMEOUT_MS)
    latency = np.where(timed_out, limit + rng.uniform(0.0, 500.0, total), latency)
    latency = np.where(failed & ~timed_out, np.where(is_tool, tool_ms, rng.lognormal(np.log(250), 0.6, total)), latency)
    latency = np.clip(np.round(latency, 3), 0.1, 3_600_000.0)

    cost = np.where(
        is_model,
        np.round((input_tokens * _PRICE_IN[row_model] + output_tokens * _PRICE_OUT[row_model]) / 1_000_000, 6),
        0.0,
    )

    # Time: each step starts after the previous one ended, plus a little orchestration overhead.
    occupied = np.ceil(latency).astype(np.int64) + rng.integers(0, 40, total)
    since_start = np.cumsum(occupied) - occupied
    since_start -= np.repeat(since_start[first_row], steps)
    timestamps = run_start[run] + since_start

    error_number = np.select(
        [err == _ERR["timeout"], err == _ERR["unavailable"], err == _ERR["context_length_exceeded"]],
        [np.round(limit / 1000).astype(np.int64), rng.integers(2, 4, total), rng.integers(128_001, 400_000, total)],
        default=rng.integers(1, 60, total),
    )
    message = error_messages([ERROR_TEMPLATES[e] for e in ERROR_TYPES], err, error_number, failed)
    argument = tool * ARGUMENTS_PER_TOOL + rng.integers(0, ARGUMENTS_PER_TOOL, total)
    not_tool, not_model, ok = pl.Series(~is_tool), pl.Series(~is_model), pl.Series(~failed)

    return pl.DataFrame(
        {
            "run_id": unique_ids(seed, DOMAIN, "run", start, n, "run-").gather(run),
            "step_index": step.astype(np.int64),
            "timestamp": pl.Series(timestamps).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
            "agent": _pick(AGENT_NAMES, agent[run]),
            "step_kind": _pick(STEP_KINDS, kind),
            "tool_name": _pick(TOOL_NAMES, tool).set(not_tool, None),  # type: ignore[arg-type]
            "tool_arguments": _pick(TOOL_ARGUMENTS, argument).set(not_tool, None),  # type: ignore[arg-type]
            "model": _pick(MODEL_NAMES, row_model).set(not_model, None),  # type: ignore[arg-type]
            "tokens_input": pl.Series(input_tokens).set(not_model, None),  # type: ignore[arg-type]
            "tokens_output": pl.Series(output_tokens).set(not_model, None),  # type: ignore[arg-type]
            "latency_ms": latency,
            "cost_usd": cost,
            "status": _pick(("ok", "error"), failed.astype(np.int64)),
            "error_type": _pick(ERROR_TYPES, err).set(ok, None),  # type: ignore[arg-type]
            "error_message": message,
        }
    )
