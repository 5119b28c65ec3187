"""The provider layer's own cost, against the loopback stub (no real provider, no network).

Prints, side by side with a baseline of the bare LangChain client (ChatOpenAI structured output,
no cache/retries/budgets), records/s and client CPU per request at concurrency 1, 8 and 32, then
the cache-hit throughput. Targets: < 5 ms client CPU per request added, > 5,000 cache hits/s.
The stub runs in the same process, so both CPU columns include the stub's share; the difference
(the "added" column) is the layer's own cost. Noisy on a shared 2-core box: read as ranges.

    python bench/bench_llm.py [--requests 400]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from synth_pipelines.llm.contract import LLMRequest
from synth_pipelines.llm.generate import build_generator
from synth_pipelines.llm.settings import LLMSettings
from synth_pipelines_tests.llm_stub import LLMStub


class Pair(BaseModel):
    anchor: str
    positive: str


class Batch(BaseModel):
    samples: list[Pair]


def cpu() -> float:
    return time.process_time()


def requests(n: int, offset: int) -> list[LLMRequest]:
    return [LLMRequest((("user", f"make pairs {offset + i}"),), seed=offset + i, tag=str(i)) for i in range(n)]


def bare_langchain(stub: LLMStub, n: int, concurrency: int) -> tuple[float, float]:
    model = ChatOpenAI(model="stub", base_url=stub.openai_url, api_key="sk-bench", max_retries=0, timeout=10)
    structured = model.with_structured_output(Batch, method="json_schema", include_raw=True)
    msgs = [[("user", f"bare {concurrency} {i}")] for i in range(n)]
    wall, c0 = time.perf_counter(), cpu()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(structured.invoke, msgs))
    return n / (time.perf_counter() - wall), (cpu() - c0) / n * 1000


def our_layer(stub: LLMStub, n: int, concurrency: int, data_dir: Path) -> tuple[float, float]:
    settings = LLMSettings(provider="openai", model="stub", base_url=stub.openai_url, api_key="sk-bench",
                           max_concurrency=concurrency, timeout_s=10, cache=True)  # fmt: skip
    gen = build_generator(settings, data_dir)
    batch = requests(n, offset=concurrency * 1_000_000)
    wall, c0 = time.perf_counter(), cpu()
    results = gen.generate(batch, Batch)
    assert all(r.value is not None for r in results)
    return n / (time.perf_counter() - wall), (cpu() - c0) / n * 1000


def cache_hits(stub: LLMStub, n: int, data_dir: Path) -> float:
    settings = LLMSettings(provider="openai", model="stub", base_url=stub.openai_url, api_key="sk-bench")
    warm = requests(n, offset=0)
    build_generator(settings, data_dir).generate(warm, Batch)
    before = stub.requests
    gen = build_generator(settings, data_dir)
    wall = time.perf_counter()
    results = gen.generate(warm, Batch)
    seconds = time.perf_counter() - wall
    assert stub.requests == before and all(r.source == "cache" for r in results)
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--hits", type=int, default=5000)
    args = parser.parse_args()
    stub = LLMStub(keep_log=False)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    print(f"{'concurrency':>11} | {'bare LangChain rec/s':>20} {'CPU ms/req':>10} | {'our layer rec/s':>15} "
          f"{'CPU ms/req':>10} | {'added CPU ms/req':>16}")  # fmt: skip
    for concurrency in (1, 8, 32):
        bare_rate, bare_cpu = bare_langchain(stub, args.requests, concurrency)
        ours_rate, ours_cpu = our_layer(stub, args.requests, concurrency, data_dir)
        added = ours_cpu - bare_cpu
        row = f"{bare_rate:>20.0f} {bare_cpu:>10.2f} | {ours_rate:>15.0f} {ours_cpu:>10.2f} | {added:>16.2f}"
        print(f"{concurrency:>11} | {row}")
    rate = cache_hits(stub, args.hits, data_dir)
    print(f"cache hits: {rate:,.0f} records/s over {args.hits} requests (target > 5,000)")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss_mb:.0f} MB; threads {threading.active_count()}")
    stub.close()


if __name__ == "__main__":
    main()
