"""Log domains: records/s and peak memory of the domain code beside a per-record Faker/random baseline.

Each case runs in a fresh child process (spawned by this script), so its peak RSS is its own. The
domain case is the whole CLI path (`LogDomain.stream`): raw draw -> parse -> normalize -> pandera
validation -> clean JSONL + Parquet + invalid mirror + manifest, written block by block. The
baseline is the straightforward loop people write: one dict per record built field by field with
`random` and Faker, `json.dumps`, one line at a time -- and it writes only the clean JSONL.

    python bench/bench_logs.py                 # 1,000,000 records per domain, baseline on 100,000
    python bench/bench_logs.py --count 200000  # quicker
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _domain_case(domain_name: str, count: int, queue: mp.Queue) -> None:
    from synth_pipelines.domains.registry import domain_by_name

    domain = domain_by_name(domain_name)
    cfg = domain.config_model(count=count)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        paths = domain.stream(cfg, 42, Path(tmp))
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in paths.values())
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


def _baseline_case(domain_name: str, count: int, queue: mp.Queue) -> None:
    from faker import Faker

    from synth_pipelines.domains.registry import domain_by_name

    domain = domain_by_name(domain_name)
    fields = domain.inventory.fields  # type: ignore[attr-defined]
    fake, rng = Faker(), random.Random(42)
    Faker.seed(42)
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "baseline.jsonl", "w") as out:
        started = time.perf_counter()
        for _ in range(count):
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


def run_case(target: Any, domain_name: str, count: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(domain_name, count, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000, help="records per domain for the domain code")
    parser.add_argument("--baseline-count", type=int, default=100_000, help="records for the per-record baseline")
    parser.add_argument("--domains", default="cv_logs,api_logs,agent_traces")
    args = parser.parse_args()

    from synth_pipelines.domains.registry import pipeline_domains

    known = {d.name for d in pipeline_domains()}
    header = f"{'domain':14} {'case':22} {'records':>10} {'seconds':>8} {'records/s':>11} {'peak MiB':>9} {'speed-up':>8}"
    print(header)
    print("-" * len(header))
    for name in [n for n in args.domains.split(",") if n in known]:
        base = run_case(_baseline_case, name, args.baseline_count)
        base_rate = args.baseline_count / base["seconds"]
        print(
            f"{name:14} {'baseline (Faker loop)':22} {args.baseline_count:>10,} {base['seconds']:>8.2f} "
            f"{base_rate:>11,.0f} {base['peak_mib']:>9.0f} {'1.0x':>8}"
        )
        for count in (args.count // 10, args.count):
            res = run_case(_domain_case, name, count)
            rate = count / res["seconds"]
            print(
                f"{name:14} {'synth-pipelines':22} {count:>10,} {res['seconds']:>8.2f} {rate:>11,.0f} "
                f"{res['peak_mib']:>9.0f} {rate / base_rate:>7.1f}x"
            )
    print("\nrecords: clean records (runs for agent_traces). The domain rows include validation, the invalid mirror")
    print("and four files; the baseline writes one JSONL file. Peak MiB is each child process's max RSS: compare the")
    print("two synth-pipelines rows -- a 10x larger count should not need 10x the memory.")


if __name__ == "__main__":
    main()
