"""Scale-out throughput: api-traces sharded on 1 vs 2 worker processes, beside single-process baselines.

Run from the repository root:

    python bench/bench_scale.py                      # api-traces 70,000 users (~2M calls), K = 2 and 4
    python bench/bench_scale.py --users 360000       # ~10M calls (the issue's figure; minutes per run)
    python bench/bench_scale.py --relational-scale 0 # leave out the relational baseline

What is timed, each a full publish into a fresh folder (draw, checks, Parquet + JSONL, commit):
- api-traces unsharded (``run_domain``, the CLI's path), one process: the single-process reference;
- ``publish_sharded`` with K shards on ``workers=1`` (this process, shard after shard) and ``workers=2``
  (two spawned processes; their start-up, about a second each, is in the figure);
- relational ``library`` at ``--relational-scale`` (10 = 17.1M rows; bench_relational's counts) unsharded in
  one process, then K shards on ``workers=1`` and ``2``; each writes the tables as Parquet + CSV and proves
  every constraint (the commit: DuckDB over all parts). ``drawn/rows``: rows the generator drew over all
  shards per row written (whole parents for anchors, line tables for sums; 1.00 = nothing drawn twice).

Scaling efficiency = (wall of workers=1 / wall of workers=2) / 2 for the same K: 1.0 is perfect, 0.5 is no
gain. The per-shard cost (seconds per call of one shard, timed in the workers=1 run) gives the estimate for
10^9 calls printed at the end. The machine is shared: the load average is printed before and after, and
CPU seconds beside wall seconds (this process plus its finished children: the spawned workers included).
One process already runs polars' thread pool on every core, so on a 2-core machine the unsharded run uses
more than one core; ``POLARS_MAX_THREADS=1 python bench/bench_scale.py`` (the workers inherit it) measures
the scaling of processes alone.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth_pipelines.core.domain import RunContext, run_domain
from synth_pipelines.core.shards import publish_sharded
from synth_pipelines.domains.registry import domain_by_name

SEED = 7


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_seconds() -> float:
    """CPU of this process and of its finished children (the spawned shard workers, once the pool is shut)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn: Any) -> tuple[Any, float, float]:
    start, cpu = time.perf_counter(), cpu_seconds()
    value = fn()
    return value, time.perf_counter() - start, cpu_seconds() - cpu


def shard_timer() -> tuple[list[float], Callable[[dict[str, Any]], None]]:
    """A ``publish_sharded`` ``on_shard`` callback and the seconds between its calls (with workers=1, each
    shard's own time: the callbacks come right after each shard)."""
    seconds: list[float] = []
    mark = [time.perf_counter()]

    def on_shard(manifest: dict[str, Any]) -> None:
        now = time.perf_counter()
        seconds.append(now - mark[0])
        mark[0] = now

    return seconds, on_shard


def api_traces_runs(users: int, shard_counts: list[int], scratch: Path) -> tuple[int, list[dict[str, Any]]]:
    domain = domain_by_name("api_traces")
    cfg = domain.parse_config({"users": users})
    rows: list[dict[str, Any]] = []

    _, wall, cpu = timed(lambda: run_domain(domain, cfg, SEED, scratch / "unsharded", RunContext()))
    shutil.rmtree(scratch / "unsharded")
    calls = 0
    for shards in shard_counts:
        for workers in (1, 2):
            shard_seconds, on_shard = shard_timer()

            out = scratch / f"k{shards}-w{workers}"
            summary, wall_k, cpu_k = timed(
                lambda s=shards, w=workers, o=out, cb=on_shard: publish_sharded(
                    domain, cfg, s, o, seed=SEED, workers=w, on_shard=cb
                )
            )
            calls = summary["files"]["calls"]["rows"]
            shutil.rmtree(out)
            rows.append(
                {
                    "shards": shards,
                    "workers": workers,
                    "wall": wall_k,
                    "cpu": cpu_k,
                    # workers=1: each shard's own time (callbacks come right after each shard); workers=2: n/a
                    "shard_seconds": shard_seconds if workers == 1 else None,
                }
            )
    rows.insert(0, {"shards": 0, "workers": 1, "wall": wall, "cpu": cpu, "shard_seconds": None})
    return calls, rows


def relational_runs(scale: float, shard_counts: list[int], scratch: Path) -> tuple[int, list[dict[str, Any]]]:
    """The ``library`` schema at ``scale`` (bench_relational's counts): unsharded in one process, then K shards
    on 1 and 2 workers. Every run writes the same tables (Parquet + CSV) and proves the same constraints
    (the unsharded export's report; the shards' per-row counts plus the commit's DuckDB proof over all parts)."""
    from bench_relational import COUNTS

    from synth_pipelines.domains.relational.domain import RelationalDomain
    from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare

    ddl = Path(__file__).resolve().parents[1] / "data" / "schemas" / "library.sql"
    cfg = RelationalConfig(rows=0, table_rows={t: int(n * scale) for t, n in COUNTS.items()})
    domain = RelationalDomain(ddl)
    out = scratch / "relational"
    (report, _), wall, cpu = timed(lambda: export_dataset(prepare(ddl, cfg, SEED), SEED, out, ("parquet", "csv")))
    shutil.rmtree(out)
    total = sum(report["rows"].values())
    rows: list[dict[str, Any]] = [{"shards": 0, "workers": 1, "wall": wall, "cpu": cpu, "drawn": total}]
    for shards in shard_counts:
        for workers in (1, 2):
            shard_seconds, on_shard = shard_timer()

            summary, wall_k, cpu_k = timed(
                lambda s=shards, w=workers, cb=on_shard: publish_sharded(
                    domain, cfg, s, out, seed=SEED, workers=w, on_shard=cb
                )
            )
            shutil.rmtree(out)
            drawn = sum(summary["checks"]["all_constraints_hold"]["rows_drawn"].values())
            if workers == 1:  # the shards ran here one after another: the rest of the wall is the commit's proof
                rows_commit = wall_k - sum(shard_seconds)
                print(
                    f"  relational K={shards}, workers=1: shards {sum(shard_seconds):.1f} s "
                    f"({sum(shard_seconds) / drawn * 1e6:.2f} us per row drawn), commit (sha256 + DuckDB proof over "
                    f"all parts) {rows_commit:.1f} s ({rows_commit / total * 1e6:.2f} us per row)"
                )
            rows.append({"shards": shards, "workers": workers, "wall": wall_k, "cpu": cpu_k, "drawn": drawn})
    return total, rows


def print_runs(rows: list[dict[str, Any]], count: int, unit: str, extra: str = "") -> None:
    """One line per run: wall, this process's CPU, throughput, and efficiency of 2 workers against 1."""
    print(f"{'run':28} {'wall s':>8} {'cpu s':>8} {unit + '/s':>11} {'efficiency':>11}{extra}")
    by_key = {(r["shards"], r["workers"]): r for r in rows}
    for r in rows:
        name = "unsharded, 1 process" if r["shards"] == 0 else f"K={r['shards']}, workers={r['workers']}"
        eff = f"{by_key[(r['shards'], 1)]['wall'] / r['wall'] / 2:.2f}" if r["workers"] == 2 else ""
        drawn = f" {r['drawn'] / count:12.2f}" if "drawn" in r else ""
        print(f"{name:28} {r['wall']:8.1f} {r['cpu']:8.1f} {count / r['wall']:11,.0f} {eff:>11}{drawn}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=70_000, help="api-traces users (~28 calls each)")
    parser.add_argument("--shards", default="2,4", help="shard counts K to run with 1 and 2 workers")
    parser.add_argument("--relational-scale", type=float, default=10.0, help="library scale (10 = 17.1M rows)")
    parser.add_argument("--cluster-workers", type=int, default=100, help="workers assumed for the 10^9 estimate")
    args = parser.parse_args()
    shard_counts = [int(k) for k in args.shards.split(",")]
    import polars as pl

    # A single process already runs polars' thread pool over every core, so on a small machine a second worker
    # has little idle CPU to win; POLARS_MAX_THREADS=1 (inherited by the workers) measures process scaling alone.
    print(f"cpus: {os.cpu_count()}  polars threads per process: {pl.thread_pool_size()}  load average before: {load()}")
    scratch = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        calls, rows = api_traces_runs(args.users, shard_counts, scratch)
        print(f"\napi-traces, {args.users:,} users = {calls:,} calls (Parquet + JSONL + sessions), seed {SEED}")
        print_runs(rows, calls, "calls")
        per_call = [
            s / (calls / r["shards"]) for r in rows if r["shard_seconds"] for s in r["shard_seconds"] if r["shards"]
        ]
        mean_per_call = sum(per_call) / len(per_call)
        print(
            f"per-shard cost (workers=1 runs): {mean_per_call * 1e6:.2f} us per call ({1 / mean_per_call:,.0f} calls/s)"
        )
        if args.relational_scale > 0:
            rel_rows, rel = relational_runs(args.relational_scale, shard_counts, scratch)
            print(f"\nrelational library x{args.relational_scale:g}: {rel_rows:,} rows (Parquet + CSV), seed {SEED}")
            print_runs(rel, rel_rows, "rows", f" {'drawn/rows':>12}")
        total = 10**9
        one_worker_hours = total * mean_per_call / 3600
        print(
            f"\n10^9 calls at the measured per-shard cost: {one_worker_hours:.1f} worker-hours; on "
            f"{args.cluster_workers} workers (1 core each, perfect scaling, shards of ~10M calls) about "
            f"{one_worker_hours * 60 / args.cluster_workers:.1f} min wall, plus the commit (sha256 of every part)"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"load average after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
