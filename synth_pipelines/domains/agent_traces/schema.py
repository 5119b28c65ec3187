"""Field inventory, per-step rules and run-sequence rules of agent traces.

One record is one step of an agent run. Per-step rules (``RULES``) are broken on purpose in the
invalid mirror; rules across the steps of a run (``FRAME_RULES``: numbering, timing, how a run
ends) are checked on clean frames and whole files, in line order.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_pipelines.domains.agent_traces.catalog import (
    AGENT_NAMES,
    ERROR_TYPES,
    ERRORS_OF_KIND,
    MODEL_NAMES,
    MODEL_STEP_KINDS,
    PRICE_INPUT_PER_M,
    PRICE_OUTPUT_PER_M,
    STATUSES,
    STEP_KINDS,
    TOOL_NAMES,
)
from synth_pipelines.domains.logs.fields import FieldSpec, FrameRule, Inventory, Rule, set_values

FIELDS = [
    FieldSpec("run_id", "string", "Id of the agent run; shared by all its steps.", pattern=r"run-[0-9a-f]{16}"),
    FieldSpec("step_index", "int", "Position of the step in its run, from 0.", ge=0, le=199),
    FieldSpec("timestamp", "timestamp", "When the step started (UTC)."),
    FieldSpec("agent", "string", "Agent that ran.", vocabulary=AGENT_NAMES),
    FieldSpec("step_kind", "string", "What the step did.", vocabulary=STEP_KINDS),
    FieldSpec("tool.name", "string", "Tool called; only on tool_call steps.", required=False, vocabulary=TOOL_NAMES),
    FieldSpec("tool.arguments", "string", "Summary of the tool arguments; only on tool_call steps.", required=False),
    FieldSpec("model", "string", "Model called; only on plan/llm_call/final.", required=False, vocabulary=MODEL_NAMES),
    FieldSpec("tokens.input", "int", "Prompt tokens; only on model steps.", required=False, ge=0, le=1_000_000),
    FieldSpec("tokens.output", "int", "Completion tokens; only on model steps.", required=False, ge=0, le=100_000),
    FieldSpec("latency_ms", "float", "Wall time of the step, ms.", ge=0.1, le=3_600_000),
    FieldSpec("cost_usd", "float", "Cost of the step in USD (tokens x the model's price; 0 otherwise).", ge=0, le=100),
    FieldSpec("status", "string", "Outcome of the step.", vocabulary=STATUSES),
    FieldSpec("error.type", "string", "Error class; only on failed steps.", required=False, vocabulary=ERROR_TYPES),
    FieldSpec("error.message", "string", "Error message; only on failed steps.", required=False),
]

COST_TOLERANCE_USD = 1e-6  # costs are rounded to micro-dollars

_kind = pl.col("step_kind")
_is_tool_call = _kind == "tool_call"
_is_model_step = _kind.is_in(list(MODEL_STEP_KINDS))
_failed = pl.col("status") == "error"


def expected_cost() -> pl.Expr:
    """Cost from the price table: input and output tokens at the model's per-million prices."""
    price_in = pl.col("model").replace_strict(PRICE_INPUT_PER_M, default=None, return_dtype=pl.Float64)
    price_out = pl.col("model").replace_strict(PRICE_OUTPUT_PER_M, default=None, return_dtype=pl.Float64)
    return (pl.col("tokens_input") * price_in + pl.col("tokens_output") * price_out) / 1_000_000


ERROR_KIND_PAIRS = [f"{kind}:{error}" for kind, errors in ERRORS_OF_KIND.items() for error in errors]


def _error_of_other_kind(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    return df.with_columns(
        error_type=pl.when(_is_tool_call).then(pl.lit("context_length_exceeded")).otherwise(pl.lit("invalid_arguments"))
    )


RULES = [
    Rule(
        "tool_only_on_tool_call",
        "tool.name",
        "tool.name and tool.arguments are present exactly on tool_call steps",
        holds=(_is_tool_call == pl.col("tool_name").is_not_null())
        & (_is_tool_call == pl.col("tool_arguments").is_not_null()),
        applies=~_is_tool_call,
        violate=lambda df, rng: set_values(df, tool_name="web_search", tool_arguments='query="status page"'),
    ),
    Rule(
        "model_only_on_model_steps",
        "model",
        "model is present exactly on plan, llm_call and final steps",
        holds=_is_model_step == pl.col("model").is_not_null(),
        applies=~_is_model_step,
        violate=lambda df, rng: set_values(df, model="atlas-mini"),
    ),
    Rule(
        "tokens_only_on_model_steps",
        "tokens.input",
        "tokens.input and tokens.output are present exactly on plan, llm_call and final steps",
        holds=(_is_model_step == pl.col("tokens_input").is_not_null())
        & (_is_model_step == pl.col("tokens_output").is_not_null()),
        applies=~_is_model_step,
        violate=lambda df, rng: set_values(df, tokens_input=120, tokens_output=40),
    ),
    Rule(
        "cost_matches_tokens",
        "cost_usd",
        "cost_usd equals the tokens at the model's price (to the micro-dollar), and 0 on steps without a model",
        holds=pl.when(pl.col("model").is_null())
        .then(pl.col("cost_usd") == 0)
        .otherwise((pl.col("cost_usd") - expected_cost()).abs() <= COST_TOLERANCE_USD),
        applies=pl.col("model").is_not_null(),
        violate=lambda df, rng: df.with_columns(cost_usd=pl.col("cost_usd") * 10 + 0.01),
    ),
    Rule(
        "error_only_on_failure",
        "error.message",
        "error.type and error.message are present exactly on failed steps",
        holds=(_failed == pl.col("error_type").is_not_null()) & (_failed == pl.col("error_message").is_not_null()),
        applies=~_failed,
        violate=lambda df, rng: set_values(df, error_type="timeout", error_message="step timed out after 30 s"),
    ),
    Rule(
        "error_fits_step_kind",
        "error.type",
        "tool errors (tool_error, invalid_arguments) only on tool calls, model errors (rate_limited, "
        "context_length_exceeded) only on model steps; observations do not fail",
        holds=~_failed
        | pl.col("error_type").is_null()
        | pl.concat_str([_kind, pl.lit(":"), pl.col("error_type")]).is_in(ERROR_KIND_PAIRS),
        applies=_failed & pl.col("error_type").is_not_null(),
        violate=_error_of_other_kind,
    ),
    Rule(
        "plan_comes_first",
        "step_kind",
        "step 0 is the plan, and only step 0",
        holds=(pl.col("step_index") == 0) == (_kind == "plan"),
        applies=pl.col("step_index") == 0,
        violate=lambda df, rng: set_values(df, step_kind="llm_call"),
    ),
]

# Each rule compares a line with its neighbours in the run, so a file validation reports the line
# where the sequence breaks, not every later line of the run.
_run = "run_id"
_position = pl.int_range(pl.len()).over(_run)
_is_last = _position == pl.len().over(_run) - 1
_previous_step = pl.col("step_index").shift(1).over(_run)
_previous_end_ms = (pl.col("timestamp").shift(1).dt.epoch("ms").cast(pl.Float64) + pl.col("latency_ms").shift(1)).over(
    _run
)

FRAME_RULES = [
    FrameRule(
        "steps_numbered_in_order",
        "step_index",
        "a run's first step is 0 and every later one the previous plus 1 (no gap, repeat or swap), "
        "so (run_id, step_index) is unique",
        holds=pl.when(_position == 0)
        .then(pl.col("step_index") == 0)
        .otherwise(pl.col("step_index") == _previous_step + 1),
    ),
    FrameRule(
        "steps_follow_in_time",
        "timestamp",
        "each step starts after the previous step of its run ended (timestamp + latency)",
        holds=pl.col("timestamp").dt.epoch("ms").cast(pl.Float64) >= _previous_end_ms,
    ),
    FrameRule(
        "run_ends_with_final_unless_failed",
        "step_kind",
        "a run's last step is final, or a failed step when the run failed; final appears nowhere else",
        holds=pl.when(_is_last).then((_kind == "final") | _failed).otherwise(_kind != "final"),
    ),
    FrameRule(
        "run_keeps_its_agent",
        "agent",
        "every step of a run names the agent of its first step",
        holds=pl.col("agent") == pl.col("agent").first().over(_run),
    ),
]

INVENTORY = Inventory("agent_traces", FIELDS, RULES, id_field="run_id", frame_rules=FRAME_RULES)
# One record per step: a run id repeats over its steps (uniqueness is per (run_id, step_index), above).
INVENTORY.id_unique = False
