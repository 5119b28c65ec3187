"""Per-phase timings of the log domains' CLI path for one block (where the time goes).

Phases run one after another here; the stream overlaps them on threads (see ``LogDomain.stream``).

python bench/profile_logs.py                    # every log domain, best of 3
python bench/profile_logs.py --domains cv_logs --repeat 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Import the package of this checkout (a git worktree, say), not the one the venv has installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best, out


def profile(name: str, repeat: int) -> None:
    from synth_pipelines.core.export import JsonlBlockWriter, ParquetBlockWriter, TextBlockWriter
    from synth_pipelines.core.rng import block_rng
    from synth_pipelines.domains.logs.domain import DICTIONARY_PAGE_BYTES
    from synth_pipelines.domains.logs.lines import normalize_values, parse_lines, to_lines, to_raw_lines
    from synth_pipelines.domains.logs.mirror import make_invalid
    from synth_pipelines.domains.registry import domain_by_name

    domain: Any = domain_by_name(name)
    inv = domain.inventory
    n = domain.block_records
    cfg = domain.config_model(count=n)
    domain.schema()  # built once per process, not per block
    phases: list[tuple[str, float]] = []

    def timed(label: str, fn: Callable[[], Any]) -> Any:
        seconds, out = _best(fn, repeat)
        phases.append((label, seconds))
        return out

    clean = timed("clean_block (draw)", lambda: domain.clean_block(cfg, 42, 0, 0, n))
    raw = timed("to_raw_lines", lambda: to_raw_lines(clean, inv, block_rng(42, name, "raw-style", 0)))
    parsed = timed("parse_lines", lambda: parse_lines(raw, inv))
    timed("normalize_values + conform", lambda: inv.conform(normalize_values(parsed, inv)))
    timed("validate (pandera)", lambda: domain.validate(clean))
    lines = timed("to_lines", lambda: to_lines(clean, inv))
    mirror = timed(
        "make_invalid (from clean lines)",
        lambda: make_invalid(clean, inv, block_rng(42, name, "mirror", 0), clean_lines=lines),
    )
    with tempfile.TemporaryDirectory() as tmp:

        def parquet() -> None:
            path = Path(tmp) / "v.parquet"
            with ParquetBlockWriter(path, inv.polars_schema, dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES) as writer:
                writer.write(clean)

        def jsonl() -> None:
            with TextBlockWriter(Path(tmp) / "v.jsonl") as writer:
                writer.write_lines(lines)

        def mirror_files() -> None:
            with TextBlockWriter(Path(tmp) / "i.jsonl") as lines_out, JsonlBlockWriter(Path(tmp) / "m.jsonl") as out:
                lines_out.write_lines(mirror[0])
                out.write(mirror[1])

        timed("parquet write", parquet)
        timed("jsonl write", jsonl)
        timed("mirror + manifest write", mirror_files)
        timed("stream, clean set only", lambda: domain.stream(cfg, 42, Path(tmp) / "clean", mirror=False))
        timed("stream (CLI path)", lambda: domain.stream(cfg, 42, Path(tmp) / "out"))
        timed("stream, round trip", lambda: domain.stream(cfg, 42, Path(tmp) / "rt", round_trip=True))
    rows = clean.height
    print(f"\n{name}: one block = {n:,} records, {rows:,} rows; best of {repeat}")
    for label, seconds in phases:
        print(f"  {label:32} {seconds * 1000:9.1f} ms  {rows / seconds:>12,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", default="cv_logs,api_logs,agent_traces")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name in args.domains.split(","):
        profile(name, args.repeat)


if __name__ == "__main__":
    main()
