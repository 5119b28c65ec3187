"""Vectorized simulation of API sessions walking a workflow's Markov chain.

Sessions are simulated in fixed blocks of ``SESSION_BLOCK`` sessions. Within a block, one loop
iteration advances *every live session* by one call (a vectorized categorical draw over the
transition matrix), so the Python loop runs once per step of the longest session, never once per
call. Everything per call (status, latency, retries, timestamps, paths) is then drawn with array
operations over all calls of the block.

Each block has its own keyed random streams (``walk``, ``calls``, ``sessions``), so a block's bytes
do not depend on the other blocks or on how the work is split.

The walk never depends on failures: a cascade changes statuses, latencies and adds retries, but not
which endpoint comes next. That is what makes the declared probabilities the exact ground truth of
the calls (retries excluded).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from synth_pipelines.core.domain import ConstraintViolation
from synth_pipelines.core.rng import BLOCK_ROWS, block_spans, record_rng
from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.api_traces.workflow import Workflow, placeholders

DOMAIN = "api_traces"
SESSION_BLOCK = BLOCK_ROWS  # sessions per block: part of the generator version, not a tuning knob
USER_TYPES = ("premium", "free", "guest")
FAILURE_KINDS = ("slow", "timeout", "unavailable")  # codes 1, 2, 3; 0 = not anomalous
DEFAULT_THINK_TIME_S = 4.0
TIMEOUT_MS = 30_000.0
RETRYABLE = (502, 503, 504)
# Baseline (non-cascade) errors: what a healthy API returns now and then.
ERROR_STATUSES = np.array([400, 401, 403, 404, 409, 422, 429, 500, 502, 503], dtype=np.int16)
ERROR_WEIGHTS = np.array([0.14, 0.10, 0.04, 0.26, 0.04, 0.10, 0.08, 0.14, 0.04, 0.06])
# Client errors are rejected early, gateway errors fail fast, a 500 costs a full handler run.
ERROR_LATENCY_FACTOR = {400: 0.4, 401: 0.3, 403: 0.3, 404: 0.5, 409: 0.6, 422: 0.5, 429: 0.1, 500: 1.0}
GATEWAY_ERROR_FACTOR = 0.2
# Sessions per hour of day (UTC), a daytime peak and a quiet night.
HOURLY_WEIGHTS = np.array(
    [2, 1.5, 1, 1, 1, 1.5, 3, 5, 7, 8, 8, 8, 9, 8, 8, 8, 8, 9, 10, 10, 9, 7, 5, 3], dtype=np.float64
)
SEARCH_TERMS = (
    "wireless+headphones", "running+shoes", "usb-c+cable", "coffee+grinder", "yoga+mat", "laptop+stand",
    "phone+case", "desk+lamp", "water+bottle", "backpack", "mechanical+keyboard", "gaming+mouse",
    "air+fryer", "winter+jacket", "sunglasses", "smart+watch", "bluetooth+speaker", "office+chair",
    "tent", "board+games", "lego", "notebook", "fountain+pen", "hiking+boots", "rain+coat", "blender",
    "monitor", "webcam", "microphone", "sneakers", "jeans", "t-shirt", "dress", "perfume", "lipstick",
    "garden+hose", "plant+pot", "drill", "screwdriver+set", "kettle", "toaster", "vacuum", "pillow",
    "duvet", "towels", "frying+pan", "knife+set", "e-reader", "tablet", "charger",
)  # fmt: skip


@dataclass(frozen=True)
class Slot:
    """A literal piece of the path followed by one generated value."""

    prefix: str
    kind: str  # user | int | page | term | choice
    low: int = 0
    high: int = 0
    values: tuple[str, ...] = ()


# Upper bound on (states x k-step outcomes) of the jump table: keeps compiling cheap and the table in cache.
JUMP_TABLE_BUDGET = 1 << 15
MAX_JUMP = 4


@dataclass(frozen=True)
class Jumps:
    """The next ``k`` steps of the walk from each state, as one categorical outcome.

    Outcome ``j`` of state ``s`` (cell ``s * width + j``) is a path of up to ``k`` endpoints that stops
    early at an exit point; its probability is the product of the transition probabilities along it.
    Drawing whole paths from this joint distribution is exactly the Markov chain (the conditional law
    of each step given the previous one is the declared row), with ``k`` times fewer loop iterations.
    """

    k: int
    width: int  # outcomes per state (padded with zero-probability outcomes)
    accept: np.ndarray  # (S*width,) Walker alias tables, flattened
    other: np.ndarray  # (S*width,) int32
    states: np.ndarray  # (S*width, k) int32 endpoints of the path, -1 after it ends
    length: np.ndarray  # (S*width,) int64 steps in the path (1..k)
    last: np.ndarray  # (S*width,) int32 endpoint the path ends on
    goes_on: np.ndarray  # (S*width,) bool: k steps taken and not at an exit point


def _paths_ahead(matrix: np.ndarray, is_exit: np.ndarray, start: int, k: int) -> list[tuple[tuple[int, ...], float]]:
    """Every path of up to ``k`` steps from ``start`` with positive probability, stopping at exits."""
    done: list[tuple[tuple[int, ...], float]] = []
    frontier: list[tuple[tuple[int, ...], float]] = [((), 1.0)]
    for depth in range(k):
        grown: list[tuple[tuple[int, ...], float]] = []
        for path, p in frontier:
            here = path[-1] if path else start
            for nxt in np.flatnonzero(matrix[here] > 0):
                step = ((*path, int(nxt)), p * matrix[here, nxt])
                (done if is_exit[nxt] or depth == k - 1 else grown).append(step)
        frontier = grown
    return done


def _jump_size(edges: np.ndarray, is_exit: np.ndarray) -> int:
    """Largest ``k <= MAX_JUMP`` whose table fits the budget, counting paths without listing them."""
    n = edges.shape[0]
    ongoing = edges & ~is_exit[None, :]  # edges after which the path may continue
    # paths[d][s]: paths of exactly d+1 steps from s that are still going (not at an exit).
    going = ongoing.sum(axis=1).astype(np.float64)
    ending = (edges & is_exit[None, :]).sum(axis=1).astype(np.float64)  # paths that stop at an exit
    outcomes_by_k = [going + ending]
    weights = ongoing.astype(np.float64)
    for _ in range(1, MAX_JUMP):
        # Paths of k steps from s = ended earlier + (paths of k-1 steps going on) extended by one edge.
        ending = ending + weights @ (edges & is_exit[None, :]).sum(axis=1)
        weights = weights @ ongoing
        outcomes_by_k.append(ending + weights.sum(axis=1))
    k = 1
    for size, counts in enumerate(outcomes_by_k, start=1):
        if n * counts.max() <= JUMP_TABLE_BUDGET:
            k = size
    return k


def compile_jumps(matrix: np.ndarray, is_exit: np.ndarray) -> Jumps:
    """The largest ``k <= MAX_JUMP`` whose table fits ``JUMP_TABLE_BUDGET`` (k = 1 always fits)."""
    n = matrix.shape[0]
    movers = [s for s in range(n) if not is_exit[s]]
    k = _jump_size(matrix > 0, is_exit)
    outcomes = {s: _paths_ahead(matrix, is_exit, s, k) for s in movers}
    width = max((len(o) for o in outcomes.values()), default=1)
    states = np.full((n, width, k), -1, dtype=np.int32)
    accept = np.zeros((n, width))
    other = np.zeros((n, width), dtype=np.int32)
    for s, paths in outcomes.items():
        probabilities = np.zeros(width)
        for j, (path, p) in enumerate(paths):
            states[s, j, : len(path)] = path
            probabilities[j] = p
        accept[s], other[s] = alias_table(probabilities)
    states = states.reshape(n * width, k)
    length = (states >= 0).sum(axis=1).astype(np.int64)
    last = states[np.arange(states.shape[0]), np.maximum(length - 1, 0)]
    goes_on = (length == k) & (last >= 0) & ~is_exit[np.maximum(last, 0)]
    return Jumps(k, width, accept.ravel(), other.ravel(), states, length, np.maximum(last, 0), goes_on)


@dataclass(frozen=True)
class CompiledWorkflow:
    """A workflow as arrays, ready for vectorized draws. States are indexed in ``endpoints`` order."""

    workflow: Workflow
    endpoints: list[str]
    entry_cum: np.ndarray  # (S,) cumulative entry probabilities
    entry_last_positive: int
    jumps: Jumps  # k-step outcomes of the chain, drawn with one uniform per live session and iteration
    is_exit: np.ndarray  # (S,) bool
    mean_ms: np.ndarray  # (S,) average response time
    error_rate: np.ndarray  # (S,) baseline error share
    methods: list[str]
    success_status: np.ndarray  # (S,) int16
    slots: list[list[Slot]]  # per state
    tails: list[str]  # per state: literal after the last slot


def _slots_for(endpoint: str, workflow: Workflow) -> tuple[list[Slot], str]:
    slots: list[Slot] = []
    rest = endpoint
    for name in placeholders(endpoint):
        before, rest = rest.split("{" + name + "}", 1)
        spec = workflow.parameters.get(name)
        if spec is None and (name == "user_id" or before.rstrip("/").endswith("/users")):
            spec = "user"
        if spec == "user":
            slots.append(Slot(before, "user"))
        else:
            spec = spec or {"min": 1, "max": 99_999}
            slots.append(Slot(before, "int", spec["min"], spec["max"]))
    tail = rest
    for i, (pname, kind) in enumerate(workflow.query_params.get(endpoint, {}).items()):
        prefix = (tail if i == 0 else "") + ("?" if i == 0 else "&") + f"{pname}="
        if i == 0:
            tail = ""
        if isinstance(kind, list):
            slots.append(Slot(prefix, "choice", values=tuple(str(v) for v in kind)))
        elif kind == "search_term":
            slots.append(Slot(prefix, "term"))
        elif kind == "page":
            slots.append(Slot(prefix, "page"))
        else:
            slots.append(Slot(prefix, "int", 1, 1_000))
    return slots, tail


def alias_table(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table: draw column ``j`` uniformly, keep it if ``v < accept[j]``, else take
    ``other[j]``. O(1) per draw instead of a binary search. Zero-probability outcomes are never drawn:
    their ``accept`` is 0 and every ``other`` points at a positive-probability outcome.
    """
    n = probabilities.size
    scaled = probabilities * (n / probabilities.sum())
    accept = np.zeros(n)
    other = np.arange(n)
    small = [j for j in range(n) if scaled[j] < 1.0]
    large = [j for j in range(n) if scaled[j] >= 1.0]
    while small and large:
        j, k = small.pop(), large[-1]
        accept[j], other[j] = scaled[j], k
        scaled[k] -= 1.0 - scaled[j]
        if scaled[k] < 1.0:
            small.append(large.pop())
    for j in large + small:  # leftovers are 1 up to rounding; never a zero-probability outcome
        accept[j], other[j] = 1.0, j
    positive = np.flatnonzero(probabilities > 0)
    zero = probabilities <= 0
    accept[zero] = 0.0
    other[zero & (probabilities[other] <= 0)] = positive[-1]
    implied = accept.copy()
    np.add.at(implied, other, 1.0 - accept)
    if not np.allclose(implied / n, probabilities / probabilities.sum(), rtol=0, atol=1e-12):
        raise AssertionError("alias table does not reproduce its distribution")  # pragma: no cover
    return accept, other


def compile_workflow(workflow: Workflow, cfg: ApiTracesConfig) -> CompiledWorkflow:
    endpoints = workflow.endpoints
    matrix, entry = workflow.arrays()
    # Normalize away the validation tolerance so the last cumulative value is exactly 1.
    sums = matrix.sum(axis=1, keepdims=True)
    matrix = np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)
    is_exit = np.array([e in workflow.exit_points for e in endpoints])
    entry = entry / entry.sum()
    entry_cum = np.cumsum(entry)
    entry_cum[-1] = 1.0
    methods = [workflow.method_of(e) for e in endpoints]
    slots_tails = [_slots_for(e, workflow) for e in endpoints]
    return CompiledWorkflow(
        workflow=workflow,
        endpoints=endpoints,
        entry_cum=entry_cum,
        entry_last_positive=int(np.flatnonzero(entry)[-1]),
        jumps=compile_jumps(matrix, is_exit),
        is_exit=is_exit,
        mean_ms=np.array([workflow.avg_response_times[e] for e in endpoints], dtype=np.float64),
        error_rate=np.array([workflow.error_rates.get(e, 1.0 - cfg.success_rate) for e in endpoints]),
        methods=methods,
        success_status=np.array([204 if m == "DELETE" else 200 for m in methods], dtype=np.int16),
        slots=[s for s, _ in slots_tails],
        tails=[t for _, t in slots_tails],
    )


# ---------------------------------------------------------------------------------------------
# Users and sessions


@dataclass(frozen=True)
class Users:
    user_type: np.ndarray  # (U,) int8 code into USER_TYPES
    sessions: np.ndarray  # (U,) int64, >= 1

    @property
    def user_id(self) -> np.ndarray:
        return np.arange(1, self.user_type.size + 1, dtype=np.int64)


def draw_users(cfg: ApiTracesConfig, seed: int) -> Users:
    """User types by the configured shares; sessions per user ~ round(Normal(mean, std)), at least 1."""
    shares = np.cumsum([cfg.premium_share, cfg.free_share, cfg.guest_share])
    types, counts = [], []
    for block, _, n in block_spans(cfg.users):
        rng = record_rng(seed, DOMAIN, "users", block)
        u = rng.random(n)
        types.append(np.minimum(np.searchsorted(shares, u, side="right"), 2).astype(np.int8))
        counts.append(np.maximum(1, np.rint(rng.normal(cfg.sessions_per_user_mean, cfg.sessions_per_user_std, n))))
    return Users(np.concatenate(types), np.concatenate(counts).astype(np.int64))


def _session_starts(rng: np.random.Generator, n: int, cfg: ApiTracesConfig) -> np.ndarray:
    """Start times in epoch ms: a uniform day in the range, an hour by the daily cycle."""
    hour_cum = np.cumsum(HOURLY_WEIGHTS) / HOURLY_WEIGHTS.sum()
    day = rng.integers(0, cfg.days, n)
    hour = np.minimum(np.searchsorted(hour_cum, rng.random(n), side="right"), 23)
    within = np.floor(rng.random(n) * 3_600_000).astype(np.int64)
    base = int(cfg.start.timestamp() * 1000)
    return base + day * 86_400_000 + hour * 3_600_000 + within


# ---------------------------------------------------------------------------------------------
# The walk


def walk(model: CompiledWorkflow, rng: np.random.Generator, n: int, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Walk ``n`` sessions to an exit. Returns (states of all calls in session-major order, lengths).

    Each loop iteration draws the next ``k`` steps of every live session at once (``Jumps``).
    """
    jumps = model.jumps
    entry = np.minimum(np.searchsorted(model.entry_cum, rng.random(n), side="right"), model.entry_last_positive)
    entry = entry.astype(np.int32)
    lengths = np.ones(n, dtype=np.int64)
    alive = np.flatnonzero(~model.is_exit[entry])
    state = entry[alive]
    drawn_sessions: list[np.ndarray] = []
    drawn_cells: list[np.ndarray] = []
    while alive.size:
        if 1 + len(drawn_cells) * jumps.k >= max_steps:
            raise _too_long(model, alive.size, max_steps)
        # Alias method: one uniform gives the column (integer part) and the accept test (fraction).
        x = rng.random(alive.size) * jumps.width
        column = x.astype(np.int32)
        cell = state * jumps.width + column
        cell = np.where(x - column < jumps.accept[cell], cell, state * jumps.width + jumps.other[cell])
        drawn_sessions.append(alive)
        drawn_cells.append(cell)
        lengths[alive] += jumps.length[cell]
        going_on = jumps.goes_on[cell]
        alive, state = alive[going_on], jumps.last[cell[going_on]]
    if n and lengths.max() > max_steps:
        raise _too_long(model, int((lengths > max_steps).sum()), max_steps)
    starts = np.cumsum(lengths) - lengths
    ordered = np.empty(int(lengths.sum()), dtype=np.int32)
    ordered[starts] = entry
    if drawn_cells:
        sessions = np.concatenate(drawn_sessions)
        cells = np.concatenate(drawn_cells)
        iteration = np.repeat(np.arange(len(drawn_cells)), [c.size for c in drawn_cells])
        position = starts[sessions] + 1 + iteration * jumps.k
        path_length = jumps.length[cells]
        for j in range(jumps.k):
            take = np.flatnonzero(path_length > j)
            ordered[position[take] + j] = jumps.states[cells[take], j]
    return ordered, lengths


def _too_long(model: CompiledWorkflow, sessions: int, max_steps: int) -> ConstraintViolation:
    return ConstraintViolation(
        f"workflow {model.workflow.name}: {sessions} session(s) had not reached an exit point "
        f"after {max_steps} calls (max_calls_per_session); raise the limit or shorten the loops"
    )


# ---------------------------------------------------------------------------------------------
# Per-call attributes


def _lognormal(mean: np.ndarray, sigma: float, z: np.ndarray) -> np.ndarray:
    """Log-normal draws with the given means; works in place on ``z`` (fewer passes over memory)."""
    z *= sigma
    z -= 0.5 * sigma * sigma
    np.exp(z, out=z)
    z *= mean
    return z


@dataclass
class _Attempts:
    """One level of attempts (0 = the original call, j >= 1 = the j-th retry) of some logical calls."""

    call: np.ndarray  # logical call indices
    status: np.ndarray
    response_ms: np.ndarray
    kind: np.ndarray  # 0 or a FAILURE_KINDS code + 1
    backoff_ms: np.ndarray


def _error_latency_factors() -> np.ndarray:
    factors = np.array([ERROR_LATENCY_FACTOR.get(int(code), 1.0) for code in ERROR_STATUSES])
    factors[np.isin(ERROR_STATUSES, RETRYABLE)] = GATEWAY_ERROR_FACTOR
    return factors


def _outcomes(
    model: CompiledWorkflow,
    cfg: ApiTracesConfig,
    rng: np.random.Generator,
    state: np.ndarray,
    in_cascade: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Status, response time and failure kind of one attempt of each given call.

    Only the calls that fail or degrade use the extra numbers they need, in a fixed order; every
    draw call is made even for no calls (``record_rng`` numbers its calls: sessions stay prefix-stable).
    """
    n = state.size
    response = _lognormal(model.mean_ms[state], cfg.response_time_sigma, rng.standard_normal(n))
    u_error = rng.random(n)
    status = model.success_status[state]
    kind = np.zeros(n, dtype=np.int8)
    # Baseline errors outside cascades.
    failed = np.flatnonzero((u_error < model.error_rate[state]) & ~in_cascade)
    u_which = rng.random(failed.size)
    if failed.size:
        err_cum = np.cumsum(ERROR_WEIGHTS) / ERROR_WEIGHTS.sum()
        which = np.minimum(np.searchsorted(err_cum, u_which, side="right"), ERROR_STATUSES.size - 1)
        status[failed] = ERROR_STATUSES[which]
        response[failed] *= _error_latency_factors()[which]
    # Cascade: slow (still succeeds), timeout (504 after ~30 s), unavailable (503, fast).
    degraded = np.flatnonzero(in_cascade)
    u_kind, aux = rng.random(degraded.size), rng.random(degraded.size)
    if degraded.size:
        kind_cum = np.cumsum([cfg.slow_share, cfg.timeout_share, cfg.unavailable_share])
        kind_cum[-1] = 1.0
        k = (np.searchsorted(kind_cum, u_kind, side="right").clip(0, 2) + 1).astype(np.int8)
        kind[degraded] = k
        status[degraded] = np.where(k == 2, 504, np.where(k == 3, 503, status[degraded]))
        base = response[degraded]
        response[degraded] = np.where(
            k == 1,
            base * (3.0 + 7.0 * aux),
            np.where(k == 2, TIMEOUT_MS + 400.0 * aux, base * GATEWAY_ERROR_FACTOR),
        )
    # Written with 0.1 ms resolution and checked > 0: a sub-0.05 ms draw (a workflow's tiny mean, a wide
    # sigma) would round to 0.0 and fail the run's own check, so the floor is the smallest written value.
    return status, np.maximum(np.round(response, 1), 0.1), kind


# Small integers (pages, ids from a narrow range) are looked up as strings instead of formatted.
_NUMBER_TABLE_SIZE = 1 << 16
_number_strings: pl.Series | None = None


def _numbers_as_text(values: np.ndarray) -> pl.Series:
    global _number_strings
    if values.size and values.min() >= 0 and values.max() < _NUMBER_TABLE_SIZE:
        if _number_strings is None:
            _number_strings = pl.Series(np.arange(_NUMBER_TABLE_SIZE)).cast(pl.String)
        return _number_strings.gather(values)
    return pl.Series(values).cast(pl.String)


def _paths(
    model: CompiledWorkflow, rng: np.random.Generator, state: np.ndarray, user_id: np.ndarray
) -> tuple[pl.Series, np.ndarray]:
    """The concrete request path of each logical call: placeholders and query parameters filled in.

    Calls are grouped by endpoint so each group concatenates only its own pieces, with uniforms
    drawn group by group in endpoint order. Returns the paths in grouped order and, per call, its
    position there (so the caller does a single gather into final row order).
    """
    term_weights = 1.0 / np.arange(1, len(SEARCH_TERMS) + 1)  # Zipf: a few terms are searched a lot
    term_cum = np.cumsum(term_weights) / term_weights.sum()
    terms = pl.Series(SEARCH_TERMS, dtype=pl.String)
    # int16 keys make numpy's stable argsort a radix sort.
    order = np.argsort(state.astype(np.int16), kind="stable")
    bounds = np.searchsorted(state[order], np.arange(len(model.endpoints) + 1))
    parts: list[pl.Series] = []
    position = np.empty(order.size, dtype=np.int64)
    built = 0
    slotless: list[int] = []
    for s, slots in enumerate(model.slots):
        rows = order[bounds[s] : bounds[s + 1]]
        # Drawn for every endpoint with random slots, calls or not, as (calls, slots): the first
        # calls of an endpoint get the same numbers whatever the block's size (``record_rng``).
        random_slots = [k for k, slot in enumerate(slots) if slot.kind != "user"]
        uniforms = rng.random((rows.size, len(random_slots))).T if random_slots else None
        if not rows.size:
            continue
        if not slots:  # the path is the endpoint itself: one shared string, appended after the groups
            slotless.append(s)
            continue
        position[rows] = np.arange(built, built + rows.size)
        built += rows.size
        pieces: list[pl.Expr] = []
        for k, slot in enumerate(slots):
            u = uniforms[random_slots.index(k)] if uniforms is not None and k in random_slots else None
            if slot.kind == "user":
                value = _numbers_as_text(user_id[rows])
            elif slot.kind == "int":
                value = _numbers_as_text(slot.low + np.floor(u * (slot.high - slot.low + 1)).astype(np.int64))
            elif slot.kind == "page":  # page 1 most of the time, then geometrically fewer
                value = _numbers_as_text(1 + np.floor(np.log1p(-u) / np.log(0.45)).astype(np.int64))
            elif slot.kind == "term":
                value = terms.gather(np.minimum(np.searchsorted(term_cum, u, side="right"), len(SEARCH_TERMS) - 1))
            else:  # choice
                value = pl.Series(slot.values, dtype=pl.String).gather(np.floor(u * len(slot.values)).astype(np.int64))
            pieces += [pl.lit(slot.prefix), pl.lit(value)] if slot.prefix else [pl.lit(value)]
        if model.tails[s]:
            pieces.append(pl.lit(model.tails[s]))
        parts.append(pl.select(pl.concat_str(pieces)).to_series())
    for i, s in enumerate(slotless):
        position[order[bounds[s] : bounds[s + 1]]] = built + i
    parts.append(pl.Series([model.tails[s] for s in slotless], dtype=pl.String))
    # One chunk: gathering string views across many chunks is ~3x slower than rechunk + gather.
    grouped = pl.concat(parts, rechunk=True)
    return grouped.alias("path"), position


def simulate_block(
    model: CompiledWorkflow,
    cfg: ApiTracesConfig,
    seed: int,
    block: int,
    first_session_id: int,
    user_id: np.ndarray,
    user_type: np.ndarray,
) -> pl.DataFrame:
    """All calls of one block of sessions, ordered by (session_id, seq)."""
    n = user_id.size
    session_rng = record_rng(seed, DOMAIN, "sessions", block)
    start_ms = _session_starts(session_rng, n, cfg)
    cascading = session_rng.random(n) < cfg.cascade_failure_rate
    failure_position = session_rng.random(n)

    state, lengths = walk(model, record_rng(seed, DOMAIN, "walk", block), n, cfg.max_calls_per_session)
    n_calls = state.size
    session_of_call = np.repeat(np.arange(n), lengths)
    call_start = np.cumsum(lengths) - lengths
    step = np.arange(n_calls) - call_start[session_of_call]
    failure_step = np.where(cascading, np.floor(failure_position * lengths).astype(np.int64), np.iinfo(np.int64).max)
    in_cascade = step >= failure_step[session_of_call]

    rng = record_rng(seed, DOMAIN, "calls", block)
    think_mean_s = cfg.think_time_mean_s
    if think_mean_s is None:
        think_mean_s = model.workflow.think_time_mean_s
    if think_mean_s is None:
        think_mean_s = DEFAULT_THINK_TIME_S
    think_ms = _lognormal(np.float64(think_mean_s * 1000.0), 0.9, rng.standard_normal(n_calls))
    long_pause = np.flatnonzero(rng.random(n_calls) < cfg.long_pause_probability)
    think_ms[long_pause] += rng.standard_exponential(long_pause.size) * (cfg.long_pause_mean_s * 1000.0)
    grouped_paths, path_position = _paths(model, rng, state, user_id[session_of_call])

    # Attempt levels: the original call, then retries of 502/503/504 while the client keeps trying.
    status, response, kind = _outcomes(model, cfg, rng, state, in_cascade)
    levels = [_Attempts(np.arange(n_calls), status, response, kind, np.zeros(n_calls))]
    pending = levels[0].call[np.isin(status, RETRYABLE)]
    for attempt in range(1, cfg.max_retries + 1):
        retried = pending[rng.random(pending.size) < cfg.retry_probability]
        if not retried.size:
            break
        backoff = 500.0 * 2 ** (attempt - 1) * (0.5 + rng.random(retried.size))
        status, response, kind = _outcomes(model, cfg, rng, state[retried], in_cascade[retried])
        levels.append(_Attempts(retried, status, response, kind, backoff))
        pending = retried[np.isin(status, RETRYABLE)]

    attempts = np.ones(n_calls, dtype=np.int64)
    for level in levels[1:]:
        attempts[level.call] += 1
    row_of_call = np.cumsum(attempts) - attempts
    n_rows = int(attempts.sum())
    row_status = np.empty(n_rows, dtype=np.int16)
    row_response = np.empty(n_rows)
    row_kind = np.empty(n_rows, dtype=np.int8)
    row_attempt = np.empty(n_rows, dtype=np.int8)
    row_delay = np.empty(n_rows)
    for j, level in enumerate(levels):
        rows = row_of_call[level.call] + j
        row_status[rows] = level.status
        row_response[rows] = level.response_ms
        row_kind[rows] = level.kind
        row_attempt[rows] = j
        row_delay[rows] = level.backoff_ms if j else think_ms
    call_of_row = np.repeat(np.arange(n_calls), attempts)
    session_of_row = session_of_call[call_of_row]
    rows_per_session = np.bincount(session_of_row, minlength=n)
    session_first_row = np.cumsum(rows_per_session) - rows_per_session
    seq = np.arange(n_rows) - session_first_row[session_of_row]

    # Timestamps: each call starts after the previous response plus a think time or a retry backoff.
    gap = np.zeros(n_rows, dtype=np.int64)
    gap[1:] = np.rint(row_response[:-1] + row_delay[1:]).astype(np.int64)
    gap[session_first_row[rows_per_session > 0]] = 0
    elapsed = np.cumsum(gap)
    timestamp_ms = elapsed + (start_ms - elapsed[session_first_row])[session_of_row]

    failure_row = row_of_call[np.minimum(call_start + np.minimum(failure_step, lengths - 1), n_calls - 1)]
    failure_seq = np.where(cascading, failure_row - session_first_row, -1)
    failure_ms = np.where(cascading, timestamp_ms[failure_row] if n_calls else 0, 0)

    row_state = state[call_of_row]
    in_failing_session = cascading[session_of_row]
    any_anomalous = bool(row_kind.any())
    columns = [
        pl.Series("session_id", first_session_id + session_of_row, dtype=pl.Int64),
        pl.Series("seq", seq.astype(np.int32)),
        pl.Series("timestamp", timestamp_ms).cast(pl.Datetime("ms", "UTC")),
        pl.Series("user_id", user_id[session_of_row]),
        pl.Series(USER_TYPES, dtype=pl.String).gather(user_type[session_of_row]).alias("user_type"),
        pl.Series(model.endpoints, dtype=pl.String).gather(row_state).alias("endpoint"),
        pl.Series(model.methods, dtype=pl.String).gather(row_state).alias("method"),
        grouped_paths.gather(path_position[call_of_row]).alias("path"),
        pl.Series("status_code", row_status),
        pl.Series("response_time_ms", row_response),
        pl.Series("is_retry", row_attempt > 0),
        pl.Series("attempt", row_attempt),
        pl.Series("is_anomalous", row_kind > 0),
        (
            pl.Series([None, *FAILURE_KINDS], dtype=pl.String).gather(row_kind)
            if any_anomalous
            else pl.repeat(None, n_rows, dtype=pl.String, eager=True)
        ).alias("failure_kind"),
        _masked("failure_start_seq", failure_seq[session_of_row].astype(np.int32), in_failing_session, pl.Int32),
        _masked("failure_started_at", failure_ms[session_of_row], in_failing_session, pl.Datetime("ms", "UTC")),
    ]
    return pl.DataFrame(columns)


def _masked(name: str, values: np.ndarray, valid: np.ndarray, dtype: pl.DataType) -> pl.Series:
    """A column that is null where ``valid`` is false (validity bitmap, no per-row branching)."""
    if not valid.any():
        return pl.repeat(None, values.size, dtype=dtype, eager=True).alias(name)
    physical = pl.from_arrow(pa.array(values, mask=~valid))
    return physical.cast(dtype).alias(name)  # type: ignore[union-attr]


CALLS_SCHEMA: dict[str, pl.DataType] = {
    "session_id": pl.Int64(),
    "seq": pl.Int32(),
    "timestamp": pl.Datetime("ms", "UTC"),
    "user_id": pl.Int64(),
    "user_type": pl.String(),
    "endpoint": pl.String(),
    "method": pl.String(),
    "path": pl.String(),
    "status_code": pl.Int16(),
    "response_time_ms": pl.Float64(),
    "is_retry": pl.Boolean(),
    "attempt": pl.Int8(),
    "is_anomalous": pl.Boolean(),
    "failure_kind": pl.String(),
    "failure_start_seq": pl.Int32(),
    "failure_started_at": pl.Datetime("ms", "UTC"),
}
CALL_COLUMNS = list(CALLS_SCHEMA)


def block_workers() -> int:
    """Blocks simulated at once: one per available core, at most 4 (numpy and polars release the GIL)."""
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


@dataclass(frozen=True)
class SessionPlan:
    """A run's users and which user owns each session: enough to draw any block of sessions alone."""

    model: CompiledWorkflow
    cfg: ApiTracesConfig
    seed: int
    users: Users
    session_user: np.ndarray  # (sessions,) 0-based index of each session's user, in session order

    @property
    def sessions(self) -> int:
        return int(self.session_user.size)

    def spans(self) -> list[tuple[int, int, int]]:
        """(block, first session index, sessions) of every block, in order."""
        return list(block_spans(self.sessions, SESSION_BLOCK))

    def block(self, block: int, start: int, n: int) -> pl.DataFrame:
        """All calls of sessions ``start + 1 .. start + n`` (block ``block``)."""
        owners = self.session_user[start : start + n]
        user_id, user_type = self.users.user_id[owners], self.users.user_type[owners].astype(np.int64)
        return simulate_block(self.model, self.cfg, self.seed, block, start + 1, user_id, user_type)


def plan_sessions(workflow: Workflow, cfg: ApiTracesConfig, seed: int) -> SessionPlan:
    users = draw_users(cfg, seed)
    session_user = np.repeat(np.arange(users.sessions.size), users.sessions)
    return SessionPlan(compile_workflow(workflow, cfg), cfg, seed, users, session_user)


def iter_call_blocks(workflow: Workflow, cfg: ApiTracesConfig, seed: int, workers: int | None = None):
    """Calls block by block (``SESSION_BLOCK`` sessions each), in session order.

    Blocks are independent (own keyed streams), so ``workers`` threads draw them concurrently; at most
    ``workers`` blocks are in flight and they are yielded in order, so the bytes never depend on it.
    """
    plan = plan_sessions(workflow, cfg, seed)
    one_block = plan.block
    spans = plan.spans()
    workers = block_workers() if workers is None else workers
    if workers <= 1 or len(spans) <= 1:
        for span in spans:
            yield one_block(*span)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="api_traces") as pool:
        pending: deque[Future[pl.DataFrame]] = deque()
        for span in spans:
            pending.append(pool.submit(one_block, *span))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def simulate_calls(
    workflow: Workflow,
    cfg: ApiTracesConfig,
    seed: int,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> pl.DataFrame:
    """Every call of every session; session ids and user ids start at 1. Same bytes for any ``workers``.

    ``progress(n)`` is told of ``n`` more users whose sessions are all simulated (``cfg.users`` in all).
    """
    frames: list[pl.DataFrame] = []
    users_done = 0
    for frame in iter_call_blocks(workflow, cfg, seed, workers):
        frames.append(frame)
        if progress is not None and frame.height:
            # Sessions come in user order, so every user before the block's last one is complete.
            complete = int(frame["user_id"][-1]) - 1
            if complete > users_done:
                progress(complete - users_done)
                users_done = complete
    if progress is not None and cfg.users > users_done:
        progress(cfg.users - users_done)
    if not frames:
        return pl.DataFrame(schema=CALLS_SCHEMA)
    return pl.concat(frames, rechunk=False) if len(frames) > 1 else frames[0]
