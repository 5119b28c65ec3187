"""Calls per second of the vectorized api_traces simulation against a per-call Python loop.

Run from the repository root:

    python bench/bench_api_traces.py   # defaults: 150,000 users vectorized, 6,000 in the loop
    python bench/bench_api_traces.py --users 300000 --loop-users 10000 --repeat 5

Both sides generate the same thing for the e-commerce workflow without cascades: a walk of the
Markov chain per session, and per call a method, a path with parameters, a status (95% success,
retries of 502/503), a log-normal response time, a think time and a timestamp. The loop is the
straightforward way to write it (``random`` + ``datetime`` + a dict per call, then one frame), which
is what a per-call generator costs. Targets (issue #3): >= 1,000,000 calls/s vectorized and >= 50x the
loop, measured in the same run. Timings on a shared machine are noisy: the best of ``--repeat`` runs
is reported next to the median.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import math
import random
import statistics
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.api_traces.simulate import (
    ERROR_STATUSES,
    ERROR_WEIGHTS,
    SEARCH_TERMS,
    block_workers,
    compile_workflow,
    simulate_calls,
)
from synth_pipelines.domains.api_traces.workflow import Workflow, load_workflow


def python_loop(workflow: Workflow, cfg: ApiTracesConfig, seed: int) -> pl.DataFrame:
    """The same model, one call at a time."""
    rng = random.Random(seed)
    model = compile_workflow(workflow, cfg)
    endpoints = model.endpoints
    index = {e: i for i, e in enumerate(endpoints)}
    rows_cum = []
    for e in endpoints:
        row = workflow.transitions.get(e, {})
        targets = [index[t] for t in row]
        rows_cum.append((targets, list(itertools.accumulate(row.values()))))
    entry_targets = [index[e] for e in workflow.entry_points]
    entry_cum = list(itertools.accumulate(workflow.entry_points.values()))
    error_statuses = [int(s) for s in ERROR_STATUSES]
    error_weights = list(ERROR_WEIGHTS)
    types = ["premium", "free", "guest"]
    type_weights = [cfg.premium_share, cfg.free_share, cfg.guest_share]
    sigma = cfg.response_time_sigma
    think_mean = (workflow.think_time_mean_s or 4.0) * 1000
    start = cfg.start
    calls: list[dict] = []
    session_id = 0
    for user_id in range(1, cfg.users + 1):
        user_type = rng.choices(types, type_weights)[0]
        n_sessions = max(1, round(rng.gauss(cfg.sessions_per_user_mean, cfg.sessions_per_user_std)))
        for _ in range(n_sessions):
            session_id += 1
            t = start + dt.timedelta(days=rng.randrange(cfg.days), seconds=rng.random() * 86_400)
            state = entry_targets[min(bisect.bisect_right(entry_cum, rng.random()), len(entry_cum) - 1)]
            seq = 0
            while True:
                endpoint = endpoints[state]
                params = {}
                for slot in model.slots[state]:
                    if slot.kind == "user":
                        value = str(user_id)
                    elif slot.kind == "int":
                        value = str(rng.randint(slot.low, slot.high))
                    elif slot.kind == "page":
                        value = str(1 + int(math.log(1 - rng.random()) / math.log(0.45)))
                    elif slot.kind == "term":
                        value = rng.choice(SEARCH_TERMS)
                    else:
                        value = rng.choice(slot.values)
                    params[slot.prefix] = value
                path = "".join(p + v for p, v in params.items()) + model.tails[state]
                attempt = 0
                while True:
                    response = model.mean_ms[state] * math.exp(sigma * rng.gauss(0, 1) - sigma * sigma / 2)
                    if rng.random() < model.error_rate[state]:
                        status = rng.choices(error_statuses, error_weights)[0]
                    else:
                        status = 200
                    calls.append(
                        {
                            "session_id": session_id,
                            "seq": seq,
                            "timestamp": t,
                            "user_id": user_id,
                            "user_type": user_type,
                            "endpoint": endpoint,
                            "method": model.methods[state],
                            "path": path,
                            "status_code": status,
                            "response_time_ms": round(response, 1),
                            "is_retry": attempt > 0,
                            "is_anomalous": False,
                        }
                    )
                    seq += 1
                    retry = status in (502, 503, 504) and attempt < cfg.max_retries
                    if not (retry and rng.random() < cfg.retry_probability):
                        break
                    attempt += 1
                    t += dt.timedelta(milliseconds=response + 500 * 2 ** (attempt - 1) * (0.5 + rng.random()))
                if model.is_exit[state]:
                    break
                think = think_mean * math.exp(0.9 * rng.gauss(0, 1) - 0.405)
                if rng.random() < cfg.long_pause_probability:
                    think += rng.expovariate(1 / (cfg.long_pause_mean_s * 1000))
                t += dt.timedelta(milliseconds=response + think)
                targets, cum = rows_cum[state]
                state = targets[min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)]
    return pl.DataFrame(calls)


def timed(fn, repeat: int) -> tuple[int, list[float], list[float]]:
    """Rows, wall seconds and CPU seconds (all threads of this process) per run."""
    wall, cpu, rows = [], [], 0
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        rows = fn().height
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return rows, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=150_000, help="users in the vectorized runs")
    parser.add_argument("--loop-users", type=int, default=6_000, help="users in the per-call loop run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    shop = load_workflow("ecommerce")
    quiet = {"cascade_failure_rate": 0.0}
    mesh = load_workflow("microservices")
    cases = [
        ("vectorized ecommerce, no cascades", shop, ApiTracesConfig(users=args.users, **quiet), None),
        ("  same, one thread", shop, ApiTracesConfig(users=args.users, **quiet), 1),
        ("vectorized ecommerce, 5% cascades", shop, ApiTracesConfig(users=args.users), None),
        ("vectorized microservices, no cascades", mesh, ApiTracesConfig(users=args.users, **quiet), None),
    ]
    simulate_calls(shop, ApiTracesConfig(users=1_000), 0)  # warm up imports and caches

    results = []
    for label, workflow, cfg, workers in cases:
        run = lambda w=workflow, c=cfg, k=workers: simulate_calls(w, c, 42, workers=k)  # noqa: E731
        results.append((label, *timed(run, args.repeat)))
    loop_cfg = ApiTracesConfig(users=args.loop_users, **quiet)
    loop = timed(lambda: python_loop(shop, loop_cfg, 42), max(1, args.repeat - 1))
    results.append(("per-call Python loop ecommerce, no cascades", *loop))

    base_wall = loop[0] / min(loop[1])
    base_cpu = loop[0] / min(loop[2])
    print(
        f"{'case':<44} {'calls':>10} {'best s':>7} {'median s':>8} {'calls/s':>10} {'x loop':>6} "
        f"{'calls/CPU-s':>12} {'x loop':>6}"
    )
    for label, rows, wall, cpu in results:
        rate, cpu_rate = rows / min(wall), rows / min(cpu)
        print(
            f"{label:<44} {rows:>10,} {min(wall):>7.3f} {statistics.median(wall):>8.3f} {rate:>10,.0f} "
            f"{rate / base_wall:>6.1f} {cpu_rate:>12,.0f} {cpu_rate / base_cpu:>6.1f}"
        )
    first = results[0]
    target = first[1] / min(first[2])
    speedup = target / base_wall
    print(
        f"\ntarget: >= 1,000,000 calls/s -> {'met' if target >= 1e6 else 'NOT met'} ({target:,.0f}); "
        f">= 50x loop (wall) -> {'met' if speedup >= 50 else 'NOT met'} ({speedup:.1f}x)"
    )
    print(
        "note: shared, noisy machine: best of runs shown next to the median; calls per CPU-second "
        f"(all threads) is steadier under load. block threads: {block_workers()}, polars threads: "
        f"{pl.thread_pool_size()}"
    )


if __name__ == "__main__":
    main()
