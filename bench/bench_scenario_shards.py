"""Scenario shards: what each shard of a scenario draws and how long it takes, shard after shard.

Run from the repository root:

    python bench/bench_scenario_shards.py                                  # financial and healthcare, 200,000, K = 4
    python bench/bench_scenario_shards.py --count 1000000 --shards 8 tech-support

Each shard is ``run_shard`` in this process (draw, checks, Parquet parts, manifest), one after the other, so
its wall time is its own. Rows drawn are counted by ``domains/scenarios/draws.ROWS_DRAWN`` (the plan stream):
``count`` plus, per shard starting inside a block, that block's records before its start. A scenario that is
not block-drawn draws a run of ``stop`` records per shard (the sum of the stops). The machine is shared: the
load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from synth_pipelines.core.shards import run_shard, shard_range
from synth_pipelines.domains.scenarios import draws
from synth_pipelines.domains.scenarios.domain import ScenarioDomain
from synth_pipelines.domains.scenarios.registry import load_catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=["financial", "healthcare"])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for name in args.scenarios:
        domain = ScenarioDomain(load_catalog().get(name))
        cfg = domain.parse_config({"count": args.count, "output_format": "parquet"})
        out = Path(tempfile.mkdtemp(prefix="bench-scenario-shards-"))
        draws.ROWS_DRAWN.clear()
        seconds = []
        try:
            for shard in range(args.shards):
                started = time.perf_counter()
                run_shard(domain, cfg, args.shards, shard, out, seed=args.seed)
                seconds.append(time.perf_counter() - started)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        stops = sum(shard_range(args.count, args.shards, i)[1] for i in range(args.shards))
        print(
            f"{name}: count {args.count:,}, K {args.shards}, block {domain.scenario.block_rows}: "
            f"seconds per shard {[round(s, 2) for s in seconds]}, slowest {max(seconds):.2f}, "
            f"total {sum(seconds):.2f}; "
            f"plan rows drawn {draws.ROWS_DRAWN[f'{name}/plan']:,} (a run of `stop` per shard: {stops:,}); "
            f"load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
