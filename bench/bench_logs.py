"""Log domains: records/s and peak memory of the domain code beside a per-record Faker/random baseline.

Each case runs in a fresh child process (spawned by this script), so its peak RSS is its own.

- baseline: the straightforward loop people write: one dict per record built field by field with
  `random` and Faker, `json.dumps`, one line at a time, clean JSONL only (for agent traces ten lines
  per run, as many as the domain's runs have on average).
- clean set (`synth cv-logs --no-mirror`): the domain code's draw -> pandera validation -> clean
  JSONL + Parquet, block by block: the same work as the baseline, plus validation and Parquet.
- full CLI path (`synth cv-logs`): the clean set plus the invalid mirror and its manifest.
- full + round trip (`synth cv-logs --check-round-trip`): every record also rendered as its raw
  line, parsed and normalized back before validation (what the Dagster path's raw -> normalized
  steps do).

    python bench/bench_logs.py                          # 1M and 3M records per domain, baseline on 50,000
    python bench/bench_logs.py --counts 200000,600000   # quicker
    python bench/bench_logs.py --cases clean,full,round-trip --domains cv_logs
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Import the package of this checkout (a git worktree, say), not the one the venv has installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _domain_case(domain_name: str, count: int, mode: str, queue: mp.Queue) -> None:
    from synth_pipelines.domains.registry import domain_by_name

    domain = domain_by_name(domain_name)
    cfg = domain.config_model(count=count)
    options = {"clean": {"mirror": False}, "full": {}, "round-trip": {"round_trip": True}}[mode]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        paths = list(domain.stream(cfg, 42, Path(tmp), **options).values())  # type: ignore[attr-defined]
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in paths)
    queue.put({"seconds": seconds, "peak_mib": _peak_rss_mib(), "bytes": size})


def _baseline_value(spec: Any, fake: Any, rng: random.Random) -> Any:
    if spec.vocabulary:
        return rng.choice(spec.vocabulary)
    if spec.kind == "timestamp":
        return fake.date_time_between("-1y", "now").isoformat() + "Z"
    if spec.kind == "bool":
        return rng.random() < 0.5
    if spec.kind == "int":
        return rng.randint(int(spec.ge or 0), int(min(spec.le or 10_000, 10_000)))
    if spec.kind == "float":
        return round(rng.uniform(spec.ge or 0.0, min(spec.le or 1000.0, 1000.0)), 3)
    if spec.pattern and "[0-9a-f]{16}" in spec.pattern:
        return spec.pattern.split("[", 1)[0] + fake.hexify("^" * 16)
    return fake.sentence(nb_words=6)


def _baseline_case(domain_name: str, count: int, mode: str, queue: mp.Queue) -> None:
    from faker import Faker

    from synth_pipelines.domains.registry import domain_by_name

    domain = domain_by_name(domain_name)
    fields = domain.inventory.fields  # type: ignore[attr-defined]
    fake, rng = Faker(), random.Random(42)
    Faker.seed(42)
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "baseline.jsonl", "w") as out:
        started = time.perf_counter()
        lines_per_record = 10 if domain_name == "agent_traces" else 1
        for _ in range(count * lines_per_record):
            record: dict[str, Any] = {}
            for spec in fields:
                if not spec.required and rng.random() < 0.5:
                    continue
                node = record
                *parents, leaf = spec.path.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = _baseline_value(spec, fake, rng)
            out.write(json.dumps(record) + "\n")
        seconds = time.perf_counter() - started
    queue.put({"seconds": seconds, "peak_mib": _peak_rss_mib(), "bytes": 0})


CASE_LABELS = {"clean": "clean set (ours)", "full": "full CLI path (ours)", "round-trip": "full + round trip (ours)"}


def run_case(target: Any, domain_name: str, count: int, mode: str = "") -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(domain_name, count, mode, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--counts", default="1000000,3000000", help="record counts for the domain code (peak memory should not grow)"
    )
    parser.add_argument("--baseline-count", type=int, default=50_000, help="records for the per-record baseline")
    parser.add_argument("--domains", default="cv_logs,api_logs,agent_traces")
    parser.add_argument("--cases", default="clean,full", help="domain-code cases: clean, full, round-trip")
    args = parser.parse_args()

    from synth_pipelines.domains.registry import pipeline_domains

    known = {d.name for d in pipeline_domains()}
    header = (
        f"{'domain':13} {'case':28} {'records':>10} {'seconds':>8} {'records/s':>10} {'peak MiB':>9} {'vs base':>8}"
    )
    print(header)
    print("-" * len(header))
    for name in [n for n in args.domains.split(",") if n in known]:
        base = run_case(_baseline_case, name, args.baseline_count)
        base_rate = args.baseline_count / base["seconds"]
        print(
            f"{name:13} {'baseline (Faker loop)':28} {args.baseline_count:>10,} {base['seconds']:>8.2f} "
            f"{base_rate:>10,.0f} {base['peak_mib']:>9.0f} {'1.0x':>8}"
        )
        for mode in args.cases.split(","):
            label = CASE_LABELS[mode]
            for count in [int(c) for c in args.counts.split(",")]:
                res = run_case(_domain_case, name, count, mode)
                rate = count / res["seconds"]
                print(
                    f"{name:13} {label:28} {count:>10,} {res['seconds']:>8.2f} {rate:>10,.0f} "
                    f"{res['peak_mib']:>9.0f} {rate / base_rate:>7.1f}x"
                )
    print("\nrecords: clean records (runs for agent_traces, each ~10 lines). Peak MiB is each child process's max")
    print("RSS: compare a case's counts -- a 3x larger count should not need more memory (blocks are streamed).")


if __name__ == "__main__":
    main()
